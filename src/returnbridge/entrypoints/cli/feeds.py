"""``poll zigzag`` (the API's feed) and ``import zigzag-folder`` (the SFTP drop folder)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import typer
from rich.markup import escape

from returnbridge.bootstrap import App, ConfigurationMissing
from returnbridge.config import Settings
from returnbridge.connectors.zigzag.dropfolder import DropFolder, FolderImport
from returnbridge.connectors.zigzag.polling import (
    PollResult,
    ZigZagApiConfig,
    ZigZagFeedClient,
    ZigZagUnavailable,
    poll_feed,
)
from returnbridge.domain.errors import StoreUnavailable
from returnbridge.entrypoints.cli.common import DbOption, console, err_console, open_app
from returnbridge.entrypoints.cli.pipeline import import_app, import_zigzag_file
from returnbridge.entrypoints.worker import stop_on_signals
from returnbridge.store.feeds import feed_transaction

poll_app = typer.Typer(no_args_is_help=True, help="Poll partner feeds into the inbox.")


def register(app: typer.Typer) -> None:
    """Add the ``poll`` group, and ``zigzag-folder`` to the ``import`` group (which
    ``pipeline.register`` adds)."""
    app.add_typer(poll_app, name="poll")
    import_app.command("zigzag-folder")(import_zigzag_folder)


def zigzag_api(settings: Settings) -> ZigZagApiConfig:
    """The ZigZag API settings; refuses missing ones, naming them."""
    password = settings.zigzag_api_password.get_secret_value()
    missing = [
        name
        for name, value in (
            ("RETURNBRIDGE_ZIGZAG_API_URL", settings.zigzag_api_url),
            ("RETURNBRIDGE_ZIGZAG_API_USERNAME", settings.zigzag_api_username),
            ("RETURNBRIDGE_ZIGZAG_API_PASSWORD", password),
        )
        if not value
    ]
    if missing:
        raise ConfigurationMissing(f"set {', '.join(missing)} to poll ZigZag")
    return ZigZagApiConfig(
        base_url=settings.zigzag_api_url,
        username=settings.zigzag_api_username,
        password=password,
        page_size=settings.zigzag_poll_page_size,
    )


def poll_zigzag_feed(
    rb: App,
    api: ZigZagApiConfig | None = None,
    *,
    http: httpx.Client | None = None,
    stop: threading.Event | None = None,
    on_page: Callable[[PollResult], None] = lambda _: None,
) -> PollResult:
    """Poll ZigZag's feed (the settings' API, or ``api``) into ``rb``'s inbox until it is empty:
    each page and its cursor in one transaction. The demo's one call for the polling path."""
    api = api or zigzag_api(rb.settings)
    engine = rb.engine
    own = http is None
    client = http or httpx.Client()
    try:
        return poll_feed(
            ZigZagFeedClient(api, client),
            lambda: feed_transaction(engine),
            rb.clock,
            stop=stop,
            on_page=on_page,
        )
    finally:
        if own:
            client.close()


def _summary(result: PollResult) -> str:
    return (
        f"{result.pages} pages, {result.accepted} events accepted, {result.duplicates} "
        f"duplicates ignored, {result.invalid} unreadable (kept as INVALID_EVENT exceptions); "
        f"cursor {result.cursor or '(start)'}"
    )


def _problems(problems: list[str], invalid: int) -> None:
    for problem in problems:
        console.print(f"  [yellow]unreadable[/] {escape(problem)}")
    if invalid > len(problems):
        console.print(
            f"  ... and {invalid - len(problems)} more: "
            "`returnbridge exceptions list --code INVALID_EVENT`"
        )


@poll_app.command("zigzag")
def poll_zigzag(
    once: bool = typer.Option(
        False, "--once", help="Stop when the feed is empty instead of polling again."
    ),
    interval: float = typer.Option(
        60.0, min=0.05, help="Seconds between polls of an empty feed (without --once)."
    ),
    db: str | None = DbOption,
) -> None:
    """Store ZigZag's feed in the inbox, page by page, from where it last stopped (the cursor is
    saved with each page). Without --once, keep polling until Ctrl-C or SIGTERM, which finish
    the page in flight first. Run `process` to apply the events."""
    stop = threading.Event()
    stop_on_signals(stop)
    with open_app(db) as rb, httpx.Client() as http:
        api = zigzag_api(rb.settings)
        if not once:
            console.print(f"polling {api.base_url} every {interval:g}s; Ctrl-C to stop")
        while not stop.is_set():
            try:
                result = poll_zigzag_feed(rb, api, http=http, stop=stop)
            except (ZigZagUnavailable, StoreUnavailable) as exc:
                if once:
                    raise
                err_console.print(f"[yellow]{exc.code}[/] {escape(exc.message)}; retrying")
            else:
                if once or result.pages:
                    console.print(_summary(result))
                    _problems(result.problems, result.invalid)
            if once:
                break
            stop.wait(interval)


def _report(outcome: FolderImport) -> None:
    if outcome.result is None:
        console.print(
            f"[red]failed[/] {escape(outcome.name)}: {escape(outcome.reason or '')} "
            f"(moved to {escape(str(outcome.moved_to))})"
        )
        return
    result = outcome.result
    console.print(
        f"{escape(outcome.name)}: {result.accepted} events accepted, {result.duplicates} "
        f"duplicates ignored, {result.invalid} unreadable (kept as INVALID_EVENT exceptions); "
        f"moved to {escape(str(outcome.moved_to))}"
    )
    _problems(result.problems, result.invalid)


def import_zigzag_folder(
    directory: Path = typer.Argument(
        ..., exists=True, file_okay=False, help="The folder ZigZag's CSV exports arrive in."
    ),
    watch: bool = typer.Option(
        False, "--watch", help="Keep watching the folder until Ctrl-C or SIGTERM."
    ),
    settle: float = typer.Option(
        2.0, min=0.0, help="Seconds a file's size must stay unchanged before it is taken."
    ),
    db: str | None = DbOption,
) -> None:
    """Import every complete *.csv export in DIRECTORY (one not renamed into place is taken
    once its size is stable), moving each to DIRECTORY/done/, or to DIRECTORY/failed/ with a
    reason file if it cannot be read at all. Partial uploads (*.part, hidden files) are left."""
    with open_app(db) as rb:
        folder = DropFolder(directory, lambda path: import_zigzag_file(rb, path), settle)
        if not watch:
            done, waiting = folder.run_once(on_import=_report)
            for path in waiting:
                console.print(f"[yellow]skipped[/] {escape(path.name)}: still being written")
            console.print(f"{len(done)} files handled, {len(waiting)} left in {directory}")
            return
        stop = threading.Event()
        stop_on_signals(stop)
        console.print(f"watching {directory} (settle {settle:g}s); Ctrl-C to stop")
        handled = folder.watch(
            stop,
            on_import=_report,
            on_error=lambda path, exc: err_console.print(
                f"[yellow]not imported[/] {escape(path.name)}: {escape(repr(exc))}; will retry"
            ),
        )
        console.print(f"{handled} files handled")


__all__ = ["poll_zigzag_feed", "register", "zigzag_api"]
