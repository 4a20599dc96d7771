"""``loadgen``: signed ZigZag webhooks posted to a running ``returnbridge serve`` over loopback,
with throughput, latency and per-status counts, then every stored event looked up in the inbox
(``testing/loadgen.py``)."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from returnbridge.bootstrap import ConfigurationMissing, bootstrap
from returnbridge.entrypoints.cli.common import DbOption, console, settings_for
from returnbridge.observability.logging import configure
from returnbridge.store.migrate import require_head
from returnbridge.testing.loadgen import LoadPlan, LoadReport, check_inbox, run_load


def register(app: typer.Typer) -> None:
    app.command("loadgen")(loadgen)


def loadgen(
    url: str = typer.Option(
        "http://127.0.0.1:8000", help="The service's base URL: http, loopback only."
    ),
    count: int = typer.Option(1_000, min=1, max=1_000_000, help="Deliveries (first attempts)."),
    connections: int = typer.Option(
        16, min=1, max=512, help="Connections, each one request at a time."
    ),
    seconds: float = typer.Option(
        60.0, min=0.1, max=3_600, help="The run ends by then, retries included."
    ),
    seed: int = typer.Option(7, help="Seed of the generated ZigZag day."),
    unique: bool = typer.Option(
        False, "--unique", help="Each distinct event once, without the day's bad events."
    ),
    check: bool = typer.Option(
        True, "--check/--no-check", help="Afterwards, look every stored event up in the inbox."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object instead of tables."),
    db: str | None = DbOption,
) -> None:
    """Post COUNT signed webhooks of a seeded ZigZag day to a running `returnbridge serve` (on
    this machine only) over CONNECTIONS connections, sending each refused one (429, 5xx) again
    after its Retry-After, within SECONDS; report accepted/s, latency percentiles and answers per
    status, then check that every event the service said it holds is in its inbox exactly once.

    Signs with RETURNBRIDGE_ZIGZAG_WEBHOOK_SECRET (the first secret), as the service reads it.
    Exits 1 when the check fails or deliveries are still refused when the time is up.
    """
    settings = settings_for(db)
    configure(settings.log_level, settings.log_format)
    secrets = settings.zigzag_webhook_secret.get_secret_value().split()
    if not secrets:
        raise ConfigurationMissing("set RETURNBRIDGE_ZIGZAG_WEBHOOK_SECRET to sign the webhooks")
    plan = LoadPlan(url, secrets[0], count, connections, seconds, seed, unique)
    report = run_load(plan)
    if check:
        rb = bootstrap(settings)
        try:
            require_head(rb.engine)
            report.check = check_inbox(rb.engine, report.deliveries)
        finally:
            rb.close()
    if as_json:
        typer.echo(json.dumps(report.as_dict(), sort_keys=True))
    else:
        _print(report)
    if (report.check is not None and not report.check.ok) or report.unfinished:
        raise typer.Exit(1)


def _print(report: LoadReport) -> None:
    summary = Table(title=f"loadgen: {len(report.deliveries)} deliveries to {report.plan.url}")
    summary.add_column("figure")
    summary.add_column("value", justify="right")
    for name, value in (
        ("connections", str(report.plan.connections)),
        ("seconds", f"{report.seconds:.2f}"),
        ("attempts (retries)", f"{report.attempts} ({report.retries})"),
        ("accepted (202)", str(report.accepted)),
        ("accepted/s", f"{report.accepted_per_second:,.1f}"),
        (
            "latency p50 / p95 / p99",
            " / ".join(f"{report.percentile_ms(p):.2f} ms" for p in (50, 95, 99)),
        ),
        ("still refused at the end", str(report.unfinished)),
    ):
        summary.add_row(name, value)
    console.print(summary)
    answers = Table(title="answers")
    answers.add_column("status")
    answers.add_column("attempts", justify="right")
    answers.add_column("final, per delivery", justify="right")
    outcomes = report.outcomes()
    for status in sorted({*map(str, report.statuses), *outcomes}):
        answers.add_row(
            status,
            str(report.statuses.get(int(status), 0)) if status.isdigit() else "-",
            str(outcomes.get(status, 0)),
        )
    for error, n in sorted(report.errors.items()):
        answers.add_row(f"no answer: {error}", str(n), "-")
    console.print(answers)
    check = report.check
    if check is None:
        return
    verdict = "[green]ok[/]" if check.ok else "[red]FAILED[/]"
    console.print(
        f"inbox check {verdict}: {check.stored_once} of {check.checked} events answered as "
        f"stored are in the inbox exactly once; missing {len(check.missing)}, doubled "
        f"{len(check.doubled)}, accepted twice {len(check.accepted_twice)} "
        f"({check.inbox_rows} ZigZag rows in the inbox)"
    )
    for name, ids in (
        ("missing", check.missing),
        ("doubled", check.doubled),
        ("accepted twice", check.accepted_twice),
    ):
        if ids:
            console.print(f"  {name}: {', '.join(ids[:10])}", markup=False)
