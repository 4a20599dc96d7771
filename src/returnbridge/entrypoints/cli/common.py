"""What every command shares: the --db option, the app, the console, progress bars."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from returnbridge.bootstrap import App, bootstrap
from returnbridge.config import Settings
from returnbridge.observability.logging import configure
from returnbridge.store.migrate import require_head

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

DbOption = typer.Option(
    None,
    "--db",
    help="Database URL (default: RETURNBRIDGE_DATABASE_URL, else sqlite:///returnbridge.db).",
)


def settings_for(db: str | None) -> Settings:
    return Settings(database_url=db) if db else Settings()


@contextmanager
def open_app(db: str | None, *, schema_ready: bool = True) -> Iterator[App]:
    """The app for one command; by default it refuses a database not yet upgraded."""
    settings = settings_for(db)
    configure(settings.log_level, settings.log_format)
    app = bootstrap(settings)
    try:
        if schema_ready:
            require_head(app.engine)
        yield app
    finally:
        app.close()


def progress_bar(*, counts: bool = True) -> Progress:
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn()]
    if counts:
        columns.append(MofNCompleteColumn())
    columns.append(TimeElapsedColumn())
    return Progress(*columns, console=err_console, transient=False)
