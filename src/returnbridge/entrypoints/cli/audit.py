"""``audit``: the pre-go-live audit of historical exports (docs/audit.md).

Runs the production engine over the files, with no partner API, into a throw-away SQLite
database: the catalog and mappings are loaded as ``catalog load`` and ``mappings load`` do, the
exports imported as ``import zigzag`` and ``import amazon`` do, the inbox drained as ``process``
does and the RFS sweep run, on a clock stopped at the end of the as-of day. Then the gaps are
read from what the engine made of them and written as ``audit.html``, ``audit.xlsx`` and
``audit.json``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path

import typer

from returnbridge.bootstrap import bootstrap
from returnbridge.config import Settings
from returnbridge.connectors.amazon.vendor_exports import ExportKind
from returnbridge.domain.audit_gaps import LedgerLine
from returnbridge.entrypoints.cli.amazon_imports import import_amazon_file
from returnbridge.entrypoints.cli.common import console
from returnbridge.entrypoints.cli.pipeline import drain_inbox, import_zigzag_file
from returnbridge.entrypoints.cli.rfs import sweep
from returnbridge.masterdata.ledger_csv import read_ledger
from returnbridge.masterdata.mappings_toml import DEFAULT_MAPPINGS
from returnbridge.observability.logging import configure
from returnbridge.reports.audit import AuditFiles, InputFile, write_audit
from returnbridge.reports.html import money
from returnbridge.services.audit import AuditResult, AuditSettings, as_of_date, run_audit
from returnbridge.store.audit import SqlAuditFacts, latest_fact_time
from returnbridge.store.migrate import upgrade

DB_NAME = "audit.db"


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)


@dataclass(frozen=True)
class AuditInputs:
    zigzag: Path
    return_requests: Path
    refunds: Path
    remittance: Path
    catalog: Path
    mappings: Path = DEFAULT_MAPPINGS
    ledger: Path | None = None


def _file(flag: str, what: str) -> Path:
    return typer.Option(..., flag, exists=True, dir_okay=False, readable=True, help=what)  # type: ignore[no-any-return]


def run_audit_files(
    inputs: AuditInputs,
    out: Path,
    *,
    as_of: datetime | None = None,
    window_days: int = 30,
    rfs_window_days: int | None = None,
    keep_db: bool = False,
) -> tuple[AuditResult, AuditFiles]:
    """The audit end to end; the database is deleted afterwards unless ``keep_db`` (then it is
    ``out/audit.db``)."""
    ledger: list[LedgerLine] | None = read_ledger(inputs.ledger) if inputs.ledger else None
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="returnbridge-audit-"))
    db_file = out / DB_NAME if keep_db else work / DB_NAME
    for suffix in ("", "-wal", "-shm"):
        db_file.with_name(db_file.name + suffix).unlink(missing_ok=True)
    settings = Settings()
    settings = settings.model_copy(
        update={
            "database_url": f"sqlite:///{db_file}",
            "rfs_window_days": rfs_window_days or settings.rfs_window_days,
        }
    )
    configure(settings.log_level, settings.log_format)
    now = [datetime.now(UTC)]  # imports are stamped when they happen; processing at the as-of
    rb = bootstrap(settings, clock=lambda: now[0])
    try:
        upgrade(rb.engine)
        items = rb.load_catalog(inputs.catalog)
        mappings = rb.load_mappings(inputs.mappings)
        zigzag = import_zigzag_file(rb, inputs.zigzag)
        read: list[InputFile] = [
            InputFile("catalog master", inputs.catalog.name, len(items)),
            InputFile(
                "mappings (codes)",
                inputs.mappings.name,
                len(mappings.reasons)
                + len(mappings.grade_routes)
                + len(mappings.dispositions)
                + len(mappings.charges),
            ),
            InputFile(
                "ZigZag CSV export",
                inputs.zigzag.name,
                zigzag.accepted,
                zigzag.duplicates,
                zigzag.invalid,
            ),
        ]
        for kind, path in (
            (ExportKind.RETURN_REQUESTS, inputs.return_requests),
            (ExportKind.REFUNDS, inputs.refunds),
            (ExportKind.REMITTANCE, inputs.remittance),
        ):
            got = import_amazon_file(rb, path, kind)
            bad = got.unreadable + got.conflicts
            read.append(
                InputFile(f"Amazon {kind.value}", path.name, got.accepted, got.duplicates, bad)
            )
        if inputs.ledger and ledger is not None:
            read.append(InputFile("GL export (ledger)", inputs.ledger.name, len(ledger)))
        with rb.engine.connect() as conn:
            latest = latest_fact_time(conn)
        if ledger:
            last = max(x.posted_on for x in ledger)
            at = datetime.combine(last, time(), tzinfo=UTC)
            latest = at if latest is None else max(latest, at)
        day = as_of_date(as_of.date() if as_of else None, latest)
        audit_settings = AuditSettings(day, window_days, settings.rfs_window_days)
        now[0] = audit_settings.moment
        drain_inbox(rb, label="running the engine over the history")
        sweep(rb)
        with rb.engine.connect() as conn:
            result = run_audit(SqlAuditFacts(conn), mappings, ledger, audit_settings)
        files = write_audit(result, out, read)
    finally:
        rb.close()
        shutil.rmtree(work, ignore_errors=True)
    return result, files


def _amounts(amounts: dict[str, int] | None) -> str:
    return ", ".join(money(v, c) for c, v in sorted((amounts or {}).items())) or "0.00"


def print_summary(result: AuditResult, files: AuditFiles, kept: Path | None) -> None:
    f = result.figures()
    g = f["gaps"]
    w = g["write_downs_not_journalled"]
    unmapped = g["unmapped_codes"]
    days = g["receipt_to_credit_days"]
    top = result.unmapped[0] if result.unmapped else None
    lines: Sequence[tuple[str, str]] = [
        (
            "1 returns with no credit",
            f"{g['no_credit']['returns']} returns, {g['no_credit']['lines']} lines, "
            f"{_amounts(g['no_credit']['amount'])}",
        ),
        (
            "2 credits with no physical return",
            f"{g['credit_without_return']['credit_notes']} credit notes, "
            f"{_amounts(g['credit_without_return']['amount'])}",
        ),
        (
            "3 sellable units stranded",
            f"{g['stranded_stock']['lines']} lines, {g['stranded_stock']['units']} units, "
            f"{_amounts(g['stranded_stock']['value'])}",
        ),
        (
            "4 write-downs never journalled",
            f"{w['write_downs']} write-downs, {_amounts(w['amount'])}"
            if w["assessed"]
            else f"not assessed: no --ledger given ({w['write_downs_in_files']} write-downs "
            f"in the files, {_amounts(w['amount_in_files'])})",
        ),
        (
            "5 unmapped codes",
            f"{unmapped['codes']} codes on {unmapped['lines']} lines, {unmapped['units']} units"
            + (f" (most: {top.kind.value} {top.code}, {top.lines} lines)" if top else ""),
        ),
        (
            "6 RFS refunds with no receipt",
            f"{g['rfs_without_receipt']['refunds']} refunds, "
            f"{_amounts(g['rfs_without_receipt']['amount'])}",
        ),
        (
            "7 receipt to credit",
            f"median {days['median']} days, p90 {days['p90']} days "
            f"({days['returns']} returns credited)",
        ),
    ]
    console.print(
        f"audit as of {f['as_of']} (windows: {f['window_days']} days, RFS "
        f"{f['rfs_window_days']} days)"
    )
    for label, text in lines:
        console.print(f"  {label:<36} {text}", markup=False, soft_wrap=True)
    if f["also"]["unreadable_rows"]:
        console.print(
            f"  [yellow]{f['also']['unreadable_rows']} unreadable row(s) left out[/]: "
            "see the 'Unreadable rows' sheet"
        )
    console.print(f"wrote {files.html}, {files.xlsx}, {files.json}", markup=False, soft_wrap=True)
    if kept is not None:
        console.print(f"kept the database: sqlite:///{kept}", markup=False, soft_wrap=True)


def audit(
    zigzag: Path = _file("--zigzag", "ZigZag CSV export (docs/zigzag-events.md)."),
    amazon_returns: Path = _file("--amazon-returns", "Vendor Central return requests export."),
    amazon_refunds: Path = _file("--amazon-refunds", "Vendor Central refunds export."),
    remittance: Path = _file("--remittance", "Vendor Central remittance export."),
    catalog: Path = _file("--catalog", "Catalog master CSV (docs/master-data.md)."),
    out: Path = typer.Option(..., "--out", file_okay=False, help="Folder for the report."),
    mappings: Path = typer.Option(
        DEFAULT_MAPPINGS,
        "--mappings",
        exists=True,
        dir_okay=False,
        show_default=False,
        help="Mappings TOML file (default: the shipped one).",
    ),
    ledger: Path | None = typer.Option(
        None,
        "--ledger",
        exists=True,
        dir_okay=False,
        help="The brand's GL export (docs/audit.md); without it, write-downs are not checked.",
    ),
    as_of: datetime | None = typer.Option(
        None,
        "--as-of",
        formats=["%Y-%m-%d"],
        help="Measure the windows to the end of this day (default: the latest date in the files).",
    ),
    window_days: int = typer.Option(
        30, min=1, max=365, help="Days after receipt a credit, a restock or a write-down may take."
    ),
    rfs_window_days: int | None = typer.Option(
        None,
        min=1,
        max=365,
        help="Days after a refund at first scan for the goods to arrive (default: "
        "RETURNBRIDGE_RFS_WINDOW_DAYS, 14).",
    ),
    keep_db: bool = typer.Option(False, "--keep-db", help="Keep the database as OUT/audit.db."),
) -> None:
    """Find the gaps a manual returns process left in historical exports, with returnbridge's
    own engine and no partner API, and write OUT/audit.html, audit.xlsx and audit.json."""
    inputs = AuditInputs(
        zigzag, amazon_returns, amazon_refunds, remittance, catalog, mappings, ledger
    )
    result, files = run_audit_files(
        inputs,
        out,
        as_of=as_of,
        window_days=window_days,
        rfs_window_days=rfs_window_days,
        keep_db=keep_db,
    )
    print_summary(result, files, out / DB_NAME if keep_db else None)
