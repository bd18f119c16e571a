"""Kill -9 during a refresh or reshare (issue 10, Tests): afterwards exactly one epoch signs.

A FROST Ed25519 2-of-3 key (one per killed process, reused by its phases) is refreshed on its
committee or reshared with p3 replaced by p4 (or p4 by p3 again) through the API, and one process
is killed with SIGKILL at one phase of the two-phase workflow, then started again the way the stack
starts it:

- `before_acks` (refresh): during the protocol rounds (`current_round` 2 of 3);
- `after_acks` (refresh): every new holder ACKed (`current_round` 5: the test commitment);
- `after_test_signature` (reshare): both test signers stored their share of the test signature,
  and the first new holder has not activated yet (checked at the kill);
- `during_activation` (reshare): the first new holder's `active` pointer moved (the commit point
  is behind), the others activate and the holder that leaves erases.

Killed are a participant (p1, the first new holder, which deals, test-signs and commits; during
activation the node that joins), the coordinator worker (workflows and database activities) and
the session's Temporal dev server (SQLite state file; it comes back on the same port).

Then the session ends, completed or failed with a named cause, within the session timeout, and
exactly one epoch signs: the epoch the key records (GET /v1/keys/{id}) is the only active one in
GET /v1/keys/{id}/epochs and on every holder's disk, every t-subset of that committee signs and
the signatures verify; a completed change erased the old epoch everywhere, on the nodes it could
not reach in time (`activation_pending`, `erasure_pending`) through the catch-up workflow once they
are back. Before the commit point a failure keeps the old epoch; after it the session must complete.

Every process a test kills is started again, also when the test fails (fixture `revive`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mpc.devstack.temporal import TemporalDevServer
from tests.fs_events import CreationWatch
from tests.integration.helpers import create_key, wait_session
from tests.integration.test_reshare import held_epochs, signs_with_every_subset
from tests.stack import Stack

OLD = ["p1", "p2", "p3"]
FIRST = "p1"
"""The first new holder (lowest party id) in every change here: it deals, test-signs and commits.
A reshare replaces p3 by p4 (or p4 by p3 again), so p1 and p2 stay."""
TEST_SIGNERS = ["p1", "p2"]  # the first t' new holders by party id make the test signature
PHASE_ROUND = {"before_acks": 2, "after_acks": 5}
"""`current_round` at which a phase begins: 3 protocol rounds, then 4 ACK, 5 test commitment,
6 test signature, 7 activation (the first new holder's is the commit point), 8 erasure. The
workflow writes a step's number after the step before it has finished."""
PHASES = ["before_acks", "after_acks", "after_test_signature", "during_activation"]
OPERATION = {"before_acks": "refresh", "after_acks": "refresh", "after_test_signature": "reshare",
             "during_activation": "reshare"}
COMMITTED = ("during_activation",)
"""Phases after the commit point (the first new holder activated): the session must complete."""
SESSION_END = 150.0
"""The stack's SESSION_TIMEOUT (120 s) and a margin for the restart of the killed process."""


def active_epoch(stack: Stack, node: str, key_id: str) -> int | None:
    """The epoch the node's share store points signing at (mpc/keystore/shares.py `root/<key>/active`)."""
    try:
        return int(json.loads((stack.data_dir / node / "keys" / key_id / "active").read_text())["epoch"])
    except FileNotFoundError:
        return None


@pytest.fixture
def revive(stack: Stack, temporal_server: TemporalDevServer) -> Iterator[None]:
    """Whatever a test killed runs again afterwards (by the stack's own start functions), also on failure."""
    yield
    if temporal_server.process is None or not temporal_server.process.running():
        temporal_server.start()
    if not stack.coordinator.running():
        stack.start_coordinator()
    down = [node for node, process in stack.participants.items() if not process.running()]
    for node in down:
        stack.start_participant(node)
    if down:
        stack.wait_online(down, fresh=True)


class Killer:
    """SIGKILL one process by pid and start it again on the same ports and data."""

    def __init__(self, stack: Stack, temporal_server: TemporalDevServer, target: str, node: str | None) -> None:
        self.stack, self.temporal, self.target, self.node = stack, temporal_server, target, node

    def kill(self) -> int:
        process = {"participant": lambda: self.stack.participants[str(self.node)],
                   "coordinator": lambda: self.stack.coordinator,
                   "temporal": lambda: self.temporal.process}[self.target]()
        assert process is not None and process.running() and process.pid is not None
        pid = process.pid
        process.kill()  # SIGKILL to the process group led by this pid: no clean shutdown
        assert not process.running()
        return pid

    def restart(self) -> None:
        if self.target == "participant":
            self.stack.start_participant(str(self.node))
        elif self.target == "coordinator":
            self.stack.start_coordinator()
        else:
            self.temporal.start()  # same port, same --db-filename


@contextlib.contextmanager
def coordinator_paused(stack: Stack) -> Iterator[None]:
    """The coordinator worker stopped (SIGSTOP), then resumed unless it was killed meanwhile: while stopped it
    cannot act on the answers the nodes send, so nothing after them (the commit step) can be scheduled."""
    process = stack.coordinator
    assert process is not None and process.pid is not None
    os.kill(process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        if process.running():
            os.kill(process.pid, signal.SIGCONT)


def start_change(api: httpx.Client, key_id: str, operation: str, new_holders: list[str]) -> str:
    body: dict[str, Any] = {"reason": f"durability {operation}"}
    if operation == "reshare":
        body |= {"threshold": 2, "nodes": new_holders}
    reply = api.post(f"/v1/keys/{key_id}/{operation}", json=body)
    assert reply.status_code == 202, reply.text
    return str(reply.json()["session_id"])


def signed_record(stack: Stack, node: str, session_id: str, key_id: str, epoch: int) -> Path:
    """Where a test signer keeps its answer to `reshare_test_sign` (activities/reshare_node.py `_record_id`,
    mpc/keystore/state.py layout): it exists once the node made its share of the test signature."""
    record = hashlib.sha256(f"{session_id}\x00{key_id}\x00{epoch}".encode()).hexdigest()[:32]
    return stack.data_dir / node / "state" / ".state" / "reshare" / record / "test-sign.sealed"


def kill_at(api: httpx.Client, stack: Stack, killer: Killer, session_id: str, key_id: str, phase: str,
            new_epoch: int, timeout: float = 60) -> dict[str, Any]:
    """Poll until the session reaches `phase`, then kill; the session must not have ended before.

    Round phases poll the API. The later ones watch the nodes' files (those steps take milliseconds):
    the test signers' answers, then, for the commit, the first holder's `active` pointer in a busy
    loop, so the kill lands within microseconds of its rename (atomic_write replaces the inode).
    Between the test signature and the commit, the coordinator's step takes only a few milliseconds, so
    the coordinator is paused at the first answer and the kill comes before it can schedule the commit."""
    signed = [signed_record(stack, node, session_id, key_id, new_epoch) for node in TEST_SIGNERS]
    pointer = stack.data_dir / FIRST / "keys" / key_id / "active"
    inode = pointer.stat().st_ino  # the old epoch's pointer, read before the session can get far
    deadline = time.monotonic() + timeout
    asked = 0.0
    session: dict[str, Any] = {}
    while (now := time.monotonic()) < deadline:
        if now - asked > (0.003 if phase in PHASE_ROUND else 0.05 if phase in COMMITTED else 0.5):
            session, asked = api.get(f"/v1/sessions/{session_id}").json(), now
            assert session["status"] not in ("completed", "failed"), f"ended before {phase}: {session}"
        if phase in PHASE_ROUND:
            reached = session["current_round"] >= PHASE_ROUND[phase]
        elif phase not in COMMITTED and any(path.exists() for path in signed):
            with coordinator_paused(stack):
                while not all(path.exists() for path in signed):
                    assert time.monotonic() < deadline, f"the test signers never answered: {signed}"
                killer.kill()
            return session
        else:
            reached = all(path.exists() for path in signed)
        if reached and phase in COMMITTED:
            while pointer.stat().st_ino == inode:
                assert time.monotonic() < deadline, api.get(f"/v1/sessions/{session_id}").json()
            killer.kill()
            assert active_epoch(stack, FIRST, key_id) == new_epoch
            return session
        if reached:
            killer.kill()
            return session
        time.sleep(0.003 if phase in PHASE_ROUND else 0.0002)
    raise TimeoutError(f"session {session_id} never reached {phase}")


def wait_caught_up(api: httpx.Client, key_id: str, session_id: str, operation: str,
                   timeout: float = 90) -> list[str]:
    """The nodes the completed change could not reach (activation or erasure pending). The catch-up
    workflow asks each again; this waits for its audit row per node, a success, and returns them."""
    entries = api.get("/v1/audit-logs", params={"resource_id": key_id, "limit": 100}).json()["entries"]
    done = [e for e in entries if e["session_id"] == session_id and e["action"] == f"key.{operation}"
            and e["status"] == "success"]
    assert len(done) == 1, entries
    pending = sorted({*done[0]["details"]["erasure_pending"], *done[0]["details"]["activation_pending"]})
    deadline = time.monotonic() + timeout
    while pending:
        entries = api.get("/v1/audit-logs", params={"resource_id": key_id, "limit": 100}).json()["entries"]
        rows = {e["details"].get("node") or e["details"].get("reported_by"): e for e in entries
                if e["session_id"] == session_id and e["action"] == f"key.{operation}_catch_up"}
        if set(pending) <= set(rows):
            assert all(rows[n]["status"] == "success" for n in pending), rows
            break
        assert time.monotonic() < deadline, f"no catch-up of {pending}: {rows}"
        time.sleep(0.5)
    return pending


def exactly_one_epoch_signs(api: httpx.Client, stack: Stack, key: dict[str, Any], epoch: int, holders: list[str],
                            *, changed_from: list[str] | None = None) -> None:
    """The key's recorded epoch is the one active everywhere, and every 2-subset of its holders signs.

    `changed_from`: the committee before a change that completed (and whose catch-up, if it needed
    one, is done): its old epoch is erased everywhere."""
    key_id = key["key_id"]
    now = api.get(f"/v1/keys/{key_id}").json()
    assert (now["public_key"], now["address"], now["status"]) == (key["public_key"], key["address"], "active")
    assert (now["epoch"], sorted(now["participants"]), now["threshold"]) == (epoch, holders, 2), now
    epochs = api.get(f"/v1/keys/{key_id}/epochs").json()["epochs"]
    active = [e for e in epochs if e["active"]]
    assert [(e["epoch"], sorted(e["holders"]), e["threshold"]) for e in active] == [(epoch, holders, 2)], epochs
    assert max(e["epoch"] for e in epochs) == epoch, epochs  # nothing recorded past the active epoch
    for node in holders:
        assert active_epoch(stack, node, key_id) == epoch, node
    if changed_from is not None:
        for node in sorted({*changed_from, *holders}):
            held = held_epochs(stack, node, key_id)
            assert held == ([f"epoch-{epoch}.share"] if node in holders else []), (node, held)
    signs_with_every_subset(api, key, holders, 2)


def scenario(stack: Stack, killer: Killer, key: dict[str, Any], phase: str) -> None:
    operation = OPERATION[phase]
    key_id = key["key_id"]
    with stack.client() as api:
        before = api.get(f"/v1/keys/{key_id}").json()
        old, old_epoch = sorted(before["participants"]), before["epoch"]
        new = old if operation == "refresh" else sorted([FIRST, "p2", "p4" if "p3" in old else "p3"])
        if killer.target == "participant":  # the first new holder; after its commit, a node that joins
            killer.node = sorted(set(new) - set(old))[0] if phase == "during_activation" else FIRST
        session_id = start_change(api, key_id, operation, new)
        started = time.monotonic()
        at_kill = kill_at(api, stack, killer, session_id, key_id, phase, old_epoch + 1)
        on_disk = {n: active_epoch(stack, n, key_id) for n in new}
        if phase == "after_test_signature":
            assert on_disk[FIRST] == old_epoch, f"killed after the commit point already: {on_disk}"
        killer.restart()
        done = wait_session(api, session_id, timeout=SESSION_END)
        took = time.monotonic() - started
        print(f"\n{killer.target} {killer.node or ''} killed at {phase} in a {operation} (round "
              f"{at_kill['current_round']}, active epochs {on_disk}): {done['status']} {done['error']} in {took:.1f} s")
        assert took < SESSION_END
        stack.wait_online(sorted({*old, *new}))
        if done["status"] == "completed":
            assert done["operation"] == operation and done["error"] is None
            wait_caught_up(api, key_id, session_id, operation)
            exactly_one_epoch_signs(api, stack, key, old_epoch + 1, new, changed_from=old)
        else:
            assert done["status"] == "failed", done
            error = done["error"]
            assert error and error["code"] and error["message"], done  # a named cause
            assert phase not in COMMITTED, f"failed after the commit point: {error}"
            exactly_one_epoch_signs(api, stack, key, old_epoch, old)


@pytest.fixture(scope="module")
def keys(stack: Stack) -> Iterator[dict[str, dict[str, Any]]]:
    """One key per killed process, reused by its phases (each starts from the epoch the last one left)."""
    yield {}


def key_for(stack: Stack, keys: dict[str, dict[str, Any]], target: str) -> dict[str, Any]:
    if target not in keys:
        with stack.client() as api:
            keys[target] = create_key(api, curve="ed25519", chain_type="ed25519", threshold=2, nodes=OLD)
    return keys[target]


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("target", ["participant", "coordinator", "temporal"])
def test_kill_during_change(stack: Stack, temporal_server: TemporalDevServer, revive: None,
                            keys: dict[str, dict[str, Any]], target: str, phase: str) -> None:
    scenario(stack, Killer(stack, temporal_server, target, None), key_for(stack, keys, target), phase)


def test_commit_answer_lost_and_first_holder_down_past_the_retries(
        stack: Stack, temporal_server: TemporalDevServer, revive: None) -> None:
    """Temporal dies while the first new holder makes the commit, so its answer is lost; the holder dies
    right after its `active` pointer moved and stays down longer than the step's retries (ROUND_TIMEOUT x
    ROUND_RETRIES = 10 s). The change is decided on that node: it must complete, and exactly one epoch sign."""
    with stack.client() as api:
        key = create_key(api, curve="ed25519", chain_type="ed25519", threshold=2, nodes=OLD)
        key_id = key["key_id"]
        folder = stack.data_dir / FIRST / "keys" / key_id
        pointer = folder / "active"
        inode = pointer.stat().st_ino
        deadline = time.monotonic() + 60
        with CreationWatch(folder) as watch:  # watching before the change starts: no creation is missed
            session_id = start_change(api, key_id, "refresh", OLD)
            # atomic_write of the new pointer: its temp file `.active.*.tmp` is created before the rename.
            try:
                watch.wait_for(lambda name: name.startswith(".active."), timeout=60)
            except TimeoutError:
                raise AssertionError(api.get(f"/v1/sessions/{session_id}").json()) from None
        assert temporal_server.process is not None
        temporal_server.process.kill()  # the holder's answer to the commit step cannot reach Temporal
        while pointer.stat().st_ino == inode:
            assert time.monotonic() < deadline, f"{FIRST} never activated"
        stack.participants[FIRST].kill()
        assert active_epoch(stack, FIRST, key_id) == 1  # the commit point is behind
        temporal_server.start()
        time.sleep(12.0)
        stack.start_participant(FIRST)
        done = wait_session(api, session_id, timeout=SESSION_END)
        stack.wait_online(OLD)
        assert done["status"] == "completed", done  # after the commit point the change must not fail
        wait_caught_up(api, key_id, session_id, "refresh")
        exactly_one_epoch_signs(api, stack, key, 1, OLD, changed_from=OLD)


def test_holder_down_for_the_whole_change_catches_up_when_back(stack: Stack, revive: None) -> None:
    """An old holder that leaves the committee is down for the whole reshare (t others deal): the session
    completes naming it as `erasure_pending`, and once it is back the catch-up workflow has it erase
    the old epoch, which it does only after checking the reshare intent, the ACKs and the test signature."""
    with stack.client() as api:
        key = create_key(api, curve="ed25519", chain_type="ed25519", threshold=2, nodes=OLD)
        key_id = key["key_id"]
        stack.participants["p3"].kill()
        session_id = start_change(api, key_id, "reshare", ["p1", "p2", "p4"])
        done = wait_session(api, session_id, timeout=SESSION_END)
        assert done["status"] == "completed", done
        assert held_epochs(stack, "p3", key_id) == ["epoch-0.share"]  # not reached yet
        stack.start_participant("p3")
        assert wait_caught_up(api, key_id, session_id, "reshare") == ["p3"]
        exactly_one_epoch_signs(api, stack, key, 1, ["p1", "p2", "p4"], changed_from=OLD)
