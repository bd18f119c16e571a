"""Keystore against the real OpenBao (session fixture `openbao_server`) and a local KEK.

Every failure case checks three things: a clear error of the right class, nothing lost (the
previous version still opens), and no temp file left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mpc.devstack.openbao import OpenBaoServer
from mpc.devstack.ports import free_port
from mpc.keystore import (
    IntegrityError,
    KeystoreError,
    LocalKeyWrapper,
    ShareExistsError,
    ShareNotFoundError,
    ShareStore,
    StorageError,
    StorageFullError,
    TransitKeyError,
    VaultPermissionError,
    VaultSealedError,
    VaultTransitWrapper,
    VaultUnavailableError,
    WrappedKey,
    _blob,
)

SECRET = b"\x01share-secret-CANARY-7f3a\x02" * 2
PUBLIC = {"group_public_key": "02" + "ab" * 32, "threshold": 2, "participants": ["n1", "n2", "n3"]}


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


@pytest.fixture
def transit_key(openbao_server: OpenBaoServer) -> str:
    name = f"node-{uuid.uuid4().hex[:12]}"
    openbao_server.ensure_transit_key(name)
    return name


@pytest.fixture
def vault(openbao_server: OpenBaoServer, transit_key: str) -> VaultTransitWrapper:
    return VaultTransitWrapper(openbao_server.address, openbao_server.token, transit_key, timeout=5)


@pytest.fixture
def local() -> LocalKeyWrapper:
    return LocalKeyWrapper(os.urandom(32))


@pytest.fixture
def store(tmp_path: Path, vault: VaultTransitWrapper) -> ShareStore:
    return ShareStore(tmp_path / "shares", vault, "node-1")


# -- round trip -------------------------------------------------------------------------------


def test_vault_round_trip_permissions_and_meta(tmp_path: Path, store: ShareStore, vault: VaultTransitWrapper,
                                               openbao_server: OpenBaoServer) -> None:
    meta = store.put_share("key-a", 1, SECRET, PUBLIC)
    assert meta.epoch == 1 and meta.public == PUBLIC and meta.wrapped_by == f"vault-transit:{vault.key_ref}"
    assert store.get_share("key-a") == SECRET
    assert store.get_share("key-a", 1) == SECRET

    root = tmp_path / "shares"
    assert mode(root) == 0o700 and mode(root / "key-a") == 0o700
    for name in ("epoch-1.share", "epoch-1.meta", "active"):
        assert mode(root / "key-a" / name) == 0o600, name
    on_disk = json.loads((root / "key-a" / "epoch-1.meta").read_text())
    assert on_disk["key_id"] == "key-a" and on_disk["node_id"] == "node-1" and on_disk["epoch"] == 1
    assert on_disk["public"] == PUBLIC and on_disk["created"]
    assert SECRET not in (root / "key-a" / "epoch-1.share").read_bytes()
    assert b"CANARY" not in (root / "key-a" / "epoch-1.share").read_bytes()

    reopened = ShareStore(root, vault, "node-1")  # a restarted node
    assert reopened.get_share("key-a") == SECRET
    assert reopened.get_meta("key-a") == meta
    assert reopened.open_share("key-a").meta == meta
    assert reopened.list_keys() == ["key-a"] and reopened.has_share("key-a") and not reopened.has_share("key-b")
    assert "CANARY" not in repr(reopened.open_share("key-a"))
    assert openbao_server.token not in repr(vault) and openbao_server.token not in repr(store)
    assert not temp_files(root)


def test_epochs_kept_until_confirmed_then_retired(store: ShareStore) -> None:
    store.put_share("k", 1, b"old-share")
    store.put_share("k", 2, b"new-share", activate=False)  # reshare: new one unused until confirmed
    assert store.get_share("k") == b"old-share" and store.epochs("k") == [1, 2]
    with pytest.raises(StorageError, match="not active"):
        store.retire_epochs_before("k", 2)
    store.activate_epoch("k", 2)
    assert store.get_share("k") == b"new-share"
    with pytest.raises(StorageError, match="active epoch"):
        store.delete_epoch("k", 2)
    assert store.retire_epochs_before("k", 2) == [1]
    assert store.epochs("k") == [2]
    with pytest.raises(ShareNotFoundError):
        store.get_share("k", 1)
    store.delete_key("k")
    assert store.list_keys() == []


def test_put_is_idempotent_but_never_overwrites(store: ShareStore) -> None:
    first = store.put_share("k", 1, SECRET, PUBLIC)
    assert store.put_share("k", 1, SECRET, PUBLIC) == first  # activity retry
    with pytest.raises(ShareExistsError):
        store.put_share("k", 1, b"another secret", PUBLIC)
    with pytest.raises(ShareExistsError):
        store.put_share("k", 1, SECRET, {"other": 1})
    assert store.get_share("k") == SECRET


def test_names_cannot_escape_the_root(store: ShareStore) -> None:
    for bad in ("../x", "a/b", ".hidden", "", "x" * 200, "a..b"):
        with pytest.raises(StorageError):
            store.put_share(bad, 1, SECRET)
    with pytest.raises(StorageError):
        store.put_share("k", -1, SECRET)


def test_root_belongs_to_one_node(tmp_path: Path, local: LocalKeyWrapper) -> None:
    ShareStore(tmp_path / "s", local, "node-1")
    with pytest.raises(StorageError, match="belongs to node 'node-1'"):
        ShareStore(tmp_path / "s", local, "node-2")


# -- Vault failures ----------------------------------------------------------------------------


def test_vault_unreachable(tmp_path: Path, store: ShareStore, transit_key: str) -> None:
    store.put_share("k", 1, SECRET)
    down = VaultTransitWrapper(f"http://127.0.0.1:{free_port()}", "t", transit_key, timeout=2)
    cut_off = ShareStore(store.root, down, "node-1")
    start = time.monotonic()
    with pytest.raises(VaultUnavailableError, match="unreachable"):
        cut_off.get_share("k")
    with pytest.raises(VaultUnavailableError):
        cut_off.put_share("k", 2, SECRET)
    assert time.monotonic() - start < 20
    assert store.epochs("k") == [1] and store.get_share("k") == SECRET
    assert not temp_files(store.root)


def _wait_active(server: OpenBaoServer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.address}/v1/sys/health", timeout=5).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError("OpenBao did not become active after unseal")


def _unseal_reliably(server: OpenBaoServer) -> None:
    for _ in range(10):
        try:
            server.unseal()
            _wait_active(server)
            return
        except (httpx.HTTPError, AssertionError):
            time.sleep(0.5)
    raise AssertionError("could not unseal the shared OpenBao")


def test_vault_sealed(openbao_server: OpenBaoServer, store: ShareStore) -> None:
    store.put_share("k", 1, SECRET)
    openbao_server.seal()
    try:
        with pytest.raises(VaultSealedError, match="sealed"):
            store.get_share("k")
        with pytest.raises(VaultSealedError):
            store.put_share("k", 2, b"new")
    finally:
        _unseal_reliably(openbao_server)
    assert store.get_share("k") == SECRET and store.epochs("k") == [1]
    assert not temp_files(store.root)


def test_wrong_transit_key(openbao_server: OpenBaoServer, store: ShareStore, vault: VaultTransitWrapper) -> None:
    store.put_share("k", 1, SECRET)
    other_name = f"other-{uuid.uuid4().hex[:8]}"
    openbao_server.ensure_transit_key(other_name)
    other = VaultTransitWrapper(openbao_server.address, openbao_server.token, other_name, timeout=5)
    with pytest.raises(TransitKeyError, match=other_name):
        ShareStore(store.root, other, "node-1").get_share("k")
    # Vault itself refuses to unwrap a data key with another transit key.
    _, wrapped = vault.new_data_key()
    with pytest.raises(TransitKeyError, match="cannot unwrap"):
        other.unwrap(WrappedKey(wrapped.scheme, other.key_ref, wrapped.ciphertext))
    missing = VaultTransitWrapper(openbao_server.address, openbao_server.token, "no-such-key", timeout=5)
    with pytest.raises(TransitKeyError, match="does not exist"):
        missing.new_data_key()
    with pytest.raises(TransitKeyError):
        missing.check()
    vault.check()
    assert store.get_share("k") == SECRET


# -- file corruption ---------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["header", "ciphertext", "tag", "checksum"])
def test_flipped_byte_is_detected(store: ShareStore, where: str) -> None:
    store.put_share("k", 1, SECRET)
    path = store.root / "k" / "epoch-1.share"
    blob = bytearray(path.read_bytes())
    index = {"header": 20, "ciphertext": len(blob) - 32 - 16 - 5, "tag": len(blob) - 32 - 3,
             "checksum": len(blob) - 1}[where]
    blob[index] ^= 0x01
    path.write_bytes(bytes(blob))
    with pytest.raises(IntegrityError, match="checksum"):
        store.get_share("k")


def test_tampering_with_recomputed_checksum_fails_authentication(store: ShareStore) -> None:
    store.put_share("k", 1, SECRET)
    path = store.root / "k" / "epoch-1.share"
    body = bytearray(path.read_bytes()[:-32])
    body[-20] ^= 0x80  # inside the GCM ciphertext/tag
    path.write_bytes(bytes(body) + hashlib.sha256(bytes(body)).digest())
    with pytest.raises(IntegrityError, match="authentication failed"):
        store.get_share("k")


@pytest.mark.parametrize("keep", [0, 5, 40, -33, -1])
def test_truncated_file(store: ShareStore, keep: int) -> None:
    store.put_share("k", 1, SECRET)
    path = store.root / "k" / "epoch-1.share"
    data = path.read_bytes()
    path.write_bytes(data[:keep] if keep >= 0 else data[:len(data) + keep])
    with pytest.raises(IntegrityError):
        store.get_share("k")


def test_swapped_files_between_keys_and_epochs(store: ShareStore) -> None:
    store.put_share("key-a", 1, b"share of a")
    store.put_share("key-b", 1, b"share of b")
    store.put_share("key-b", 2, b"share of b, epoch 2", activate=False)
    a, b = store.root / "key-a" / "epoch-1.share", store.root / "key-b" / "epoch-1.share"
    a_bytes = a.read_bytes()
    b.write_bytes(a_bytes)  # an attacker moves key a's share under key b
    with pytest.raises(IntegrityError, match="belongs elsewhere"):
        store.get_share("key-b", 1)
    (store.root / "key-b" / "epoch-2.share").write_bytes(a_bytes)
    with pytest.raises(IntegrityError, match="epoch"):
        store.get_share("key-b", 2)


def test_swap_with_forged_header_fails_on_associated_data(store: ShareStore) -> None:
    """Editing the header to claim the other key does not help: the expected context is AD."""
    store.put_share("key-a", 1, b"share of a")
    store.put_share("key-b", 1, b"share of b")
    blob = (store.root / "key-a" / "epoch-1.share").read_bytes()
    _header, prefix, sealed = _blob.read_header(blob, what="t")
    hlen = len(prefix) - len(_blob.MAGIC) - 4
    raw = json.loads(prefix[-hlen:])
    raw["context"]["key_id"] = "key-b"
    new_header = _blob.canonical_json(raw)
    body = _blob.MAGIC + len(new_header).to_bytes(4, "big") + new_header + sealed
    (store.root / "key-b" / "epoch-1.share").write_bytes(body + hashlib.sha256(body).digest())
    with pytest.raises(IntegrityError, match="authentication failed"):
        store.get_share("key-b")


# -- disk full and crashes ---------------------------------------------------------------------


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
                          capture_output=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount tmpfs here: {proc.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_disk_full_keeps_previous_version(tiny_fs: Path, vault: VaultTransitWrapper) -> None:
    store = ShareStore(tiny_fs / "shares", vault, "node-1")
    store.put_share("k", 1, SECRET, PUBLIC)
    with pytest.raises(StorageFullError, match="no space left"):
        store.put_share("k", 2, os.urandom(200_000))
    assert store.get_share("k") == SECRET and store.epochs("k") == [1]
    assert store.get_meta("k").public == PUBLIC
    assert not temp_files(tiny_fs)
    store.put_share("k", 2, b"small enough")  # space is back once the failed write is gone
    assert store.get_share("k") == b"small enough"


def test_io_error_during_write_removes_temp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                            local: LocalKeyWrapper) -> None:
    store = ShareStore(tmp_path / "s", local, "node-1")
    store.put_share("k", 1, SECRET)

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(StorageError, match="Input/output error"):
        store.put_share("k", 2, b"x")
    monkeypatch.undo()
    assert store.get_share("k") == SECRET and store.epochs("k") == [1]
    assert not temp_files(tmp_path)


CRASH_CHILD = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from mpc.keystore import LocalKeyWrapper, ShareStore
    store = ShareStore(Path(sys.argv[1]), LocalKeyWrapper(bytes.fromhex(sys.argv[2])), "node-1")
    target = sys.argv[3]
    def die(*args, **kwargs):  # temp file written and fsynced; the process dies instead of renaming
        os.kill(os.getpid(), signal.SIGKILL)
    if target == "share":
        os.link = die  # epoch files are created with link(2) (create-only)
    else:
        real_replace = os.replace
        os.replace = lambda src, dst: die() if str(dst).endswith(target) else real_replace(src, dst)
    store.put_share("k", 2, b"new share")
""")


@pytest.mark.parametrize("die_at", ["share", "meta", "active"])
def test_kill_during_write_leaves_old_version(tmp_path: Path, die_at: str) -> None:
    kek = os.urandom(32)
    store = ShareStore(tmp_path / "s", LocalKeyWrapper(kek), "node-1")
    store.put_share("k", 1, SECRET, PUBLIC)
    proc = subprocess.run([sys.executable, "-c", CRASH_CHILD, str(store.root), kek.hex(), die_at], check=False,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == -9, proc.stderr
    assert store.get_share("k") == SECRET  # pointer still at epoch 1
    assert store.list_keys() == ["k"]
    if die_at == "share":
        assert store.epochs("k") == [1] and len(temp_files(store.root)) == 1
        assert store.sweep_temp_files(older_than=3600) == 0  # could be a write in progress
        assert store.sweep_temp_files(older_than=-1) == 1 and not temp_files(store.root)
    else:
        assert store.get_share("k", 2) == b"new share"  # complete, just not active
        assert store.get_meta("k", 2).epoch == 2  # from .meta, or the share header if .meta is missing
    store.put_share("k", 2, b"new share")  # the retried write completes (idempotent if present)
    assert store.get_share("k") == b"new share"


def test_meta_falls_back_to_share_header(store: ShareStore) -> None:
    store.put_share("k", 1, SECRET, PUBLIC)
    (store.root / "k" / "epoch-1.meta").unlink()
    assert store.get_meta("k").public == PUBLIC
    (store.root / "k" / "epoch-1.meta").write_text("{garbage")
    assert store.get_meta("k").public == PUBLIC


def test_vault_token_refused(openbao_server: OpenBaoServer, transit_key: str, tmp_path: Path) -> None:
    bad = VaultTransitWrapper(openbao_server.address, "not-a-token", transit_key, timeout=5)
    with pytest.raises(VaultPermissionError, match="permission denied"):
        ShareStore(tmp_path / "s", bad, "node-1").put_share("k", 1, SECRET)
    assert "not-a-token" not in repr(bad)


# -- local wrapper -----------------------------------------------------------------------------


def test_local_wrapper_round_trip_and_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    kek = os.urandom(32)
    with caplog.at_level(logging.WARNING, logger="mpc.keystore.wrappers"):
        wrapper = LocalKeyWrapper.from_env({"KEY_SHARE_ENCRYPTION_KEY": kek.hex()})
    assert any("Vault is not used" in r.getMessage() for r in caplog.records)
    assert kek.hex() not in caplog.text and kek.hex() not in repr(wrapper)
    store = ShareStore(tmp_path / "s", wrapper, "node-1")
    store.put_share("k", 1, SECRET, PUBLIC)
    assert ShareStore(tmp_path / "s", LocalKeyWrapper(kek), "node-1").get_share("k") == SECRET
    with pytest.raises(TransitKeyError, match="wrapped by local-aes256gcm"):
        ShareStore(tmp_path / "s", LocalKeyWrapper(os.urandom(32)), "node-1").get_share("k")
    for bad in ("", "zz", "ab" * 16):
        with pytest.raises(TransitKeyError):
            LocalKeyWrapper.from_env({"KEY_SHARE_ENCRYPTION_KEY": bad})


def test_errors_never_carry_secret_bytes(store: ShareStore) -> None:
    store.put_share("k", 1, SECRET)
    with pytest.raises(KeystoreError) as info:
        store.put_share("k", 1, b"CANARY-different")
    assert "CANARY" not in str(info.value)
