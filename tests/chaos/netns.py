"""Hosts for the partition test: network namespaces made by the test itself, loopback-range addresses only.

    hub  (services, API, coordinator worker)      br0 127.100.0.1/24
     ├── hub-side veth of node-1 ── node-1 ns     127.100.0.11/24
     ├── hub-side veth of node-2 ── node-2 ns     127.100.0.12/24
     └── hub-side veth of node-3 ── node-3 ns     127.100.0.13/24

Every address is in 127.0.0.0/8 and lives only inside these namespaces (`route_localnet` lets the kernel
route them over the veth links); nothing is connected to the machine's own network. `cut(node)` sets the
hub side of that node's link down, `heal(node)` up again. `destroy()` kills every process still inside the
namespaces (by the pids `ip netns pids` lists: they can only be ours) and deletes the namespaces.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
from dataclasses import dataclass, field

HUB_ADDRESS = "127.100.0.1"
NODE_ADDRESS = {"node-1": "127.100.0.11", "node-2": "127.100.0.12", "node-3": "127.100.0.13"}


class NamespacesUnavailable(RuntimeError):
    """Namespaces cannot be made here (not root, no iproute2, or the kernel refuses)."""


def _ip(*args: str, ns: str | None = None) -> None:
    argv = ["ip", *(["-n", ns] if ns else []), *args]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")


def _sysctl(ns: str, name: str, value: str) -> None:
    subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", f"{name}={value}"],
                   check=True, capture_output=True)


@dataclass
class Lab:
    prefix: str = field(default_factory=lambda: f"mpcp{secrets.token_hex(3)}")
    made: list[str] = field(default_factory=list)

    @property
    def hub(self) -> str:
        return f"{self.prefix}-hub"

    def ns(self, node: str) -> str:
        return f"{self.prefix}-{node}"

    def hub_link(self, node: str) -> str:
        return f"{self.prefix[-6:]}h{node[-1]}"  # interface names are at most 15 characters

    @staticmethod
    def check() -> None:
        if os.geteuid() != 0:
            raise NamespacesUnavailable("network namespaces need root (ip netns add)")
        if shutil.which("ip") is None:
            raise NamespacesUnavailable("iproute2 is not installed (apt-get install -y iproute2)")

    def create(self) -> None:
        self.check()
        try:
            _ip("netns", "add", self.hub)
        except RuntimeError as exc:
            raise NamespacesUnavailable(str(exc)) from None
        self.made.append(self.hub)
        _ip("link", "set", "lo", "up", ns=self.hub)
        _ip("link", "add", "br0", "type", "bridge", ns=self.hub)
        _ip("addr", "add", f"{HUB_ADDRESS}/24", "dev", "br0", ns=self.hub)
        _sysctl(self.hub, "net.ipv4.conf.all.route_localnet", "1")
        _sysctl(self.hub, "net.ipv4.conf.br0.route_localnet", "1")
        _ip("link", "set", "br0", "up", ns=self.hub)
        for node, address in NODE_ADDRESS.items():
            ns, hub_side, node_side = self.ns(node), self.hub_link(node), f"{self.prefix[-6:]}n{node[-1]}"
            _ip("netns", "add", ns)
            self.made.append(ns)
            _ip("link", "set", "lo", "up", ns=ns)
            _ip("link", "add", hub_side, "netns", self.hub, "type", "veth", "peer", "name", node_side, "netns", ns)
            _ip("link", "set", hub_side, "master", "br0", ns=self.hub)
            _ip("link", "set", hub_side, "up", ns=self.hub)
            _sysctl(ns, "net.ipv4.conf.all.route_localnet", "1")
            _sysctl(ns, f"net.ipv4.conf.{node_side}.route_localnet", "1")
            _ip("addr", "add", f"{address}/24", "dev", node_side, ns=ns)
            _ip("link", "set", node_side, "up", ns=ns)

    def cut(self, node: str) -> None:
        _ip("link", "set", self.hub_link(node), "down", ns=self.hub)

    def heal(self, node: str) -> None:
        _ip("link", "set", self.hub_link(node), "up", ns=self.hub)

    def pids(self) -> list[int]:
        found: list[int] = []
        for ns in self.made:
            done = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True,
                                  check=False)
            found += [int(p) for p in done.stdout.split()]
        return found

    def destroy(self) -> list[int]:
        """Kill what still runs inside (by pid), delete the namespaces; returns the pids that had to be killed."""
        leftovers = self.pids()
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for ns in reversed(self.made):
            with contextlib.suppress(RuntimeError):
                _ip("netns", "del", ns)
        self.made.clear()
        return leftovers
