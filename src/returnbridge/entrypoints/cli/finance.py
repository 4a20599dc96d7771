"""``credits list|ageing|match``: where every return line's credit stands (docs/finance.md)."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from returnbridge.domain.credits import AGE_BUCKETS, CreditRow, CreditState, ageing
from returnbridge.entrypoints.cli.common import DbOption, console, open_app
from returnbridge.services.finance import credit_report, open_over_returns
from returnbridge.store.finance import SqlFinanceStore
from returnbridge.store.sql import transaction

credits_app = typer.Typer(no_args_is_help=True, help="Returns credit owed to Amazon, line by line.")


def register(app: typer.Typer) -> None:
    app.add_typer(credits_app, name="credits")


def _money(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def _row_dict(row: CreditRow) -> dict[str, Any]:
    line = row.line
    return {
        "return": line.reference,
        "line_id": line.line_id,
        "sku": line.sku,
        "currency": line.currency,
        "state": row.state.value,
        "expected_units": line.expected_units,
        "credit_expected": line.expected,
        "credited": row.credited,
        "pending": row.pending,
        "disputed": row.disputed,
        "over_credited": row.over_credited,
        "pending_by_cause": {k.value: v for k, v in row.causes.items()},
        "credit_notes": list(row.documents),
        "payments": list(row.payments),
        "return_requests": list(row.requests),
        "quantity_approved": row.quantity_approved,
        "returned_at": line.returned_at.isoformat() if line.returned_at else None,
    }


@credits_app.command("list")
def credits_list(
    state: CreditState | None = typer.Option(None, "--state", help="Only lines in this state."),
    as_json: bool = typer.Option(False, "--json", help="JSON lines, amounts in minor units."),
    db: str | None = DbOption,
) -> None:
    """One row per return line that owes Amazon credit: expected, credited, pending, disputed."""
    with open_app(db) as rb, rb.engine.connect() as conn:
        rows = credit_report(SqlFinanceStore(conn))
    rows = [r for r in rows if state is None or r.state is state]
    if as_json:
        for row in rows:
            console.print_json(json.dumps(_row_dict(row)))
        return
    table = Table(title=f"credits ({len(rows)} lines)")
    for name in ("return", "line", "sku", "state", "expected", "credited", "pending", "disputed"):
        justify = "right" if name in ("expected", "credited", "pending", "disputed") else "left"
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_column("credit notes")
    for row in rows:
        table.add_row(
            row.line.reference,
            row.line.line_id,
            row.line.sku,
            row.state.value,
            f"{_money(row.line.expected)} {row.line.currency}",
            _money(row.credited),
            _money(row.pending),
            _money(row.disputed),
            ", ".join(row.documents),
        )
    console.print(table)


@credits_app.command("ageing")
def credits_ageing(
    as_json: bool = typer.Option(False, "--json", help="JSON, amounts in minor units."),
    db: str | None = DbOption,
) -> None:
    """Credit not cleared yet, by cause and age (days since the goods came back)."""
    with open_app(db) as rb, rb.engine.connect() as conn:
        rows = credit_report(SqlFinanceStore(conn))
        now = rb.clock()
    table_by_currency = ageing(rows, now)
    if as_json:
        console.print_json(json.dumps(table_by_currency))
        return
    for currency, causes in table_by_currency.items():
        table = Table(title=f"credit not cleared, {currency}, by age in days")
        table.add_column("cause")
        for name, _, _ in AGE_BUCKETS:
            table.add_column(name, justify="right")
        table.add_column("total", justify="right")
        for cause, buckets in causes.items():
            amounts = [buckets[name] for name, _, _ in AGE_BUCKETS]
            table.add_row(cause.replace("_", " "), *map(_money, amounts), _money(sum(amounts)))
        console.print(table)


@credits_app.command("match")
def credits_match(db: str | None = DbOption) -> None:
    """Compare received units with Amazon's return requests; open OVER_RETURN where more units
    came back than Amazon approved (once per line)."""
    with open_app(db) as rb, transaction(rb.engine) as store:
        opened = open_over_returns(SqlFinanceStore(store.conn), rb.clock())
    console.print(f"{opened} OVER_RETURN opened")
