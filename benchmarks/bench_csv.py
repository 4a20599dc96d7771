"""Streamed CSV import (``returnbridge import zigzag FILE``): rows/s and peak memory.

The export is written to a temporary folder, row by row (never held in memory): a seeded
generated ZigZag day (5,000 returns, seed 7) in the export's own format
(``sandboxes.zigzag.transports.export_table``: duplicates, rows out of order and bad rows
included), repeated with new event, return, order, RMA and charge ids until it has N rows. The
same pass writes its first N/10 rows to a second, smaller file. Then, each in a fresh
interpreter (so its peak RSS is its own):

- the figure: the file imported into a fresh SQLite file by the command's own function
  (``import_zigzag_file``: ``read_export`` streamed into ``ingest_stream``), in rows/s. The
  baseline is the reader alone (``read_export``, nothing stored) over the small file: its rate
  does not depend on the file's length, and the full file would add a minute to the run.
  Afterwards each inbox must hold exactly its file's distinct events (counted while writing);
- the importing interpreter's peak RSS, beside the peak RSS of importing the small file: a
  streamed import's memory does not grow with the file.

Targets: the inbox holds each distinct event of the file once; peak RSS under 300 MiB and
within 25% of the small file's. No rows/s target yet. Default N is 1,000,000 (20,000 quick).
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from harness import Result, peak_rss_mib, run_child

NAME = "csv"
TEMPLATE_RETURNS = 5_000
SEED = 7
TARGET_RSS_MIB = 300
FLAT_RSS = 1.25  # peak RSS over the full file / over a tenth of it, at most
# The columns that name an event, a return, an order, an RMA, a charge: new in every repeat.
RENAMED = ("event_id", "order_number", "return_id", "rma_id", "charge_id")


def write_exports(big: Path, small: Path, rows: int, small_rows: int) -> tuple[int, int]:
    """Write a ``rows``-row export to ``big`` and its first ``small_rows`` rows to ``small``.

    Returns the distinct events of each file: an event's rows share its id, a duplicate carries
    the same id again and every bad row has an id of its own, so the count is the distinct ids.
    Only one repeat's ids are held at a time (the ids are new in every repeat).
    """
    from returnbridge.sandboxes.zigzag.generator import generate_day
    from returnbridge.sandboxes.zigzag.transports import export_table

    header, *template = export_table(generate_day(TEMPLATE_RETURNS, SEED))
    renamed = [header.index(column) for column in RENAMED]
    distinct = small_distinct = written = 0
    with (
        big.open("w", newline="", encoding="utf-8") as big_file,
        small.open("w", newline="", encoding="utf-8") as small_file,
    ):
        big_writer, small_writer = csv.writer(big_file), csv.writer(small_file)
        big_writer.writerow(header)
        small_writer.writerow(header)
        repeat = 0
        while written < rows:
            ids: set[str] = set()
            for row in template[: rows - written]:
                cells = list(row)
                for at in renamed:
                    if at < len(cells) and cells[at]:
                        cells[at] = f"{cells[at]}-R{repeat}"
                ids.add(cells[0])
                big_writer.writerow(cells)
                written += 1
                if written <= small_rows:
                    small_writer.writerow(cells)
                    if written == small_rows:
                        small_distinct = distinct + len(ids)
            distinct += len(ids)
            repeat += 1
    return distinct, small_distinct


def run(quick: bool, rows: int | None = None) -> list[Result]:
    rows = rows or (20_000 if quick else 1_000_000)
    small_rows = max(1, rows // 10)
    with tempfile.TemporaryDirectory(prefix="rb-bench-csv-") as tmp:
        folder = Path(tmp)
        big, small = folder / "export.csv", folder / "export-tenth.csv"
        started = time.perf_counter()
        expected, small_expected = write_exports(big, small, rows, small_rows)
        write_seconds = time.perf_counter() - started
        size_mib = big.stat().st_size / 2**20
        read = run_child("bench_csv", ["read", str(small)])
        full = run_child("bench_csv", ["import", str(big), str(folder / "full.db")])
        tenth = run_child("bench_csv", ["import", str(small), str(folder / "tenth.db")])
    once = full["inbox_rows"] == expected and tenth["inbox_rows"] == small_expected
    rate, read_rate = rows / full["seconds"], small_rows / read["seconds"]
    params = {
        "rows": rows,
        "file_mib": round(size_mib, 1),
        "distinct_events": expected,
        "inbox_rows": full["inbox_rows"],
        "accepted": full["accepted"],
        "duplicates": full["duplicates"],
        "invalid": full["invalid"],
        "import_seconds": round(full["seconds"], 1),
        "read_seconds": round(read["seconds"], 1),
        "read_rows": small_rows,
        "small_file_import_rows_per_s": round(small_rows / tenth["seconds"], 1),
        "import_cpu_seconds": round(full["cpu_seconds"], 1),
        "write_seconds": round(write_seconds, 1),
        "import_batch_size": full["batch_size"],
        "database": "sqlite (file, WAL)",
        "baseline": "read_export alone over the first tenth of the rows, nothing stored",
    }
    rss, small_rss = full["peak_rss_mib"], tenth["peak_rss_mib"]
    memory = {
        **params,
        "tenth_rows": small_rows,
        "tenth_inbox_rows": tenth["inbox_rows"],
        "tenth_distinct_events": small_expected,
        "start_rss_mib": round(full["start_rss_mib"], 1),
        "reader_peak_rss_mib": round(read["peak_rss_mib"], 1),
    }
    flat = rss < TARGET_RSS_MIB and rss <= small_rss * FLAT_RSS
    return [
        Result(
            NAME,
            "CSV import",
            round(rate, 1),
            "rows/s",
            round(read_rate, 1),
            f"rows/s (reader alone, first {small_rows:,} rows)",
            "every distinct event of the file in the inbox once",
            once,
            params,
            notes=f"{rows:,} rows imported in {full['seconds']:.1f} s",
        ),
        Result(
            NAME,
            "CSV import peak memory",
            round(rss, 1),
            "MiB",
            round(small_rss, 1),
            f"MiB (importing the first {small_rows:,} rows)",
            f"< {TARGET_RSS_MIB} MiB and <= {FLAT_RSS:g}x the baseline",
            flat,
            memory,
        ),
    ]


def child_read(file: Path) -> None:
    from returnbridge.connectors.zigzag.csv_export import read_export

    started = time.perf_counter()
    records = sum(1 for _ in read_export(file))
    seconds = time.perf_counter() - started
    print(json.dumps({"records": records, "seconds": seconds, "peak_rss_mib": peak_rss_mib()}))


def child_import(file: Path, db: Path) -> None:
    from sqlalchemy import func, select

    from returnbridge.bootstrap import bootstrap
    from returnbridge.config import Settings
    from returnbridge.entrypoints.cli.pipeline import import_zigzag_file
    from returnbridge.store.migrate import upgrade
    from returnbridge.store.tables import inbox

    rb = bootstrap(Settings(database_url=f"sqlite:///{db}"))
    upgrade(rb.engine)
    start_rss = peak_rss_mib()
    started = time.perf_counter()
    result = import_zigzag_file(rb, file)  # what `returnbridge import zigzag FILE` runs
    seconds = time.perf_counter() - started
    peak = peak_rss_mib()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with rb.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(inbox)).scalar_one()
    rb.close()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "accepted": result.accepted,
                "duplicates": result.duplicates,
                "invalid": result.invalid,
                "inbox_rows": stored,
                "batch_size": rb.settings.import_batch_size,
                "start_rss_mib": start_rss,
                "peak_rss_mib": peak,
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", action="store_true")
    parser.add_argument("mode", choices=("read", "import"))
    parser.add_argument("file", type=Path)
    parser.add_argument("db", type=Path, nargs="?")
    args = parser.parse_args()
    if not args.child:
        sys.exit("run through benchmarks/run.py")
    if args.mode == "read":
        child_read(args.file)
    else:
        child_import(args.file, args.db)
