"""``sandbox amazon`` and ``sandbox zigzag``: run a partner sandbox in the foreground."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from returnbridge.sandboxes.amazon import server
from returnbridge.sandboxes.amazon.config import (
    DEFAULT_REFRESH_TOKEN,
    SandboxConfig,
    read_opening_stock,
)
from returnbridge.sandboxes.history import generate_history, write_history
from returnbridge.sandboxes.zigzag import server as zigzag_server
from returnbridge.sandboxes.zigzag.config import ZigZagSandboxConfig

sandbox_app = typer.Typer(no_args_is_help=True, help="Stand-in partner servers (loopback only).")


def register(app: typer.Typer) -> None:
    """Add the ``sandbox`` command group to ``app``."""
    app.add_typer(sandbox_app, name="sandbox")


def _rate(help_text: str) -> Any:
    return typer.Option(0.0, min=0.0, max=1.0, help=help_text)


@sandbox_app.command("amazon")
def amazon(
    host: str = typer.Option("127.0.0.1", help="Loopback address to bind (127.0.0.1, ::1)."),
    port: int = typer.Option(8500, min=1, max=65535, help="TCP port."),
    seed: int = typer.Option(0, help="Seeds faults, rejections and ids: same seed, same run."),
    faults: float = _rate("Total fault rate: 40% 429 storms, 40% 500/503, 20% dropped responses."),
    reject_rate: float = _rate("Share of items Amazon rejects (their transaction fails)."),
    stuck_rate: float = _rate("Share of transactions that stay Processing forever."),
    rate_multiplier: float = typer.Option(
        1.0, min=0.001, help="Scales the models' rate limits (e.g. 100 for fast demos)."
    ),
    polls_until_final: int = typer.Option(
        1, min=0, help="Status reads answered Processing before the outcome shows."
    ),
    stock: Path | None = typer.Option(
        None,
        "--stock",
        exists=True,
        dir_okay=False,
        help="A stock snapshot CSV (warehouse,sku,available,as_of): the positions Amazon holds "
        "before the first request, as the vendor's own feed left them.",
    ),
) -> None:
    """Serve the Amazon SP-API vendor sandbox until Ctrl-C, and print how to reach it."""
    try:
        server.check_loopback(host)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--host") from exc
    config = SandboxConfig(
        seed=seed,
        reject_rate=reject_rate,
        stuck_rate=stuck_rate,
        rate_multiplier=rate_multiplier,
        polls_until_final=polls_until_final,
        opening_stock=read_opening_stock(stock) if stock else (),
    ).with_faults(faults)
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    typer.echo(f"Amazon SP-API vendor sandbox on {url}")
    typer.echo(f"  endpoint           {url}")
    typer.echo(f"  LWA token URL      {url}/auth/o2/token")
    typer.echo(f"  LWA client id      {config.client_id}")
    typer.echo(f"  LWA client secret  {config.client_secret}")
    typer.echo(f"  refresh token      {DEFAULT_REFRESH_TOKEN}")
    typer.echo(f"  state              GET {url}/_sandbox/state   (POST {url}/_sandbox/reset)")
    typer.echo(
        f"  seed {seed}, faults {faults}, reject rate {reject_rate}, stuck rate {stuck_rate}, "
        f"rate x{rate_multiplier}. Ctrl-C to stop."
    )
    server.serve_forever(config, host, port)


@sandbox_app.command("zigzag")
def zigzag(
    host: str = typer.Option("127.0.0.1", help="Loopback address to bind (127.0.0.1, ::1)."),
    port: int = typer.Option(8600, min=1, max=65535, help="TCP port."),
    seed: int = typer.Option(0, help="Seeds the day and the faults: same seed, same events."),
    returns: int = typer.Option(50, min=1, help="Returns in the generated day."),
    webhook_url: str | None = typer.Option(
        None, help="Deliver the day to this URL as signed webhooks once the server is up."
    ),
    webhook_secret: str | None = typer.Option(
        None, help="Standard Webhooks secret (whsec_<base64>) to sign deliveries with."
    ),
    time_scale: float = typer.Option(
        1.0, min=0.0, help="Multiplies the retry waits (daily for 7 days): 1e-5 makes a day 0.9 s."
    ),
    lost_request_rate: float = _rate("Share of deliveries that never reach the target."),
    lost_answer_rate: float = _rate("Share of deliveries handled whose answer is then lost."),
    api_error_rate: float = _rate("Share of API requests (token, feed) answered 503."),
) -> None:
    """Serve the ZigZag sandbox (JWT auth and the polling feed) until Ctrl-C, print how to
    reach it, and with --webhook-url deliver the day as signed webhooks, retried as ZigZag does."""
    try:
        zigzag_server.check_loopback(host)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--host") from exc
    try:
        config = ZigZagSandboxConfig(
            seed=seed,
            returns=returns,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            time_scale=time_scale,
            lost_request_rate=lost_request_rate,
            lost_answer_rate=lost_answer_rate,
            api_error_rate=api_error_rate,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--webhook-url/--webhook-secret") from exc
    url = zigzag_server.base_url(host, port)
    typer.echo(f"ZigZag sandbox on {url}")
    typer.echo(f"  API URL            {url}   (RETURNBRIDGE_ZIGZAG_API_URL)")
    typer.echo(f"  token URL          POST {url}/token   (JWT valid 30 minutes)")
    typer.echo(f"  API username       {config.username}")
    typer.echo(f"  API password       {config.password}")
    typer.echo(f"  feed URL           GET {url}/events?cursor=&limit=")
    typer.echo(f"  state              GET {url}/_sandbox/state")
    if webhook_url:
        typer.echo(f"  webhooks to        {webhook_url} (retry waits x{time_scale:g})")
    typer.echo(f"  seed {seed}, {returns} returns. Ctrl-C to stop.")
    zigzag_server.serve_forever(config, host, port)


@sandbox_app.command("history")
def history(
    returns: int = typer.Option(300, min=50, max=100_000, help="Returns in the ten weeks."),
    seed: int = typer.Option(0, help="Same seed, same files, same planted gaps."),
    out: Path = typer.Option(Path("history"), "--out", file_okay=False, help="Folder to write."),
) -> None:
    """Write ten weeks of historical exports before go-live, with a known, seeded set of planted
    gaps (OUT/planted.json), for `returnbridge audit` to find (docs/audit.md)."""
    planned = generate_history(returns, seed)
    files = write_history(planned, out)
    planted = ", ".join(f"{k} {v}" for k, v in planned.figures()["planted"].items())
    typer.echo(f"wrote a history of {returns} returns (seed {seed}) to {out}")
    typer.echo(f"  planted: {planted}")
    typer.echo(f"  the audit should find them (as of {planned.as_of.isoformat()}), with:")
    typer.echo(
        f"  returnbridge audit --zigzag {files.zigzag} --amazon-returns {files.return_requests} "
        f"--amazon-refunds {files.refunds} --remittance {files.remittance} "
        f"--catalog {files.catalog} --ledger {files.ledger} --out {out / 'audit'}"
    )
