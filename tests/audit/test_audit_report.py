"""The report's three files carry the same figures: each gap sheet of audit.xlsx (opened with
openpyxl) has as many rows, and totals, as audit.json counts, and audit.html shows them. Without
a ledger, gap 4 is said to be not assessed, never nil."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from audit_support import Audited, sheet
from openpyxl import load_workbook
from sqlalchemy import create_engine

from returnbridge.domain.audit_gaps import Journalled
from returnbridge.masterdata.mappings_toml import DEFAULT_MAPPINGS, read_mappings
from returnbridge.reports.audit import audit_tables, write_audit
from returnbridge.reports.html import money
from returnbridge.services.audit import AuditSettings, run_audit
from returnbridge.store.audit import SqlAuditFacts

GAP_SHEETS = (
    "1 No credit",
    "2 Credit no return",
    "3 Stranded stock",
    "4 Write-downs",
    "5 Unmapped codes",
    "6 RFS no receipt",
    "7 Receipt to credit",
)


def total(out: Path, name: str, header: str) -> int:
    """A totals row's cell, in minor units for money."""
    workbook = load_workbook(out / "audit.xlsx", read_only=True)
    try:
        rows = list(workbook[name].iter_rows(values_only=True))
    finally:
        workbook.close()
    last = dict(zip(rows[0], rows[-1], strict=True))
    assert rows[-1][0] == "Total"
    value = last[header]
    return round(value * 100) if isinstance(value, float) else int(value)


def test_every_gap_sheet_has_the_rows_and_totals_audit_json_counts(audited: Audited) -> None:
    g, out = audited.figures["gaps"], audited.out
    workbook = load_workbook(out / "audit.xlsx", read_only=True)
    names = workbook.sheetnames
    workbook.close()
    assert names[: len(GAP_SHEETS) + 1] == ["Summary", *GAP_SHEETS]
    no_credit = sheet(out, "1 No credit")
    assert len({r["return"] for r in no_credit}) == g["no_credit"]["returns"]
    assert len(no_credit) == g["no_credit"]["lines"]
    assert total(out, "1 No credit", "credit owed") == g["no_credit"]["amount"]["GBP"]
    assert len(sheet(out, "2 Credit no return")) == g["credit_without_return"]["credit_notes"]
    amount = g["credit_without_return"]["amount"]["GBP"]
    assert total(out, "2 Credit no return", "credit") == amount
    assert len(sheet(out, "3 Stranded stock")) == g["stranded_stock"]["lines"]
    assert total(out, "3 Stranded stock", "units") == g["stranded_stock"]["units"]
    assert total(out, "3 Stranded stock", "value") == g["stranded_stock"]["value"]["GBP"]
    gap4 = g["write_downs_not_journalled"]
    assert len(sheet(out, "4 Write-downs")) == gap4["write_downs"]
    assert total(out, "4 Write-downs", "write-down") == gap4["amount"]["GBP"]
    assert len(sheet(out, "5 Unmapped codes")) == g["unmapped_codes"]["codes"]
    assert total(out, "5 Unmapped codes", "lines") == g["unmapped_codes"]["lines"]
    assert total(out, "5 Unmapped codes", "units") == g["unmapped_codes"]["units"]
    assert len(sheet(out, "6 RFS no receipt")) == g["rfs_without_receipt"]["refunds"]
    assert total(out, "6 RFS no receipt", "refunded") == g["rfs_without_receipt"]["amount"]["GBP"]
    assert len(sheet(out, "7 Receipt to credit")) == g["receipt_to_credit_days"]["returns"]
    assert len(sheet(out, "Unreadable rows")) == audited.figures["also"]["unreadable_rows"]


def test_the_summary_sheet_states_each_figure_of_audit_json(audited: Audited) -> None:
    g = audited.figures["gaps"]
    rows = {r["gap"]: r for r in sheet(audited.out, "Summary")}
    assert rows["1 Returns with no credit"]["count"] == g["no_credit"]["returns"]
    assert rows["2 Credits with no physical return"]["count"] == 10
    assert rows["3 Sellable units never made sellable again"]["units"] == 8
    assert rows["4 Write-downs never journalled"]["count"] == 4
    assert rows["5 Unmapped SKUs and codes"]["lines"] == g["unmapped_codes"]["lines"]
    assert rows["6 Refunds at first scan with no receipt"]["count"] == 6
    days = rows["7 Days from receipt to credit"]
    assert (days["count"], days["median days"], days["p90 days"]) == (165, 16.0, 23.6)
    assert all(r["rule"] for r in rows.values())


def test_the_page_shows_the_same_figures_and_fetches_nothing(audited: Audited) -> None:
    page = (audited.out / "audit.html").read_text(encoding="utf-8")
    g = audited.figures["gaps"]
    assert f"4 returns · {money(g['no_credit']['amount']['GBP'], 'GBP')}" in page
    assert f"10 notes · {money(g['credit_without_return']['amount']['GBP'], 'GBP')}" in page
    assert f"8 units · {money(g['stranded_stock']['value']['GBP'], 'GBP')}" in page
    assert (
        f"4 write-downs · {money(g['write_downs_not_journalled']['amount']['GBP'], 'GBP')}" in page
    )
    assert "6 codes · 13 lines" in page
    assert f"6 refunds · {money(g['rfs_without_receipt']['amount']['GBP'], 'GBP')}" in page
    assert "median 16.0 · p90 23.6 days" in page
    for name in ("1 No credit", "5 Unmapped codes", "Credit notes"):
        assert f'data-sheet="{name}"' in page
    for code in ("ZZ-60181-UNK", "HOLD"):
        assert code in page
    assert "https://" not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_without_a_ledger_gap_4_is_not_assessed_never_nil(audited: Audited, tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{audited.out / 'audit.db'}")  # kept by --keep-db
    settings = AuditSettings(date(2026, 10, 12))
    try:
        with engine.connect() as conn:
            result = run_audit(SqlAuditFacts(conn), read_mappings(DEFAULT_MAPPINGS), None, settings)
    finally:
        engine.dispose()
    gap = result.figures()["gaps"]["write_downs_not_journalled"]
    assert gap["assessed"] is False
    assert gap["write_downs"] is None and gap["amount"] is None
    assert gap["write_downs_in_files"] == len(result.write_downs) > 0
    assert {w.standing for w in result.write_downs} == {Journalled.NOT_ASSESSED}
    files = write_audit(result, tmp_path)
    listed = sheet(tmp_path, "4 Write-downs")
    assert len(listed) == gap["write_downs_in_files"]
    assert {r["standing"] for r in listed} == {"not assessed (no ledger given)"}
    assert "not assessed" in files.html.read_text(encoding="utf-8")
    assert audit_tables(result)[4].name == "4 Write-downs"
