"""Which key-state intent is newer (activities/key_state.py): a node applies only a newer one than it holds."""

from __future__ import annotations

from activities.key_state import _order


def test_the_later_expiry_is_newer() -> None:
    assert _order(1_000, {"issued_ns": 9}) < _order(1_001, {"issued_ns": 1})


def test_within_one_second_the_later_issue_time_decides() -> None:
    """`not_after` is whole seconds: a disable and an enable issued in one second have the same one (found
    by CI once the stack got faster: the enable was refused as older than the disable)."""
    disable, enable = _order(1_000, {"issued_ns": 5}), _order(1_000, {"issued_ns": 6})
    assert disable < enable
    assert not enable < disable and disable != enable


def test_an_intent_without_an_issue_time_sorts_first_within_its_second() -> None:
    assert _order(1_000, {}) < _order(1_000, {"issued_ns": 1})
    assert _order(1_000, {"issued_ns": True}) == _order(1_000, {})  # only an integer counts
    assert _order(1_000, {"issued_ns": "7"}) == _order(1_000, {})
