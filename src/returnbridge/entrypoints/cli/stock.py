"""``warehouses load|show`` (the warehouse map and stock authority) and ``import stock`` (a
WMS/ERP stock snapshot); see docs/stock.md."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import func, select

from returnbridge.entrypoints.cli.common import DbOption, console, open_app
from returnbridge.entrypoints.cli.pipeline import import_app
from returnbridge.masterdata.warehouses_toml import authority_notes
from returnbridge.store.tables import stock_snapshots

warehouses_app = typer.Typer(
    help="The warehouse map: each ZigZag DC's Amazon warehouse, and who tells Amazon its stock.",
    no_args_is_help=True,
)


accounts_app = typer.Typer(
    help="The Amazon Vendor Central accounts: one per marketplace, each with its vendor code, "
    "currency, warehouses and credit-note series.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(warehouses_app, name="warehouses")
    app.add_typer(accounts_app, name="accounts")
    import_app.command("stock")(import_stock)


@accounts_app.command("load")
def accounts_load(
    file: Path = typer.Argument(..., help="Accounts TOML file."), db: str | None = DbOption
) -> None:
    """Replace the accounts with FILE (validated first; nothing changes on error). Secrets are
    not in the file: each account names the environment variables that hold them."""
    with open_app(db) as rb:
        accounts = rb.load_accounts(file)
        warehouses = rb.warehouse_map()
    console.print(f"accounts loaded from {file.name}: {len(accounts.accounts)} account(s)")
    for name, a in sorted(accounts.accounts.items()):
        console.print(
            f"  {name}: vendor code {a.selling_party}, marketplace {a.marketplace} "
            f"({a.region.value}), {a.currency}, credit notes {a.credit_note_series}-000001..., "
            f"warehouses {', '.join(a.warehouses) or 'none'}",
            soft_wrap=True,
        )
    orphans = sorted(w for w in set(warehouses.dcs.values()) if accounts.owner_of(w) is None)
    if orphans:
        console.print(
            f"  [yellow]no account owns {', '.join(orphans)}[/] (mapped from a DC in the "
            "warehouses file): their returns open UNMAPPED_ACCOUNT",
            soft_wrap=True,
        )


@accounts_app.command("show")
def accounts_show(db: str | None = DbOption) -> None:
    """The accounts in force, and each ZigZag DC's (account, Amazon warehouse)."""
    with open_app(db) as rb:
        accounts = rb.accounts()
        warehouses = rb.warehouse_map()
    if not accounts.accounts:
        console.print("no accounts file loaded (returnbridge accounts load FILE)")
        return
    table = Table(title="Amazon vendor accounts")
    for column in ("account", "vendor code", "marketplace", "currency", "series", "DCs"):
        table.add_column(column)
    for name, a in sorted(accounts.accounts.items()):
        routes = [f"{dc} -> {w}" for dc, w in sorted(warehouses.dcs.items()) if w in a.warehouses]
        table.add_row(
            name, a.selling_party, a.marketplace, a.currency, a.credit_note_series,
            ", ".join(routes) or "-",
        )  # fmt: skip
    console.print(table)


@warehouses_app.command("load")
def warehouses_load(
    file: Path = typer.Argument(..., help="Warehouses TOML file."), db: str | None = DbOption
) -> None:
    """Replace the warehouse map with FILE (validated first; nothing changes on error)."""
    with open_app(db) as rb:
        warehouses = rb.load_warehouses(file)
    console.print(
        f"warehouses loaded from {file.name}: {len(warehouses.dcs)} DCs mapped to "
        f"{len(warehouses.warehouses)} Amazon warehouses"
    )
    for note in authority_notes(warehouses):
        console.print(f"  {escape(note)}", soft_wrap=True)


@warehouses_app.command("show")
def warehouses_show(db: str | None = DbOption) -> None:
    """The map in force, each warehouse's authority and its snapshots."""
    with open_app(db) as rb:
        warehouses = rb.warehouse_map()
        s = stock_snapshots.c
        with rb.engine.connect() as conn:
            held = {
                r.warehouse: (r.n, r.oldest)
                for r in conn.execute(
                    select(
                        s.warehouse, func.count().label("n"), func.min(s.as_of).label("oldest")
                    ).group_by(s.warehouse)
                )
            }
    if not warehouses.warehouses:
        console.print(
            "no warehouse map loaded: no stock is sent to Amazon, and every DC's restocks open "
            "UNMAPPED_WAREHOUSE (returnbridge warehouses load FILE)"
        )
        return
    table = Table(title="Amazon warehouses")
    for column in ("Amazon warehouse", "ZigZag DCs", "authority", "snapshots", "oldest as_of"):
        table.add_column(column)
    for wid, w in sorted(warehouses.warehouses.items()):
        count, oldest = held.get(wid, (0, None))
        table.add_row(
            wid,
            ", ".join(warehouses.dcs_of(wid)) or "-",
            w.authority.value,
            str(count),
            str(oldest) if oldest else "-",
        )
    console.print(table)


def import_stock(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="Stock snapshot CSV: warehouse,sku,available,as_of"
    ),
    db: str | None = DbOption,
) -> None:
    """Take a snapshot of the WMS/ERP's available stock. The next clearing cycle sends each
    position as the snapshot plus the units restocked after its as_of. A file with any bad row
    is refused whole."""
    with open_app(db) as rb:
        done = rb.import_stock(file)
    resolved, stored = done.resolved, done.stored
    per = ", ".join(f"{w} {n}" for w, n in sorted(resolved.per_warehouse.items())) or "none"
    console.print(
        f"stock snapshot {file.name}: {len(resolved.rows)} position(s) read ({per}); "
        f"{stored.stored} taken, {stored.older} not (a snapshot as of that time or later is "
        "held already)"
    )
    if resolved.not_in_catalog:
        first = ", ".join(resolved.not_in_catalog[:10])
        console.print(
            f"  skipped {len(resolved.not_in_catalog)} row(s) whose product the catalog does "
            f"not know: {escape(first)}{' ...' if len(resolved.not_in_catalog) > 10 else ''}"
        )
