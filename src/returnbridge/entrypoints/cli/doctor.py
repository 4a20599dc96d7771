"""``returnbridge doctor``: the go-live check. It validates the configuration and the master
data in force, then reaches each configured partner read-only, printing one row per check:
``ok``, ``FAIL`` with what to fix, or ``off`` (not configured: not a failure). It exits 1 when
any check failed. No row ever holds a secret: each detail is built from setting names and the
partners' refusals, and any configured secret value is masked besides."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import httpx
import typer
from pydantic import SecretStr
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from returnbridge.bootstrap import App
from returnbridge.config import Settings, unset_variables
from returnbridge.connectors.amazon.limits import RetryPolicy
from returnbridge.connectors.zigzag.polling import ZigZagAuthRefused, ZigZagFeedClient
from returnbridge.domain.errors import ReturnBridgeError
from returnbridge.domain.stock import StockAuthority
from returnbridge.entrypoints.cli.common import DbOption, console, open_app, settings_for
from returnbridge.entrypoints.cli.feeds import zigzag_api
from returnbridge.entrypoints.http.readiness import OK, probe
from returnbridge.store.migrate import require_head
from returnbridge.store.sql import transaction
from returnbridge.store.stock import SqlStockStore

FAIL = "FAIL"
OFF = "off"
PROBE_TIMEOUT_SECONDS = 5.0
MASK_MIN_LENGTH = 8
AMAZON_ATTEMPTS = 3  # an unreachable Amazon fails the row in seconds, not the cycle's minute


@dataclass(frozen=True)
class Row:
    name: str
    status: str  # ok | FAIL | off
    detail: str


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def doctor(db: str | None = DbOption) -> None:
    """Check the settings, the database, the master data and every configured partner
    (read-only); exit 1 if any check fails."""
    rows = run_checks(db)
    table = Table("check", "status", "detail")
    style = {OK: "green", FAIL: "red", OFF: "dim"}
    for row in rows:
        table.add_row(row.name, f"[{style[row.status]}]{row.status}[/]", escape(row.detail))
    console.print(table)
    count = {s: sum(1 for r in rows if r.status == s) for s in (OK, FAIL, OFF)}
    console.print(f"doctor: {count[OK]} ok, {count[FAIL]} failed, {count[OFF]} off", soft_wrap=True)
    if count[FAIL]:
        raise typer.Exit(1)


def run_checks(db: str | None) -> list[Row]:
    try:
        settings = settings_for(db)
    except ReturnBridgeError as exc:  # SettingsInvalid: names the variable, never its value
        return [Row("settings", FAIL, exc.message)]
    rows = [Row("settings", OK, "every RETURNBRIDGE_* value is valid")]
    with open_app(db, schema_ready=False) as rb:
        database = _guarded("database", lambda: database_row(rb))
        rows += database
        if database[0].status == OK:  # the master data lives in the database
            rows += _guarded("master data", lambda: master_data_rows(rb))
        rows += _guarded("amazon", lambda: amazon_row(rb))
    rows += _guarded("zigzag", lambda: zigzag_row(settings))
    rows += _guarded("erp", lambda: erp_row(settings))
    rows += _guarded("alert webhook", lambda: alert_webhook_row(settings))
    return [replace(row, detail=_masked(row.detail, settings)) for row in rows]


def _guarded(name: str, check: Callable[[], Row | list[Row]]) -> list[Row]:
    """The check's rows; a refusal or an unexpected error as one FAIL row, never a traceback."""
    try:
        found = check()
    except ReturnBridgeError as exc:
        return [Row(name, FAIL, exc.message)]
    except Exception as exc:  # a go-live check reports every failure as a row
        return [Row(name, FAIL, f"unexpected {type(exc).__name__}")]
    return found if isinstance(found, list) else [found]


def _masked(detail: str, settings: Settings) -> str:
    """``detail`` with every configured secret masked (a belt to the checks' braces: their
    messages name settings, never values). Values too short to be a real secret are left, or
    a one-letter test password would mask that letter everywhere."""
    for _, value in settings:
        if isinstance(value, SecretStr) and len(value.get_secret_value()) >= MASK_MIN_LENGTH:
            detail = detail.replace(value.get_secret_value(), "**********")
    return detail


# ------------------------------------------------------------------ the database
def database_row(rb: App) -> Row:
    try:
        require_head(rb.engine)
    except SQLAlchemyError as exc:
        return Row("database", FAIL, f"did not answer ({type(exc).__name__})")
    return Row("database", OK, "answers; schema at the newest migration")


def master_data_rows(rb: App) -> list[Row]:
    with transaction(rb.engine) as store:
        catalog = store.load_catalog()
        mappings = store.config("mappings")
        stock = SqlStockStore(store.conn)
        warehouses = stock.warehouse_map()
        snapshot_warehouses = sorted(
            w
            for w in set(warehouses.dcs.values())
            if warehouses.authority(w) is StockAuthority.SNAPSHOT
        )
        with_snapshot = {w for w, _ in stock.snapshots(snapshot_warehouses)}
    rows = [
        Row("catalog", OK, f"{len(catalog.items)} items")
        if catalog.items
        else Row("catalog", FAIL, "no catalog loaded: `returnbridge catalog load FILE`"),
        Row("mappings", OK, "loaded")
        if mappings
        else Row("mappings", FAIL, "no mappings loaded: `returnbridge mappings load FILE`"),
    ]
    if not warehouses.dcs and not warehouses.warehouses:
        rows.append(Row("warehouses", OFF, "no warehouse map loaded: no stock is sent to Amazon"))
    elif missing := [w for w in snapshot_warehouses if w not in with_snapshot]:
        fix = f"no stock snapshot for {', '.join(missing)}: `returnbridge import stock FILE`"
        rows.append(Row("warehouses", FAIL, fix))
    else:
        rows.append(Row("warehouses", OK, f"{len(warehouses.dcs)} DCs mapped"))
    rows.extend(account_rows(rb))
    return rows


def account_rows(rb: App) -> list[Row]:
    accounts = rb.accounts().accounts
    if not accounts:
        return [Row("accounts", OFF, "no accounts loaded: the single-account settings are used")]
    rows = []
    for name, account in sorted(accounts.items()):
        c = account.credentials
        unset = unset_variables((c.client_id_env, c.client_secret_env, c.refresh_token_env))
        rows.append(
            Row(f"account {name}", FAIL, f"set {', '.join(unset)}")
            if unset
            else Row(f"account {name}", OK, "credential variables set")
        )
    return rows


# ------------------------------------------------------------------ the partners
def amazon_row(rb: App) -> Row:
    if missing := rb.amazon_missing():
        return Row("amazon", FAIL, f"set {', '.join(missing)}")
    vendor = rb.amazon_vendor()
    vendor.retry = RetryPolicy(attempts=AMAZON_ATTEMPTS)
    try:
        return Row("amazon", OK, vendor.check_access())
    finally:
        vendor.close()


def zigzag_row(settings: Settings) -> Row:
    if not settings.zigzag_api_url:
        return Row("zigzag", OFF, "RETURNBRIDGE_ZIGZAG_API_URL not set")
    api = replace(zigzag_api(settings), max_attempts=2, timeout_seconds=PROBE_TIMEOUT_SECONDS)
    with httpx.Client() as client:
        try:
            ZigZagFeedClient(api, client).token()
        except ZigZagAuthRefused as exc:
            return Row("zigzag", FAIL, exc.message)
    return Row("zigzag", OK, "API token issued")


def erp_row(settings: Settings) -> Row:
    if not settings.erp_endpoint_url:
        return Row("erp", OFF, "RETURNBRIDGE_ERP_ENDPOINT_URL not set")
    return _reached("erp", probe(settings.erp_endpoint_url, PROBE_TIMEOUT_SECONDS))


def alert_webhook_row(settings: Settings) -> Row:
    url = settings.alert_webhook_url.get_secret_value()
    if not url:
        return Row(
            "alert webhook", OFF, "RETURNBRIDGE_ALERT_WEBHOOK_URL not set: alerts are logged"
        )
    # A GET, which a webhook refuses harmlessly: an answer proves it is there. Never the URL.
    return _reached("alert webhook", probe(url, PROBE_TIMEOUT_SECONDS))


def _reached(name: str, answer: str) -> Row:
    return Row(name, OK, "reachable") if answer == OK else Row(name, FAIL, answer)
