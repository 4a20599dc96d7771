"""``returnbridge``: the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from returnbridge.domain.errors import ReturnBridgeError
from returnbridge.domain.mappings import mappings_to_dict
from returnbridge.entrypoints.cli import demo, exceptions, pipeline, reconcile
from returnbridge.entrypoints.cli.common import DbOption, console, err_console, open_app
from returnbridge.masterdata.catalog_csv import read_catalog
from returnbridge.masterdata.mappings_toml import DEFAULT_MAPPINGS, read_mappings
from returnbridge.store.migrate import upgrade

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="returnbridge: ZigZag returns to Amazon Vendor Central and the ERP.",
)
db_app = typer.Typer(no_args_is_help=True, help="The database schema.")
catalog_app = typer.Typer(no_args_is_help=True, help="The catalog master.")
mappings_app = typer.Typer(no_args_is_help=True, help="Reason, grade, disposition and charge maps.")
app.add_typer(db_app, name="db")
app.add_typer(catalog_app, name="catalog")
app.add_typer(mappings_app, name="mappings")
pipeline.register(app)
exceptions.register(app)
reconcile.register(app)
demo.register(app)


@db_app.command("upgrade")
def db_upgrade(db: str | None = DbOption) -> None:
    """Create or upgrade the schema to the newest migration."""
    with open_app(db) as rb:
        upgrade(rb.engine)
        console.print(f"schema up to date at {rb.engine.url.render_as_string(hide_password=True)}")


@catalog_app.command("load")
def catalog_load(
    file: Path = typer.Argument(..., help="Catalog master CSV."), db: str | None = DbOption
) -> None:
    """Replace the catalog master with FILE (validated first; nothing changes on error)."""
    items = read_catalog(file)
    with open_app(db) as rb, rb.stores() as store:
        store.replace_catalog(items)
        version = store.save_config(
            "catalog", str(file.name), json.dumps({"items": len(items)}), rb.clock()
        )
    active = sum(1 for i in items if i.active)
    console.print(f"catalog v{version}: {len(items)} items ({active} active) from {file.name}")


@mappings_app.command("load")
def mappings_load(
    file: Path = typer.Argument(
        DEFAULT_MAPPINGS, help="Mappings TOML file (default: the shipped example)."
    ),
    db: str | None = DbOption,
) -> None:
    """Replace the mappings with FILE (validated first; nothing changes on error)."""
    mappings = read_mappings(file)
    with open_app(db) as rb, rb.stores() as store:
        version = store.save_config(
            "mappings", file.name, json.dumps(mappings_to_dict(mappings)), rb.clock()
        )
    console.print(
        f"mappings v{version} from {file.name}: {len(mappings.reasons)} reasons, "
        f"{len(mappings.grade_routes)} grades, {len(mappings.dispositions)} dispositions, "
        f"{len(mappings.charges)} charges"
    )


def main() -> None:
    try:
        app(standalone_mode=False)
    except ReturnBridgeError as exc:
        err_console.print(f"[bold red]error[/] [{exc.code}] {exc.message}")
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except Exception as exc:  # click's usage errors carry their own exit code
        from click.exceptions import ClickException

        if isinstance(exc, ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
