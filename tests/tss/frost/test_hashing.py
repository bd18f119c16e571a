"""RFC 9380 expand_message_xmd (SHA-256) on the RFC's own vectors (Appendix K.1)."""

from tss.frost.hashing import expand_message_xmd_sha256, tagged_hash

DST = b"QUUX-V01-CS02-with-expander-SHA256-128"


def test_expand_message_xmd_rfc9380_k1() -> None:
    assert expand_message_xmd_sha256(b"", DST, 0x20).hex() == (
        "68a985b87eb6b46952128911f2a4412bbc302a9d759667f87f7a21d803f07235"
    )
    assert expand_message_xmd_sha256(b"abc", DST, 0x20).hex() == (
        "d8ccab23b5985ccea865c6c97b6e5b8350e794e603b4b97902f53a8a0d605615"
    )
    assert len(expand_message_xmd_sha256(b"abc", DST, 48)) == 48


def test_tagged_hash_is_bip340_style() -> None:
    import hashlib

    t = hashlib.sha256(b"TapTweak").digest()
    assert tagged_hash("TapTweak", b"x") == hashlib.sha256(t + t + b"x").digest()
