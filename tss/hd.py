"""BIP-32 public (non-hardened) derivation for threshold secp256k1 keys.

A threshold key has no single private key, so only CKDpub (bitcoin/bips bip-0032, "Public parent key
-> public child key") applies: each step computes I = HMAC-SHA512(c_par, ser_P(K_par) || ser_32(i)),
K_i = K_par + parse_256(I_L)·G and c_i = I_R. Since k_i = k_par + I_L, the child's secret is the
parent's plus the sum of the steps' I_L: one *additive tweak* δ. Every holder adds δ to its share
(Shamir shares of k + δ, because the Lagrange coefficients sum to 1), and every public share and the
group key move by δ·G. Hardened steps need the parent's private key and are impossible here.

The chain code of a threshold key comes from its keygen: `chain_code_from_ssid` hashes the keygen's
session id, which itself hashes every party's fresh hello contribution, so no party picks it.

Everything here is public data (points, chain codes, tweaks); point arithmetic is libsecp256k1's
`ec_pubkey_tweak_add` through coincurve.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from coincurve import PublicKey

from tss.errors import InvalidInputError

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141  # SEC 2, secp256k1 order
HARDENED = 0x80000000  # BIP-32: indices >= 2^31 are hardened
MAX_DEPTH = 255  # the serialised depth is one byte
XPUB_VERSION = bytes.fromhex("0488b21e")  # BIP-32 "Serialization format": mainnet public
CHAIN_CODE_TAG = b"mpc-signer/bip32-chain-code/v1\x00"
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_STEP = re.compile(r"^(0|[1-9][0-9]{0,9})$")


class DerivationError(InvalidInputError):
    """A path or extended key that cannot be used (malformed, too deep, an invalid child)."""


class HardenedDerivationError(DerivationError):
    """A hardened step: it needs the parent private key, which no party of a threshold key has."""


def parse_path(path: str) -> tuple[int, ...]:
    """`m/0/17` -> (0, 17). Only canonical non-hardened paths: `m`, then decimal steps < 2^31 without
    leading zeros, so each path has exactly one spelling (the intent names it)."""
    if not isinstance(path, str) or len(path) > 4 * 1024:
        raise DerivationError("a derivation path is a string like m/0/17")
    parts = path.split("/")
    if parts[0] != "m":
        raise DerivationError("a derivation path starts with m (e.g. m/0/17)")
    steps = parts[1:]
    if len(steps) > MAX_DEPTH:
        raise DerivationError(f"a derivation path has at most {MAX_DEPTH} steps")
    out = []
    for step in steps:
        if step[-1:] in ("'", "h", "H"):
            raise HardenedDerivationError(f"hardened step {step!r}: a threshold key derives only non-hardened "
                                          "children (no party holds the parent private key)")
        if not _STEP.match(step):
            raise DerivationError(f"derivation step {step!r} is not a decimal index without leading zeros")
        index = int(step)
        if index >= HARDENED:
            raise HardenedDerivationError(f"index {index} is hardened (>= 2^31): a threshold key derives only "
                                          "non-hardened children")
        out.append(index)
    return tuple(out)


def format_path(indices: tuple[int, ...] | list[int]) -> str:
    return "/".join(["m", *(str(i) for i in indices)])


def chain_code_from_ssid(ssid: bytes) -> bytes:
    """The key's BIP-32 chain code from its keygen session id (which hashes every party's hello)."""
    if len(ssid) != 32:
        raise InvalidInputError("a keygen session id is 32 bytes")
    return hashlib.sha256(CHAIN_CODE_TAG + ssid).digest()


def _hash160(data: bytes) -> bytes:
    return hashlib.new("ripemd160", hashlib.sha256(data).digest()).digest()


def _b58check_encode(payload: bytes) -> str:
    data = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    value = int.from_bytes(data, "big")
    out = ""
    while value:
        value, rem = divmod(value, 58)
        out = _B58[rem] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def _b58check_decode(text: str) -> bytes:
    value = 0
    for ch in text:
        digit = _B58.find(ch)
        if digit < 0:
            raise DerivationError("not base58")
        value = value * 58 + digit
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    raw = b"\0" * (len(text) - len(text.lstrip("1"))) + raw
    payload, checksum = raw[:-4], raw[-4:]
    if len(raw) < 5 or hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] != checksum:
        raise DerivationError("base58check checksum mismatch")
    return payload


def _compressed(point: bytes) -> bytes:
    try:
        return PublicKey(point).format(compressed=True)
    except (ValueError, TypeError):
        raise DerivationError("not a valid secp256k1 point") from None


@dataclass(frozen=True)
class ExtendedPublicKey:
    """A BIP-32 extended public key (the key's `xpub`)."""

    public_key: bytes  # 33-byte compressed SEC1 point
    chain_code: bytes
    depth: int = 0
    parent_fingerprint: bytes = b"\0\0\0\0"
    child_number: int = 0

    def __post_init__(self) -> None:
        if len(self.chain_code) != 32:
            raise DerivationError("a chain code is 32 bytes")
        if not 0 <= self.depth <= MAX_DEPTH or len(self.parent_fingerprint) != 4:
            raise DerivationError("depth or parent fingerprint out of range")
        if not 0 <= self.child_number < 2**32:
            raise DerivationError("child number out of range")
        object.__setattr__(self, "public_key", _compressed(self.public_key))

    @property
    def fingerprint(self) -> bytes:
        """BIP-32 "Key identifiers": the first 4 bytes of HASH160 of the compressed key."""
        return _hash160(self.public_key)[:4]

    def child(self, index: int) -> tuple[ExtendedPublicKey, int]:
        """CKDpub(K_par, c_par, i) for a non-hardened i: the child and its step tweak parse_256(I_L)."""
        if not 0 <= index < HARDENED:
            raise HardenedDerivationError("CKDpub is defined for non-hardened indices only")
        if self.depth >= MAX_DEPTH:
            raise DerivationError(f"depth {MAX_DEPTH} reached")
        i = hmac.new(self.chain_code, self.public_key + index.to_bytes(4, "big"), hashlib.sha512).digest()
        il, ir = i[:32], i[32:]
        tweak = int.from_bytes(il, "big")
        if tweak >= N:  # probability < 2^-127; BIP-32: "the resulting key is invalid"
            raise DerivationError(f"child {index} is invalid (I_L >= n); use another index")
        try:
            child = PublicKey(self.public_key).add(il)  # K_par + I_L·G (fails at the point at infinity)
        except ValueError:
            raise DerivationError(f"child {index} is invalid (point at infinity); use another index") from None
        return ExtendedPublicKey(child.format(compressed=True), ir, self.depth + 1, self.fingerprint, index), tweak

    def derive(self, path: str | tuple[int, ...]) -> Derived:
        """Walk `path` from this key; the result carries the summed tweak δ (child = this + δ·G)."""
        indices = parse_path(path) if isinstance(path, str) else tuple(path)
        node, total = self, 0
        for index in indices:
            node, step = node.child(index)
            total = (total + step) % N
        return Derived(node, total, format_path(indices))

    def to_base58(self, version: bytes = XPUB_VERSION) -> str:
        """BIP-32 "Serialization format" (78 bytes, base58check)."""
        return _b58check_encode(version + bytes([self.depth]) + self.parent_fingerprint
                                + self.child_number.to_bytes(4, "big") + self.chain_code + self.public_key)

    @classmethod
    def from_base58(cls, text: str, version: bytes = XPUB_VERSION) -> ExtendedPublicKey:
        raw = _b58check_decode(text)
        if len(raw) != 78 or raw[:4] != version:
            raise DerivationError("not an extended public key of the expected version")
        depth, fingerprint, child = raw[4], raw[5:9], int.from_bytes(raw[9:13], "big")
        if depth == 0 and (fingerprint != b"\0\0\0\0" or child != 0):
            raise DerivationError("a depth-0 key has a zero parent fingerprint and child number")
        return cls(raw[45:78], raw[13:45], depth, fingerprint, child)


@dataclass(frozen=True)
class Derived:
    """A derived child: its extended public key, the additive tweak δ from the root, and the path."""

    xpub: ExtendedPublicKey
    tweak: int
    path: str

    @property
    def public_key(self) -> bytes:
        return self.xpub.public_key


def derive_child(public_key: bytes, chain_code: bytes, path: str) -> Derived:
    """The child at `path` of the root key (`public_key`, `chain_code`)."""
    return ExtendedPublicKey(public_key, chain_code).derive(path)


__all__ = [
    "HARDENED",
    "XPUB_VERSION",
    "DerivationError",
    "Derived",
    "ExtendedPublicKey",
    "HardenedDerivationError",
    "chain_code_from_ssid",
    "derive_child",
    "format_path",
    "parse_path",
]
