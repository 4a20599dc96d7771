"""``serve``: the service in one process (HTTP, inbox worker, clearing cycles, ERP delivery,
alerts); ``worker``: the inbox worker alone, for more processes; and ``webhook-rejections``:
what the service refused."""

from __future__ import annotations

from pathlib import Path

import typer

from returnbridge.bootstrap import ConfigurationMissing
from returnbridge.entrypoints.cli.common import DbOption, console, open_app
from returnbridge.entrypoints.http.webhook import WEBHOOK_PATH
from returnbridge.entrypoints.service import LoopOptions, Plan, plan_loops, run_loops, run_service
from returnbridge.store.webhooks import recent_rejections
from returnbridge.threaded_server import url_of


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("worker")(worker)
    app.command("webhook-rejections")(webhook_rejections)


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False)


def _show_plan(plan: Plan) -> None:
    for loop in plan.loops:
        _say(f"  running: {loop.description}")
    for reason in plan.off:
        _say(f"  {reason}")


def _stopped(busy: list[str]) -> None:
    if busy:
        console.print(f"[yellow]stopped; still busy when the wait ran out[/]: {', '.join(busy)}")
    else:
        console.print("stopped")


IntervalOption = typer.Option(1.0, min=0.05, help="Seconds between inbox polls when it is empty.")


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
    worker: bool = typer.Option(
        True, "--worker/--no-worker", help="Apply inbox events here (off: `worker` does)."
    ),
    cycles: bool = typer.Option(
        True,
        "--cycles/--no-cycles",
        help="Clearing cycles with Amazon at each cut-off (when Amazon is configured).",
    ),
    erp: bool = typer.Option(
        True,
        "--erp/--no-erp",
        help="Export and deliver journals to the ERP (when RETURNBRIDGE_ERP_ENDPOINT_URL is set).",
    ),
    alerts: bool = typer.Option(True, "--alerts/--no-alerts", help="Evaluate the alert rules."),
    access_log: bool = typer.Option(
        False,
        "--access-log/--no-access-log",
        help="A line per HTTP request on stdout (off: the TLS proxy in front logs requests; "
        "the line costs about a tenth of a webhook's CPU).",
    ),
    interval: float = IntervalOption,
    erp_out: Path = typer.Option(Path("erp"), "--erp-out", help="Folder of the ERP batch files."),
    erp_every: float = typer.Option(
        900.0, min=1.0, help="Seconds between ERP exports (each run delivers what is owed)."
    ),
    db: str | None = DbOption,
) -> None:
    """Run the service until SIGTERM or Ctrl-C: the HTTP API and ZigZag's webhooks, the inbox
    worker, clearing cycles, ERP delivery and alerts, each loop in a thread. A stop finishes the
    requests and the inbox batch in flight, then exits 0.

    Serve plain HTTP behind a TLS proxy. On PostgreSQL, `worker` processes add workers.
    """
    options = LoopOptions(
        worker=worker,
        cycles=cycles,
        erp=erp,
        alerts=alerts,
        interval=interval,
        erp_every=erp_every,
        erp_out=erp_out,
    )
    with open_app(db, wait_seconds=START_WAIT_SECONDS) as rb:
        plan = plan_loops(rb, options, _say)

        def announce() -> None:
            url = url_of(host, port)
            console.print(f"returnbridge on {url}: POST {url}{WEBHOOK_PATH}, GET {url}/healthz")
            console.print(
                f"dashboard: {url}/ (sign in with a token from `returnbridge tokens create`)"
            )
            console.print(f"API under {url}/api/ (OpenAPI: {url}/openapi.json), GET {url}/readyz")
            if not rb.settings.zigzag_webhook_secret.get_secret_value().strip():
                console.print(
                    "[yellow]RETURNBRIDGE_ZIGZAG_WEBHOOK_SECRET is not set[/]: "
                    "webhooks are answered 503 webhooks_not_configured"
                )
            _show_plan(plan)

        busy = run_service(rb, host, port, plan, announce, access_log=access_log)
    _stopped(busy)


# A service started while its database restarts waits for it rather than exiting at once.
START_WAIT_SECONDS = 60.0


def worker(
    cycles: bool = typer.Option(
        False, "--cycles", help="Also close the clearing cycles (one process should)."
    ),
    interval: float = IntervalOption,
    db: str | None = DbOption,
) -> None:
    """Apply inbox events (and with --cycles, close the clearing cycles) until SIGTERM or
    Ctrl-C, without HTTP: more of these beside `serve --no-worker` share the queue on
    PostgreSQL. A stop finishes the batch in flight, then exits 0."""
    options = LoopOptions(
        worker=True, rfs_sweep=False, cycles=cycles, erp=False, alerts=False, interval=interval
    )
    with open_app(db, wait_seconds=START_WAIT_SECONDS) as rb:
        if cycles and (missing := rb.amazon_missing()):
            raise ConfigurationMissing(f"set {', '.join(missing)} to close clearing cycles")
        plan = plan_loops(rb, options, _say)
        console.print("returnbridge worker; Ctrl-C or SIGTERM to stop")
        _show_plan(Plan(plan.loops, ()))
        busy = run_loops(plan)
    _stopped(busy)


def webhook_rejections(
    limit: int = typer.Option(20, min=1, max=10_000, help="How many, newest first."),
    body: bool = typer.Option(False, "--body", help="Print each refused body in full."),
    db: str | None = DbOption,
) -> None:
    """The webhook deliveries refused before the inbox (bad signature, stale, too large)."""
    with open_app(db) as rb:
        rows = recent_rejections(rb.engine, limit)
    if not rows:
        console.print("no refused webhook deliveries")
    for row in rows:
        r = row.rejection
        cut = " (cut at the limit)" if r.truncated else ""
        console.print(
            f"#{row.id} {row.received_at:%Y-%m-%d %H:%M:%S} {r.status} {r.code} "
            f"webhook-id {r.webhook_id or '-'} from {r.client or '-'}, {r.size} bytes{cut}: "
            f"{r.reason}",
            markup=False,
        )
        if body:
            console.print(r.body, markup=False, highlight=False)
