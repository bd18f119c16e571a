"""One engine for FROST DKG, refresh and reshare: Feldman VSS rounds with a broadcast echo.

All three are "every dealer shares a polynomial of degree t-1, every receiver sums what it gets":

| mode      | dealers                  | dealer constant a_{j,0}    | check on C_{j,0}                       |
| --------- | ------------------------ | -------------------------- | -------------------------------------- |
| dkg       | all participants         | random, with a Schnorr PoK | not identity, PoK valid (C2)           |
| refresh   | all holders (same t, n)  | 0                          | identity (SECURITY.md R1)              |
| reshare   | a chosen set D, |D| >= t | λ_j^D·s_j                  | equals λ_j^D·X_j of the old key (R1)   |

A dealer's package is its commitment vector (exactly t entries, C3), plus a PoK in the dkg.
Rounds (every party of the session runs all three):
  1. dealers broadcast their package; in the dkg only a hash commitment to it (C1, C2: nobody sees
     another package before committing to its own);
  2. everyone broadcasts an echo, the digests of every round-1 broadcast it received (C5); dealers
     send each receiver its share point-to-point; refresh/reshare validate every package first;
     dkg dealers now broadcast the opening of their hash commitment;
  3. everyone compares echoes (any mismatch aborts, naming the dealers whose broadcast was seen
     differently); dkg parties open and validate every package; receivers check every share
     against its dealer's commitment (C4); all derive the new public key package and, for
     refresh/reshare, require the group key unchanged (R2).
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
from tss.frost.vss_wire import (
    OPENING_RANDOM_BYTES,
    collect,
    compare_echoes,
    echo_digests,
    encode_commit,
    lp,
    open_precommit,
    parse_commit,
    precommit_hash,
)
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
_CONFIG_TAG = b"tss/frost/vss-config/v1"


TOTAL_ROUNDS = 3


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
        old.validate()
        if self.mode == "reshare" and len(self.dealers) < old.threshold:
            raise InvalidInputError("reshare needs at least t old shareholders as dealers")

    def digest(self) -> bytes:
        """Injective hash of the whole configuration except `me` (bound into every echo)."""
        old = self.old_public.to_bytes() if self.old_public is not None else b""
        parts = [_CONFIG_TAG, lp(self.mode.encode()), lp(self.suite.encode()), lp(self.ssid)]
        parts += [_ids(self.dealers), _ids(self.receivers), self.threshold.to_bytes(4, "big"), lp(old)]
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
        # Validated by `validate()` when the session started; state is this node's own (sealed) data.
        old = PublicKeyPackage.from_dict(d["old_public"], check_consistency=False) if d["old_public"] else None
        return cls(
            d["mode"], d["suite"], bytes.fromhex(d["ssid"]), d["me"], d["dealers"], d["receivers"], d["threshold"], old
        )


def dealer_constant(cfg: SessionConfig, old_share: int | None, rng: Rng) -> int:
    g = cfg.ciphersuite.group
    if cfg.mode == "dkg":
        return g.random_nonzero_scalar(rng)
    if cfg.mode == "refresh":
        return 0
    assert old_share is not None
    return lagrange_coefficient(g, cfg.dealers, cfg.me) * old_share % g.order


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


def old_signing_share(cfg: SessionConfig, secret: dict[str, Any]) -> int | None:
    """This dealer's old s_i from the state (refresh/reshare), else None."""
    raw = secret.get("old_signing_share")
    return None if raw is None else cfg.ciphersuite.group.deserialize_scalar(bytes.fromhex(raw))


def initial_secret(cfg: SessionConfig, key_share: KeyShare | None) -> dict[str, Any]:
    """Round-1 secret state: the old signing share of a refresh/reshare dealer."""
    if key_share is None:
        return {"old_signing_share": None}
    g = cfg.ciphersuite.group
    return {"old_signing_share": g.serialize_scalar(key_share.signing_share).hex()}


# ---- rounds ------------------------------------------------------------------------------------
def kind(cfg: SessionConfig, what: str) -> str:
    return f"frost/{cfg.mode}/{what}"


def decode_commit(cfg: SessionConfig, sender: int, data: bytes) -> tuple[list[Element], ProofOfKnowledge | None]:
    """Parse and check one dealer's package against the mode's rule for C_{j,0}; faults name `sender`."""
    suite = cfg.ciphersuite
    commitment, pok = parse_commit(suite, cfg.threshold, cfg.mode == "dkg", sender, data)
    c0 = commitment[0]
    if cfg.mode == "dkg":
        assert pok is not None
        if suite.group.is_identity(c0):
            raise ProtocolError("identity_commitment", culprits=[sender])
        if not verify_knowledge(suite, sender, c0, pok, cfg.ssid):
            raise ProtocolError("invalid_proof_of_knowledge", culprits=[sender])
    elif c0 != expected_constant(cfg, sender):
        reason = "nonzero_refresh_constant" if cfg.mode == "refresh" else "invalid_reshare_constant"
        raise ProtocolError(reason, culprits=[sender])
    return commitment, pok


def start(cfg: SessionConfig, secret: dict[str, Any], rng: Rng | None) -> tuple[dict[str, Any], list[RoundMessage]]:
    """Round 1: draw the polynomial (the only randomness of the session) and emit the first message."""
    rng = resolve_rng(rng)
    suite = cfg.ciphersuite
    g = suite.group
    old_share = old_signing_share(cfg, secret)
    if cfg.me not in cfg.dealers:
        return secret, []
    coeffs = random_polynomial(g, dealer_constant(cfg, old_share, rng), cfg.threshold, rng)
    commitment = commit_polynomial(g, coeffs)
    pok = prove_knowledge(suite, cfg.me, coeffs[0], commitment[0], cfg.ssid, rng) if cfg.mode == "dkg" else None
    payload = encode_commit(suite, commitment, pok)
    secret["coefficients"] = [g.serialize_scalar(c).hex() for c in coeffs]
    secret["own_commit"] = payload.hex()
    if cfg.mode != "dkg":
        secret["own_first"] = payload.hex()
        return secret, [RoundMessage(cfg.me, BROADCAST, 1, kind(cfg, "commit"), payload)]
    rand = rng.token_bytes(OPENING_RANDOM_BYTES)
    secret["own_reveal"] = (rand + payload).hex()
    digest = precommit_hash(cfg.ssid, cfg.me, payload, rand)
    secret["own_first"] = digest.hex()
    return secret, [RoundMessage(cfg.me, BROADCAST, 1, kind(cfg, "precommit"), digest)]


def deal(cfg: SessionConfig, secret: dict[str, Any], inbound: Sequence[RoundMessage]) -> list[RoundMessage]:
    """Round 2: take every dealer's round-1 broadcast, echo them all, send shares point-to-point.

    refresh/reshare: the round-1 broadcast is the package, validated here before any share leaves.
    dkg: it is the hash commitment; the package itself (its opening) is broadcast now, next to the
    shares, and checked in round 3. Echoing the hash commitments pins every package, so one echo
    covers both rounds.
    """
    g = cfg.ciphersuite.group
    others = set(cfg.dealers) - {cfg.me}
    first = kind(cfg, "precommit" if cfg.mode == "dkg" else "commit")
    got = collect(cfg.me, inbound, round_no=1, kinds={first: (others, False)})[first]
    if cfg.mode == "dkg":
        bad = sorted(j for j, h in got.items() if len(h) != 32)
        if bad:
            raise ProtocolError("malformed_commitment", culprits=bad)
    else:
        for j in sorted(got):
            decode_commit(cfg, j, got[j])
    out: list[RoundMessage] = []
    if cfg.me in cfg.dealers:
        got[cfg.me] = bytes.fromhex(secret["own_first"])
        if cfg.mode == "dkg":
            opening = bytes.fromhex(secret["own_reveal"])
            out.append(RoundMessage(cfg.me, BROADCAST, 2, kind(cfg, "commit"), opening))
        coeffs = [g.deserialize_scalar(bytes.fromhex(c)) for c in secret["coefficients"]]
        for r in cfg.receivers:
            share = g.serialize_scalar(evaluate_polynomial(g, coeffs, r))
            if r == cfg.me:
                secret["own_share"] = share.hex()
            else:
                out.append(RoundMessage(cfg.me, r, 2, kind(cfg, "share"), share))
    echo = echo_digests(cfg.digest(), cfg.dealers, got)
    out.append(RoundMessage(cfg.me, BROADCAST, 2, kind(cfg, "echo"), echo))
    secret["first"] = {str(j): p.hex() for j, p in sorted(got.items())}
    secret["echo"] = echo.hex()
    return out


def finish(
    cfg: SessionConfig, secret: dict[str, Any], inbound: Sequence[RoundMessage]
) -> tuple[KeyShare | None, PublicKeyPackage]:
    """Round 3: echo check, (dkg) open and check packages, share checks, new key material."""
    g = cfg.ciphersuite.group
    kinds = {kind(cfg, "echo"): (set(cfg.parties) - {cfg.me}, False)}
    if cfg.me in cfg.receivers:
        kinds[kind(cfg, "share")] = (set(cfg.dealers) - {cfg.me}, True)
    if cfg.mode == "dkg":
        kinds[kind(cfg, "commit")] = (set(cfg.dealers) - {cfg.me}, False)
    got = collect(cfg.me, inbound, round_no=2, kinds=kinds)
    compare_echoes(cfg.dealers, bytes.fromhex(secret["echo"]), got[kind(cfg, "echo")])
    first = {int(j): bytes.fromhex(p) for j, p in secret["first"].items()}
    if cfg.mode == "dkg":
        packages = {
            j: open_precommit(cfg.ssid, j, first[j], got[kind(cfg, "commit")][j]) for j in sorted(first) if j != cfg.me
        }
        if cfg.me in cfg.dealers:
            packages[cfg.me] = bytes.fromhex(secret["own_commit"])
    else:
        packages = first
    if cfg.mode == "dkg":
        commitments = {j: decode_commit(cfg, j, packages[j])[0] for j in sorted(packages)}
    else:  # validated in round 2 before any share left; this is our own sealed state
        commitments = {j: _trusted_commitment(cfg, packages[j]) for j in sorted(packages)}

    # Public outcome from the (echo-confirmed) commitments: Σ_j C_{j,k} per degree, then Horner.
    agg = [g.sum(commitments[j][k] for j in cfg.dealers) for k in range(cfg.threshold)]
    old = cfg.old_public
    fresh = {r: evaluate_commitment(g, agg, r) for r in cfg.receivers}  # Σ_j f_j(r)·G

    share_sum: int | None = None
    if cfg.me in cfg.receivers:
        received = dict(got[kind(cfg, "share")])
        if cfg.me in cfg.dealers:
            received[cfg.me] = bytes.fromhex(secret["own_share"])
        share_sum = _sum_checked_shares(cfg, commitments, received, fresh[cfg.me])

    verifying, group_key = fresh, agg[0]
    if cfg.mode == "refresh":
        assert old is not None
        verifying = {r: g.add(old.verifying_shares[r], x) for r, x in fresh.items()}
        group_key = g.add(old.group_public_key, group_key)
    if old is not None and group_key != old.group_public_key:
        raise ProtocolError("group_key_changed")  # R2; per-dealer constant checks make this unreachable
    if g.is_identity(group_key) or any(g.is_identity(x) for x in verifying.values()):
        raise ProtocolError("identity_public_share")
    # Built from one aggregated degree-(t-1) commitment, so the package is consistent by construction.
    public = PublicKeyPackage(
        suite=cfg.suite,
        group_public_key=group_key,
        verifying_shares=verifying,
        threshold=cfg.threshold,
        epoch=0 if old is None else old.epoch + 1,
    )
    if share_sum is None:
        return None, public
    if cfg.mode == "refresh":
        old_share = old_signing_share(cfg, secret)
        assert old_share is not None
        share_sum = (share_sum + old_share) % g.order
    key_share = KeyShare(cfg.me, share_sum, public)
    key_share.check()
    return key_share, public


def _trusted_commitment(cfg: SessionConfig, package: bytes) -> list[Element]:
    """Split an already validated package from our own state without re-running point validation."""
    g = cfg.ciphersuite.group
    ne = g.element_len
    c0 = package[2 : 2 + ne]
    first = g.identity if c0 == g.serialize_element_or_identity(g.identity) else Element(c0)
    return [first] + [Element(package[2 + k * ne : 2 + (k + 1) * ne]) for k in range(1, cfg.threshold)]


def _sum_checked_shares(
    cfg: SessionConfig, commitments: dict[int, list[Element]], received: dict[int, bytes], expected: Element
) -> int:
    """Σ_j f_j(me), checked against the commitments (SECURITY.md C4).

    One batched check (Σ_j f_j(me))·G == Σ_k me^k·Σ_j C_{j,k} suffices for the share we keep; only
    if it fails is every share checked alone to name the dealers at fault.
    """
    g = cfg.ciphersuite.group
    values: dict[int, int] = {}
    bad: list[int] = []
    for j in cfg.dealers:
        try:
            values[j] = g.deserialize_scalar(received[j])
        except EncodingError:
            bad.append(j)
    if bad:
        raise ProtocolError("invalid_share", culprits=bad)
    total = sum(values.values()) % g.order
    if g.base_mul(total) == expected:
        return total
    bad = [j for j in cfg.dealers if not verify_share(g, commitments[j], cfg.me, values[j])]
    raise ProtocolError("invalid_share", culprits=bad)


def ack_digest(cfg: SessionConfig, public: PublicKeyPackage) -> bytes:
    """H(tag || ssid || new public key package) for the signed ACKs of SECURITY.md R3."""
    return hashlib.sha256(b"tss/frost/vss-ack/v1" + lp(cfg.ssid) + lp(public.to_bytes())).digest()


def final_output(cfg: SessionConfig, key_share: KeyShare | None, public: PublicKeyPackage, echo: bytes) -> RoundOutput:
    g = cfg.ciphersuite.group
    public_result = {
        "mode": cfg.mode,
        "identifier": cfg.me,
        "group_public_key": g.serialize_element(public.group_public_key).hex(),
        "public_key_package": public.to_dict(),
        "transcript_digest": hashlib.sha256(echo).hexdigest(),
        "ack_digest": ack_digest(cfg, public).hex(),
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
