"""What every command shares: the --db option, the app, the console, progress bars."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import typer
from pydantic import ValidationError
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
from returnbridge.config import Settings, SettingsInvalid
from returnbridge.domain.errors import StoreUnavailable
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
    """The settings from the environment (and ``--db``); a value a setting cannot take is
    refused naming the variable, never with a traceback (docs/configuration.md)."""
    try:
        return Settings(database_url=db) if db else Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"RETURNBRIDGE_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsInvalid(f"{problems} (see docs/configuration.md)") from exc


@contextmanager
def open_app(
    db: str | None,
    *,
    schema_ready: bool = True,
    wait_seconds: float = 0.0,
    clock: Callable[[], datetime] | None = None,
) -> Iterator[App]:
    """The app for one command; by default it refuses a database not yet upgraded. With
    ``wait_seconds`` (the long-running processes), a database that does not answer yet (down,
    restarting) is asked again, with a doubling pause, for that long before giving up."""
    settings = settings_for(db)
    configure(settings.log_level, settings.log_format)
    app = bootstrap(settings) if clock is None else bootstrap(settings, clock)
    try:
        if schema_ready:
            _require_head_waiting(app, wait_seconds)
        yield app
    finally:
        app.close()


def _require_head_waiting(app: App, wait_seconds: float) -> None:
    deadline, pause = time.monotonic() + wait_seconds, 0.5
    while True:
        try:
            require_head(app.engine)
            return
        except StoreUnavailable as exc:
            if time.monotonic() + pause > deadline:
                raise
            err_console.print(f"database not answering ({exc}); asking again in {pause:g}s")
            time.sleep(pause)
            pause = min(pause * 2, 10.0)


def progress_bar(*, counts: bool = True) -> Progress:
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn()]
    if counts:
        columns.append(MofNCompleteColumn())
    columns.append(TimeElapsedColumn())
    return Progress(*columns, console=err_console, transient=False)
