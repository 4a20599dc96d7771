"""``serve``: the HTTP service (ZigZag webhooks), and ``webhook-rejections``: what it refused."""

from __future__ import annotations

import typer

from returnbridge.entrypoints.cli.common import DbOption, console, open_app
from returnbridge.entrypoints.http.app import WEBHOOK_PATH
from returnbridge.entrypoints.http.server import serve_forever
from returnbridge.store.webhooks import recent_rejections
from returnbridge.threaded_server import url_of


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("webhook-rejections")(webhook_rejections)


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
    db: str | None = DbOption,
) -> None:
    """Receive ZigZag's signed webhooks into the inbox until Ctrl-C or SIGTERM.

    Run `process --watch` beside it to apply what arrives. Serve plain HTTP behind a TLS proxy.
    """
    with open_app(db) as rb:

        def announce() -> None:
            url = url_of(host, port)
            console.print(f"returnbridge on {url}: POST {url}{WEBHOOK_PATH}, GET {url}/healthz")
            if not rb.settings.zigzag_webhook_secret.get_secret_value().strip():
                console.print(
                    "[yellow]RETURNBRIDGE_ZIGZAG_WEBHOOK_SECRET is not set[/]: "
                    "webhooks are answered 503 webhooks_not_configured"
                )

        serve_forever(rb, host, port, announce)


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
