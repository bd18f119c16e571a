"""Local services from pip packages: the processes behind `mpc dev` and the integration tests.

Each service is a `ManagedProcess` started on chosen ports, waited for until it answers, and
stopped by its process id. Production never uses this package: its settings point at real
clusters.
"""

from mpc.devstack.ports import PortInUseError, free_port, require_free_port
from mpc.devstack.process import ManagedProcess, ServiceStartError

__all__ = ["ManagedProcess", "PortInUseError", "ServiceStartError", "free_port", "require_free_port"]
