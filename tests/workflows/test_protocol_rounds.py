"""The round counts the workflows drive must equal the `tss` adapters' own."""

from __future__ import annotations

from typing import Any

from tss.ecdsa.gg18 import GG18SignProtocol
from tss.ecdsa.gg20 import GG20PresignProtocol, GG20SignProtocol
from tss.ecdsa.keygen import KeygenProtocol
from tss.frost import FrostDkg
from workflows.keygen import KEYGEN_PROTOCOL, PROTOCOL_ROUNDS
from workflows.sign import ECDSA_SIGN_ROUNDS

ADAPTERS: dict[str, Any] = {
    "frost-dkg": FrostDkg,
    "gg20-keygen": KeygenProtocol,
    "gg18-sign": GG18SignProtocol,
    "gg20-presign": GG20PresignProtocol,
    "gg20-sign": GG20SignProtocol,
}


def test_keygen_rounds_match_tss() -> None:
    assert set(KEYGEN_PROTOCOL.values()) == set(PROTOCOL_ROUNDS)
    for name, rounds in PROTOCOL_ROUNDS.items():
        assert rounds == ADAPTERS[name].total_rounds, name


def test_ecdsa_sign_rounds_match_tss() -> None:
    assert set(ECDSA_SIGN_ROUNDS) == {"gg18", "gg20"}
    for stages in ECDSA_SIGN_ROUNDS.values():
        for name, rounds in stages:
            assert rounds == ADAPTERS[name].total_rounds, name


def test_every_session_protocol_has_a_setup() -> None:
    from activities.protocols import ECDSA_PROTOCOLS

    names = set(PROTOCOL_ROUNDS) | {name for stages in ECDSA_SIGN_ROUNDS.values() for name, _ in stages}
    assert names - {"frost-dkg"} == set(ECDSA_PROTOCOLS)
