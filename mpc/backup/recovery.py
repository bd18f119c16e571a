"""Recovery from escrow, the operator's offline half (`mpc recover --from-escrow`).

THE ONE PLACE A KEY EXISTS WHOLE. Everywhere else in the platform a key lives only as shares; here the
operator's machine decrypts t escrowed shares with the offline recovery key, interpolates the secret and
deals new shares of the *same* secret (so the same public key and address) to a new committee: a trusted-
dealer reshare (RFC 9591 Appendix C `trusted_dealer_keygen` with the recovered secret). Run it on a machine
you trust, offline from everything but the API, and only when more than n - t holders are lost.

What this module guarantees, as far as Python allows (SECURITY.md H5): the secret is an `int` inside
`deal_key` only, never printed, logged, returned or written; decrypted escrow buffers are overwritten;
every new share is encrypted to its new holder's X25519 identity key before it leaves `deal_key`, and its
plaintext buffer is overwritten. CPython ints are immutable and may be copied by the interpreter, so
"zeroed" means "dropped as early as possible", not "erased from memory": hence an offline machine.

Each escrowed share is checked against its public share in the signed manifest (as `mpc backup verify`
does), and the interpolated secret against the manifest's group key, before anything is dealt. A FROST key's
dealt shares are its new key shares. A GG18/GG20 share also holds the holder's Paillier key and every peer's
Paillier and ring-Pedersen parameters with their proofs, which a dealer cannot make for the new holders: so a
GG18/GG20 key is dealt as *staged* shares (tss.ecdsa.staging, plain Shamir shares that never sign), and the new
committee reshares them into complete key shares on the platform (workflows/recover.py).
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mpc.backup.escrow_check import EscrowedKey, lagrange_at_zero
from mpc.backup.recovered_share import RecoveredShareContext, seal_for_node
from mpc.protocols import Family

MAX_PARTY_ID = 255


class RecoveryError(Exception):
    """A recovery that cannot go ahead; `code` is stable, the message names what is wrong (never secrets)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class NewHolder:
    """A node of the new committee as the API lists it (GET /v1/nodes) and the party id it gets."""

    node_id: str
    party_id: int
    ed25519: str
    x25519: str


@dataclass
class DealtKey:
    """What goes to the API: public data and ciphertexts only."""

    key_id: str
    epoch: int  # the epoch the new shares start
    threshold: int
    package: dict[str, Any]  # the new public key package (same group key)
    holders: list[NewHolder]
    shares: dict[str, str] = field(default_factory=dict)  # node id -> sealed share, base64


def party_ids_for(entry: dict[str, Any], nodes: Sequence[str]) -> dict[str, int]:
    """Party ids stay with their nodes (as in a reshare); a node new to the key gets the next unused one."""
    holders = [str(n) for n in entry.get("holders") or []]
    recorded = entry.get("party_ids")
    if isinstance(recorded, dict) and set(recorded) == set(holders):
        known = {str(n): int(p) for n, p in recorded.items()}
    else:  # a key never reshared: party ids by position, as api.orchestration.party_ids_of gives them
        known = {node: i for i, node in enumerate(holders, start=1)}
    used = set(known.values())
    next_id = max([*used, int(entry.get("next_party_id") or 0) - 1, 0]) + 1
    assigned: dict[str, int] = {}
    for node in nodes:
        if node in known:
            assigned[node] = known[node]
            continue
        while next_id in used:
            next_id += 1
        assigned[node] = next_id
        used.add(next_id)
    if max(assigned.values(), default=0) > MAX_PARTY_ID:
        raise RecoveryError("invalid_committee", f"party ids above {MAX_PARTY_ID}")
    return assigned


def deal_key(opened: EscrowedKey, holders: Sequence[NewHolder], threshold: int, epoch: int) -> DealtKey:
    """Interpolate the secret from t opened escrow shares and deal it to `holders` (threshold `threshold`).

    FROST: the dealt shares are the new key shares. GG18/GG20: they are *staged* shares (tss.ecdsa.staging),
    plain Shamir shares that never sign; the new committee reshares them into complete key shares."""
    if len({h.node_id for h in holders}) != len(holders) or len({h.party_id for h in holders}) != len(holders):
        raise RecoveryError("invalid_committee", "the new holders and their party ids must be distinct")
    if not 2 <= threshold <= len(holders):
        raise RecoveryError("invalid_threshold", f"threshold {threshold} with {len(holders)} new holders")
    old_threshold = int(opened.entry["threshold"])
    if len(opened.shares) < old_threshold:
        raise RecoveryError("not_enough_shares", f"key {opened.key_id}: {len(opened.shares)} escrowed shares, "
                                                 f"{old_threshold} needed")
    deal = _deal_frost if opened.family == Family.FROST else _deal_ecdsa
    try:
        package, plain_shares = deal(opened, [h.party_id for h in holders], threshold, epoch)
    finally:
        opened.forget()
    result = DealtKey(opened.key_id, epoch, threshold, package, list(holders))
    try:
        for holder in holders:
            plain = plain_shares.pop(holder.party_id)
            context = RecoveredShareContext(opened.key_id, epoch, holder.node_id, holder.party_id,
                                            str(package["group_public_key"]))
            result.shares[holder.node_id] = base64.b64encode(seal_for_node(plain, holder.x25519, context)).decode()
            plain[:] = bytes(len(plain))
    finally:
        for plain in plain_shares.values():
            plain[:] = bytes(len(plain))
    return result


def _interpolated(opened: EscrowedKey, order: int) -> int:
    shares = opened.secrets()
    ids = sorted(shares)[: int(opened.entry["threshold"])]
    try:
        return sum(lagrange_at_zero(i, ids, order) * shares[i] for i in ids) % order
    finally:
        shares.clear()


def _mismatch(opened: EscrowedKey) -> RecoveryError:
    return RecoveryError("escrow_mismatch", f"key {opened.key_id}: the escrowed shares do not give the manifest's "
                                            "group key")


def _deal_frost(opened: EscrowedKey, party_ids: list[int], threshold: int,
                epoch: int) -> tuple[dict[str, Any], dict[int, bytearray]]:
    """New FROST key shares (RFC 9591 Appendix C with the recovered secret), as bytes to seal."""
    from tss.frost.ciphersuite import get_ciphersuite
    from tss.frost.keys import KeyShare, PublicKeyPackage, trusted_dealer_keygen

    package = dict(opened.entry.get("package") or {})
    suite = get_ciphersuite(str(package.get("suite")))
    g = suite.group
    secret = _interpolated(opened, g.order)
    try:
        if g.serialize_element(g.base_mul(secret)).hex() != package.get("group_public_key"):
            raise _mismatch(opened)
        dealt, public = trusted_dealer_keygen(suite, threshold, party_ids, secret=secret)
    finally:
        del secret
    public = dataclasses.replace(public, epoch=epoch)
    public.validate()
    plain = {pid: bytearray(KeyShare(pid, dealt.pop(pid).signing_share, public).to_bytes()) for pid in party_ids}
    PublicKeyPackage.from_dict(public.to_dict())  # what the nodes will check, checked here first
    return public.to_dict(), plain


def _deal_ecdsa(opened: EscrowedKey, party_ids: list[int], threshold: int,
                epoch: int) -> tuple[dict[str, Any], dict[int, bytearray]]:
    """Staged shares of a GG18/GG20 key (a fresh degree t'-1 polynomial through it), as bytes to seal."""
    from tss.ecdsa.curve import Q, base_mul, encode_point
    from tss.ecdsa.staging import StagingPackage, deal_staged

    secret = _interpolated(opened, Q)
    try:
        if encode_point(base_mul(secret)).hex() != (opened.entry.get("package") or {}).get("group_key"):
            raise _mismatch(opened)
        staged, package = deal_staged(secret, threshold, party_ids, epoch)
    finally:
        del secret
    plain = {pid: bytearray(staged.pop(pid).to_bytes()) for pid in party_ids}
    StagingPackage.from_dict(package.to_dict())  # what the nodes will check, checked here first
    return package.to_dict(), plain


__all__ = ["DealtKey", "NewHolder", "RecoveryError", "deal_key", "party_ids_for"]
