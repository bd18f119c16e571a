"""`tss.protocol.RoundProtocol` adapters for FROST DKG, refresh and reshare.

Usage by the orchestration layer (one instance per party and session)::

    proto = FrostDkg()
    state = FrostDkg.initial_state(suite="ed25519", ssid=ssid, identifier=2, participants=[1, 2, 3], threshold=2)
    out = proto.run_round(1, state, [])              # broadcast: hash commitment to the package
    out = proto.run_round(2, out.state, inbound_r1)  # broadcast opening + echo; p2p shares
    out = proto.run_round(3, out.state, inbound_r2)  # out.result = KeyShare bytes, out.public_result

Refresh and reshare also run three rounds (round 1 broadcasts the package itself: its C_{j,0} is
fixed by the old key, so there is nothing to commit to first).

State bytes hold secrets (polynomial coefficients, old share): encrypt them at rest. Only round 1
draws randomness. A detected fault raises `ProtocolError` whose `culprits` name the sender(s).
"""

from __future__ import annotations

from collections.abc import Sequence

from tss.errors import InvalidInputError
from tss.frost import vss_session as vss
from tss.frost.ciphersuite import get_ciphersuite
from tss.frost.keys import KeyShare, PublicKeyPackage
from tss.messages import RoundMessage
from tss.protocol import RoundOutput
from tss.rng import Rng
from tss.shamir import validate_identifiers


class _VssProtocol:
    """Shared driver: state bytes -> round function -> state bytes."""

    name = "frost-vss"
    mode = ""
    total_rounds = vss.TOTAL_ROUNDS

    def run_round(
        self, round_no: int, state: bytes, inbound: Sequence[RoundMessage], rng: Rng | None = None
    ) -> RoundOutput:
        expected, cfg, secret = vss.load_state(state)
        if round_no != expected:
            raise InvalidInputError(f"state is for round {expected}, not {round_no}")
        if cfg.mode != self.mode:
            raise InvalidInputError("state belongs to another protocol")
        if round_no == 1:
            if inbound:
                raise InvalidInputError("round 1 takes no inbound messages")
            secret, out = vss.start(cfg, secret, rng)
        elif round_no == 2:
            out = vss.deal(cfg, secret, inbound)
        else:
            key_share, public = vss.finish(cfg, secret, inbound)
            return vss.final_output(cfg, key_share, public, bytes.fromhex(secret["echo"]))
        return RoundOutput(state=vss.dump_state(round_no + 1, cfg, secret), outbound=out)


class FrostDkg(_VssProtocol):
    """Pedersen DKG with PoK (3 rounds). Result: `KeyShare.to_bytes()`; public_result: package dict."""

    name = "frost-dkg"
    mode = "dkg"

    @staticmethod
    def initial_state(
        *, suite: str, ssid: bytes, identifier: int, participants: Sequence[int], threshold: int
    ) -> bytes:
        s = get_ciphersuite(suite)
        ids = validate_identifiers(s.group, participants)
        cfg = vss.SessionConfig("dkg", s.name, bytes(ssid), identifier, ids, ids, threshold)
        cfg.validate()
        return vss.dump_state(1, cfg, vss.initial_secret(cfg, None))


class FrostRefresh(_VssProtocol):
    """Proactive refresh: same key, t and participants; new shares (epoch + 1)."""

    name = "frost-refresh"
    mode = "refresh"

    @staticmethod
    def initial_state(*, ssid: bytes, key_share: KeyShare) -> bytes:
        key_share.check()
        pub = key_share.public
        ids = pub.participants
        cfg = vss.SessionConfig("refresh", pub.suite, bytes(ssid), key_share.identifier, ids, ids, pub.threshold, pub)
        cfg.validate()
        return vss.dump_state(1, cfg, vss.initial_secret(cfg, key_share))


class FrostReshare(_VssProtocol):
    """Reshare t-of-n -> t'-of-n' with the same group key.

    Parties: `dealers` (>= t old holders, each passes its `key_share`) and `new_participants` (who
    need only `old_public`). An identifier in both lists must be the same node. A dealer that is
    not a new participant ends with `result=None` and the new public package.
    """

    name = "frost-reshare"
    mode = "reshare"

    @staticmethod
    def initial_state(
        *,
        ssid: bytes,
        identifier: int,
        old_public: PublicKeyPackage,
        dealers: Sequence[int],
        new_participants: Sequence[int],
        new_threshold: int,
        key_share: KeyShare | None = None,
    ) -> bytes:
        g = get_ciphersuite(old_public.suite).group
        cfg = vss.SessionConfig(
            "reshare",
            old_public.suite,
            bytes(ssid),
            identifier,
            validate_identifiers(g, dealers),
            validate_identifiers(g, new_participants),
            new_threshold,
            old_public,
        )
        cfg.validate()
        if identifier in cfg.dealers:
            if key_share is None or key_share.identifier != identifier or key_share.public != old_public:
                raise InvalidInputError("a reshare dealer must pass its own key share of the old key")
            key_share.check()
        return vss.dump_state(1, cfg, vss.initial_secret(cfg, key_share if identifier in cfg.dealers else None))


__all__ = ["FrostDkg", "FrostRefresh", "FrostReshare"]
