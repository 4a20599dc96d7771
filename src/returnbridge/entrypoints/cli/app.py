"""``returnbridge``: the command line."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from returnbridge.domain.errors import ReturnBridgeError
from returnbridge.entrypoints.cli import (
    alerts,
    amazon_imports,
    audit,
    audit_log,
    configuration,
    cycle,
    demo,
    doctor,
    erp,
    exceptions,
    feeds,
    finance,
    loadgen,
    outbox,
    pipeline,
    reconcile,
    report,
    rfs,
    sandbox,
    serve,
    stock,
    tokens,
)
from returnbridge.entrypoints.cli.common import DbOption, console, err_console, open_app
from returnbridge.masterdata.mappings_toml import DEFAULT_MAPPINGS
from returnbridge.store.migrate import upgrade

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold secrets
    help="returnbridge: ZigZag returns to Amazon Vendor Central and the ERP.",
)
db_app = typer.Typer(no_args_is_help=True, help="The database schema.")
catalog_app = typer.Typer(no_args_is_help=True, help="The catalog master.")
mappings_app = typer.Typer(no_args_is_help=True, help="Reason, grade, disposition and charge maps.")
app.add_typer(db_app, name="db")
app.add_typer(catalog_app, name="catalog")
app.add_typer(mappings_app, name="mappings")
pipeline.register(app)
amazon_imports.register(app)
exceptions.register(app)
reconcile.register(app)
feeds.register(app)
outbox.register(app)
sandbox.register(app)
serve.register(app)
cycle.register(app)
rfs.register(app)
finance.register(app)
demo.register(app)
erp.register(app)
report.register(app)
audit.register(app)
tokens.register(app)
audit_log.register(app)
alerts.register(app)
loadgen.register(app)
stock.register(app)
configuration.register(app)
doctor.register(app)


@db_app.command("upgrade")
def db_upgrade(db: str | None = DbOption) -> None:
    """Create or upgrade the schema to the newest migration."""
    with open_app(db, schema_ready=False) as rb:
        upgrade(rb.engine)
        console.print(f"schema up to date at {rb.engine.url.render_as_string(hide_password=True)}")


@catalog_app.command("load")
def catalog_load(
    file: Path = typer.Argument(..., help="Catalog master CSV."), db: str | None = DbOption
) -> None:
    """Replace the catalog master with FILE (validated first; nothing changes on error)."""
    with open_app(db) as rb:
        items = rb.load_catalog(file)
    active = sum(1 for i in items if i.active)
    console.print(f"catalog: {len(items)} items ({active} active) loaded from {file.name}")


@mappings_app.command("load")
def mappings_load(
    file: Path = typer.Argument(
        DEFAULT_MAPPINGS, help="Mappings TOML file (default: the shipped example)."
    ),
    db: str | None = DbOption,
) -> None:
    """Replace the mappings with FILE (validated first; nothing changes on error)."""
    with open_app(db) as rb:
        mappings = rb.load_mappings(file)
    console.print(
        f"mappings loaded from {file.name}: {len(mappings.reasons)} reasons, "
        f"{len(mappings.grade_routes)} grades, {len(mappings.dispositions)} dispositions, "
        f"{len(mappings.charges)} charges"
    )


def main() -> None:
    """Usage errors are click's (exit 2); refusals are ours, printed plainly (exit 2)."""
    try:
        app()
    except ReturnBridgeError as exc:
        # soft_wrap: one line however narrow the terminal, so a log keeps it whole.
        err_console.print(
            f"error [{exc.code}] {exc.message}", markup=False, style="red", soft_wrap=True
        )
        sys.exit(2)
