"""Read the brand's GL export (the audit's optional ``--ledger`` file), refusing it whole on any
error, with messages that name the file, the row and the field.

Columns (header row required, order free, names without case): ``journal_id``, ``posted_on``
(a date, or a date-time read in UTC), ``account``, ``debit``, ``credit`` (amounts from 0 with at
most two decimals; empty means 0), ``currency`` (ISO code) are required; ``reference`` and
``description`` (free text, where the return is named) are optional. An unknown column is
refused. See docs/audit.md.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from returnbridge.domain.audit_gaps import LedgerLine
from returnbridge.domain.errors import MasterDataError
from returnbridge.domain.money import parse_minor_units
from returnbridge.masterdata.csv_file import checked_header, read_text

REQUIRED = ("journal_id", "posted_on", "account", "debit", "credit", "currency")
KNOWN = (*REQUIRED, "reference", "description")
MAX_ERRORS = 20
MAX_FIELD = 1_000


class LedgerFileError(MasterDataError):
    """The GL export cannot be used as it is; nothing of it is read."""

    code = "ledger.invalid"


def _date(text: str) -> date:
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (2026-11-02) or a date-time") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).date()


def _amount(text: str) -> int:
    if not text:
        return 0
    value = parse_minor_units(text)
    if value < 0:
        raise ValueError(f"{text!r} is negative: write it on the other side")
    return value


def read_ledger(path: Path) -> list[LedgerLine]:
    """Every line of the file, or a ``LedgerFileError`` listing the first bad cells found."""
    text = read_text(path, LedgerFileError)
    try:
        return _lines(path, csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise LedgerFileError(f"{path.name}: not readable as CSV: {exc}") from exc


def _lines(path: Path, reader: Any) -> list[LedgerLine]:
    try:
        first = next(reader)
    except StopIteration:
        raise LedgerFileError(f"{path.name}: the file is empty") from None
    header = checked_header(path, first, REQUIRED, KNOWN, LedgerFileError)
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise LedgerFileError(f"{path.name}: column(s) {', '.join(repeated)} repeated")
    lines: list[LedgerLine] = []
    errors: list[str] = []
    for cells in reader:
        number = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            errors.append(f"{path.name} row {number}: has {len(cells)} cells for {len(header)}")
            continue
        row = {h: c.strip() for h, c in zip(header, cells, strict=True)}
        bad: list[str] = []
        for name, value in row.items():
            if len(value) > MAX_FIELD:
                bad.append(f"field '{name}': is {len(value)} characters (limit {MAX_FIELD})")
        for name in ("journal_id", "account"):
            if not row[name]:
                bad.append(f"field '{name}': is empty")
        amounts: dict[str, int] = {}
        for name in ("debit", "credit"):
            try:
                amounts[name] = _amount(row[name])
            except ValueError as exc:
                bad.append(f"field '{name}': {exc}")
        try:
            posted = _date(row["posted_on"])
        except ValueError as exc:
            bad.append(f"field 'posted_on': {exc}")
        currency = row["currency"].upper()
        if len(currency) != 3 or not currency.isalpha():
            bad.append(f"field 'currency': {row['currency']!r} is not a 3-letter ISO code")
        if bad:
            errors += [f"{path.name} row {number}, {b}" for b in bad]
            if len(errors) >= MAX_ERRORS:
                break
            continue
        lines.append(
            LedgerLine(
                row=number,
                journal_id=row["journal_id"],
                posted_on=posted,
                account=row["account"],
                debit=amounts["debit"],
                credit=amounts["credit"],
                currency=currency,
                reference=row.get("reference", ""),
                description=row.get("description", ""),
            )
        )
    if errors:
        raise LedgerFileError("; ".join(errors[:MAX_ERRORS]))
    return lines
