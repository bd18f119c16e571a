"""Wire layer of the FROST VSS sessions: payload encodings, hash commitments, echo and inbox checks.

Everything here works on public bytes; faults raise `ProtocolError` naming the sender.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from tss.errors import EncodingError, ProtocolError
from tss.frost.ciphersuite import Ciphersuite
from tss.frost.dkg import ProofOfKnowledge
from tss.groups import Element
from tss.messages import BROADCAST, RoundMessage

_ECHO_TAG = b"tss/frost/vss-echo/v1"
_PRECOMMIT_TAG = b"tss/frost/dkg-precommit/v1"
OPENING_RANDOM_BYTES = 32  # SECURITY.md "hash-commitment randomness"


class EchoMismatchError(ProtocolError):
    """Parties saw different round broadcasts (SECURITY.md C5).

    `culprits` are the dealers whose broadcast was seen differently; `disagreeing` maps each of
    them to the echoing parties whose view differs from ours. A party that lies in its echo can
    only force an abort; with the signed copies the envelope layer keeps, the orchestration can
    prove which side equivocated.
    """

    def __init__(self, disagreeing: dict[int, list[int]]) -> None:
        self.disagreeing = {j: sorted(ks) for j, ks in sorted(disagreeing.items())}
        super().__init__("broadcast_mismatch", culprits=disagreeing, detail=f"echo views differ: {self.disagreeing}")


def lp(data: bytes) -> bytes:
    """8-byte big-endian length prefix (injective transcript encoding, SECURITY.md Z2)."""
    return len(data).to_bytes(8, "big") + data


# ---- round-1 commitment payload --------------------------------------------------------------
def encode_commit(suite: Ciphersuite, commitment: Sequence[Element], pok: ProofOfKnowledge | None) -> bytes:
    """u16 count || C_0 (identity allowed) || C_1..C_{t-1} || [PoK]."""
    g = suite.group
    out = len(commitment).to_bytes(2, "big") + g.serialize_element_or_identity(commitment[0])
    out += b"".join(g.serialize_element(c) for c in commitment[1:])
    return out + (pok.to_bytes(suite) if pok is not None else b"")


def parse_commit(
    suite: Ciphersuite, threshold: int, with_pok: bool, sender: int, data: bytes
) -> tuple[list[Element], ProofOfKnowledge | None]:
    """Decode a commitment payload; the vector must have exactly `threshold` entries (C3)."""
    g = suite.group
    ne = g.element_len
    pok_len = g.element_len + g.scalar_len if with_pok else 0
    count = int.from_bytes(data[:2], "big") if len(data) >= 2 else -1
    if count != threshold or len(data) != 2 + count * ne + pok_len:
        raise ProtocolError("invalid_commitment_length", culprits=[sender], detail=f"expected {threshold}")
    try:
        body = data[2 : 2 + count * ne]
        c0 = g.deserialize_element_or_identity(body[:ne])
        commitment = [c0] + [g.deserialize_element(body[k * ne : (k + 1) * ne]) for k in range(1, count)]
        pok = ProofOfKnowledge.from_bytes(suite, data[2 + count * ne :]) if with_pok else None
    except EncodingError as exc:
        raise ProtocolError("invalid_encoding", culprits=[sender], detail=str(exc)) from exc
    return commitment, pok


# ---- hash commitment before reveal (SECURITY.md C1, C2) ------------------------------------------
def precommit_hash(ssid: bytes, sender: int, payload: bytes, rand: bytes) -> bytes:
    """H(tag || ssid || pid || value || 32 random bytes)."""
    return hashlib.sha256(_PRECOMMIT_TAG + lp(ssid) + sender.to_bytes(4, "big") + lp(payload) + rand).digest()


def open_precommit(ssid: bytes, sender: int, precommit: bytes, opening: bytes) -> bytes:
    """Check `opening` = rand || payload against the sender's own precommit; return the payload."""
    rand, payload = opening[:OPENING_RANDOM_BYTES], opening[OPENING_RANDOM_BYTES:]
    if len(rand) != OPENING_RANDOM_BYTES or not hmac.compare_digest(
        precommit_hash(ssid, sender, payload, rand), precommit
    ):
        raise ProtocolError("invalid_opening", culprits=[sender])
    return payload


# ---- echo (SECURITY.md C5) -------------------------------------------------------------------------
def echo_digests(config_digest: bytes, dealers: Sequence[int], payloads: dict[int, bytes]) -> bytes:
    """config digest || H(tag || config digest || j || payload_j) for every dealer j in order."""
    out = bytearray(config_digest)
    for j in dealers:
        out += hashlib.sha256(_ECHO_TAG + config_digest + j.to_bytes(4, "big") + lp(payloads[j])).digest()
    return bytes(out)


def compare_echoes(dealers: Sequence[int], mine: bytes, echoes: dict[int, bytes]) -> None:
    disagreeing: dict[int, list[int]] = {}
    for k, echo in sorted(echoes.items()):
        if len(echo) != len(mine):
            raise ProtocolError("malformed_echo", culprits=[k])
        if not hmac.compare_digest(echo[:32], mine[:32]):
            raise ProtocolError("session_config_mismatch", culprits=[k])
        for idx, j in enumerate(dealers):
            lo = 32 * (idx + 1)
            if echo[lo : lo + 32] != mine[lo : lo + 32]:
                disagreeing.setdefault(j, []).append(k)
    if disagreeing:
        raise EchoMismatchError(disagreeing)


# ---- inbox -------------------------------------------------------------------------------------------
def collect(
    me: int, inbound: Sequence[RoundMessage], *, round_no: int, kinds: dict[str, tuple[set[int], bool]]
) -> dict[str, dict[int, bytes]]:
    """Sort inbound messages by kind, one per expected sender (SECURITY.md S3, I2).

    `kinds` maps kind -> (expected senders, point-to-point?). Every message must come from round
    `round_no`. Byte-identical repeats are ignored; a different second message is equivocation.
    """
    out: dict[str, dict[int, bytes]] = {k: {} for k in kinds}
    for msg in inbound:
        if msg.kind not in kinds or msg.round != round_no:
            raise ProtocolError("unexpected_message", culprits=[msg.sender], detail=f"{msg.kind} r{msg.round}")
        senders, p2p = kinds[msg.kind]
        if msg.sender not in senders or msg.recipient != (me if p2p else BROADCAST):
            raise ProtocolError("unexpected_message", culprits=[msg.sender], detail=msg.kind)
        seen = out[msg.kind].get(msg.sender)
        if seen is not None and seen != msg.payload:
            raise ProtocolError("equivocation", culprits=[msg.sender], detail=msg.kind)
        out[msg.kind][msg.sender] = msg.payload
    for kind, (senders, _) in kinds.items():
        missing = sorted(senders - set(out[kind]))
        if missing:
            raise ProtocolError("missing_message", culprits=missing, detail=kind)
    return out


__all__ = [
    "EchoMismatchError",
    "collect",
    "compare_echoes",
    "echo_digests",
    "encode_commit",
    "open_precommit",
    "parse_commit",
    "precommit_hash",
]
