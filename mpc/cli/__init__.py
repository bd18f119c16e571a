"""The `mpc` command line: servers (`dev`, `api`, `worker`, `migrate`) and API clients."""

from mpc.cli.main import main

__all__ = ["main"]
