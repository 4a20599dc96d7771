"""``report daily``: the daily handover for operations and finance, in plain sentences;
``report month-end``: the month-end close as an XLSX workbook and an offline HTML page.

The figures come from ``store/daily.py`` and ``store/monthend.py`` (which say which stored time
each figure is keyed on); the daily log is turned into Markdown here (or JSON for machines), the
month-end files are written by ``reports/monthend.py``.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import typer

from returnbridge.entrypoints.cli.common import DbOption, console, open_app
from returnbridge.reports.monthend import write_month_end
from returnbridge.store.daily import AMAZON_CODES, ROUTES, daily_figures
from returnbridge.store.monthend import MonthEndFigures

report_app = typer.Typer(no_args_is_help=True, help="Reports for operations and finance.")

SOURCES = {"zigzag": "ZigZag", "amazon": "Amazon", "manual": "people's decisions"}
OPERATIONS = {"inventory": "stock update", "credit_notes": "credit-note"}
STATUS_WORDS = {
    "exception": "held by an exception",
    "prepared": "prepared, not sent yet",
    "sent": "sent, not answered yet",
    "success": "confirmed by Amazon",
    "failure": "failed",
    "refused": "refused",
    "stuck": "stuck (never answered)",
}


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")


def link(code: str) -> str:
    """A code as a link to what to do about it (the runbook anchor is the code in lower case)."""
    return f"[{code}](operations.md#{code.lower()})"


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _words(key: str) -> str:
    return STATUS_WORDS.get(key, key.replace("_", " "))


def _money(minor: int, currency: str) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100:,}.{abs(minor) % 100:02d} {currency}"


def _listing(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {_words(key)}" for key, n in counts.items())


def _arrived(f: dict[str, Any]) -> list[str]:
    out = ["## What arrived", ""]
    if not f["events"]:
        return [*out, "No event arrived."]
    for source, s in f["by_source"].items():
        notes = [_n(s["duplicates"], "duplicate")]
        if s["unreadable"]:
            notes.append(f"{s['unreadable']} unreadable: see {link('INVALID_EVENT')}")
        name = SOURCES.get(source, source)
        out.append(f"- {_n(s['events'], 'event')} arrived from {name} ({', '.join(notes)}).")
    out += [
        "",
        "| source | event type | events | duplicates | unreadable |",
        "|---|---|--:|--:|--:|",
    ]
    for t in f["by_type"]:
        out.append(
            f"| {SOURCES.get(t['source'], t['source'])} | {t['event_type']} | {t['events']} "
            f"| {t['duplicates']} | {t['unreadable']} |"
        )
    return out


def _processed(f: dict[str, Any]) -> list[str]:
    out = ["## What was processed", ""]
    if not f["cases"] and not f["lines"]:
        return [*out, "No return was processed."]
    out.append(
        f"{_n(f['cases'], 'return')} changed; they now stand at: {_listing(f['cases_by_status'])}."
    )
    out.append("")
    out.append(
        f"{_n(f['lines'], 'return line')} changed; they now stand at: "
        f"{_listing(f['lines_by_status'])}."
    )
    units = f["units_by_route"]
    out.append("")
    if any(units.values()):
        routed = ", ".join(f"{units[r]} {_words(r)}" for r in ROUTES)
        out.append(f"Units on those lines went to: {routed}.")
    else:
        out.append("No unit on those lines was routed yet.")
    return out


def _amazon(f: dict[str, Any]) -> list[str]:
    out = ["## What synced with Amazon", ""]
    if f["cycles"]:
        open_ = f["cycles"] - f["cycles_closed"]
        out.append(
            f"{_n(f['cycles'], 'clearing cycle')} ran, the first started at "
            f"{f['first_cycle_at'][11:16]} UTC and the last at {f['last_cycle_at'][11:16]} UTC"
            + (f"; {open_} did not close." if open_ else ".")
        )
    else:
        out.append("No clearing cycle ran.")
    out.append("")
    if not f["submissions"]:
        return [*out, "No request to Amazon was prepared."]
    for operation, statuses in f["submissions"].items():
        kind = OPERATIONS.get(operation, operation)
        parts = [
            f"{_n(s['requests'], 'request')} ({_n(s['items'], 'item')}) {_words(status)}"
            for status, s in statuses.items()
        ]
        out.append(f"- {kind.capitalize()} requests: {'; '.join(parts)}.")
    return out


def _rejected(f: dict[str, Any]) -> list[str]:
    out = ["## What Amazon rejected", ""]
    if not f["by_code"]:
        *first, last = (link(c) for c in AMAZON_CODES)
        return [*out, f"Amazon rejected nothing: no {', '.join(first)} or {last} was opened."]
    for code, n in f["by_code"].items():
        out.append(f"- {_n(n, 'line')} opened {link(code)}.")
    out.append("")
    for item in f["items"]:
        out.append(
            f"- {item['code']} on return {item['return']} line {item['line_id']} "
            f"({item['status']}): {item['message']}"
        )
    if f["more"]:
        out.append(f"- ... and {f['more']} more: `returnbridge exceptions list --code CODE`.")
    return out


def _credits(f: dict[str, Any]) -> list[str]:
    out = ["## Pending credits not cleared", ""]
    out.append("As they stand now (the credit ledger keeps no history by day).")
    out.append("")
    if not f["credits_expected"]:
        return [*out, "No return owes Amazon credit."]
    for currency, expected in f["credits_expected"].items():
        pending = f["pending"].get(currency, 0)
        disputed = f["disputed"].get(currency, 0)
        out.append(
            f"- {currency}: {_money(expected, currency)} credit expected, "
            f"{_money(f['credited'].get(currency, 0), currency)} credited, "
            f"{_money(pending, currency)} pending, {_money(disputed, currency)} disputed."
        )
    out.append("")
    out.append(
        "The money invariants hold."
        if f["money_invariants_ok"]
        else "The money invariants do NOT hold: run `returnbridge reconcile --check` and see "
        "[CREDITS_ACCOUNTED](operations.md#credits_accounted)."
    )
    for currency, causes in f["ageing"].items():
        buckets = list(next(iter(causes.values())))
        out += ["", f"Not cleared in {currency}, by days since the goods came back:", ""]
        out.append("| cause | " + " | ".join(buckets) + " |")
        out.append("|---|" + "--:|" * len(buckets))
        for cause, amounts in causes.items():
            cells = " | ".join(_money(amounts[b], currency) for b in buckets)
            out.append(f"| {_words(cause)} | {cells} |")
    return out


def _open(f: dict[str, Any], as_of: str) -> list[str]:
    out = ["## Open exceptions", ""]
    if not f:
        return [*out, "No exception was open at the end of the day."]
    total = sum(e["open"] for e in f.values())
    counted_to = as_of[:16].replace("T", " ")
    out.append(
        f"{_n(total, 'exception')} open at the end of the day (ages counted to {counted_to} "
        "UTC); each code links to what to do."
    )
    out += ["", "| code | open | oldest since | oldest age |", "|---|--:|---|--:|"]
    for code, e in f.items():
        out.append(
            f"| {link(code)} | {e['open']} | {e['oldest_at'][:16].replace('T', ' ')} "
            f"| {_n(e['oldest_age_days'], 'day')} |"
        )
    return out


def render(figures: dict[str, Any]) -> str:
    """The daily log as Markdown."""
    opened = figures["exceptions_opened"]
    sections = [
        [f"# Daily log for {figures['date']} (UTC)"],
        _arrived(figures["arrived"]),
        _processed(figures["processed"]),
        _amazon(figures["amazon"]),
        _rejected(figures["amazon_rejected"]),
        _credits(figures["credits"]),
        _open(figures["open_exceptions"], figures["as_of"]),
    ]
    if opened:
        sections.insert(
            5,
            [
                "## Exceptions opened",
                "",
                f"{_n(sum(opened.values()), 'exception')} opened: "
                + ", ".join(f"{n} {link(code)}" for code, n in opened.items())
                + ".",
            ],
        )
    return "\n\n".join("\n".join(s).strip() for s in sections) + "\n"


@report_app.command("daily")
def daily(
    day: datetime = typer.Option(
        ..., "--date", formats=["%Y-%m-%d"], help="The UTC day to report, YYYY-MM-DD."
    ),
    out: Path | None = typer.Option(None, "--out", help="Write to FILE instead of the screen."),
    as_json: bool = typer.Option(
        False, "--json", help="The figures as JSON, money in minor units."
    ),
    db: str | None = DbOption,
) -> None:
    """What arrived, was processed, synced with and rejected by Amazon on one UTC day; credits
    not cleared; open exceptions with the oldest age."""
    with open_app(db) as rb, rb.engine.connect() as conn:
        figures = daily_figures(conn, date(day.year, day.month, day.day), as_of=datetime.now(UTC))
    text = json.dumps(figures, indent=2) + "\n" if as_json else render(figures)
    if out is None:
        console.print(text, markup=False, highlight=False, end="", soft_wrap=True)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"daily log for {figures['date']} written to {out}")


def month_end_headline(f: MonthEndFigures) -> list[str]:
    """The figures a person reads first, one sentence each (the command prints them)."""
    p = f.period
    lines = [
        f"Month {p.month}, closed at {p.close:%Y-%m-%d %H:%M} UTC"
        + ("" if p.ended else " (the month has not ended)")
        + "."
    ]
    if f.empty:
        lines.append(
            "Nothing was recorded for this month: no credit, journal, routed line "
            "or open exception."
        )
    for currency in f.currencies:
        c = f.credits
        lines.append(
            f"{currency}: {_money(c['credits_expected'].get(currency, 0), currency)} credit "
            f"expected = {_money(c['credited'].get(currency, 0), currency)} credited + "
            f"{_money(c['pending'].get(currency, 0), currency)} pending + "
            f"{_money(c['disputed'].get(currency, 0), currency)} disputed; "
            f"{_money(c['over_credited'].get(currency, 0), currency)} over-credited; "
            f"{f.journal_entries.get(currency, 0)} journal entries posted."
        )
    if f.credit_rows:
        states = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in f.lines_by_state.items())
        lines.append(f"Credit lines: {states}.")
    lines.append(
        "The money invariants hold."
        if f.money_invariants_ok
        else f"The money invariants do NOT hold ({len(f.money_breaches)} breaches): run "
        "`returnbridge reconcile --check`."
    )
    by_code = ", ".join(f"{code} {n}" for code, n in f.open_by_code().items())
    lines.append(
        f"{len(f.open_exceptions)} exceptions open at close" + (f": {by_code}." if by_code else ".")
    )
    return lines


@report_app.command("month-end")
def month_end(
    month: datetime = typer.Option(
        ..., "--month", formats=["%Y-%m"], help="The UTC month to close, YYYY-MM."
    ),
    out: Path = typer.Option(..., "--out", help="The folder to write the two files into."),
    db: str | None = DbOption,
) -> None:
    """The month-end close: a summary, credit lines by state, GL account totals, aged pending
    credits and exceptions open at close, as month-end-YYYY-MM.xlsx and .html in OUT."""
    with open_app(db) as rb:
        try:
            files = write_month_end(rb, month.date(), out, datetime.now(UTC))
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--month") from exc
    console.print(f"month-end close written to {files.xlsx} and {files.html}", soft_wrap=True)
    for line in month_end_headline(files.figures):
        console.print(line, markup=False, soft_wrap=True)
