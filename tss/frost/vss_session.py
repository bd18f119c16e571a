"""One engine for FROST DKG, refresh and reshare: Feldman VSS rounds with a broadcast echo.

All three are "every dealer shares a polynomial of degree t-1, every receiver sums what it gets":

| mode      | dealers                  | dealer constant a_{j,0}        | check on C_{j,0}                      |
| --------- | ------------------------ | ------------------------------ | ------------------------------------- |
| dkg       | all participants         | random, with a Schnorr PoK     | not identity, PoK valid (C2)          |
| refresh   | all holders (same t, n)  | 0                              | identity (SECURITY.md R1)             |
| reshare   | a chosen set D, |D| >= t | λ_j^D·s_j                       | equals λ_j^D·X_j of the old key (R1)  |

Rounds (every party of the session runs all three):
  1. dealers broadcast commitment vector (exactly t entries, C3) [+ PoK];
  2. everyone validates all commitments, dealers send each receiver its share point-to-point, and
     everyone broadcasts an echo: digests of every round-1 broadcast it received (C5);
  3. everyone compares echoes (any mismatch aborts, naming the dealers whose broadcast was seen
     differently), receivers check every share against its dealer's commitment (C4), then all
     derive the new public key package and require the group key unchanged for refresh/reshare (R2).
Every check failure raises `ProtocolError` naming the sending party.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tss.errors import EncodingError, InvalidInputError, ProtocolError
from tss.frost.ciphersuite import Ciphersuite, get_ciphersuite
from tss.frost.dkg import ProofOfKnowledge, prove_knowledge, verify_knowledge
from tss.frost.keys import KeyShare, PublicKeyPackage
from tss.groups import Element
from tss.messages import BROADCAST, RoundMessage
from tss.protocol import RoundOutput
from tss.rng import Rng, resolve_rng
from tss.shamir import (
    commit_polynomial,
    evaluate_commitment,
    evaluate_polynomial,
    lagrange_coefficient,
    random_polynomial,
    validate_identifiers,
    validate_threshold,
    verify_share,
)

MODES = ("dkg", "refresh", "reshare")
TOTAL_ROUNDS = 3
_ECHO_TAG = b"tss/frost/vss-echo/v1"
_CONFIG_TAG = b"tss/frost/vss-config/v1"


class EchoMismatchError(ProtocolError):
    """Parties saw different round-1 broadcasts (SECURITY.md C5).

    `culprits` are the dealers whose broadcast was seen differently; `disagreeing` maps each of
    them to the echoing parties whose view differs from ours. With the signed copies the envelope
    layer keeps, the orchestration can prove which side equivocated.
    """

    def __init__(self, disagreeing: dict[int, list[int]]) -> None:
        self.disagreeing = {j: sorted(ks) for j, ks in sorted(disagreeing.items())}
        super().__init__("broadcast_mismatch", culprits=disagreeing, detail=f"echo views differ: {self.disagreeing}")


def _lp(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def _ids(ids: Sequence[int]) -> bytes:
    return len(ids).to_bytes(4, "big") + b"".join(i.to_bytes(4, "big") for i in ids)


@dataclass(frozen=True)
class SessionConfig:
    """Who does what in one VSS session; every party must hold an identical config."""

    mode: str
    suite: str
    ssid: bytes
    me: int
    dealers: list[int]
    receivers: list[int]
    threshold: int
    old_public: PublicKeyPackage | None = None

    @property
    def ciphersuite(self) -> Ciphersuite:
        return get_ciphersuite(self.suite)

    @property
    def parties(self) -> list[int]:
        return sorted(set(self.dealers) | set(self.receivers))

    def validate(self) -> None:
        if self.mode not in MODES:
            raise InvalidInputError(f"unknown VSS mode {self.mode!r}")
        if not self.ssid:
            raise InvalidInputError("a non-empty session id is required")
        g = self.ciphersuite.group
        if validate_identifiers(g, self.dealers) != self.dealers or validate_identifiers(g, self.receivers) != (
            self.receivers
        ):
            raise InvalidInputError("dealer and receiver lists must be sorted")
        validate_threshold(self.threshold, len(self.receivers))
        if self.me not in self.parties:
            raise InvalidInputError("this party is not in the session")
        old = self.old_public
        if self.mode == "dkg":
            if self.dealers != self.receivers or old is not None:
                raise InvalidInputError("dkg: dealers are exactly the participants")
            return
        if old is None or old.suite != self.suite:
            raise InvalidInputError(f"{self.mode}: the old public key package is required")
        if not set(self.dealers) <= set(old.verifying_shares):
            raise InvalidInputError(f"{self.mode}: every dealer must hold an old share")
        if self.mode == "refresh" and (
            self.dealers != old.participants or self.receivers != old.participants or self.threshold != old.threshold
        ):
            raise InvalidInputError("refresh keeps participants and threshold")
        if self.mode == "reshare" and len(self.dealers) < old.threshold:
            raise InvalidInputError("reshare needs at least t old shareholders as dealers")

    def digest(self) -> bytes:
        """Injective hash of the whole configuration except `me` (bound into every echo)."""
        old = self.old_public.to_bytes() if self.old_public is not None else b""
        parts = [_CONFIG_TAG, _lp(self.mode.encode()), _lp(self.suite.encode()), _lp(self.ssid)]
        parts += [_ids(self.dealers), _ids(self.receivers), self.threshold.to_bytes(4, "big"), _lp(old)]
        return hashlib.sha256(b"".join(parts)).digest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "suite": self.suite,
            "ssid": self.ssid.hex(),
            "me": self.me,
            "dealers": self.dealers,
            "receivers": self.receivers,
            "threshold": self.threshold,
            "old_public": self.old_public.to_dict() if self.old_public else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SessionConfig:
        old = PublicKeyPackage.from_dict(d["old_public"]) if d["old_public"] else None
        return cls(
            d["mode"], d["suite"], bytes.fromhex(d["ssid"]), d["me"], d["dealers"], d["receivers"], d["threshold"], old
        )


def dealer_constant(cfg: SessionConfig, old_share: KeyShare | None, rng: Rng) -> int:
    g = cfg.ciphersuite.group
    if cfg.mode == "dkg":
        return g.random_nonzero_scalar(rng)
    if cfg.mode == "refresh":
        return 0
    assert old_share is not None
    return lagrange_coefficient(g, cfg.dealers, cfg.me) * old_share.signing_share % g.order


def expected_constant(cfg: SessionConfig, dealer: int) -> Element | None:
    """What C_{j,0} must be (refresh: identity; reshare: λ_j·X_j); None for dkg (checked by PoK)."""
    g = cfg.ciphersuite.group
    if cfg.mode == "refresh":
        return g.identity
    if cfg.mode == "reshare":
        assert cfg.old_public is not None
        lam = lagrange_coefficient(g, cfg.dealers, dealer)
        return g.mul(cfg.old_public.verifying_shares[dealer], lam)
    return None


# ---- payloads ------------------------------------------------------------------------------
def encode_commit(suite: Ciphersuite, commitment: Sequence[Element], pok: ProofOfKnowledge | None) -> bytes:
    g = suite.group
    out = len(commitment).to_bytes(2, "big") + g.serialize_element_or_identity(commitment[0])
    out += b"".join(g.serialize_element(c) for c in commitment[1:])
    return out + (pok.to_bytes(suite) if pok is not None else b"")


def decode_commit(cfg: SessionConfig, sender: int, data: bytes) -> tuple[list[Element], ProofOfKnowledge | None]:
    """Parse and check one dealer's round-1 broadcast; any fault names `sender`."""
    suite = cfg.ciphersuite
    g = suite.group
    ne = g.element_len
    pok_len = g.element_len + g.scalar_len if cfg.mode == "dkg" else 0
    count = int.from_bytes(data[:2], "big") if len(data) >= 2 else -1
    if count != cfg.threshold or len(data) != 2 + count * ne + pok_len:
        raise ProtocolError("invalid_commitment_length", culprits=[sender], detail=f"expected {cfg.threshold}")
    try:
        body = data[2 : 2 + count * ne]
        c0 = g.deserialize_element_or_identity(body[:ne])
        commitment = [c0] + [g.deserialize_element(body[k * ne : (k + 1) * ne]) for k in range(1, count)]
        pok = ProofOfKnowledge.from_bytes(suite, data[2 + count * ne :]) if pok_len else None
    except EncodingError as exc:
        raise ProtocolError("invalid_encoding", culprits=[sender], detail=str(exc)) from exc
    expected = expected_constant(cfg, sender)
    if cfg.mode == "dkg":
        assert pok is not None
        if g.is_identity(c0):
            raise ProtocolError("identity_commitment", culprits=[sender])
        if not verify_knowledge(suite, sender, c0, pok, cfg.ssid):
            raise ProtocolError("invalid_proof_of_knowledge", culprits=[sender])
    elif c0 != expected:
        reason = "nonzero_refresh_constant" if cfg.mode == "refresh" else "invalid_reshare_constant"
        raise ProtocolError(reason, culprits=[sender])
    return commitment, pok


def echo_digests(cfg: SessionConfig, payloads: dict[int, bytes]) -> bytes:
    """cfg digest || H(tag || cfg digest || j || payload_j) for every dealer j in order."""
    cd = cfg.digest()
    out = bytearray(cd)
    for j in cfg.dealers:
        out += hashlib.sha256(_ECHO_TAG + cd + j.to_bytes(4, "big") + _lp(payloads[j])).digest()
    return bytes(out)


def compare_echoes(cfg: SessionConfig, mine: bytes, echoes: dict[int, bytes]) -> None:
    disagreeing: dict[int, list[int]] = {}
    for k, echo in sorted(echoes.items()):
        if len(echo) != len(mine):
            raise ProtocolError("malformed_echo", culprits=[k])
        if echo[:32] != mine[:32]:
            raise ProtocolError("session_config_mismatch", culprits=[k])
        for idx, j in enumerate(cfg.dealers):
            lo = 32 * (idx + 1)
            if echo[lo : lo + 32] != mine[lo : lo + 32]:
                disagreeing.setdefault(j, []).append(k)
    if disagreeing:
        raise EchoMismatchError(disagreeing)


def collect(
    cfg: SessionConfig, inbound: Sequence[RoundMessage], *, round_no: int, kinds: dict[str, tuple[set[int], bool]]
) -> dict[str, dict[int, bytes]]:
    """Sort inbound messages by kind, one per expected sender (SECURITY.md S3, I2).

    `kinds` maps kind -> (expected senders, point-to-point?). Byte-identical repeats are ignored;
    a different second message from one sender is equivocation.
    """
    out: dict[str, dict[int, bytes]] = {k: {} for k in kinds}
    for msg in inbound:
        if msg.kind not in kinds or msg.round != round_no:
            raise ProtocolError("unexpected_message", culprits=[msg.sender], detail=f"{msg.kind} r{msg.round}")
        senders, p2p = kinds[msg.kind]
        if msg.sender not in senders or msg.recipient != (cfg.me if p2p else BROADCAST):
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


# ---- the three rounds -----------------------------------------------------------------------
def kind(cfg: SessionConfig, what: str) -> str:
    return f"frost/{cfg.mode}/{what}"


def round1(
    cfg: SessionConfig, old_share: KeyShare | None, rng: Rng | None
) -> tuple[dict[str, Any], list[RoundMessage]]:
    rng = resolve_rng(rng)
    suite = cfg.ciphersuite
    g = suite.group
    secret: dict[str, Any] = {"old_share": old_share.to_bytes().hex() if old_share else None}
    if cfg.me not in cfg.dealers:
        return secret, []
    coeffs = random_polynomial(g, dealer_constant(cfg, old_share, rng), cfg.threshold, rng)
    commitment = commit_polynomial(g, coeffs)
    pok = prove_knowledge(suite, cfg.me, coeffs[0], commitment[0], cfg.ssid, rng) if cfg.mode == "dkg" else None
    payload = encode_commit(suite, commitment, pok)
    secret["coefficients"] = [g.serialize_scalar(c).hex() for c in coeffs]
    secret["own_commit"] = payload.hex()
    return secret, [RoundMessage(cfg.me, BROADCAST, 1, kind(cfg, "commit"), payload)]


def round2(
    cfg: SessionConfig, secret: dict[str, Any], inbound: Sequence[RoundMessage]
) -> tuple[dict[str, Any], list[RoundMessage]]:
    g = cfg.ciphersuite.group
    others = set(cfg.dealers) - {cfg.me}
    got = collect(cfg, inbound, round_no=1, kinds={kind(cfg, "commit"): (others, False)})[kind(cfg, "commit")]
    for j in sorted(got):
        decode_commit(cfg, j, got[j])
    payloads = dict(got)
    out: list[RoundMessage] = []
    if cfg.me in cfg.dealers:
        payloads[cfg.me] = bytes.fromhex(secret["own_commit"])
        coeffs = [g.deserialize_scalar(bytes.fromhex(c)) for c in secret["coefficients"]]
        for r in cfg.receivers:
            share = g.serialize_scalar(evaluate_polynomial(g, coeffs, r))
            if r == cfg.me:
                secret["own_share"] = share.hex()
            else:
                out.append(RoundMessage(cfg.me, r, 2, kind(cfg, "share"), share))
    echo = echo_digests(cfg, payloads)
    out.append(RoundMessage(cfg.me, BROADCAST, 2, kind(cfg, "echo"), echo))
    secret["commits"] = {str(j): p.hex() for j, p in sorted(payloads.items())}
    secret["echo"] = echo.hex()
    return secret, out


def round3(
    cfg: SessionConfig, secret: dict[str, Any], inbound: Sequence[RoundMessage]
) -> tuple[KeyShare | None, PublicKeyPackage]:
    g = cfg.ciphersuite.group
    kinds = {kind(cfg, "echo"): (set(cfg.parties) - {cfg.me}, False)}
    if cfg.me in cfg.receivers:
        kinds[kind(cfg, "share")] = (set(cfg.dealers) - {cfg.me}, True)
    got = collect(cfg, inbound, round_no=2, kinds=kinds)
    compare_echoes(cfg, bytes.fromhex(secret["echo"]), got[kind(cfg, "echo")])
    commitments = {int(j): decode_commit(cfg, int(j), bytes.fromhex(p))[0] for j, p in secret["commits"].items()}

    share_sum: int | None = None
    if cfg.me in cfg.receivers:
        received = {j: p for j, p in got[kind(cfg, "share")].items()}
        if cfg.me in cfg.dealers:
            received[cfg.me] = bytes.fromhex(secret["own_share"])
        bad: list[int] = []
        total = 0
        for j in cfg.dealers:
            try:
                s = g.deserialize_scalar(received[j])
            except EncodingError:
                bad.append(j)
                continue
            if not verify_share(g, commitments[j], cfg.me, s):
                bad.append(j)
            total += s
        if bad:
            raise ProtocolError("invalid_share", culprits=bad)
        share_sum = total % g.order

    # Public outcome from the (echo-confirmed) commitments: Σ_j C_{j,k} per degree, then Horner.
    agg = [g.sum(commitments[j][k] for j in cfg.dealers) for k in range(cfg.threshold)]
    old = cfg.old_public
    verifying = {r: evaluate_commitment(g, agg, r) for r in cfg.receivers}
    group_key = agg[0]
    if cfg.mode == "refresh":
        assert old is not None
        verifying = {r: g.add(old.verifying_shares[r], x) for r, x in verifying.items()}
        group_key = g.add(old.group_public_key, group_key)
    if old is not None and group_key != old.group_public_key:
        raise ProtocolError("group_key_changed")  # R2; per-dealer constant checks make this unreachable
    if g.is_identity(group_key) or any(g.is_identity(x) for x in verifying.values()):
        raise ProtocolError("identity_public_share")
    public = PublicKeyPackage(
        suite=cfg.suite,
        group_public_key=group_key,
        verifying_shares=verifying,
        threshold=cfg.threshold,
        epoch=0 if old is None else old.epoch + 1,
    )
    public.validate()
    if share_sum is None:
        return None, public
    if cfg.mode == "refresh":
        old_share = KeyShare.from_bytes(bytes.fromhex(secret["old_share"]))
        share_sum = (share_sum + old_share.signing_share) % g.order
    key_share = KeyShare(cfg.me, share_sum, public)
    key_share.check()
    return key_share, public


def final_output(cfg: SessionConfig, key_share: KeyShare | None, public: PublicKeyPackage, echo: bytes) -> RoundOutput:
    g = cfg.ciphersuite.group
    public_result = {
        "mode": cfg.mode,
        "identifier": cfg.me,
        "group_public_key": g.serialize_element(public.group_public_key).hex(),
        "public_key_package": public.to_dict(),
        "transcript_digest": hashlib.sha256(echo).hexdigest(),
    }
    return RoundOutput(
        state=b"", outbound=[], result=key_share.to_bytes() if key_share else None, public_result=public_result
    )


def dump_state(round_no: int, cfg: SessionConfig, secret: dict[str, Any]) -> bytes:
    return json.dumps(
        {"v": 1, "next_round": round_no, "config": cfg.to_dict(), "secret": secret},
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


def load_state(data: bytes) -> tuple[int, SessionConfig, dict[str, Any]]:
    try:
        obj = json.loads(data)
        if obj.get("v") != 1:
            raise ValueError("version")
        return int(obj["next_round"]), SessionConfig.from_dict(obj["config"]), obj["secret"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInputError("malformed protocol state") from exc
