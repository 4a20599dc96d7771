"""Fixtures for the API: the real service over uvicorn on loopback, over SQLite or PostgreSQL,
with a catalog, the shipped mappings, one token per role, and exceptions of each side."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_support import (
    CATALOG,
    NAMES,
    Api,
    Clock,
    MakeApp,
    StartApi,
    open_ids,
    send,
    unmapped_charge,
    unmapped_reason,
)

from returnbridge.bootstrap import App, bootstrap
from returnbridge.config import Settings
from returnbridge.domain.auth import Role
from returnbridge.entrypoints.http import start_service
from returnbridge.masterdata.mappings_toml import DEFAULT_MAPPINGS
from returnbridge.services.access import create_token, revoke_tokens
from returnbridge.store.migrate import upgrade
from returnbridge.store.tokens import access_transaction

WAREHOUSES = """
[dcs.UK-DC1]
amazon_warehouse = "AMZ-UK1"

[warehouses.AMZ-UK1]
stock_authority = "snapshot"
"""
SNAPSHOT = "warehouse,sku,available,as_of\nAMZ-UK1,CAS-123-BLK-M,0,2026-11-03T01:00:00Z\n"


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[MakeApp]:
    """``make_app(url, stock=N, money=N)``: an upgraded database with a catalog, the shipped
    mappings, and N open exceptions of each side (stock: UNMAPPED_REASON, money:
    UNMAPPED_CHARGE)."""
    apps: list[App] = []

    def _make(url: str, stock: int = 0, money: int = 0) -> App:
        rb = bootstrap(Settings(database_url=url), clock=Clock())
        apps.append(rb)
        upgrade(rb.engine)
        catalog = tmp_path / "catalog.csv"
        catalog.write_text(CATALOG, encoding="utf-8")
        rb.load_catalog(catalog)
        rb.load_mappings(DEFAULT_MAPPINGS)
        # UK-DC1 restocks go to Amazon warehouse AMZ-UK1, whose WMS snapshot held none.
        warehouses = tmp_path / "warehouses.toml"
        warehouses.write_text(WAREHOUSES, encoding="utf-8")
        rb.load_warehouses(warehouses)
        snapshot = tmp_path / "stock.csv"
        snapshot.write_text(SNAPSHOT, encoding="utf-8")
        rb.import_stock(snapshot)
        for n in range(stock):
            send(rb, unmapped_reason(f"RS{n}"))
        for n in range(money):
            send(rb, unmapped_charge(f"RM{n}"))
        return rb

    yield _make
    for rb in apps:
        rb.close()


@pytest.fixture
def start_api(make_app: MakeApp, sqlite_url: str) -> Iterator[StartApi]:
    """``start_api(url, stock=N, money=N)``: that app served, with one token per role."""
    started: list[Api] = []

    def _start(url: str = sqlite_url, stock: int = 0, money: int = 0) -> Api:
        rb = make_app(url, stock, money)
        with access_transaction(rb.engine) as store:
            tokens = {
                role: create_token(store, name, role, "setup", rb.clock()).token
                for role, name in NAMES.items()
            }
            revoked = create_token(store, "rex.revoked", Role.ADMIN, "setup", rb.clock()).token
            revoke_tokens(store, "rex.revoked", "setup", rb.clock())
        running = start_service(rb)
        client = httpx.Client(base_url=running.url, timeout=10)
        api = Api(rb, running, client, tokens, revoked)
        api.stock = open_ids(rb, "UNMAPPED_REASON")
        api.money = open_ids(rb, "UNMAPPED_CHARGE")
        started.append(api)
        return api

    yield _start
    for api in started:
        api.client.close()
        api.running.stop()
