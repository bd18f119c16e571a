"""Issue 15 part 2: the participants as separate hosts (network namespaces), one cut off mid-session and healed.

The test makes the namespaces itself (tests/chaos/netns.py: a hub with the services, the API and the
coordinator worker; one namespace per participant; veth links with loopback-range addresses), runs the
scenario inside the hub (tests/chaos/partition.py) and asserts on what it measured. It skips, saying why,
only where namespaces cannot be made (not root, no iproute2, a kernel or sandbox that refuses `ip netns add`).
Every namespace and every process in them is removed afterwards, also on failure.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.netns import Lab, NamespacesUnavailable
from tests.chaos.partition import CUT, DETECT_WITHIN

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lab() -> Iterator[Lab]:
    made = Lab()
    try:
        made.create()
    except NamespacesUnavailable as exc:
        made.destroy()
        pytest.skip(f"network namespaces cannot be made here: {exc}")
    try:
        yield made
    finally:
        leftovers = made.destroy()
        assert not leftovers, f"processes were still running in the namespaces: {leftovers}"


@pytest.mark.timeout(600)
def test_a_node_cut_off_mid_session_is_named_or_replaced_and_later_sessions_succeed(lab: Lab, tmp_path: Path
                                                                                    ) -> None:
    out = tmp_path / "result.json"
    argv = ["ip", "netns", "exec", lab.hub, sys.executable, "-m", "tests.chaos.partition", "--prefix", lab.prefix,
            "--work", str(tmp_path / "hub"), "--out", str(out)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=560, check=False)
    assert out.exists(), f"no result (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(out.read_text())
    assert "error" not in result, result["error"]
    print(json.dumps(result, indent=2))

    for name in ("frost", "gg20"):
        session = result[name]
        if session["status"] == "completed":  # another signer subset made the signature
            assert CUT not in session["participants"], session
        else:  # or the session failed naming the node that was cut off
            assert session["status"] == "failed", session
            assert session["error"]["node"] == CUT and session["error"]["code"] == "node_timeout", session
        assert session["seconds_after_cut"] <= DETECT_WITHIN, session
    assert result["gg20"]["status_at_cut"] == "running" and result["gg20"]["round_at_cut"] >= 3, result["gg20"]

    # After the heal every pair of signers, the healed node included, signs with both keys; all verify.
    assert len(result["later"]) == 6
    for later in result["later"]:
        assert later["status"] == "completed" and later["verified"], later
    assert result["reuse"] == [], result["reuse"]  # no R or r twice under a key, every signature verifies
    assert result["signatures"] >= 8
