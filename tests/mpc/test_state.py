"""SecretStateStore: sealed session state, one-time consume, nonce epoch (SECURITY.md N2, N4)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path

import pytest

from mpc.devstack.openbao import OpenBaoServer
from mpc.devstack.ports import free_port
from mpc.keystore import (
    IntegrityError,
    LocalKeyWrapper,
    NonceReuseError,
    RetryMismatchError,
    SecretStateStore,
    ShareExistsError,
    ShareNotFoundError,
    ShareStore,
    StaleEpochError,
    VaultTransitWrapper,
    VaultUnavailableError,
)
from tss.errors import NonceReuseError as TssNonceReuseError

NONCE = os.urandom(64)


@pytest.fixture
def kek() -> bytes:
    return os.urandom(32)


@pytest.fixture
def state(tmp_path: Path, kek: bytes) -> SecretStateStore:
    return SecretStateStore(tmp_path / "state", LocalKeyWrapper(kek), "node-1")


def test_session_state_round_trip(state: SecretStateStore, kek: bytes) -> None:
    state.put("frost-sign", "ab" * 16, "round-1", b"round one secret")
    state.put("frost-sign", "ab" * 16, "round-1", b"round one secret")  # retry with identical bytes
    with pytest.raises(ShareExistsError):
        state.put("frost-sign", "ab" * 16, "round-1", b"another answer")  # DESIGN rule 2
    state.put("frost-sign", "ab" * 16, "round-1", b"replaced", replace=True)
    reopened = SecretStateStore(state.root, LocalKeyWrapper(kek), "node-1")
    assert reopened.get("frost-sign", "ab" * 16, "round-1") == b"replaced"
    assert reopened.exists("frost-sign", "ab" * 16, "round-1")
    assert reopened.list_sessions("frost-sign") == ["ab" * 16]
    assert reopened.delete_session("frost-sign", "ab" * 16) == 1
    with pytest.raises(ShareNotFoundError):
        reopened.get("frost-sign", "ab" * 16, "round-1")


def test_state_files_cannot_be_swapped(state: SecretStateStore) -> None:
    state.put("dkg", "s1", "round-1", b"session one")
    state.put("dkg", "s2", "round-1", b"session two")
    a = state.root / ".state" / "dkg" / "s1" / "round-1.sealed"
    b = state.root / ".state" / "dkg" / "s2" / "round-1.sealed"
    b.write_bytes(a.read_bytes())
    with pytest.raises(IntegrityError):
        state.get("dkg", "s2", "round-1")


def test_shares_and_state_can_share_a_root(tmp_path: Path, kek: bytes) -> None:
    wrapper = LocalKeyWrapper(kek)
    shares = ShareStore(tmp_path / "node", wrapper, "node-1")
    state = SecretStateStore(tmp_path / "node", wrapper, "node-1")
    shares.put_share("k", 1, b"share")
    state.put("ns", "s", "r", b"x")
    state.put_one_time("nonces", "n1", b"y")
    assert shares.list_keys() == ["k"]


def test_consume_once(state: SecretStateStore, kek: bytes) -> None:
    state.put_one_time("frost-nonce", "n1", NONCE, {"key_id": "k", "epoch": 1})
    assert state.one_time_ids("frost-nonce") == ["n1"]
    assert state.consume("frost-nonce", "n1") == NONCE
    assert state.is_consumed("frost-nonce", "n1")
    assert state.one_time_ids("frost-nonce") == []
    assert not (state.root / ".once" / "frost-nonce" / "n1.sealed").exists()  # secret gone from disk
    with pytest.raises(NonceReuseError, match="already consumed"):
        state.consume("frost-nonce", "n1")
    restarted = SecretStateStore(state.root, LocalKeyWrapper(kek), "node-1")
    with pytest.raises(TssNonceReuseError):  # the tss type catches it too
        restarted.consume("frost-nonce", "n1")
    with pytest.raises(NonceReuseError, match="single-use"):
        restarted.put_one_time("frost-nonce", "n1", NONCE)  # an id is never reused
    with pytest.raises(ShareNotFoundError):
        restarted.consume("frost-nonce", "never-stored")


def test_concurrent_consumers_get_it_once(state: SecretStateStore) -> None:
    state.put_one_time("presig", "p1", NONCE)
    results: list[object] = []

    def worker() -> None:
        try:
            results.append(state.consume("presig", "p1"))
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(NONCE) == 1
    assert all(isinstance(r, NonceReuseError | ShareNotFoundError) for r in results if r != NONCE)


CONSUME_AND_DIE = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from mpc.keystore import LocalKeyWrapper, SecretStateStore, _fs
    import mpc.keystore.state as state_mod
    store = SecretStateStore(Path(sys.argv[1]), LocalKeyWrapper(bytes.fromhex(sys.argv[2])), "node-1")
    def die(path):  # marker is durable; the process dies before the sealed nonce is removed
        os.kill(os.getpid(), signal.SIGKILL)
    state_mod._fs.remove = die
    store.consume("frost-nonce", "n1")
""")


def test_kill_after_consume_still_refuses_reuse(state: SecretStateStore, kek: bytes) -> None:
    """SECURITY.md tests table #12: kill -9 after consume, before send."""
    state.put_one_time("frost-nonce", "n1", NONCE)
    proc = subprocess.run([sys.executable, "-c", CONSUME_AND_DIE, str(state.root), kek.hex()], check=False,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == -9
    assert (state.root / ".once" / "frost-nonce" / "n1.sealed").exists()  # the crash left it
    restarted = SecretStateStore(state.root, LocalKeyWrapper(kek), "node-1")
    with pytest.raises(NonceReuseError):
        restarted.consume("frost-nonce", "n1")
    assert not (state.root / ".once" / "frost-nonce" / "n1.sealed").exists()  # cleaned on refusal


def test_bump_nonce_epoch_voids_older_records(state: SecretStateStore, kek: bytes) -> None:
    before = state.nonce_epoch
    state.put_one_time("frost-nonce", "old", NONCE)
    state.put_one_time("frost-nonce", "old2", NONCE)
    state.put("frost-sign", "s", "round-1", b"has a nonce inside")
    snapshot = {p: p.read_bytes() for p in (state.root / ".once").rglob("*.sealed")}

    # A restore from backup/snapshot bumps the epoch, in another process too.
    after = SecretStateStore(state.root, LocalKeyWrapper(kek), "node-1").bump_nonce_epoch()
    assert after.counter == before.counter + 1 and after.token != before.token
    with pytest.raises(StaleEpochError):
        state.consume("frost-nonce", "old")
    with pytest.raises(NonceReuseError):  # discarded for good
        state.consume("frost-nonce", "old")
    with pytest.raises(StaleEpochError):
        state.get("frost-sign", "s", "round-1")
    assert state.get("frost-sign", "s", "round-1", allow_stale=True) == b"has a nonce inside"
    assert state.purge_stale("frost-nonce") == 1 and state.one_time_ids("frost-nonce") == []

    # Putting the snapshot's files back does not revive them.
    for path, data in snapshot.items():
        path.write_bytes(data)
    with pytest.raises(NonceReuseError):
        state.consume("frost-nonce", "old2")

    state.put_one_time("frost-nonce", "new", NONCE)
    assert state.consume("frost-nonce", "new") == NONCE


def test_consume_with_real_vault(openbao_server: OpenBaoServer, tmp_path: Path) -> None:
    name = f"node-{uuid.uuid4().hex[:12]}"
    openbao_server.ensure_transit_key(name)
    wrapper = VaultTransitWrapper(openbao_server.address, openbao_server.token, name, timeout=5)
    state = SecretStateStore(tmp_path / "state", wrapper, "node-1")
    state.put_one_time("frost-nonce", "n1", NONCE)
    assert state.consume("frost-nonce", "n1") == NONCE
    with pytest.raises(NonceReuseError):
        SecretStateStore(tmp_path / "state", wrapper, "node-1").consume("frost-nonce", "n1")


def test_answer_once_replays_identical_retry_and_refuses_other_input(state: SecretStateStore, kek: bytes) -> None:
    calls: list[int] = []

    def produce() -> bytes:
        calls.append(1)
        return os.urandom(48)  # fresh randomness: must never be drawn twice for one round

    first = state.answer_once("frost-sign", "s1", "round-2", b"inbound messages v1", produce)
    restarted = SecretStateStore(state.root, LocalKeyWrapper(kek), "node-1")
    assert restarted.answer_once("frost-sign", "s1", "round-2", b"inbound messages v1", produce) == first
    assert len(calls) == 1
    with pytest.raises(RetryMismatchError, match="another input"):
        restarted.answer_once("frost-sign", "s1", "round-2", b"inbound messages v2", produce)
    assert len(calls) == 1
    assert state.answer_once("frost-sign", "s1", "round-3", b"x", produce) != first  # other round: runs


def test_vault_outage_does_not_burn_a_nonce(openbao_server: OpenBaoServer, tmp_path: Path) -> None:
    name = f"node-{uuid.uuid4().hex[:12]}"
    openbao_server.ensure_transit_key(name)
    wrapper = VaultTransitWrapper(openbao_server.address, openbao_server.token, name, timeout=5)
    SecretStateStore(tmp_path / "state", wrapper, "node-1").put_one_time("frost-nonce", "n1", NONCE)
    down = VaultTransitWrapper(f"http://127.0.0.1:{free_port()}", "t", name, timeout=2)
    with pytest.raises(VaultUnavailableError):
        SecretStateStore(tmp_path / "state", down, "node-1").consume("frost-nonce", "n1")
    state = SecretStateStore(tmp_path / "state", wrapper, "node-1")
    assert not state.is_consumed("frost-nonce", "n1")
    assert state.consume("frost-nonce", "n1") == NONCE
