"""The composition root: Settings -> engine, unit of work, decoders, processor."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from returnbridge.config import Settings
from returnbridge.connectors.amazon import refunds as amazon_refunds
from returnbridge.connectors.zigzag import wire as zigzag_wire
from returnbridge.domain.catalog import CatalogItem
from returnbridge.domain.errors import InvalidEvent
from returnbridge.domain.events import ReturnEvent
from returnbridge.domain.mappings import Mappings, mappings_to_dict
from returnbridge.masterdata.catalog_csv import read_catalog
from returnbridge.masterdata.mappings_toml import read_mappings
from returnbridge.services.exceptions import MANUAL_SOURCE, decode_manual
from returnbridge.services.pipeline import Processor
from returnbridge.services.ports import Decoder, Store
from returnbridge.store.engine import make_engine
from returnbridge.store.sql import transaction

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

    def load_catalog(self, path: Path) -> list[CatalogItem]:
        """Replace the catalog master with a validated file (nothing changes on error)."""
        items = read_catalog(path)
        with self.stores() as store:
            store.replace_catalog(items)
            store.save_config("catalog", path.name, json.dumps({"items": len(items)}), self.clock())
        return items

    def load_mappings(self, path: Path) -> Mappings:
        """Replace the mappings with a validated file (nothing changes on error)."""
        mappings = read_mappings(path)
        with self.stores() as store:
            store.save_config(
                "mappings", path.name, json.dumps(mappings_to_dict(mappings)), self.clock()
            )
        return mappings


def bootstrap(settings: Settings, clock: Callable[[], datetime] = utc_now) -> App:
    engine = make_engine(settings.database_url)
    stores = lambda: transaction(engine)  # noqa: E731 - the unit-of-work factory
    processor = Processor(stores, decode, clock, batch_size=settings.batch_size)
    return App(settings=settings, engine=engine, processor=processor, clock=clock)
