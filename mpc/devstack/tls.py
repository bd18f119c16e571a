"""`mpc dev --tls`: a development CA in the data dir and a certificate for 127.0.0.1/localhost, so the API serves
HTTPS and gRPC with TLS. Made once and reused (a new one only when a file is missing or the certificate expires
within a day). For development only: the CA key sits beside the certificates (mode 0600)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = timedelta(days=90)


@dataclass(frozen=True)
class DevTls:
    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def cert(self) -> Path:
        return self.folder / "server.pem"

    @property
    def key(self) -> Path:
        return self.folder / "server-key.pem"

    def ensure(self) -> DevTls:
        """The CA and the server certificate, made now unless present and valid for another day."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not (self.ca.exists() and self._valid(self.cert) and self.key.exists()):
            ca_key, ca_cert = _make_ca()
            key, cert = _issue(ca_key, ca_cert)
            _write(self.folder / "ca-key.pem", _key_pem(ca_key), 0o600)
            _write(self.ca, ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
            _write(self.key, _key_pem(key), 0o600)
            _write(self.cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)
        return self

    @staticmethod
    def _valid(path: Path) -> bool:
        if not path.exists():
            return False
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        return cert.not_valid_after_utc - datetime.now(UTC) > timedelta(days=1)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mpc dev")])


def _make_ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(_name("mpc dev CA")).issuer_name(_name("mpc dev CA"))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def _issue(ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate
           ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(_name("localhost")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
