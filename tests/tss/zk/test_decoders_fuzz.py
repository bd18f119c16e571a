"""Hypothesis: wire decoders only ever raise EncodingError on malformed input (H7, I3)."""

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from tss.ecdsa.rounds import load, pt
from tss.errors import EncodingError
from tss.zk.codec import dec_int, dec_int_list
from tss.zk.fac import FacProof
from tss.zk.mod import ModProof
from tss.zk.mta import AliceRangeProof, BobProof
from tss.zk.prm import RingPedersenProof
from tss.zk.schnorr import DlogProof

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=80),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_proof_decoders_raise_only_encoding_error(obj):
    decoders = [
        lambda o: DlogProof.from_wire(o),
        lambda o: ModProof.from_wire(o, 2048),
        lambda o: RingPedersenProof.from_wire(o, 2048),
        lambda o: FacProof.from_wire(o, 2048),
        lambda o: AliceRangeProof.from_wire(o, 2048),
        lambda o: BobProof.from_wire(o, 2048, with_check=True),
        lambda o: pt(o),
        lambda o: dec_int_list(o, 3, 64),
    ]
    for dec in decoders:
        with contextlib.suppress(EncodingError):
            dec(obj)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=600))
def test_dec_int_caps(s):
    try:
        v = dec_int(s, 1024)
    except EncodingError:
        return
    assert 0 <= v < 2**1024


def test_dec_int_rejects_oversized_before_parsing():
    for bad in ["f" * 300, "-1", "0x10", " 1", "1" * 10_000]:
        try:
            dec_int(bad, 1024)
        except EncodingError:
            continue
        raise AssertionError(bad)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_payload_loader(data):
    with contextlib.suppress(EncodingError):
        load(data)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**64 - 1), min_size=0, max_size=6))
def test_fixed_list_roundtrip_and_exact_length(values):
    from tss.zk.codec import dec_fixed_list, enc_fixed_list

    text = enc_fixed_list(values, 8)
    assert dec_fixed_list(text, len(values), 8) == values
    for bad_count in (len(values) + 1, max(0, len(values) - 1)):
        if bad_count != len(values):
            try:
                dec_fixed_list(text, bad_count, 8)
            except EncodingError:
                continue
            raise AssertionError("length not enforced")
