"""Port helpers: pick free ports for tests, refuse ports in use for `mpc dev`."""

from __future__ import annotations

import socket


class PortInUseError(RuntimeError):
    """A configured port is taken by another process."""

    def __init__(self, what: str, host: str, port: int) -> None:
        self.what, self.host, self.port = what, host, port
        super().__init__(f"{what} port {port} on {host} is already in use (choose another with the flag)")


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the kernel for a port that is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


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
