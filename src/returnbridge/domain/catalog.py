"""The catalog master and SKU resolution from any known form.

A returned unit is scanned in whatever form the warehouse has to hand: the vendor SKU with
other case or separators (``cas-123-blk-m``, ``CAS123BLKM``, ``CAS_123_BLK_M``), an EAN/GTIN
with or without leading zeros, an ASIN, or a known alias. Each resolves to exactly one
canonical vendor SKU, or to nothing (an ``UNKNOWN_SKU`` exception upstream). Ambiguity is
refused when the catalog is loaded, never guessed at resolution time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from returnbridge.domain.errors import CatalogAmbiguity
from returnbridge.domain.money import Money

_SEPARATORS = re.compile(r"[\s\-_./\\]+")
_ASIN = re.compile(r"^[A-Z0-9]{10}$")


def sku_key(raw: str) -> str:
    """The form of a SKU or alias that ignores case and separators."""
    return _SEPARATORS.sub("", raw.strip()).upper()


def gtin_key(raw: str) -> str | None:
    """A GTIN (EAN-8, UPC-12, EAN-13, GTIN-14) padded to 14 digits, or None if not one."""
    digits = _SEPARATORS.sub("", raw.strip())
    if not digits.isdigit() or not 8 <= len(digits) <= 14:
        return None
    return digits.zfill(14)


def asin_key(raw: str) -> str | None:
    key = sku_key(raw)
    return key if _ASIN.match(key) and not key.isdigit() else None


@dataclass(frozen=True)
class CatalogItem:
    """One product of the brand's catalog master."""

    sku: str
    unit_cost: Money
    asin: str | None = None
    ean: str | None = None
    aliases: tuple[str, ...] = ()
    active: bool = True
    non_inventory: bool = False
    description: str = ""


class MatchedBy(StrEnum):
    SKU = "sku"
    ALIAS = "alias"
    EAN = "ean"
    ASIN = "asin"


@dataclass(frozen=True)
class Resolution:
    item: CatalogItem
    matched_by: MatchedBy


@dataclass
class Catalog:
    """An index of catalog items by every identifier they answer to."""

    items: dict[str, CatalogItem] = field(default_factory=dict)
    _by_sku: dict[str, tuple[str, MatchedBy]] = field(default_factory=dict)
    _by_gtin: dict[str, str] = field(default_factory=dict)
    _by_asin: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, items: Iterable[CatalogItem]) -> Catalog:
        catalog = cls()
        for item in items:
            catalog._add(item)
        catalog._refuse_cross_index_clashes()
        return catalog

    def _refuse_cross_index_clashes(self) -> None:
        """A SKU or alias that reads as another item's EAN or ASIN would resolve by the
        first index tried, silently: refuse it at load like any other ambiguity."""
        for key, (sku, _) in self._by_sku.items():
            for index, reader, what in (
                (self._by_gtin, gtin_key, "EAN"),
                (self._by_asin, asin_key, "ASIN"),
            ):
                as_other = reader(key)
                other = index.get(as_other) if as_other else None
                if other is not None and other != sku:
                    raise CatalogAmbiguity(
                        f"identifier {key!r} of {sku!r} is also the {what} of {other!r}"
                    )

    def _claim(self, index: dict[str, str], key: str, sku: str, what: str) -> None:
        other = index.get(key)
        if other is not None and other != sku:
            raise CatalogAmbiguity(f"{what} {key!r} belongs to both {other!r} and {sku!r}")
        index[key] = sku

    def _add(self, item: CatalogItem) -> None:
        if item.sku in self.items:
            raise CatalogAmbiguity(f"SKU {item.sku!r} is listed twice")
        self.items[item.sku] = item
        for raw, how in [(item.sku, MatchedBy.SKU), *((a, MatchedBy.ALIAS) for a in item.aliases)]:
            key = sku_key(raw)
            other = self._by_sku.get(key)
            if other is not None and other[0] != item.sku:
                raise CatalogAmbiguity(
                    f"identifier {raw!r} (read as {key!r}) belongs to both {other[0]!r} "
                    f"and {item.sku!r}"
                )
            if other is None or how is MatchedBy.SKU:
                self._by_sku[key] = (item.sku, how)
        if item.ean:
            gtin = gtin_key(item.ean)
            if gtin is None:
                raise CatalogAmbiguity(f"EAN {item.ean!r} of {item.sku!r} is not 8 to 14 digits")
            self._claim(self._by_gtin, gtin, item.sku, "EAN")
        if item.asin:
            asin = asin_key(item.asin)
            if asin is None:
                raise CatalogAmbiguity(f"ASIN {item.asin!r} of {item.sku!r} is not 10 characters")
            self._claim(self._by_asin, asin, item.sku, "ASIN")

    def resolve(self, scanned: str) -> Resolution | None:
        """The canonical item for an identifier as scanned, or None when nothing matches."""
        if not scanned or not scanned.strip():
            return None
        hit = self._by_sku.get(sku_key(scanned))
        if hit is not None:
            return Resolution(self.items[hit[0]], hit[1])
        gtin = gtin_key(scanned)
        if gtin is not None and gtin in self._by_gtin:
            return Resolution(self.items[self._by_gtin[gtin]], MatchedBy.EAN)
        asin = asin_key(scanned)
        if asin is not None and asin in self._by_asin:
            return Resolution(self.items[self._by_asin[asin]], MatchedBy.ASIN)
        return None

    def __len__(self) -> int:
        return len(self.items)
