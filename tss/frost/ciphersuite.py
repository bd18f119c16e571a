"""FROST ciphersuites (RFC 9591 §6): context strings, H1..H5 and signature encodings.

Three suites:

* ``"ed25519"``       FROST(Ed25519, SHA-512), RFC 9591 §6.1, context "FROST-ED25519-SHA512-v1".
* ``"secp256k1"``     FROST(secp256k1, SHA-256), RFC 9591 §6.5, context "FROST-secp256k1-SHA256-v1".
* ``"secp256k1-tr"``  FROST(secp256k1, SHA-256-TR) producing BIP-340 signatures, as
  ZcashFoundation/frost ``frost-secp256k1-tr`` defines it (context "FROST-secp256k1-SHA256-TR-v1",
  H2 = BIP-340 challenge hash, even-y rules in `tss.frost.taproot`).

HDKG / HID follow ZcashFoundation/frost (context || "dkg" / "id"), so its DKG vectors can be checked.
"""

from __future__ import annotations

import hashlib

from tss.errors import EncodingError
from tss.frost.hashing import hash_to_field_sha256, tagged_hash
from tss.groups import ED25519, SECP256K1, Element, Group


class Ciphersuite:
    """One FROST ciphersuite: a group plus the hash functions of RFC 9591 §6."""

    name: str
    context: bytes
    group: Group
    signature_len: int
    is_taproot: bool = False

    def H1(self, m: bytes) -> int:
        raise NotImplementedError

    def H2(self, m: bytes) -> int:
        raise NotImplementedError

    def H3(self, m: bytes) -> int:
        raise NotImplementedError

    def H4(self, m: bytes) -> bytes:
        raise NotImplementedError

    def H5(self, m: bytes) -> bytes:
        raise NotImplementedError

    def HDKG(self, m: bytes) -> int:
        raise NotImplementedError

    def HID(self, m: bytes) -> int:
        raise NotImplementedError

    # ---- signature-level operations (RFC 9591 §4.6 compute_challenge, §6 encodings) --------
    def challenge(self, r: Element, public_key: Element, message: bytes) -> int:
        """compute_challenge: H2(SerializeElement(R) || SerializeElement(PK) || msg)."""
        g = self.group
        return self.H2(g.serialize_element(r) + g.serialize_element(public_key) + message)

    def serialize_signature(self, r: Element, z: int) -> bytes:
        return self.group.serialize_element(r) + self.group.serialize_scalar(z)

    def deserialize_signature(self, data: bytes) -> tuple[Element, int]:
        if len(data) != self.signature_len:
            raise EncodingError(f"{self.name}: signature must be {self.signature_len} bytes")
        ne = self.group.element_len
        return self.group.deserialize_element(data[:ne]), self.group.deserialize_scalar(data[ne:])

    def deserialize_public_key(self, data: bytes) -> Element:
        return self.group.deserialize_element(data)

    def verify(self, public_key: Element | bytes, message: bytes, signature: bytes) -> bool:
        """Single-signer Schnorr verification (RFC 9591 §6 verify_signature; prime-order groups).

        All decoded points lie in the prime-order subgroup (DeserializeElement checks it), so the
        plain equation z·G == R + c·PK is equivalent to the cofactored one for Ed25519.
        """
        g = self.group
        try:
            pk = self.deserialize_public_key(public_key) if isinstance(public_key, bytes) else public_key
            r, z = self.deserialize_signature(signature)
        except EncodingError:
            return False
        c = self.challenge(r, pk, message)
        return g.base_mul(z) == g.add(r, g.mul(pk, c))

    def __repr__(self) -> str:
        return f"Ciphersuite({self.name})"


class Ed25519Sha512(Ciphersuite):
    """FROST(Ed25519, SHA-512), RFC 9591 §6.1."""

    name = "ed25519"
    context = b"FROST-ED25519-SHA512-v1"
    group = ED25519
    signature_len = 64

    def _h(self, m: bytes) -> int:
        return int.from_bytes(hashlib.sha512(m).digest(), "little") % ED25519.order

    def H1(self, m: bytes) -> int:
        return self._h(self.context + b"rho" + m)

    def H2(self, m: bytes) -> int:
        return self._h(m)

    def H3(self, m: bytes) -> int:
        return self._h(self.context + b"nonce" + m)

    def H4(self, m: bytes) -> bytes:
        return hashlib.sha512(self.context + b"msg" + m).digest()

    def H5(self, m: bytes) -> bytes:
        return hashlib.sha512(self.context + b"com" + m).digest()

    def HDKG(self, m: bytes) -> int:
        return self._h(self.context + b"dkg" + m)

    def HID(self, m: bytes) -> int:
        return self._h(self.context + b"id" + m)


class Secp256k1Sha256(Ciphersuite):
    """FROST(secp256k1, SHA-256), RFC 9591 §6.5: H1..H3 are RFC 9380 hash_to_field (XMD:SHA-256)."""

    name = "secp256k1"
    context = b"FROST-secp256k1-SHA256-v1"
    group = SECP256K1
    signature_len = 65

    def _h2f(self, tag: bytes, m: bytes) -> int:
        return hash_to_field_sha256(m, self.context + tag, SECP256K1.order)

    def H1(self, m: bytes) -> int:
        return self._h2f(b"rho", m)

    def H2(self, m: bytes) -> int:
        return self._h2f(b"chal", m)

    def H3(self, m: bytes) -> int:
        return self._h2f(b"nonce", m)

    def H4(self, m: bytes) -> bytes:
        return hashlib.sha256(self.context + b"msg" + m).digest()

    def H5(self, m: bytes) -> bytes:
        return hashlib.sha256(self.context + b"com" + m).digest()

    def HDKG(self, m: bytes) -> int:
        return self._h2f(b"dkg", m)

    def HID(self, m: bytes) -> int:
        return self._h2f(b"id", m)


class Secp256k1Sha256TR(Secp256k1Sha256):
    """FROST(secp256k1, SHA-256-TR): BIP-340 signatures (ZcashFoundation/frost frost-secp256k1-tr).

    H2 is the BIP-340 challenge (tagged hash "BIP0340/challenge", reduced mod n) over
    x(R) || x(PK) || msg; signatures are x(R) || z (64 bytes). Group key and group commitment are
    used with even y: see `tss.frost.taproot` for the negation rules applied in sign/aggregate.
    """

    name = "secp256k1-tr"
    context = b"FROST-secp256k1-SHA256-TR-v1"
    signature_len = 64
    is_taproot = True

    def H2(self, m: bytes) -> int:
        return int.from_bytes(tagged_hash("BIP0340/challenge", m), "big") % SECP256K1.order

    def challenge(self, r: Element, public_key: Element, message: bytes) -> int:
        return self.H2(SECP256K1.x_bytes(r) + SECP256K1.x_bytes(public_key) + message)

    def serialize_signature(self, r: Element, z: int) -> bytes:
        return SECP256K1.x_bytes(r) + SECP256K1.serialize_scalar(z)

    def deserialize_signature(self, data: bytes) -> tuple[Element, int]:
        if len(data) != 64:
            raise EncodingError("secp256k1-tr: signature must be 64 bytes")
        return SECP256K1.lift_x(data[:32]), SECP256K1.deserialize_scalar(data[32:])

    def deserialize_public_key(self, data: bytes) -> Element:
        if len(data) == 32:
            return SECP256K1.lift_x(data)
        return SECP256K1.deserialize_element(data)

    def verify(self, public_key: Element | bytes, message: bytes, signature: bytes) -> bool:
        """BIP-340 verification under the x-only form of `public_key`."""
        from tss.frost.bip340 import verify as bip340_verify

        if isinstance(public_key, Element):
            public_key = SECP256K1.x_bytes(public_key)
        elif len(public_key) == 33:
            public_key = public_key[1:]
        return bip340_verify(public_key, message, signature)


_SUITES: dict[str, Ciphersuite] = {s.name: s for s in (Ed25519Sha512(), Secp256k1Sha256(), Secp256k1Sha256TR())}


def get_ciphersuite(name: str) -> Ciphersuite:
    """The suite named ``"ed25519"``, ``"secp256k1"`` or ``"secp256k1-tr"``."""
    try:
        return _SUITES[name]
    except KeyError:
        raise ValueError(f"unknown FROST ciphersuite {name!r}") from None


__all__ = ["Ciphersuite", "Ed25519Sha512", "Secp256k1Sha256", "Secp256k1Sha256TR", "get_ciphersuite"]
