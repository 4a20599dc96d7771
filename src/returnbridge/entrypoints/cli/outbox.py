"""``outbox list``: the messages Amazon and the ERP are to receive, as written."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from returnbridge.entrypoints.cli.common import DbOption, console, open_app
from returnbridge.store.readmodels import outbox_messages

outbox_app = typer.Typer(no_args_is_help=True, help="Messages for Amazon and the ERP.")


def register(app: typer.Typer) -> None:
    app.add_typer(outbox_app, name="outbox")


@outbox_app.command("list")
def list_messages(
    topic: str | None = typer.Option(
        None, help="amazon.inventory, amazon.credit_note, erp.journal or erp.stock."
    ),
    status: str | None = typer.Option("pending", help="pending, sent, or all."),
    limit: int = typer.Option(50, min=1, max=100_000),
    as_json: bool = typer.Option(False, "--json", help="JSON lines with full payloads."),
    db: str | None = DbOption,
) -> None:
    """List outbox messages, oldest first."""
    with open_app(db) as rb, rb.engine.connect() as conn:
        messages = outbox_messages(conn, topic, None if status == "all" else status, limit)
    if as_json:
        for message in messages:
            typer.echo(json.dumps(message, sort_keys=True))
        return
    table = Table(title=f"{len(messages)} outbox message(s)")
    for column in ("id", "topic", "key", "status", "what"):
        table.add_column(column, overflow="fold")
    for m in messages:
        p = m["payload"]
        if m["topic"] == "amazon.inventory":
            what = f"{p['delta']:+d} x {p['sku']} at {p['warehouse']}"
        else:
            debit = sum(x["debit"] for x in p["postings"])
            what = f"{p['kind']} {debit / 100:.2f} {p['currency']}: {p['memo']}"
        table.add_row(str(m["id"]), m["topic"], m["key"], m["status"], what)
    console.print(table)
