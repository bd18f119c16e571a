"""`mpc backup verify SET --recovery-key FILE`: offline proof that the escrow can rebuild every key.

For each escrowed key: every holder's file decrypts with the recovery key (context: key id, epoch, node),
the share in it is consistent with its own public share and that public share is the one the signed
manifest lists for the holder, and any t of the shares interpolate to the manifest's group key. The
secret is rebuilt only as an integer inside this function and compared as a point; it is never printed
or written, and every decrypted buffer is overwritten (best effort: SECURITY.md H5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from mpc.backup.escrow import EscrowError, EscrowFile
from mpc.backup.manifest import BackupSetError, VerifiedSet
from mpc.protocols import KEY_PROTOCOLS, Family


@dataclass
class EscrowReport:
    verified: list[str] = field(default_factory=list)  # key ids whose t shares give the group key
    skipped: dict[str, str] = field(default_factory=dict)  # key id -> why the set holds no escrow of it


def lagrange_at_zero(i: int, ids: list[int], q: int) -> int:
    num, den = 1, 1
    for j in ids:
        if j != i:
            num = num * j % q
            den = den * (j - i) % q
    return num * pow(den, -1, q) % q


def _frost_share(raw: bytearray, key: dict, node: str, party_id: int, path: str) -> tuple[int, int, object]:
    from tss.frost.keys import KeyShare

    try:
        share = KeyShare.from_bytes(bytes(raw))
        share.check()
    except Exception:
        raise BackupSetError(path, "the decrypted share is not a valid FROST share") from None
    g = share.public.ciphersuite.group
    package = key.get("package") or {}
    listed = (package.get("verifying_shares") or {}).get(str(share.identifier))
    if (party_id and share.identifier != party_id) or listed != g.serialize_element(share.verifying_share).hex():
        raise BackupSetError(path, f"the share of {node} does not match its public share in the manifest")
    return share.identifier, share.signing_share, share


def _ecdsa_share(raw: bytearray, key: dict, node: str, party_id: int, path: str) -> tuple[int, int, object]:
    from tss.ecdsa.curve import encode_point
    from tss.ecdsa.keyshare import KeyShare

    try:
        share = KeyShare.from_bytes(bytes(raw))  # checks x_i·G = X_i and that the X_j give Y
    except Exception:
        raise BackupSetError(path, "the decrypted share is not a valid GG18/GG20 share") from None
    package = key.get("package") or {}
    listed = (package.get("public_shares") or {}).get(str(share.party_id))
    mine = encode_point(share.public_shares[share.party_id]).hex()
    if (party_id and share.party_id != party_id) or listed != mine:
        raise BackupSetError(path, f"the share of {node} does not match its public share in the manifest")
    return share.party_id, share.x, share


@dataclass
class EscrowedKey:
    """One key's escrowed shares, decrypted and each checked against its public share in the manifest.

    `shares` holds the share objects (FROST or GG18/GG20 `KeyShare`): secret material. Callers use them at
    once and drop them (`forget`); nothing here prints or writes them."""

    key_id: str
    entry: dict
    family: Family
    shares: dict[int, Any] = field(default_factory=dict)  # party id -> share

    def secrets(self) -> dict[int, int]:
        return {pid: (s.signing_share if self.family == Family.FROST else s.x) for pid, s in self.shares.items()}

    def forget(self) -> None:
        self.shares.clear()


def escrowed_keys(checked: VerifiedSet) -> dict[str, dict]:
    """The manifest's escrow entries by key id (each `{"escrowed": [nodes]}` or `{"skipped": why}`)."""
    listed = (checked.manifest.escrow or {}).get("keys") or {}
    if not listed:
        raise BackupSetError("manifest.json", "this set holds no escrowed shares (BACKUP_RECOVERY_PUBLIC_KEY unset)")
    return dict(listed)


def open_escrowed(checked: VerifiedSet, key_id: str, nodes: list[str],
                  recovery_key: X25519PrivateKey) -> EscrowedKey:
    """Decrypt the escrowed shares of `key_id` held by `nodes`; raises `BackupSetError` naming the file."""
    key = checked.manifest.key(key_id)
    if key is None:
        raise BackupSetError("manifest.json", f"escrow of unknown key {key_id}")
    family = KEY_PROTOCOLS[key["protocol"]].family
    parse = _frost_share if family == Family.FROST else _ecdsa_share
    opened = EscrowedKey(key_id, key, family)
    for node in nodes:
        path = f"nodes/{node}/escrow/{key_id}.json"
        try:
            sealed = EscrowFile.parse((checked.root / path).read_bytes(), what=path)
        except FileNotFoundError:
            raise BackupSetError(path, "missing") from None
        except EscrowError as exc:
            raise BackupSetError(path, str(exc)) from None
        context = sealed.context
        if (context.key_id, context.epoch, context.node_id) != (key_id, key["epoch"], node):
            raise BackupSetError(path, "names another key, epoch or node than where it is")
        try:
            raw = sealed.open(recovery_key, what=path)
        except EscrowError as exc:
            raise BackupSetError(path, str(exc)) from None
        try:
            pid, _secret, share = parse(raw, key, node, context.party_id, path)
        finally:
            raw[:] = bytes(len(raw))
        opened.shares[pid] = share
    return opened


def check_escrow(checked: VerifiedSet, recovery_key: X25519PrivateKey) -> EscrowReport:
    """Raises `BackupSetError` naming the file at fault; returns which keys verified and which were skipped."""
    report = EscrowReport()
    for key_id, entry in sorted(escrowed_keys(checked).items()):
        if "escrowed" not in entry:
            report.skipped[key_id] = str(entry.get("skipped", "not escrowed"))
            continue
        opened = open_escrowed(checked, key_id, list(entry["escrowed"]), recovery_key)
        try:
            check_group_key(opened)
        finally:
            opened.forget()
        report.verified.append(key_id)
    return report


def check_group_key(opened: EscrowedKey) -> None:
    """t of the opened shares interpolate to the manifest's group key (the secret exists only as an int here)."""
    shares = opened.secrets()
    share = next(iter(opened.shares.values()), None)
    _check_group_key(opened.entry, opened.family, shares, share, opened.key_id)
    shares.clear()


def _check_group_key(key: dict, family: Family, shares: dict[int, int], share: object, key_id: str) -> None:
    threshold = int(key["threshold"])
    if len(shares) < threshold:
        raise BackupSetError("manifest.json", f"key {key_id}: {len(shares)} escrowed shares, {threshold} needed")
    ids = sorted(shares)[:threshold]
    if family == Family.FROST:
        g = share.public.ciphersuite.group  # type: ignore[attr-defined]
        q = g.order
        secret = sum(lagrange_at_zero(i, ids, q) * shares[i] for i in ids) % q
        ok = g.serialize_element(g.base_mul(secret)).hex() == (key.get("package") or {}).get("group_public_key")
    else:
        from tss.ecdsa.curve import Q, base_mul, encode_point

        secret = sum(lagrange_at_zero(i, ids, Q) * shares[i] for i in ids) % Q
        ok = encode_point(base_mul(secret)).hex() == (key.get("package") or {}).get("group_key")
    del secret
    if not ok:
        raise BackupSetError("manifest.json", f"key {key_id}: {threshold} escrowed shares do not give the group key")


__all__ = ["EscrowReport", "EscrowedKey", "check_escrow", "check_group_key", "escrowed_keys", "lagrange_at_zero",
           "open_escrowed"]
