"""One demo run for every report test of the session: ``demo_out``.

The demo takes several seconds, so it runs once. Under pytest-xdist each worker is its own
process with its own session: the first worker to get here runs the demo into the session's
shared temporary folder while holding a lock, and the others wait and reuse its output. The
tests only read it (anything they write goes to their own folder).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = ["demo", "--returns", "200", "--seed", "3", "--transport", "csv"]


def _run_demo(out: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "returnbridge", *DEMO, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (out / ".complete").touch()


@pytest.fixture(scope="session")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder of ``returnbridge demo --returns 200 --seed 3 --transport csv``."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # not under xdist: the only session
        out = tmp_path_factory.mktemp("demo") / "OUT"
        _run_demo(out)
        return out
    shared = tmp_path_factory.getbasetemp().parent  # one folder per run, shared by the workers
    out = shared / "reports-demo" / "OUT"
    with (shared / "reports-demo.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / ".complete").exists():
            _run_demo(out)
    return out
