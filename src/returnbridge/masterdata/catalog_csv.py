"""Read the catalog master from CSV, with errors that name the file, row and field.

Columns (header row required, order free): ``sku`` (required), ``asin``, ``ean``, ``aliases``
(separated by ``|``), ``active`` (true/false, default true), ``non_inventory`` (default false),
``unit_cost`` (decimal, e.g. ``12.50``; required), ``currency`` (ISO code, required),
``description``.
"""

from __future__ import annotations

from pathlib import Path

from returnbridge.domain.catalog import Catalog, CatalogItem, asin_key, gtin_key
from returnbridge.domain.errors import CatalogAmbiguity, MasterDataError
from returnbridge.domain.money import Money, parse_minor_units
from returnbridge.masterdata.csv_file import dict_reader

REQUIRED = ("sku", "unit_cost", "currency")
KNOWN = (*REQUIRED, "asin", "ean", "aliases", "active", "non_inventory", "description")
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}
MAX_ERRORS = 20


def _flag(value: str, default: bool) -> bool:
    text = value.strip().lower()
    if not text:
        return default
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{value!r} is not true or false")


def read_catalog(path: Path) -> list[CatalogItem]:
    """Every item of the file, or a ``MasterDataError`` listing every bad cell found."""
    reader = dict_reader(path, REQUIRED, KNOWN, MasterDataError)
    items: list[CatalogItem] = []
    errors: list[str] = []
    for row in reader:
        number = reader.line_num

        def cell(name: str, row: dict[str, str | None] = row) -> str:
            return (row.get(name) or "").strip()

        def fail(field: str, why: str, number: int = number) -> None:
            errors.append(f"{path.name} row {number}, field '{field}': {why}")

        if None in row:
            fail("(row)", "more cells than the header has columns")
            continue
        sku = cell("sku")
        if not sku:
            fail("sku", "is empty")
        try:
            cost = parse_minor_units(cell("unit_cost"))
            if cost < 0:
                raise ValueError("is negative")
        except ValueError as exc:
            fail("unit_cost", str(exc))
            cost = 0
        currency = cell("currency").upper()
        if len(currency) != 3 or not currency.isalpha():
            fail("currency", f"{cell('currency')!r} is not a 3-letter ISO code")
        ean = cell("ean") or None
        if ean and gtin_key(ean) is None:
            fail("ean", f"{ean!r} is not an EAN/GTIN of 8 to 14 digits")
        asin = cell("asin") or None
        if asin and asin_key(asin) is None:
            fail("asin", f"{asin!r} is not a 10-character ASIN")
        flags = {}
        for name, default in (("active", True), ("non_inventory", False)):
            try:
                flags[name] = _flag(cell(name), default)
            except ValueError as exc:
                fail(name, str(exc))
        if len(errors) >= MAX_ERRORS:
            break
        if errors:
            continue
        items.append(
            CatalogItem(
                sku=sku,
                unit_cost=Money(cost, currency),
                asin=asin.upper() if asin else None,
                ean=ean,
                aliases=tuple(a.strip() for a in cell("aliases").split("|") if a.strip()),
                active=flags["active"],
                non_inventory=flags["non_inventory"],
                description=cell("description"),
            )
        )
    if errors:
        raise MasterDataError("; ".join(errors))
    try:
        Catalog.of(items)
    except CatalogAmbiguity as exc:
        raise MasterDataError(f"{path.name}: {exc.message}") from exc
    return items
