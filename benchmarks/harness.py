"""What every benchmark returns: rows of a figure beside its baseline, measured in the same run."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Result:
    """One measured figure and its baseline. ``met`` is None where no target is set yet."""

    benchmark: str
    name: str
    figure: float
    unit: str
    baseline: float | None
    baseline_unit: str | None
    target: str | None
    met: bool | None
    parameters: dict[str, Any] = field(default_factory=dict)
    notes: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "system": platform.system(),
    }


def peak_rss_mib() -> float:
    """This process's peak resident set size (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def run_child(module: str, args: list[str]) -> dict[str, Any]:
    """Run ``benchmarks/<module>.py --child ARGS`` in a fresh interpreter; its last stdout line
    is a JSON object (a fresh process, so its peak memory is the benchmark's own)."""
    done = subprocess.run(
        [sys.executable, str(HERE / f"{module}.py"), "--child", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} child failed ({done.returncode}):\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of ``values`` (not empty)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]
