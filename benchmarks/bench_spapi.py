"""SP-API calls per cycle: the demo day over the Amazon sandbox, read from its summary.json.

Figure: calls made less retries, beside the fewest calls the day needed (``min_calls``): they
must be equal. Then the fewest calls beside the naive way, one call per unit posted
(``naive_calls``), whose ratio naive/min should be at least 50.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import Result

NAME = "spapi"
RATIO_TARGET = 50


def run(quick: bool, returns: int | None = None) -> list[Result]:
    returns = returns or (300 if quick else 2000)
    params = {"returns": returns, "seed": 7, "transport": "csv"}
    with tempfile.TemporaryDirectory(prefix="rb-bench-spapi-") as tmp:
        out = Path(tmp) / "day"
        started = time.perf_counter()
        command = [sys.executable, "-m", "returnbridge", "demo", "--returns", str(returns)]
        command += ["--seed", "7", "--transport", "csv", "--out", str(out)]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"demo failed ({done.returncode}):\n{done.stderr[-4000:]}")
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    amazon = summary["amazon"]
    needed = amazon["calls"] - amazon["retries"]
    ratio = amazon["naive_calls"] / amazon["min_calls"] if amazon["min_calls"] else 0.0
    params = {**params, "demo_seconds": round(seconds, 1), "cycles": amazon["cycles"]}
    return [
        Result(
            NAME,
            "SP-API calls less retries",
            needed,
            "calls",
            amazon["min_calls"],
            "calls (min_calls)",
            "= min_calls",
            needed == amazon["min_calls"],
            {**params, "calls": amazon["calls"], "retries": amazon["retries"]},
        ),
        Result(
            NAME,
            "SP-API naive / min calls",
            round(ratio, 1),
            "x",
            amazon["naive_calls"],
            "calls (naive, one per unit)",
            f">= {RATIO_TARGET}x",
            ratio >= RATIO_TARGET,
            {**params, "min_calls": amazon["min_calls"], "naive_calls": amazon["naive_calls"]},
        ),
    ]
