"""Fuzz every GG18/GG20 round message: keygen, GG18 signing, GG20 presigning and online signing, reshare.

One honest run of each protocol (2 parties, the committed 2048-bit pre-parameters of
tests/fixtures/ecdsa, never fresh safe primes) is recorded; a message the receiver got is then mutated
as JSON (a field set to another type, a huge, negative or 5,000-digit integer, NaN, a point off the
curve, a hex digit flipped, a string cut, a list item dropped or repeated, a key deleted) or as bytes
(bit flips, truncation), and the receiver's round is run again. Every decoder of the round (Π^mod,
Π^prm, Π^fac, Schnorr, MtA range and respondent proofs, Feldman vectors, commitments, echoes) sees the
mutated value. Property (`support.round_property`): success, or `ProtocolError` naming the sender.

Speed (2 cores, the whole fuzz directory in ~90 s): the receiver's own provers (`make_aux`, `make_fac`:
seconds of secret-exponent arithmetic that read no peer byte) answer from a cache, and a verifier given
exactly the honest proof it already accepted answers from a cache; any changed proof is verified for real.
"""

from __future__ import annotations

import functools
import hashlib
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.support import case_id, fuzz, json_mutation, mutate_inbound, regressions, round_property
from tests.tss.ecdsa.fixtures import keygen_protocols, preparams
from tests.tss.ecdsa.harness import route, run
from tss.ecdsa import auxinfo, keygen, reshare
from tss.ecdsa.gg18 import GG18SignProtocol
from tss.ecdsa.gg20 import GG20PresignProtocol, GG20SignProtocol, MemoryPresignatureStore
from tss.ecdsa.keyshare import KeyShare
from tss.ecdsa.reshare import ReshareProtocol

DIGEST = bytes(range(32))
SIGNERS = [1, 2]


def _memo(fn: Callable[..., Any], *, skip: tuple[int, ...] = ()) -> Callable[..., Any]:
    """`fn` answering repeated calls with equal arguments (but for positions `skip`: the rng) from a cache."""
    cache: dict[bytes, Any] = {}

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = hashlib.sha256(pickle.dumps(([a for i, a in enumerate(args) if i not in skip], sorted(kwargs.items()))))
        digest = key.digest()
        if digest not in cache:
            cache[digest] = fn(*args, **kwargs)
        return cache[digest]

    return wrapper


@pytest.fixture(scope="module", autouse=True)
def _fast_honest_paths() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for module in (keygen, reshare):
            mp.setattr(module, "make_aux", _memo(auxinfo.make_aux, skip=(3,)))
            mp.setattr(module, "make_fac", _memo(auxinfo.make_fac, skip=(5,)))
        for name in ("verify_mod", "verify_ring_pedersen", "verify_fac"):
            mp.setattr(auxinfo, name, _memo(getattr(auxinfo, name)))
        yield


# ---- honest runs ----------------------------------------------------------------------------------
Factory = Callable[[], dict[int, Any]]


@functools.cache
def _keygen() -> tuple[dict[int, KeyShare], dict[int, Any], dict]:
    trace: dict = {}
    outs = run(keygen_protocols(2, 2, session=b"fuzz-keygen"), trace=trace)
    shares = {i: KeyShare.from_bytes(o.result) for i, o in outs.items()}
    return shares, {i: o.public_result for i, o in outs.items()}, trace


def _gg18() -> dict[int, Any]:
    shares = _keygen()[0]
    return {i: GG18SignProtocol(session_id=b"fuzz-gg18", key_share=shares[i], signers=SIGNERS, digest=DIGEST)
            for i in SIGNERS}


def _presign() -> dict[int, Any]:
    shares = _keygen()[0]
    return {i: GG20PresignProtocol(session_id=b"fuzz-presign", key_share=shares[i], signers=SIGNERS) for i in SIGNERS}


@functools.cache
def _presignatures() -> dict[int, bytes]:
    return {i: o.result for i, o in run(_presign()).items()}


def _online() -> dict[int, Any]:
    shares, pres = _keygen()[0], _presignatures()
    return {i: GG20SignProtocol(key_share=shares[i], presignature=pres[i], digest=DIGEST,
                                store=MemoryPresignatureStore()) for i in SIGNERS}


def _reshare() -> dict[int, Any]:
    """2-of-2 -> 2-of-3: dealers 1, 2; new holders 1, 2, 3 with pre-parameters 2..4."""
    shares, publics, _ = _keygen()
    return {
        i: ReshareProtocol(session_id=b"fuzz-reshare", party_id=i, old_public=publics[1], old_signers=[1, 2],
                           new_party_ids=[1, 2, 3], new_threshold=2, key_share=shares.get(i),
                           preparams=preparams(1 + i))
        for i in (1, 2, 3)
    }


FACTORIES: dict[str, Factory] = {
    "keygen": lambda: keygen_protocols(2, 2, session=b"fuzz-keygen"),
    "gg18": _gg18,
    "presign": _presign,
    "online": _online,
    "reshare": _reshare,
}


@functools.cache
def session(name: str) -> dict:
    """{round: (states before it, messages produced by the round before)} of one honest run."""
    if name == "keygen":
        produced = _keygen()[2]
    else:
        produced = {}
        run(FACTORIES[name](), trace=produced)
    protos = FACTORIES[name]()
    initial = {pid: p.initial_state() for pid, p in protos.items()}
    rounds = next(iter(protos.values())).total_rounds
    return {r: (produced[r - 1][0] if r > 1 else initial, produced[r - 1][1] if r > 1 else [])
            for r in range(2, rounds + 1)}


@functools.cache
def _slots(name: str) -> list[tuple[int, int, int]]:
    """Every (round, receiver, inbox index) of the recorded run."""
    out = []
    for rnd, (states, produced) in session(name).items():
        for pid in sorted(states):
            out += [(rnd, pid, i) for i in range(len(route(produced, pid)))]
    return out


def _run_mutated(name: str, rnd: int, receiver: int, index: int, mutation: dict[str, Any]) -> str:
    states, produced = session(name)[rnd]
    inbound = route(produced, receiver)
    sender = inbound[index].sender
    proto = FACTORIES[name]()[receiver]
    mutated = mutate_inbound(inbound, index, mutation)
    return round_property(lambda: proto.run_round(rnd, states[receiver], mutated), sender)


@pytest.mark.parametrize("name", FACTORIES)
def test_recorded_rounds_replay(name: str) -> None:
    """Each recorded round, replayed unmutated, succeeds (so every mutation below starts from valid input)."""
    for rnd, receiver, _ in {(r, p, 0): None for r, p, _ in _slots(name)}:
        states, produced = session(name)[rnd]
        FACTORIES[name]()[receiver].run_round(rnd, states[receiver], route(produced, receiver))


def _fuzz_protocol(name: str, data: st.DataObject) -> None:
    rnd, receiver, index = data.draw(st.sampled_from(_slots(name)), label="slot")
    payload = route(session(name)[rnd][1], receiver)[index].payload
    _run_mutated(name, rnd, receiver, index, json_mutation(data, payload))


@fuzz(40)
@given(st.data())
def test_mutated_keygen_message(data: st.DataObject) -> None:
    _fuzz_protocol("keygen", data)


@fuzz(60)
@given(st.data())
def test_mutated_gg18_message(data: st.DataObject) -> None:
    _fuzz_protocol("gg18", data)


@fuzz(50)
@given(st.data())
def test_mutated_presign_message(data: st.DataObject) -> None:
    _fuzz_protocol("presign", data)


@fuzz(20)
@given(st.data())
def test_mutated_online_sign_message(data: st.DataObject) -> None:
    _fuzz_protocol("online", data)


@fuzz(40)
@given(st.data())
def test_mutated_reshare_message(data: st.DataObject) -> None:
    _fuzz_protocol("reshare", data)


@pytest.mark.parametrize("case", regressions("ecdsa"), ids=case_id)
def test_ecdsa_regressions(case: dict[str, Any]) -> None:
    name, rnd, receiver = case["session"], case["round"], case["receiver"]
    inbound = route(session(name)[rnd][1], receiver)
    index = next(i for i, m in enumerate(inbound) if m.kind == case["kind"] and m.sender == case["sender"])
    assert _run_mutated(name, rnd, receiver, index, case["mutation"]) == case["expect"]
