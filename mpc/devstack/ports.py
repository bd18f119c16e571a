"""Port helpers: pick free ports for tests, refuse ports in use for `mpc dev`."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path


class PortInUseError(RuntimeError):
    """A configured port is taken by another process."""

    def __init__(self, what: str, host: str, port: int) -> None:
        self.what, self.host, self.port = what, host, port
        super().__init__(f"{what} port {port} on {host} is already in use (choose another with the flag)")


_EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST_PORT = 10000
_handed_out: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    """The kernel's range for client source ports (Linux default 32768-60999)."""
    try:
        low, high = (int(part) for part in _EPHEMERAL_RANGE_FILE.read_text().split())
    except (OSError, ValueError):
        return 32768, 60999
    return low, high


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free now, chosen below the kernel's ephemeral range.

    Why not bind(0): the kernel hands out such ports from the same range it uses for client source
    ports, so between this call and the server's bind any outgoing connection on the machine can
    take the port ("address already in use", seen in CI). A port below that range can only be taken
    by another listener. Ports already returned by this process are not returned again.
    """
    low, _ = _ephemeral_range()
    if low - _LOWEST_PORT < 1000:  # an unusual range: fall back to the kernel's choice
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            return int(sock.getsockname()[1])
    for _ in range(200):
        port = _LOWEST_PORT + secrets.randbelow(low - _LOWEST_PORT)
        if port not in _handed_out and port_is_free(host, port) and port_is_free("0.0.0.0", port):  # noqa: S104 (a probe, closed at once)
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port found between {_LOWEST_PORT} and {low}")


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def require_free_port(what: str, host: str, port: int) -> None:
    """Raise `PortInUseError` naming the service when `port` is taken."""
    if not port_is_free(host, port):
        raise PortInUseError(what, host, port)


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on (host, port)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
