"""Hash building blocks: RFC 9380 expand_message_xmd / hash_to_field and BIP-340 tagged hashes."""

from __future__ import annotations

import hashlib

_SHA256_BLOCK = 64
_SHA256_OUT = 32


def expand_message_xmd_sha256(msg: bytes, dst: bytes, len_in_bytes: int) -> bytes:
    """RFC 9380 §5.3.1 expand_message_xmd with H = SHA-256."""
    ell = -(-len_in_bytes // _SHA256_OUT)
    if ell > 255 or len_in_bytes > 65535 or len(dst) > 255:
        raise ValueError("expand_message_xmd: parameters out of range")
    dst_prime = dst + bytes([len(dst)])
    msg_prime = bytes(_SHA256_BLOCK) + msg + len_in_bytes.to_bytes(2, "big") + b"\x00" + dst_prime
    b0 = hashlib.sha256(msg_prime).digest()
    b_prev = hashlib.sha256(b0 + b"\x01" + dst_prime).digest()
    out = bytearray(b_prev)
    for i in range(2, ell + 1):
        mixed = bytes(x ^ y for x, y in zip(b0, b_prev, strict=True))
        b_prev = hashlib.sha256(mixed + bytes([i]) + dst_prime).digest()
        out += b_prev
    return bytes(out[:len_in_bytes])


def hash_to_field_sha256(msg: bytes, dst: bytes, modulus: int, security_bytes: int = 48) -> int:
    """RFC 9380 §5.2 hash_to_field with count = 1, m = 1, L = 48 (k = 128) for a 256-bit modulus."""
    return int.from_bytes(expand_message_xmd_sha256(msg, dst, security_bytes), "big") % modulus


def tagged_hash(tag: str, msg: bytes) -> bytes:
    """BIP-340 tagged hash: SHA256(SHA256(tag) || SHA256(tag) || msg)."""
    tag_hash = hashlib.sha256(tag.encode()).digest()
    return hashlib.sha256(tag_hash + tag_hash + msg).digest()


__all__ = ["expand_message_xmd_sha256", "hash_to_field_sha256", "tagged_hash"]
