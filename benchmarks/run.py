"""Run returnbridge's benchmarks: print a table, write ``benchmarks/results.json``.

Each figure stands beside its baseline, measured in the same run on the same machine.

    python benchmarks/run.py                 # all, default sizes
    python benchmarks/run.py --quick         # all, small sizes
    python benchmarks/run.py --only pipeline --events 20000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import bench_backlog
import bench_claim
import bench_csv
import bench_pipeline
import bench_spapi
import bench_webhooks
from harness import HERE, Result, machine
from rich.console import Console
from rich.table import Table

from returnbridge.observability.logging import configure

BENCHMARKS: dict[str, Callable[[argparse.Namespace], list[Result]]] = {
    "spapi": lambda a: bench_spapi.run(a.quick, a.returns),
    "webhooks": lambda a: bench_webhooks.run(a.quick, a.webhooks),
    "pipeline": lambda a: bench_pipeline.run(a.quick, a.events),
    "csv": lambda a: bench_csv.run(a.quick, a.rows),
    "claim": lambda a: bench_claim.run(a.quick, a.jobs),
    "backlog": lambda a: bench_backlog.run(a.quick, a.backlog),
}


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")


def _verdict(met: bool | None) -> str:
    return {True: "[green]met[/]", False: "[red]NOT met[/]", None: "no target yet"}[met]


def table(results: list[Result]) -> Table:
    out = Table(title="returnbridge benchmarks")
    for column in ("benchmark", "figure", "value", "unit", "baseline", "baseline unit"):
        out.add_column(column, justify="right" if column in ("value", "baseline") else "left")
    out.add_column("target")
    out.add_column("met")
    for r in results:
        out.add_row(
            r.benchmark,
            r.name,
            _number(r.figure),
            r.unit,
            _number(r.baseline),
            r.baseline_unit or "-",
            r.target or "-",
            _verdict(r.met),
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(BENCHMARKS), action="append")
    parser.add_argument("--quick", action="store_true", help="small sizes, about a minute")
    parser.add_argument("--events", type=int, help="pipeline: events to ingest and process")
    parser.add_argument("--webhooks", type=int, help="webhooks: deliveries to post")
    parser.add_argument("--returns", type=int, help="spapi: returns in the demo day")
    parser.add_argument("--rows", type=int, help="csv: rows of the generated ZigZag export")
    parser.add_argument("--jobs", type=int, help="claim: jobs to enqueue and drain")
    parser.add_argument("--backlog", type=int, help="backlog: returns in the backlog to drain")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args()
    configure("WARNING")  # the service's default level: no line per accepted webhook
    console = Console()
    if not console.is_terminal:  # make, CI, a pipe: room for the table's columns
        console = Console(width=160)
    results: list[Result] = []
    timings: dict[str, float] = {}
    for name in args.only or list(BENCHMARKS):
        started = time.perf_counter()
        with console.status(f"running {name}"):
            results.extend(BENCHMARKS[name](args))
        timings[name] = round(time.perf_counter() - started, 1)
        console.print(f"{name}: done in {timings[name]}s")
    console.print(table(results))
    for r in results:
        if r.met is False:
            console.print(
                f"[red]not met[/]: {r.benchmark} {r.name}: {_number(r.figure)} {r.unit}"
                f" against {r.target}. {r.notes}".rstrip()
            )
    report = {
        "ran_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": machine(),
        "seconds": timings,
        "results": [r.as_dict() for r in results],
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    console.print(f"wrote {args.out.name} ({len(results)} figures)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
