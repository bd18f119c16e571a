"""The intent format and the node-side signature/quorum verdict (SECURITY.md A1, A3; test row 19's rules)."""

from __future__ import annotations

import secrets

import pytest
from nacl.signing import SigningKey

from mpc.intents import (
    INTENT_TAG,
    Approval,
    Approver,
    Intent,
    IntentRefused,
    KeyPolicy,
    SignedIntent,
    check_intent,
)

NOW = 1_800_000_000
API = SigningKey.generate()
ALICE, BOB, CAROL = (SigningKey.generate() for _ in range(3))


def _pub(key: SigningKey) -> str:
    return key.verify_key.encode().hex()


def _intent(**overrides) -> Intent:
    fields = {"intent_id": secrets.token_hex(16), "operation": "sign", "key_id": "k1", "epoch": 0,
              "not_after": NOW + 60, "details": {"digests": ["ab" * 32], "signers": ["p1", "p2"]}}
    fields.update(overrides)
    return Intent(**fields)


def _signed(intent: Intent, *approvers: SigningKey, api: SigningKey = API) -> SignedIntent:
    raw = intent.to_bytes()
    return SignedIntent(raw.hex(), api.sign(raw).signature.hex(),
                        [Approval(_pub(a), a.sign(raw).signature.hex()) for a in approvers])


POLICY = KeyPolicy((Approver("alice", _pub(ALICE)), Approver("bob", _pub(BOB)), Approver("carol", _pub(CAROL))),
                   {"sign": 2, "reshare": 3})


def _check(signed: SignedIntent, policy: KeyPolicy = POLICY, **overrides):
    args = {"policy": policy, "api_keys": [_pub(API)], "now": NOW, "operation": "sign", "key_id": "k1", "epoch": 0}
    args.update(overrides)
    return check_intent(signed, **args)


def test_round_trip_is_canonical() -> None:
    intent = _intent()
    raw = intent.to_bytes()
    assert raw.startswith(INTENT_TAG)
    assert Intent.parse(raw).to_bytes() == raw
    assert b'"digests":["' in raw  # readable by the approver who signs it


@pytest.mark.parametrize("mutate", [
    lambda raw: raw.replace(b'{"details"', b'{ "details"'),           # whitespace: not canonical
    lambda raw: raw.replace(INTENT_TAG, b"mpc-signer/intent/v2\x00"),  # other tag
    lambda raw: raw.replace(b'"version":1', b'"version":2'),
    lambda raw: raw.replace(b'"epoch":0', b'"epoch":0.0'),
    lambda raw: raw + b" ",
    lambda raw: INTENT_TAG + b"[" * 100_000 + b"]" * 100_000,          # deep nesting is refused, not a crash
])
def test_non_canonical_or_foreign_bytes_are_refused(mutate) -> None:
    with pytest.raises(IntentRefused) as refused:
        Intent.parse(mutate(_intent().to_bytes()))
    assert refused.value.code == "unauthorized"


def test_floats_and_bad_fields_cannot_be_encoded() -> None:
    with pytest.raises(ValueError):
        _intent(details={"amount": 1.5})
    with pytest.raises(ValueError):
        _intent(operation="mint")
    with pytest.raises(ValueError):
        _intent(intent_id="xyz")


def test_quorum_of_distinct_listed_approvers() -> None:
    intent = _intent()
    assert _check(_signed(intent, ALICE, BOB)) == intent
    for approvers, why in [((ALICE,), "one approver"), ((ALICE, ALICE), "the same approver twice"),
                           ((ALICE, SigningKey.generate()), "a stranger does not count")]:
        with pytest.raises(IntentRefused) as refused:
            _check(_signed(intent, *approvers))
        assert refused.value.code == "unauthorized", why


def test_the_api_signature_is_always_needed() -> None:
    with pytest.raises(IntentRefused) as refused:
        _check(_signed(_intent(), ALICE, BOB, api=SigningKey.generate()))
    assert refused.value.code == "unauthorized"
    # Without human approvers in the policy the API's signature alone authorises; a rotated key list works.
    other = SigningKey.generate()
    assert _check(_signed(_intent(), api=other), policy=KeyPolicy(), api_keys=[_pub(API), _pub(other)])


def test_an_approval_of_other_bytes_does_not_count() -> None:
    intent, other = _intent(), _intent(details={"digests": ["cd" * 32], "signers": ["p1", "p2"]})
    raw = intent.to_bytes()
    forged = SignedIntent(raw.hex(), API.sign(raw).signature.hex(),
                          [Approval(_pub(a), a.sign(other.to_bytes()).signature.hex()) for a in (ALICE, BOB)])
    with pytest.raises(IntentRefused):
        _check(forged)


def test_expired_and_mismatched_intents() -> None:
    with pytest.raises(IntentRefused) as refused:
        _check(_signed(_intent(not_after=NOW - 1), ALICE, BOB))
    assert refused.value.code == "intent_expired"
    for overrides in ({"key_id": "k2"}, {"epoch": 1}, {"operation": "export"}):
        with pytest.raises(IntentRefused) as refused:
            _check(_signed(_intent(), ALICE, BOB, CAROL), **overrides)
        assert refused.value.code in ("intent_mismatch", "unauthorized")


def test_refresh_counts_as_reshare() -> None:
    policy = KeyPolicy((Approver("alice", _pub(ALICE)),), {"reshare": 1})
    assert policy.required("refresh") == 1 and policy.required("sign") == 0


@pytest.mark.parametrize("data", [
    {"approvers": [{"name": "a", "public_key": "00"}]},
    {"approvers": [{"name": "a", "public_key": "11" * 32}, {"name": "b", "public_key": "11" * 32}]},
    {"approvers": [{"name": "a", "public_key": "11" * 32}], "quorum": {"sign": 2}},
    {"approvers": [], "quorum": {"mint": 0}},
    {"approvers": [{"name": "a"}]},
])
def test_bad_policies_are_refused(data) -> None:
    with pytest.raises(ValueError):
        KeyPolicy.from_dict(data)
