"""AUTH_TYPE=cert against a real API process (HTTPS and gRPC with TLS): a CA and certificates made here with
`cryptography`; a mapped certificate is its principal on both front ends, and a missing, expired, wrongly signed,
revoked or unmapped certificate is refused on both (`mpc certs` maps and revokes)."""

from __future__ import annotations

import ipaddress
import json
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from api.rpc.v1 import signer_pb2 as pb
from api.rpc.v1 import signer_pb2_grpc as rpc
from mpc.devstack.ports import free_port
from mpc.devstack.process import ManagedProcess
from tests.stack import Stack


@dataclass
class Issued:
    key_pem: bytes
    cert_pem: bytes
    certificate: x509.Certificate

    def write(self, folder: Path, name: str) -> tuple[Path, Path]:
        cert, key = folder / f"{name}.pem", folder / f"{name}-key.pem"
        cert.write_bytes(self.cert_pem)
        key.write_bytes(self.key_pem)
        return cert, key


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME,
                                                                                        "mpc test")])


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def issue(ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate], cn: str, *, server: bool = False,
          expired: bool = False) -> Issued:
    ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    start, end = (now - timedelta(days=10), now - timedelta(days=1)) if expired else \
        (now - timedelta(hours=1), now + timedelta(days=7))
    builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca_cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                                     else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return Issued(_pem(key), cert.public_bytes(serialization.Encoding.PEM), cert)


@dataclass
class CertStack:
    url: str
    grpc_target: str
    ca_pem: bytes
    folder: Path
    certs: dict[str, Issued]


def _mpc(stack: Stack, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "mpc", *args], env=stack.env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def cert_stack(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CertStack]:
    folder = tmp_path_factory.mktemp("certs")
    ca = make_ca("mpc test client CA")
    other_ca = make_ca("mpc test client CA")  # same name, another key: what it signs must not pass
    ca_pem = ca[1].public_bytes(serialization.Encoding.PEM)
    (folder / "ca.pem").write_bytes(ca_pem)
    server_cert, server_key = issue(ca, "localhost", server=True).write(folder, "server")
    certs = {
        "admin": issue(ca, "cert-admin"), "viewer": issue(ca, "cert-viewer"), "expired": issue(ca, "cert-admin",
                                                                                              expired=True),
        "foreign": issue(other_ca, "cert-admin"), "revoked": issue(ca, "cert-revoked"),
        "unmapped": issue(ca, "cert-nobody"),
    }
    for name, issued in certs.items():
        issued.write(folder, name)
    _mpc(stack, "certs", "add", "--cert", str(folder / "admin.pem"), "--name", "cert-admin", "--role", "admin")
    _mpc(stack, "certs", "add", "--subject", certs["viewer"].certificate.subject.rfc4514_string(), "--name",
         "cert-viewer", "--role", "viewer")
    _mpc(stack, "certs", "add", "--cert", str(folder / "revoked.pem"), "--name", "cert-revoked", "--role", "admin")
    _mpc(stack, "certs", "revoke", "--cert", str(folder / "revoked.pem"), "--reason", "test")
    listed = _mpc(stack, "certs", "list")
    assert "cert-admin" in listed and f"revoked {certs['revoked'].certificate.serial_number:x}" in listed

    port, grpc_port = free_port(), free_port()
    env = {**stack.env, "HTTP_PORT": str(port), "GRPC_PORT": str(grpc_port), "AUTH_TYPE": "cert",
           "TLS_ENABLED": "true", "TLS_CERT_FILE": str(server_cert), "TLS_KEY_FILE": str(server_key),
           "TLS_CLIENT_CA_FILE": str(folder / "ca.pem")}
    process = ManagedProcess("api-certs", [sys.executable, "-m", "mpc", "api"],
                             log_path=stack.log_dir / f"api-certs-{port}.log", env=env)
    process.start()
    url = f"https://127.0.0.1:{port}"
    try:
        process.wait_until(lambda: httpx.get(f"{url}/health", verify=_context(ca_pem), timeout=1)
                           .status_code == 200, 60)
        yield CertStack(url, f"127.0.0.1:{grpc_port}", ca_pem, folder, certs)
    finally:
        process.stop()


def _context(ca_pem: bytes, client: Issued | None = None, folder: Path | None = None, name: str = "") -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=ca_pem.decode())
    if client is not None and folder is not None:
        context.load_cert_chain(folder / f"{name}.pem", folder / f"{name}-key.pem")
    return context


def _http(cs: CertStack, name: str | None, path: str = "/v1/keys", **headers: str) -> httpx.Response:
    context = _context(cs.ca_pem, cs.certs[name], cs.folder, name) if name else _context(cs.ca_pem)
    with httpx.Client(base_url=cs.url, verify=context, timeout=30) as client:
        return client.get(path, headers=headers)


def _grpc(cs: CertStack, name: str | None) -> tuple[grpc.Channel, rpc.KeysStub]:
    issued = cs.certs[name] if name else None
    credentials = grpc.ssl_channel_credentials(root_certificates=cs.ca_pem,
                                               private_key=issued.key_pem if issued else None,
                                               certificate_chain=issued.cert_pem if issued else None)
    channel = grpc.secure_channel(cs.grpc_target, credentials)
    return channel, rpc.KeysStub(channel)


def _grpc_error(cs: CertStack, name: str | None) -> tuple[grpc.StatusCode, str]:
    channel, keys = _grpc(cs, name)
    try:
        with pytest.raises(grpc.RpcError) as caught:
            keys.ListKeys(pb.ListKeysRequest(limit=1), timeout=20)
        trailing = dict(caught.value.trailing_metadata() or ())
        return caught.value.code(), trailing.get("mpc-error-code", "")
    finally:
        channel.close()


def test_a_mapped_certificate_is_its_principal_on_both_front_ends(cert_stack: CertStack) -> None:
    assert _http(cert_stack, "admin").status_code == 200
    assert _http(cert_stack, "admin", "/v1/tokens").status_code == 200  # role admin
    channel, keys = _grpc(cert_stack, "admin")
    try:
        assert keys.ListKeys(pb.ListKeysRequest(limit=1), timeout=20).total >= 0
        assert rpc.TokensStub(channel).ListTokens(pb.ListTokensRequest(), timeout=20) is not None
    finally:
        channel.close()
    # the subject's role applies: a viewer certificate may read, not administer
    assert _http(cert_stack, "viewer").status_code == 200
    denied = _http(cert_stack, "viewer", "/v1/tokens")
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
    channel, _ = _grpc(cert_stack, "viewer")
    try:
        with pytest.raises(grpc.RpcError) as caught:
            rpc.TokensStub(channel).ListTokens(pb.ListTokensRequest(), timeout=20)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        channel.close()


def test_missing_certificate_is_refused(cert_stack: CertStack, stack: Stack) -> None:
    reply = _http(cert_stack, None, Authorization=f"Bearer {stack.admin_token}")  # a valid token is no certificate
    assert reply.status_code == 401 and reply.json()["error"]["code"] == "unauthorized"
    assert _http(cert_stack, None, "/health").status_code == 200  # probes and Prometheus need none
    code, _ = _grpc_error(cert_stack, None)  # gRPC requires one at the handshake
    assert code == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize("name", ["expired", "foreign"])
def test_expired_or_wrongly_signed_certificate_fails_the_handshake(cert_stack: CertStack, name: str) -> None:
    with pytest.raises(httpx.TransportError):  # the TLS alert: no request reaches the application
        _http(cert_stack, name)
    code, app_code = _grpc_error(cert_stack, name)
    assert code == grpc.StatusCode.UNAVAILABLE and app_code == ""


@pytest.mark.parametrize(("name", "code"), [("revoked", "certificate_revoked"), ("unmapped", "unknown_certificate")])
def test_revoked_or_unmapped_certificate_is_refused(cert_stack: CertStack, name: str, code: str) -> None:
    reply = _http(cert_stack, name)
    assert reply.status_code == 401 and reply.json()["error"]["code"] == code
    assert _grpc_error(cert_stack, name) == (grpc.StatusCode.UNAUTHENTICATED, code)


def test_cli_talks_to_a_certificate_api(cert_stack: CertStack, stack: Stack) -> None:
    """`mpc` as a client: --ca-file trusts the API's CA, --client-cert/--client-key present a certificate."""
    env = {k: v for k, v in stack.env.items() if k not in ("MPC_API_TOKEN",)}
    folder = cert_stack.folder

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "mpc", "nodes", "list", "--json", "--api-url", cert_stack.url,
                               *args], env=env, capture_output=True, text=True, timeout=60, check=False)

    with_cert = cli("--ca-file", str(folder / "ca.pem"), "--client-cert", str(folder / "admin.pem"),
                    "--client-key", str(folder / "admin-key.pem"))
    assert with_cert.returncode == 0, with_cert.stderr
    assert {"p1", "p2", "p3"} <= {n["node_id"] for n in json.loads(with_cert.stdout)["nodes"]}
    untrusted = cli("--client-cert", str(folder / "admin.pem"), "--client-key", str(folder / "admin-key.pem"))
    assert untrusted.returncode == 2 and "connection_error" in untrusted.stderr  # the system CAs do not know it
    no_cert = cli("--ca-file", str(folder / "ca.pem"))
    assert no_cert.returncode == 2 and "unauthorized" in no_cert.stderr, no_cert.stderr
    half = cli("--ca-file", str(folder / "ca.pem"), "--client-cert", str(folder / "admin.pem"))
    assert half.returncode == 2 and "--client-key" in half.stderr
    revoked = cli("--ca-file", str(folder / "ca.pem"), "--client-cert", str(folder / "revoked.pem"),
                  "--client-key", str(folder / "revoked-key.pem"))
    assert revoked.returncode == 2 and "certificate_revoked" in revoked.stderr
