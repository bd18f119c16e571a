"""Chain-specific key presentation: which curve fits which chain, and the address of a key.

| chain_type | protocol / curve               | address                                             |
| ---------- | ------------------------------ | --------------------------------------------------- |
| bitcoin    | frost / secp256k1-tr           | P2TR (BIP-341 key-path tweak, no script tree; BIP-86), bech32m |
| bitcoin    | gg18, gg20 / secp256k1         | P2WPKH, bech32                                      |
| ethereum   | gg18, gg20 / secp256k1         | keccak-256 address, EIP-55 checksum                 |
| solana     | frost / ed25519                | base58 of the 32-byte public key                    |
| schnorr    | frost / secp256k1, secp256k1-tr | the public key itself (hex)                        |
| ed25519    | frost / ed25519                | the public key itself (hex)                         |
"""

from __future__ import annotations

import hashlib

CHAIN_CURVES: dict[str, dict[str, tuple[str, ...]]] = {
    "bitcoin": {"frost": ("secp256k1-tr",), "gg18": ("secp256k1",), "gg20": ("secp256k1",)},
    "ethereum": {"gg18": ("secp256k1",), "gg20": ("secp256k1",)},
    "solana": {"frost": ("ed25519",)},
    "schnorr": {"frost": ("secp256k1", "secp256k1-tr")},
    "ed25519": {"frost": ("ed25519",)},
}
DEFAULT_CURVE: dict[tuple[str, str], str] = {
    ("bitcoin", "frost"): "secp256k1-tr", ("solana", "frost"): "ed25519", ("ed25519", "frost"): "ed25519",
    ("schnorr", "frost"): "secp256k1-tr", ("bitcoin", "gg18"): "secp256k1", ("bitcoin", "gg20"): "secp256k1",
    ("ethereum", "gg18"): "secp256k1", ("ethereum", "gg20"): "secp256k1",
}


class ChainError(ValueError):
    """A curve/protocol that does not fit the chain, or an unknown chain."""


def check_chain(chain_type: str, protocol: str, curve: str | None) -> str:
    """Return the curve to use for (chain, protocol, curve); refuse combinations that do not fit."""
    if chain_type not in CHAIN_CURVES:
        raise ChainError(f"unknown chain_type {chain_type!r}; known: {', '.join(CHAIN_CURVES)}")
    allowed = CHAIN_CURVES[chain_type].get(protocol)
    if not allowed:
        raise ChainError(f"chain {chain_type} cannot use protocol {protocol}")
    curve = curve or DEFAULT_CURVE[(chain_type, protocol)]
    if curve not in allowed:
        raise ChainError(f"curve {curve} does not fit chain {chain_type} with {protocol} (use {', '.join(allowed)})")
    return curve


def uses_taproot_tweak(chain_type: str, curve: str) -> bool:
    """Bitcoin keys sign key-path spends under the tweaked output key; plain Schnorr keys do not."""
    return chain_type == "bitcoin" and curve == "secp256k1-tr"


# ---- encodings -------------------------------------------------------------------------------

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32M_CONST = 0x2BC830A3


def base58(data: bytes) -> str:
    value = int.from_bytes(data, "big")
    out = ""
    while value:
        value, rem = divmod(value, 58)
        out = _B58[rem] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def _bech32_polymod(values: list[int]) -> int:
    generator = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= generator[i] if ((top >> i) & 1) else 0
    return chk


def _convertbits(data: bytes, frombits: int, tobits: int) -> list[int]:
    acc = bits = 0
    out = []
    maxv = (1 << tobits) - 1
    for value in data:
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if bits:
        out.append((acc << (tobits - bits)) & maxv)
    return out


def segwit_address(hrp: str, version: int, program: bytes) -> str:
    """BIP-173 (v0, bech32) / BIP-350 (v1+, bech32m) segwit address."""
    data = [version, *_convertbits(program, 8, 5)]
    const = 1 if version == 0 else _BECH32M_CONST
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    polymod = _bech32_polymod(expanded + data + [0] * 6) ^ const
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_BECH32[d] for d in data + checksum)


def p2tr_address(output_key_x: bytes, hrp: str = "bc") -> str:
    if len(output_key_x) != 32:
        raise ChainError("a taproot output key is 32 bytes (x-only)")
    return segwit_address(hrp, 1, output_key_x)


def p2wpkh_address(compressed_pubkey: bytes, hrp: str = "bc") -> str:
    if len(compressed_pubkey) != 33:
        raise ChainError("P2WPKH needs a 33-byte compressed public key")
    ripemd = hashlib.new("ripemd160", hashlib.sha256(compressed_pubkey).digest()).digest()
    return segwit_address(hrp, 0, ripemd)


def present_frost_key(curve: str, chain_type: str, group_public_key_hex: str) -> dict[str, str]:
    """The key's public forms for clients.

    Returns ``public_key`` (32 bytes for Ed25519, compressed SEC1 for secp256k1, x-only for Taproot),
    ``verifying_key`` (what signatures verify under: the tweaked output key for Bitcoin P2TR) and
    ``address``.
    """
    from tss.frost import taproot_output_key

    raw = bytes.fromhex(group_public_key_hex)
    if curve == "ed25519":
        address = base58(raw) if chain_type == "solana" else raw.hex()
        return {"public_key": raw.hex(), "verifying_key": raw.hex(), "address": address}
    if curve == "secp256k1":
        return {"public_key": raw.hex(), "verifying_key": raw.hex(), "address": raw.hex()}
    if curve == "secp256k1-tr":
        x_only = raw[1:] if len(raw) == 33 else raw
        if uses_taproot_tweak(chain_type, curve):
            output_key, _parity = taproot_output_key(x_only, None)
            return {"public_key": x_only.hex(), "verifying_key": output_key.hex(), "address": p2tr_address(output_key)}
        return {"public_key": x_only.hex(), "verifying_key": x_only.hex(), "address": x_only.hex()}
    raise ChainError(f"unknown FROST curve {curve!r}")


def ethereum_address(public_key: bytes) -> str:
    """EIP-55 checksummed address: last 20 bytes of keccak-256 of the uncompressed key (x ‖ y)."""
    from coincurve import PublicKey
    from Crypto.Hash import keccak

    uncompressed = PublicKey(public_key).format(compressed=False)[1:]
    raw = keccak.new(digest_bits=256, data=uncompressed).hexdigest()[-40:]
    mask = keccak.new(digest_bits=256, data=raw.encode()).hexdigest()
    return "0x" + "".join(c.upper() if c.isalpha() and int(mask[i], 16) >= 8 else c for i, c in enumerate(raw))


def present_ecdsa_key(chain_type: str, group_public_key_hex: str) -> dict[str, str]:
    """GG18/GG20 keys: compressed SEC1 public key; Ethereum (EIP-55) or Bitcoin P2WPKH address."""
    from coincurve import PublicKey

    raw = PublicKey(bytes.fromhex(group_public_key_hex)).format(compressed=True)
    if chain_type == "ethereum":
        address = ethereum_address(raw)
    elif chain_type == "bitcoin":
        address = p2wpkh_address(raw)
    else:
        raise ChainError(f"chain {chain_type} has no ECDSA keys")
    return {"public_key": raw.hex(), "verifying_key": raw.hex(), "address": address}
