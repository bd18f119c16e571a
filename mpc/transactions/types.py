"""What every chain's transaction module produces: the messages to sign, a summary, the signed result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tss.hd import DerivationError, ExtendedPublicKey, HardenedDerivationError, derive_child, format_path

MAX_PAYLOAD_BYTES = 100_000
"""A transaction (PSBT, serialised Solana transaction, Ethereum dict) larger than this is refused."""


class TransactionError(ValueError):
    """A transaction that cannot be signed by this key; `code` is stable (the API's 422 code)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class KeyContext:
    """The key that signs, as the signer knows it (the API from the database, a node from its own share).

    `public_key` is the key itself (the BIP-32 root); with a `chain_code` its non-hardened children can sign
    too. Which key signs what: `derivation_path` (the request's child, None for the key itself), or per
    input `input_paths` (a Bitcoin PSBT whose inputs belong to several children: the intent names one path
    per input, and whoever signs checks each input spends that child's output). Without `input_paths` a
    PSBT input takes its path from its own BIP-32 fields when they name this key's fingerprint.
    """

    chain_type: str
    curve: str
    family: str  # "frost" or "ecdsa"
    public_key: bytes  # 33-byte compressed secp256k1 (the root) or 32-byte Ed25519
    chain_code: bytes | None = None
    derivation_path: str | None = None  # canonical ("m/0/17"), or None
    input_paths: tuple[str | None, ...] | None = None

    def key_at(self, path: str | None) -> bytes:
        """The (compressed) public key of the child at `path` (the key itself for None)."""
        if path is None:
            return self.public_key
        if self.chain_code is None:
            raise TransactionError("no_chain_code", "this key has no BIP-32 chain code: it has no children")
        try:
            return derive_child(self.public_key, self.chain_code, path).public_key
        except HardenedDerivationError as exc:
            raise TransactionError("hardened_not_possible", str(exc)) from None
        except DerivationError as exc:
            raise TransactionError("invalid_derivation_path", str(exc)) from None

    @property
    def signing_key(self) -> bytes:
        """The key of a one-signature transaction (Ethereum, Solana): the request's child or the key."""
        return self.key_at(self.path_of(0))

    def path_of(self, index: int) -> str | None:
        """The path the intent names for signature `index` (or the request's one path)."""
        if self.input_paths is None:
            return self.derivation_path
        if not 0 <= index < len(self.input_paths):
            raise TransactionError("intent_mismatch", f"{len(self.input_paths)} paths named, signature {index} "
                                                      "has none")
        return self.input_paths[index]

    @property
    def fingerprint(self) -> bytes | None:
        """BIP-32 fingerprint of the key (HASH160 of the root, 4 bytes): what PSBT derivation fields name."""
        if self.chain_code is None:
            return None
        try:
            return ExtendedPublicKey(self.public_key, self.chain_code).fingerprint
        except DerivationError:
            return None


def bip32_path(indices: list[int] | tuple[int, ...]) -> str | None:
    """A PSBT derivation's index list as a canonical path; a hardened step cannot be a child of this key."""
    if any(i >= 2**31 for i in indices):
        raise TransactionError("hardened_not_possible", f"{format_path(tuple(indices))} has a hardened step: no "
                                                        "party holds the parent private key")
    return format_path(tuple(indices)) if indices else None


@dataclass(frozen=True)
class SigningInput:
    """One signature a transaction needs: the message the key signs (a 32-byte sighash, or for Ed25519 the
    whole Solana message), for a Taproot input the script-tree root its output key commits to, and the
    BIP-32 child that signs it (None: the key itself)."""

    message: bytes
    taproot_merkle_root: bytes | None = None
    derivation_path: str | None = None


@dataclass(frozen=True)
class Prepared:
    chain: str
    inputs: tuple[SigningInput, ...]
    summary: dict[str, Any] = field(default_factory=dict)
