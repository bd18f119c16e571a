"""Canary secrets for the secrets scan: real share, nonce and Paillier values read from the nodes' own stores.

Nothing is invented: the values are the ones the run actually used or holds, read the way a node reads
them (its sealed files, unwrapped by its own Vault transit key), so a leak of any of them anywhere
(logs, Temporal history, Redis, the database) is a real leak.

- key shares: every holder's FROST signing share; every GG20 holder's x_i and Paillier p, q, φ(N);
- nonces: FROST nonce pairs (d, e) of the pools and GG20 presignatures (k_i, σ_i). These are one-time
  and disappear when used, so `Harvester` reads them while the load runs (every few seconds, without
  consuming anything) and again at the end: most canaries are nonces that were later used to sign.

Reading a one-time record without consuming it has no public API on purpose (a node must never do
it); this test tool opens the sealed file with the store's own format module instead.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from pathlib import Path

from mpc.keystore import SecretStateStore, ShareStore, VaultTransitWrapper, _blob, _fs
from mpc.keystore.state import ONCE_KIND
from tss.ecdsa.gg20 import Presignature
from tss.ecdsa.keyshare import KeyShare as EcdsaKeyShare
from tss.frost import KeyShare as FrostKeyShare
from tss.frost.round1 import SigningNonces

FROST_NONCES = "frost-nonces"  # activities/frost_signing.py NONCES
PRESIG_COPY = "gg20-presig-copy"  # activities/ecdsa_node.py PRESIG_COPY


@dataclass(frozen=True)
class Canary:
    kind: str  # share, nonce, paillier
    where: str  # node and record, for the report (never the value)
    value: int


@dataclass(frozen=True)
class NodeStores:
    node_id: str
    shares: ShareStore
    state: SecretStateStore


def node_stores(data_dir: Path, node_ids: list[str], vault_addr: str, vault_token: str) -> list[NodeStores]:
    """Each `mpc dev` participant's stores (KEY_SHARE_STORAGE_PATH = <data-dir>/nodes/<node>/shares)."""
    stores = []
    for node in node_ids:
        wrapper = VaultTransitWrapper(vault_addr, vault_token, f"mpc-{node}")
        root = data_dir / "nodes" / node / "shares"
        stores.append(NodeStores(node, ShareStore(root / "keys", wrapper, node),
                                 SecretStateStore(root / "state", wrapper, node)))
    return stores


def key_canaries(stores: list[NodeStores], keys: dict[str, str]) -> list[Canary]:
    """Shares and Paillier secrets of `keys` ({key_id: protocol}) on every node that holds them."""
    found: list[Canary] = []
    for node in stores:
        for key_id, protocol in keys.items():
            if not node.shares.has_share(key_id):
                continue
            raw = node.shares.get_share(key_id)
            where = f"{node.node_id}/{key_id[:8]}"
            if protocol == "frost":
                found.append(Canary("share", where, FrostKeyShare.from_bytes(raw).signing_share))
            else:
                share = EcdsaKeyShare.from_bytes(raw)
                found.append(Canary("share", where, share.x))
                p, q = share.paillier.p, share.paillier.q
                found += [Canary("paillier", f"{where}/p", p), Canary("paillier", f"{where}/q", q),
                          Canary("paillier", f"{where}/phi", (p - 1) * (q - 1))]
    return found


def _peek_once(state: SecretStateStore, namespace: str, record_id: str) -> bytes | None:
    """The plaintext of an unconsumed one-time record, left in place (see the module docstring)."""
    path = state.root / ".once" / namespace / f"{record_id}.sealed"
    blob = _fs.read_file(path)
    if blob is None:
        return None
    header, _, _ = _blob.read_header(blob, what=f"{namespace}/{record_id}")
    _, secret = _blob.open_blob(state._wrapper, blob, kind=ONCE_KIND, node_id=state.node_id,
                                context=dict(header.context), what=f"{namespace}/{record_id}")
    return secret


def nonce_canaries(stores: list[NodeStores], seen: set[str]) -> list[Canary]:
    """FROST pool nonces and GG20 presignatures present now, skipping records in `seen` (updated)."""
    found: list[Canary] = []
    for node in stores:
        for record_id in node.state.one_time_ids(FROST_NONCES):
            if (tag := f"{node.node_id}/frost/{record_id}") in seen:
                continue
            with contextlib.suppress(Exception):  # consumed meanwhile, or Vault restarting
                raw = _peek_once(node.state, FROST_NONCES, record_id)
                if raw is not None:
                    nonces = SigningNonces.from_bytes(raw)
                    d, e = nonces._hiding, nonces._binding
                    found += [Canary("nonce", f"{tag}/d", d), Canary("nonce", f"{tag}/e", e)]
                    seen.add(tag)
        for presig_id in node.state.list_sessions(PRESIG_COPY):
            if (tag := f"{node.node_id}/gg20/{presig_id}") in seen:
                continue
            with contextlib.suppress(Exception):
                presig = Presignature.from_bytes(node.state.get(PRESIG_COPY, presig_id, "presignature"))
                found += [Canary("nonce", f"{tag}/k", presig.k), Canary("nonce", f"{tag}/sigma", presig.sigma)]
                seen.add(tag)
    return found


class Harvester:
    """Reads live nonces every `interval` seconds while the load runs (at most `limit` records)."""

    def __init__(self, stores: list[NodeStores], *, interval: float = 3.0, limit: int = 150) -> None:
        self.stores = stores
        self.interval = interval
        self.limit = limit
        self.canaries: list[Canary] = []
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="canary-harvester", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if len(self.seen) >= self.limit:
                return
            with contextlib.suppress(Exception):
                self.canaries += nonce_canaries(self.stores, self.seen)

    def stop(self) -> list[Canary]:
        self._stop.set()
        self._thread.join(30)
        with contextlib.suppress(Exception):
            self.canaries += nonce_canaries(self.stores, self.seen)
        return self.canaries
