"""Fixtures for the Vendor Central export tests: the app on a fresh database (SQLite and
PostgreSQL, through ``db_url`` from tests/conftest.py) and a seeded day's export files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from returnbridge.bootstrap import App, bootstrap
from returnbridge.config import Settings
from returnbridge.sandboxes.amazon.exports import VendorExportFiles, write_vendor_exports
from returnbridge.sandboxes.zigzag.generator import DemoDay, generate_day, write_refunds
from returnbridge.store.migrate import upgrade


@pytest.fixture
def rb(db_url: str) -> Iterator[App]:
    """The app on a fresh, upgraded database."""
    app = bootstrap(Settings(database_url=db_url))
    upgrade(app.engine)
    yield app
    app.close()


@pytest.fixture(scope="session")
def day() -> DemoDay:
    return generate_day(400, 11)


@pytest.fixture(scope="session")
def day_files(day: DemoDay, tmp_path_factory: pytest.TempPathFactory) -> VendorExportFiles:
    """The day's three exports, plus its refunds at first scan as JSON lines (refunds.jsonl)."""
    folder = tmp_path_factory.mktemp("vendor-exports")
    write_refunds(day, folder / "refunds.jsonl")
    return write_vendor_exports(day, folder)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path
