"""Test helpers: run a full FROST signing among chosen signers."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from tss.frost import Ciphersuite, KeyShare, PublicKeyPackage, aggregate, commit, sign
from tss.frost.taproot import TaprootTweak

SUITES = ["ed25519", "secp256k1", "secp256k1-tr"]


def run_signing(
    suite: Ciphersuite,
    shares: dict[int, KeyShare],
    public: PublicKeyPackage,
    signers: Sequence[int],
    message: bytes,
    *,
    taproot: TaprootTweak | None = None,
) -> bytes:
    pairs = {i: commit(suite, shares[i]) for i in signers}
    comms = [pairs[i][1] for i in sorted(signers)]
    sig_shares = [sign(suite, shares[i], pairs[i][0], message, comms, taproot=taproot) for i in signers]
    return aggregate(suite, public, message, comms, sig_shares, taproot=taproot)


def independent_verify(suite: Ciphersuite, public: PublicKeyPackage, message: bytes, sig: bytes) -> bool:
    """Verify with a verifier outside tss: cryptography / PyNaCl / coincurve / the RFC equation."""
    g = suite.group
    if suite.name == "ed25519":
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        from nacl.signing import VerifyKey

        pk = g.serialize_element(public.group_public_key)
        Ed25519PublicKey.from_public_bytes(pk).verify(sig, message)  # raises InvalidSignature
        VerifyKey(pk).verify(message, sig)
        return True
    if suite.name == "secp256k1-tr":
        from coincurve import PublicKeyXOnly

        return PublicKeyXOnly(g.x_bytes(public.group_public_key)).verify(sig, message)
    # FROST(secp256k1, SHA-256): z·G == R + c·PK with c recomputed here from RFC 9591 §6.5 directly.
    from coincurve import PublicKey

    from tss.frost.hashing import expand_message_xmd_sha256

    r_bytes, z = sig[:33], int.from_bytes(sig[33:], "big")
    pk = g.serialize_element(public.group_public_key)
    c = (
        int.from_bytes(expand_message_xmd_sha256(r_bytes + pk + message, b"FROST-secp256k1-SHA256-v1chal", 48), "big")
        % g.order
    )
    lhs = PublicKey.from_secret(z.to_bytes(32, "big"))
    rhs = PublicKey.combine_keys([PublicKey(r_bytes), PublicKey(pk).multiply(c.to_bytes(32, "big"))])
    return lhs.format() == rhs.format()


def digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


# ---- round-protocol driver ---------------------------------------------------------------------
from collections.abc import Callable  # noqa: E402

from tss.messages import BROADCAST, RoundMessage  # noqa: E402
from tss.protocol import RoundOutput  # noqa: E402

Tamper = Callable[[int, RoundMessage], RoundMessage | None]
"""(recipient, message) -> message to deliver (None drops it)."""


def corrupt_package(out: RoundOutput, fn: Callable[[bytes], bytes]) -> RoundOutput:
    """Make a dealer cheat consistently: after its round 1, replace its package by fn(package) and
    re-derive its own opening and hash commitment (dkg) so only the package checks can catch it."""
    from tss.frost import vss_session as vss
    from tss.frost.vss_wire import OPENING_RANDOM_BYTES, precommit_hash

    nxt, cfg, secret = vss.load_state(out.state)
    payload = fn(bytes.fromhex(secret["own_commit"]))
    secret["own_commit"] = payload.hex()
    msg = out.outbound[0]
    if cfg.mode == "dkg":
        rand = bytes.fromhex(secret["own_reveal"])[:OPENING_RANDOM_BYTES]
        secret["own_reveal"] = (rand + payload).hex()
        first = precommit_hash(cfg.ssid, cfg.me, payload, rand)
    else:
        first = payload
    secret["own_first"] = first.hex()
    msg = RoundMessage(msg.sender, msg.recipient, msg.round, msg.kind, first)
    return RoundOutput(state=vss.dump_state(nxt, cfg, secret), outbound=[msg])


def run_protocol(
    proto,
    states: dict[int, bytes],
    *,
    tamper: Tamper | None = None,
    rounds: int | None = None,
    corrupt: dict[int, Callable[[bytes], bytes]] | None = None,
) -> dict[int, RoundOutput]:
    """Run every party's rounds in lock step, routing broadcasts and point-to-point messages.

    `tamper` models the relay (or a party changing what it sends to one recipient); `corrupt`
    makes a dealer share a malformed package consistently (see `corrupt_package`).
    """
    parties = sorted(states)
    inbox: dict[int, list[RoundMessage]] = {p: [] for p in parties}
    outputs: dict[int, RoundOutput] = {}
    for r in range(1, (rounds or proto.total_rounds) + 1):
        outputs = {p: proto.run_round(r, states[p], inbox[p]) for p in parties}
        if r == 1:
            for p, fn in (corrupt or {}).items():
                outputs[p] = corrupt_package(outputs[p], fn)
        inbox = {p: [] for p in parties}
        for p in parties:
            states[p] = outputs[p].state
            for msg in outputs[p].outbound:
                targets = [q for q in parties if q != p] if msg.recipient == BROADCAST else [msg.recipient]
                for q in targets:
                    delivered = tamper(q, msg) if tamper else msg
                    if delivered is not None:
                        inbox[q].append(delivered)
    return outputs


def dkg_states(suite: str, n: int, t: int, ssid: bytes = b"session-1") -> dict[int, bytes]:
    from tss.frost import FrostDkg

    ids = list(range(1, n + 1))
    return {i: FrostDkg.initial_state(suite=suite, ssid=ssid, identifier=i, participants=ids, threshold=t) for i in ids}


def run_dkg(suite: str, n: int, t: int):
    from tss.frost import FrostDkg, KeyShare

    outs = run_protocol(FrostDkg(), dkg_states(suite, n, t))
    shares = {i: KeyShare.from_bytes(o.result) for i, o in outs.items()}
    return shares, shares[1].public
