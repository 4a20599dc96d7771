"""``alerts list|check|watch``: the stored alerts, one evaluation now, or one every interval."""

from __future__ import annotations

import json
import threading

import typer
from rich.markup import escape

from returnbridge.entrypoints.alerting import evaluate_alerts, run_alerts
from returnbridge.entrypoints.cli.common import DbOption, console, open_app
from returnbridge.entrypoints.worker import stop_on_signals
from returnbridge.services.alerting import AlertRun, StoredAlert
from returnbridge.store.alerts import list_alerts

alerts_app = typer.Typer(no_args_is_help=True, help="Alerts: what needs a person, and why.")


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")


def _state(alert: StoredAlert) -> str:
    if alert.resolved_at is not None:
        return f"resolved {alert.resolved_at:%Y-%m-%d %H:%M}"
    return "firing"


def _notice(alert: StoredAlert) -> str:
    owed = alert.notice_owed
    if owed is None:
        return f"sent ({alert.notified_via})" if alert.notified_via else "sent"
    tried = (
        f", {alert.notify_attempts} attempt(s): {alert.notify_error}" if alert.notify_error else ""
    )
    return f"{owed} owed{tried}"


def _show(alerts: list[StoredAlert], as_json: bool) -> None:
    if as_json:
        for a in alerts:
            typer.echo(
                json.dumps(
                    {
                        "key": a.key,
                        "name": a.name,
                        "severity": a.severity,
                        "state": "resolved" if a.resolved_at else "firing",
                        "summary": a.summary,
                        "runbook": a.runbook,
                        "first_seen": a.first_seen.isoformat(),
                        "last_seen": a.last_seen.isoformat(),
                        "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None,
                        "seen": a.seen_count,
                        "notification": _notice(a),
                    }
                )
            )
        return
    for a in alerts:
        colour = (
            "red" if a.severity == "critical" and a.firing else "yellow" if a.firing else "green"
        )
        console.print(
            f"[{colour}]{escape(a.key)}[/] {a.severity}, {_state(a)}, "
            f"since {a.first_seen:%Y-%m-%d %H:%M} UTC, seen {a.seen_count} time(s)",
            highlight=False,
        )
        console.print(f"  {a.summary}", markup=False, highlight=False)
        console.print(
            f"  runbook: {a.runbook}; notification: {_notice(a)}", markup=False, highlight=False
        )


@alerts_app.command("list")
def list_command(
    show_all: bool = typer.Option(
        False, "--all", help="Resolved alerts too, newest first (default: firing only)."
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of text."),
    db: str | None = DbOption,
) -> None:
    """The alerts firing now (as of the last evaluation), or all of them with --all."""
    with open_app(db) as rb:
        alerts = list_alerts(rb.engine, include_resolved=show_all)
    if not alerts and not as_json:
        console.print("no alerts" if show_all else "no alerts firing")
        return
    _show(alerts, as_json)


def _report(run: AlertRun) -> None:
    for alert in run.fired:
        console.print(
            f"[red]fired[/] {escape(alert.key)}: {escape(alert.summary)}", highlight=False
        )
    for alert in run.resolved:
        console.print(f"[green]resolved[/] {escape(alert.key)}", highlight=False)
    if run.error:
        console.print(
            f"[yellow]{run.owed} notification(s) not delivered[/] ({escape(run.error)}); they are "
            "tried "
            "again at the next evaluation"
        )


@alerts_app.command("check")
def check(
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of text."),
    db: str | None = DbOption,
) -> None:
    """Evaluate every alert rule once, record the result, send the notifications owed, and
    print the alerts firing. Exits 0 whatever fires: read the output, or `alerts list`."""
    with open_app(db) as rb:
        run = evaluate_alerts(rb)
    if as_json:
        _show(run.firing, as_json=True)
        return
    _report(run)
    if not run.firing:
        console.print("no alerts firing")
        return
    _show(run.firing, as_json=False)


@alerts_app.command("watch")
def watch(
    every: float | None = typer.Option(
        None,
        min=1.0,
        help="Seconds between evaluations (default RETURNBRIDGE_ALERT_EVALUATE_SECONDS).",
    ),
    db: str | None = DbOption,
) -> None:
    """Evaluate the alerts on an interval until SIGTERM or Ctrl-C."""
    stop = threading.Event()
    stop_on_signals(stop)
    with open_app(db) as rb:
        console.print(f"evaluating alerts every {every or rb.settings.alert_evaluate_seconds:g} s")
        runs = run_alerts(rb, stop, on_run=_report, interval=every)
    console.print(f"stopped after {runs} evaluation(s)")
