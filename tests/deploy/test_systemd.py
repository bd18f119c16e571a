"""deploy/systemd: the units pass `systemd-analyze verify` without a warning, carry the hardening the issue names
(ReadWritePaths only for shares and logs), and `systemd-analyze security --offline` scores them low-exposure."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
INSTALLED_MPC = "/opt/mpc/venv/bin/mpc"
MAX_EXPOSURE = 2.0  # systemd's scale: 0 (locked down) .. 10 (unprotected); "OK" is below 4.5

REQUIRED = {
    "NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes", "CapabilityBoundingSet": "",
    "MemoryDenyWriteExecute": "yes", "Restart": "on-failure", "LimitCORE": "0", "User": "mpc",
}
WRITABLE = {"mpc-api.service": "/var/log/mpc", "mpc-coordinator.service": "/var/log/mpc",
            "mpc-participant@.service": "/var/lib/mpc/%i /var/log/mpc"}
"""ReadWritePaths of each unit: the logs, and for a participant its own shares."""


def _systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found:
        return found
    if not shutil.which("apt-get") or os.geteuid() != 0:
        pytest.skip("systemd-analyze is missing and cannot be installed here (needs root and apt-get: "
                    "apt-get install systemd)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "systemd"]):
        result = subprocess.run(argv, capture_output=True, text=True, timeout=900, env=env, check=False)
        if result.returncode != 0:
            pytest.skip(f"systemd-analyze is missing and `{' '.join(argv)}` failed: {result.stderr.strip()[-300:]}")
    return shutil.which("systemd-analyze") or pytest.skip("apt-get install systemd left no systemd-analyze")


def _directives(path: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            name, _, value = line.partition("=")
            found.setdefault(name.strip(), []).append(value.strip())
    return found


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The units as installed, with ExecStart pointing at this checkout's `mpc` (verify checks it exists), and
    the template also as an instance (verify needs one)."""
    folder = tmp_path_factory.mktemp("systemd")
    mpc = Path(sys.executable).parent / "mpc"
    assert mpc.is_file(), mpc
    for unit in UNITS.glob("*.service"):
        (folder / unit.name).write_text(unit.read_text().replace(INSTALLED_MPC, str(mpc)))
    shutil.copy(folder / "mpc-participant@.service", folder / "mpc-participant@node-1.service")
    return folder


def _names() -> list[str]:
    return sorted(p.name for p in UNITS.glob("*.service"))


def test_the_three_units_exist() -> None:
    assert _names() == sorted(WRITABLE)
    assert (UNITS / "participant.env.example").is_file()


@pytest.mark.parametrize("name", sorted(WRITABLE))
def test_unit_carries_the_hardening_and_writes_only_shares_and_logs(name: str) -> None:
    directives = _directives(UNITS / name)
    for key, value in REQUIRED.items():
        assert directives.get(key) == [value], f"{name}: {key}={directives.get(key)}"
    assert directives["ReadWritePaths"] == [WRITABLE[name]]
    assert len(directives["EnvironmentFile"]) == 1 and directives["EnvironmentFile"][0].startswith("/etc/mpc/")
    assert directives["ExecStart"][0].startswith(INSTALLED_MPC + " ")
    environment = " ".join(directives["Environment"])
    assert "LOG_FILE=/var/log/mpc/" in environment
    if name.startswith("mpc-participant@"):
        assert "NODE_ID=%i" in environment and "KEY_SHARE_STORAGE_PATH=/var/lib/mpc/%i/shares" in environment
        assert directives["StateDirectoryMode"] == ["0700"]


def test_systemd_analyze_verify_has_nothing_to_say(installed: Path) -> None:
    analyze = _systemd_analyze()
    names = ["mpc-api.service", "mpc-coordinator.service", "mpc-participant@node-1.service"]
    result = subprocess.run([analyze, "verify", "--man=no", *(str(installed / n) for n in names)],
                            capture_output=True, text=True, timeout=120, check=False, cwd=installed)
    assert result.returncode == 0 and not result.stderr.strip() and not result.stdout.strip(), \
        result.stdout + result.stderr
    # and it does catch a broken unit (an unknown directive), so the silence above means something
    broken = installed / "mpc-broken.service"
    broken.write_text((installed / "mpc-api.service").read_text().replace("RestartSec=5", "RestartSecs=5"))
    caught = subprocess.run([analyze, "verify", "--man=no", str(broken)], capture_output=True, text=True,
                            timeout=120, check=False, cwd=installed)
    assert "Unknown key" in caught.stderr
    broken.unlink()


@pytest.mark.parametrize("name", ["mpc-api.service", "mpc-coordinator.service", "mpc-participant@node-1.service"])
def test_systemd_analyze_security_scores_low_exposure(installed: Path, name: str) -> None:
    analyze = _systemd_analyze()
    result = subprocess.run([analyze, "security", "--offline=true", "--no-pager", str(installed / name)],
                            capture_output=True, text=True, timeout=120, check=False, cwd=installed)
    output = result.stdout + result.stderr
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", output)
    assert match, output
    exposure = float(match.group(1))
    print(f"\n{name}: exposure {exposure}")
    assert exposure <= MAX_EXPOSURE, output
    for setting in ("NoNewPrivileges=", "ProtectSystem=", "PrivateTmp=", "MemoryDenyWriteExecute=",
                    "CapabilityBoundingSet=~CAP_SYS_ADMIN"):
        assert re.search(rf"^✓ {re.escape(setting)}", output, re.MULTILINE), f"{setting} not satisfied:\n{output}"
