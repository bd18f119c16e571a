"""What every chain's transaction module produces: the messages to sign, a summary, the signed result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_PAYLOAD_BYTES = 100_000
"""A transaction (PSBT, serialised Solana transaction, Ethereum dict) larger than this is refused."""


class TransactionError(ValueError):
    """A transaction that cannot be signed by this key; `code` is stable (the API's 422 code)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class KeyContext:
    """The key that signs, as the signer knows it (the API from the database, a node from its own share)."""

    chain_type: str
    curve: str
    family: str  # "frost" or "ecdsa"
    public_key: bytes  # the signing key (the BIP-32 child if any): 33-byte compressed secp256k1 or 32-byte Ed25519


@dataclass(frozen=True)
class SigningInput:
    """One signature a transaction needs: the message the key signs (a 32-byte sighash, or for Ed25519 the
    whole Solana message) and, for a Taproot input, the script-tree root its output key commits to."""

    message: bytes
    taproot_merkle_root: bytes | None = None


@dataclass(frozen=True)
class Prepared:
    chain: str
    inputs: tuple[SigningInput, ...]
    summary: dict[str, Any] = field(default_factory=dict)
