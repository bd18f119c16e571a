"""The protocol registry (mpc/protocols.py) against `tss`: every spec's round count is the protocol's
own, every key protocol's keygen and sign stages are registered, and each family's adapter can set
every protocol of its family up (an unknown one is a clear refusal)."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.exceptions import ApplicationError

from activities.ecdsa_protocols import EcdsaAdapter
from activities.frost_protocols import FrostAdapter
from activities.protocols import adapter_for, require_spec
from mpc.protocols import KEY_PROTOCOLS, SPECS, Family, SessionProtocol, Stage, key_protocol_of, sign_rounds
from tss.ecdsa.gg18 import GG18SignProtocol
from tss.ecdsa.gg20 import GG20PresignProtocol, GG20SignProtocol
from tss.ecdsa.keygen import KeygenProtocol
from tss.ecdsa.reshare import ReshareProtocol
from tss.frost import FrostDkg, FrostRefresh, FrostReshare

TSS: dict[str, Any] = {
    "frost-dkg": FrostDkg,
    "frost-refresh": FrostRefresh,
    "frost-reshare": FrostReshare,
    "gg20-keygen": KeygenProtocol,
    "gg18-sign": GG18SignProtocol,
    "gg20-presign": GG20PresignProtocol,
    "gg20-sign": GG20SignProtocol,
    "gg20-refresh": ReshareProtocol,
    "gg20-reshare": ReshareProtocol,
    "gg20-recover": ReshareProtocol,
}


def test_every_session_protocol_has_a_spec_with_the_tss_round_count() -> None:
    assert set(SPECS) == {p.value for p in SessionProtocol} == set(TSS)
    for name, spec in SPECS.items():
        assert spec.rounds == TSS[name].total_rounds, name


def test_key_protocols_name_registered_stages() -> None:
    assert set(KEY_PROTOCOLS) == {"frost", "gg18", "gg20"}
    for key in KEY_PROTOCOLS.values():
        assert SPECS[key.keygen].stage == Stage.KEYGEN and SPECS[key.keygen].family == key.family
        for stage in key.sign:
            assert SPECS[stage].stage == Stage.SIGN and SPECS[stage].family == key.family
            assert key_protocol_of(stage) is key
        for changes, stage in ((key.refresh, Stage.REFRESH), (key.reshare, Stage.RESHARE)):
            assert changes is not None and SPECS[changes].stage == stage and SPECS[changes].family == key.family
            assert SPECS[changes].stores_share
        if key.recover is not None:  # GG18/GG20: staged shares become key shares in a session of their own
            assert SPECS[key.recover].stage == Stage.RECOVER and SPECS[key.recover].family == key.family
            assert SPECS[key.recover].stores_share
    assert [k.name for k in KEY_PROTOCOLS.values() if k.recover is None] == ["frost"]
    assert sign_rounds("gg18") == 11 and sign_rounds("gg20") == 9
    assert KEY_PROTOCOLS["gg18"].keygen == KEY_PROTOCOLS["gg20"].keygen  # one keygen, one share format


def test_each_family_has_its_adapter() -> None:
    for spec in SPECS.values():
        adapter = adapter_for(spec)
        assert isinstance(adapter, FrostAdapter if spec.family == Family.FROST else EcdsaAdapter)
        assert spec.compute_bound == (spec.family == Family.ECDSA)  # Paillier rounds leave the event loop


def test_an_unknown_protocol_is_refused_clearly() -> None:
    with pytest.raises(ApplicationError) as refused:
        require_spec("frost-dkg-v2")
    assert refused.value.type == "InvalidRequest" and refused.value.details[0]["code"] == "unknown_protocol"
