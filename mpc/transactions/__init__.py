"""Chain transactions, built and parsed with maintained libraries only (eth-account, embit and Bitcoin Dev
Kit, solders): the messages a key signs for a transaction, a summary a reviewer reads, the signed result.

The API prepares a transaction to name its messages in the intent; every node prepares it again from the
intent with its own key (the BIP-32 child from its own pinned chain code) and signs only if the session's
message is what the transaction needs (SECURITY.md I7, A3); the API finalises once the signatures exist.
A transaction's inputs map to a list of messages (one per signature, each with its Taproot merkle root and
BIP-32 child); one session signs them all (a batch when there are several: a PSBT's inputs).
"""

from __future__ import annotations

from typing import Any

from mpc.transactions import bitcoin, ethereum, solana
from mpc.transactions.types import KeyContext, Prepared, SigningInput, TransactionError

CHAINS = ("ethereum", "bitcoin", "solana")
_MODULES: dict[str, Any] = {"ethereum": ethereum, "bitcoin": bitcoin, "solana": solana}


def _module(chain: str, key: KeyContext) -> Any:
    if chain not in _MODULES:
        raise TransactionError("unknown_chain", f"chain must be one of {', '.join(CHAINS)}")
    if chain != key.chain_type:
        raise TransactionError("chain_mismatch", f"a {chain} transaction cannot be signed by a {key.chain_type} key "
                                                 "(a key's chain is its purpose)")
    return _MODULES[chain]


def prepare(chain: str, payload: Any, key: KeyContext) -> Prepared:
    """Parse and check the transaction for `key`; raises `TransactionError` with a stable code."""
    return _module(chain, key).prepare(payload, key)  # type: ignore[no-any-return]


def finalize(chain: str, payload: Any, key: KeyContext, signatures: list[bytes]) -> dict[str, Any]:
    """The signed transaction (the session's `result`) from the signatures, checked by the chain's library."""
    return _module(chain, key).finalize(payload, key, signatures)  # type: ignore[no-any-return]


__all__ = ["CHAINS", "KeyContext", "Prepared", "SigningInput", "TransactionError", "finalize", "prepare"]
