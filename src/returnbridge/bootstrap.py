"""The composition root: Settings -> engine, unit of work, decoders, processor."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from returnbridge.config import AmazonHosts, AmazonNotLocated, Settings, amazon_hosts
from returnbridge.config import ConfigurationMissing as ConfigurationMissing  # re-exported
from returnbridge.connectors.amazon import refunds as amazon_refunds
from returnbridge.connectors.amazon.spapi import SpApiConfig, SpApiVendor
from returnbridge.connectors.zigzag import wire as zigzag_wire
from returnbridge.domain.accounts import Accounts
from returnbridge.domain.catalog import CatalogItem
from returnbridge.domain.errors import InvalidEvent
from returnbridge.domain.events import ReturnEvent
from returnbridge.domain.mappings import Mappings, mappings_to_dict
from returnbridge.domain.stock import WarehouseMap
from returnbridge.masterdata.accounts_toml import read_accounts
from returnbridge.masterdata.catalog_csv import read_catalog
from returnbridge.masterdata.mappings_toml import read_mappings
from returnbridge.masterdata.stock_csv import read_stock_snapshot
from returnbridge.masterdata.warehouses_toml import read_warehouses
from returnbridge.services.cycles import (
    AmazonCalls,
    CallMeter,
    ClearingCycle,
    CycleSettings,
    Submission,
)
from returnbridge.services.exceptions import MANUAL_SOURCE, decode_manual
from returnbridge.services.pipeline import Processor
from returnbridge.services.ports import (
    AmazonVendor,
    CreditNote,
    Decoder,
    InventoryPosition,
    Store,
    TransactionStatus,
)
from returnbridge.services.stock_import import ResolvedSnapshot, resolve_snapshot
from returnbridge.store.cycles import cycle_rehearsal, cycle_transaction
from returnbridge.store.engine import make_engine
from returnbridge.store.sql import transaction
from returnbridge.store.stock import SnapshotImport, SqlStockStore

DECODERS: dict[str, Decoder] = {
    zigzag_wire.SOURCE: zigzag_wire.decode,
    amazon_refunds.SOURCE: amazon_refunds.decode,
    MANUAL_SOURCE: decode_manual,
}


def decode(source: str, event_id: str, payload: str) -> ReturnEvent:
    """Route a stored payload to the decoder of the partner that sent it."""
    decoder = DECODERS.get(source)
    if decoder is None:
        raise InvalidEvent(f"no decoder for source {source!r}")
    return decoder(source, event_id, payload)


def _meter(vendor: AmazonVendor) -> CallMeter | None:
    """The vendor's running request counts, where it keeps them (the SP-API connector does):
    each cycle records what it cost, for ``/metrics``."""
    if not isinstance(vendor, SpApiVendor):
        return None
    stats = vendor.stats

    def meter() -> AmazonCalls:
        return AmazonCalls(stats.calls, stats.retries, stats.throttled)

    return meter


class _SendsNothing:
    """The vendor of a dry run: a call to it would be a bug, so it refuses loudly."""

    def submit_inventory(self, warehouse_id: str, positions: Sequence[InventoryPosition]) -> str:
        raise RuntimeError("a dry run sends nothing to Amazon")

    def submit_credit_notes(self, notes: Sequence[CreditNote]) -> str:
        raise RuntimeError("a dry run sends nothing to Amazon")

    def inventory_status(self, transaction_id: str) -> TransactionStatus:
        raise RuntimeError("a dry run asks Amazon nothing")

    def credit_note_status(self, transaction_id: str) -> TransactionStatus:
        raise RuntimeError("a dry run asks Amazon nothing")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class App:
    settings: Settings
    engine: Engine
    processor: Processor
    clock: Callable[[], datetime]

    def stores(self) -> AbstractContextManager[Store]:
        return transaction(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def with_own_processor(self) -> App:
        """This app with a ``Processor`` of its own (its own master-data cache), for a worker
        thread beside another that processes (the API applies people's decisions with ``rb``'s)."""
        p = self.processor
        return replace(self, processor=Processor(p.stores, p.decode, p.clock, p.batch_size))

    def amazon_missing(self) -> list[str]:
        """The Amazon settings to set (empty: returnbridge can talk to Amazon): credentials not
        set, and where Amazon is when the settings do not say (``config.amazon_hosts``)."""
        missing = self._amazon_credentials_missing()
        try:
            self.amazon_hosts()
        except AmazonNotLocated as exc:
            missing.append(exc.needs)
        return missing

    def _amazon_credentials_missing(self) -> list[str]:
        s = self.settings
        return [
            name
            for name, value in (
                ("RETURNBRIDGE_AMAZON_CLIENT_ID", s.amazon_client_id),
                ("RETURNBRIDGE_AMAZON_CLIENT_SECRET", s.amazon_client_secret.get_secret_value()),
                ("RETURNBRIDGE_AMAZON_REFRESH_TOKEN", s.amazon_refresh_token.get_secret_value()),
                ("RETURNBRIDGE_AMAZON_SELLING_PARTY", s.amazon_selling_party),
            )
            if not value
        ]

    def amazon_hosts(self) -> AmazonHosts:
        """Amazon's endpoint and LWA URL; ``AmazonNotLocated`` (``ProductionNotChosen`` for a
        real Amazon host outside production) when the settings do not resolve to them."""
        return amazon_hosts(self.settings)

    def amazon_vendor(self) -> SpApiVendor:
        """The SP-API connector configured by the settings; refuses missing credentials, and an
        endpoint that is not set or is the real Amazon's without production being chosen."""
        s = self.settings
        if self._amazon_credentials_missing():
            raise ConfigurationMissing(f"set {', '.join(self.amazon_missing())} to talk to Amazon")
        hosts = self.amazon_hosts()
        return SpApiVendor(
            SpApiConfig(
                endpoint=hosts.endpoint,
                lwa_url=hosts.lwa_url,
                client_id=s.amazon_client_id,
                client_secret=s.amazon_client_secret.get_secret_value(),
                refresh_token=s.amazon_refresh_token.get_secret_value(),
                selling_party=s.amazon_selling_party,
                remit_to_party=s.amazon_remit_to_party or s.amazon_selling_party,
            )
        )

    def clearing_cycle(self, vendor: AmazonVendor) -> ClearingCycle:
        engine = self.engine
        settings = CycleSettings(
            items_per_call=self.settings.amazon_items_per_call,
            invoices_per_call=self.settings.amazon_invoices_per_call,
            credit_note_prefix=self.settings.amazon_credit_note_prefix,
            stuck_after=timedelta(hours=self.settings.amazon_stuck_after_hours),
        )
        return ClearingCycle(
            lambda: cycle_transaction(engine),
            vendor,
            self.clock,
            settings,
            meter=_meter(vendor),
        )

    def rehearse_cycle(self) -> list[Submission]:
        """``cycle close --dry-run``: the submissions the next cycle would send, worked out in a
        transaction that is rolled back. Amazon is not asked (no credentials are needed)."""
        engine = self.engine
        return self.clearing_cycle(_SendsNothing()).rehearse(lambda: cycle_rehearsal(engine))

    def load_catalog(self, path: Path) -> list[CatalogItem]:
        """Replace the catalog master with a validated file (nothing changes on error)."""
        items = read_catalog(path)
        with self.stores() as store:
            store.replace_catalog(items)
            store.save_config("catalog", path.name, json.dumps({"items": len(items)}), self.clock())
        return items

    def load_warehouses(self, path: Path) -> WarehouseMap:
        """Replace the warehouse map with a validated file (nothing changes on error)."""
        return _load_warehouses(self, path)

    def import_stock(self, path: Path) -> StockImported:
        """Take a WMS/ERP stock snapshot file (refused whole on any bad row)."""
        return _import_stock(self, path)

    def load_accounts(self, path: Path) -> Accounts:
        """Replace the accounts with a validated file (nothing changes on error)."""
        accounts = read_accounts(path, self.settings.amazon_credit_note_prefix)
        with self.stores() as store:
            store.save_config("accounts", path.name, json.dumps(accounts.to_dict()), self.clock())
        return accounts

    def accounts(self) -> Accounts:
        """The accounts in force (none loaded: no account)."""
        with self.stores() as store:
            found = store.config("accounts")
        return Accounts.from_dict(json.loads(found[1])) if found else Accounts()

    def warehouse_map(self) -> WarehouseMap:
        with transaction(self.engine) as store:
            return SqlStockStore(store.conn).warehouse_map()

    def load_mappings(self, path: Path) -> Mappings:
        """Replace the mappings with a validated file (nothing changes on error)."""
        mappings = read_mappings(path)
        with self.stores() as store:
            store.save_config(
                "mappings", path.name, json.dumps(mappings_to_dict(mappings)), self.clock()
            )
        return mappings


@dataclass(frozen=True)
class StockImported:
    resolved: ResolvedSnapshot
    stored: SnapshotImport


def _load_warehouses(app: App, path: Path) -> WarehouseMap:
    warehouses = read_warehouses(path)
    with transaction(app.engine) as store:
        SqlStockStore(store.conn).save_warehouse_map(warehouses, path.name, app.clock())
    return warehouses


def _import_stock(app: App, path: Path) -> StockImported:
    lines = read_stock_snapshot(path)
    with transaction(app.engine) as store:
        stock = SqlStockStore(store.conn)
        resolved = resolve_snapshot(path.name, lines, stock.warehouse_map(), store.load_catalog())
        stored = stock.import_snapshot(resolved.rows, path.name, app.clock())
    return StockImported(resolved, stored)


def bootstrap(settings: Settings, clock: Callable[[], datetime] = utc_now) -> App:
    engine = make_engine(settings.database_url)
    stores = lambda: transaction(engine)  # noqa: E731 - the unit-of-work factory
    processor = Processor(stores, decode, clock, batch_size=settings.batch_size)
    return App(settings=settings, engine=engine, processor=processor, clock=clock)
