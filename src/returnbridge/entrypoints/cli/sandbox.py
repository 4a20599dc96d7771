"""``sandbox amazon``: run the Amazon SP-API vendor sandbox in the foreground."""

from __future__ import annotations

from typing import Any

import typer

from returnbridge.sandboxes.amazon import server
from returnbridge.sandboxes.amazon.config import DEFAULT_REFRESH_TOKEN, SandboxConfig

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
