"""What a participant keeps for GG18/GG20: its Paillier pre-parameter pool and its presignatures.

Pre-parameters (Paillier primes, ring-Pedersen secrets) are secret and each is used for exactly
one keygen. An operator (or the test stack) drops a JSON-lines file at
``<KEY_SHARE_STORAGE_PATH>/preparams.jsonl``; the node validates every entry, seals it as a
one-time record in its `SecretStateStore` and deletes the plaintext file (`import_preparams`).
The participant's background filler (workers/preparams_filler.py) keeps the pool at
PREPARAMS_POOL_TARGET by sealing freshly generated sets the same way (`seal_preparams`). A keygen takes
one with `SecretStateStore.consume` (atomic, so two sessions never share one) and seals the chosen
entry in the session's own state, so every round rebuilds the adapter with the same arguments. An
empty pool is a last resort, not an error: the set is generated on the request path (slow: seconds
to minutes, correct), logged at WARNING and counted (`preparams_generated_on_request`,
``mpc_node_preparams_generated_on_request_total``), so an operator sees a pool that is too small.

Presignatures (GG20): the final presign round stores the presignature twice, sealed: a one-time
record (the durable "used" marker lives there, SECURITY.md N2) and a readable copy the online
rounds rebuild the adapter from. `SealedPresignatureStore.mark_consumed` consumes the one-time
record before s_i leaves the node; a second use meets the marker and gets `NonceReuseError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import threading
from collections import Counter
from pathlib import Path

from mpc.keystore import SecretStateStore, ShareNotFoundError
from mpc.keystore.errors import NonceReuseError, StaleEpochError
from tss.errors import TssError
from tss.paillier.preparams import PreParams, PreParamsPool

log = logging.getLogger("mpc.participant.ecdsa")

PREPARAMS_FILE = "preparams.jsonl"
PREPARAMS_POOL = "ecdsa-preparams"
PRESIG_ONCE = "gg20-presig"
PRESIG_COPY = "gg20-presig-copy"
SESSION_PREPARAMS = "ecdsa-keygen"


def preparams_file(state: SecretStateStore) -> Path:
    """``<KEY_SHARE_STORAGE_PATH>/preparams.jsonl`` (the state store lives at ``<root>/state``)."""
    return Path(state.root).parent / PREPARAMS_FILE


def preparams_record_id(line: str) -> str:
    """The one-time record id of a pre-parameter line: the same line is never sealed twice."""
    return hashlib.sha256(line.strip().encode()).hexdigest()[:32]


def seal_preparams(state: SecretStateStore, line: str) -> bool:
    """Validate one pre-parameter line in full and seal it as a one-time record of the pool.

    Returns False when the line is known already (held, or used before: ids are single-use).
    Raises `TssError` / `ValueError` for an invalid line (the message never holds a value of it).
    """
    line = line.strip()
    PreParams.from_json(line)  # full re-validation: primality, sizes, Blum/safe form, ring-Pedersen relation
    record_id = preparams_record_id(line)
    if state.is_consumed(PREPARAMS_POOL, record_id) or record_id in state.one_time_ids(PREPARAMS_POOL):
        return False
    try:
        state.put_one_time(PREPARAMS_POOL, record_id, line.encode())
    except NonceReuseError:
        return False
    return True


def preparams_level(state: SecretStateStore) -> int:
    """How many sealed pre-parameter sets the node holds now (what the filler and the heartbeat report)."""
    return len(state.one_time_ids(PREPARAMS_POOL))


def import_preparams(state: SecretStateStore, path: Path | None = None) -> int:
    """Seal every valid entry of the plaintext pool file into the one-time store, then delete the file.

    An entry used before (its id is consumed) is not imported again. Returns how many were added.
    """
    path = path or preparams_file(state)
    if not path.is_file():
        return 0
    added = 0
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            added += seal_preparams(state, line)
        except (TssError, ValueError) as exc:
            log.warning("skipping invalid pre-parameter entry: %s", exc)
    with contextlib.suppress(OSError):
        os.remove(path)
    if added:
        log.info("imported %d pre-parameter sets", added)
    return added


_on_request_lock = threading.Lock()
_on_request: Counter[str] = Counter()


def preparams_generated_on_request(node_id: str) -> int:
    """How many pre-parameter sets node `node_id` generated on the request path (empty pool) in this process."""
    with _on_request_lock:
        return _on_request[node_id]


def take_preparams(state: SecretStateStore, bits: int = 2048) -> PreParams:
    """One pre-parameter set, used by nobody else: from the sealed pool, else (last resort) generated now."""
    import_preparams(state)
    for record_id in state.one_time_ids(PREPARAMS_POOL):
        try:
            raw = state.consume(PREPARAMS_POOL, record_id)
        except (NonceReuseError, StaleEpochError, ShareNotFoundError):
            continue  # taken concurrently, or void after a restore
        pre = PreParams.from_json(raw, trusted=True)
        if pre.bits == bits:
            return pre
    with _on_request_lock:
        _on_request[state.node_id] += 1
    log.warning("pre-parameter pool is empty: generating %d-bit pre-parameters on the request path (slow); "
                "raise PREPARAMS_POOL_TARGET or PREPARAMS_POOL_WORKERS", bits)
    return PreParamsPool(bits=bits).take(generate_if_empty=True)


def session_preparams(state: SecretStateStore, session_id: str, bits: int = 2048) -> PreParams:
    """The pre-parameters of keygen session `session_id`: taken once, then read back sealed."""
    with contextlib.suppress(ShareNotFoundError):
        return PreParams.from_json(state.get(SESSION_PREPARAMS, session_id, "preparams"), trusted=True)
    pre = take_preparams(state, bits)
    state.put(SESSION_PREPARAMS, session_id, "preparams", pre.to_json().encode())
    # A concurrent attempt may have stored its own first: that one counts.
    return PreParams.from_json(state.get(SESSION_PREPARAMS, session_id, "preparams"), trusted=True)


def store_presignature(state: SecretStateStore, presig_id: str, presignature: bytes) -> None:
    """Keep a fresh presignature: the one-time record and the copy the online rounds read."""
    if not state.is_consumed(PRESIG_ONCE, presig_id) and presig_id not in state.one_time_ids(PRESIG_ONCE):
        state.put_one_time(PRESIG_ONCE, presig_id, presignature)
    state.put(PRESIG_COPY, presig_id, "presignature", presignature)


def load_presignature(state: SecretStateStore, presig_id: str) -> bytes:
    """The copy the online rounds rebuild the adapter from (round 2 reads it after the consume).

    Whether it may still be used is `SealedPresignatureStore.mark_consumed`'s decision in round 1;
    once a signature is done the copy is gone and the consumed marker answers."""
    try:
        return state.get(PRESIG_COPY, presig_id, "presignature")
    except ShareNotFoundError:
        if state.is_consumed(PRESIG_ONCE, presig_id):
            raise NonceReuseError(f"presignature {presig_id[:16]} was already used") from None
        raise


def forget_presignature(state: SecretStateStore, presig_id: str) -> None:
    state.delete_session(PRESIG_COPY, presig_id)


class SealedPresignatureStore:
    """`tss.ecdsa.PresignatureStore` on the node's one-time store: durable, survives restarts."""

    def __init__(self, state: SecretStateStore) -> None:
        self.state = state

    def mark_consumed(self, presig_id: bytes, digest: bytes) -> None:
        record_id = presig_id.hex()
        try:
            stored = self.state.consume(PRESIG_ONCE, record_id)
        except ShareNotFoundError:
            raise NonceReuseError(f"presignature {record_id[:16]} is not held (used or never stored)") from None
        copy = self.state.get(PRESIG_COPY, record_id, "presignature")
        if not hmac.compare_digest(stored, copy):
            raise NonceReuseError(f"presignature {record_id[:16]} does not match its one-time record")
