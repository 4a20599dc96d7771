"""Master-data files: the catalog CSV and the mappings TOML load, or say exactly what is wrong."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from returnbridge.domain.errors import MasterDataError
from returnbridge.domain.mappings import (
    GlAccounts,
    Mappings,
    Route,
    mappings_from_dict,
    mappings_to_dict,
)
from returnbridge.domain.money import Money, parse_minor_units
from returnbridge.masterdata.catalog_csv import read_catalog
from returnbridge.masterdata.mappings_toml import DEFAULT_MAPPINGS, parse_mappings, read_mappings

HEADER = (
    "sku",
    "asin",
    "ean",
    "aliases",
    "active",
    "non_inventory",
    "unit_cost",
    "currency",
    "description",
)
GOOD_ROW = {
    "sku": "CAS-123-BLK-M",
    "asin": "B0CAS123BK",
    "ean": "5012345678900",
    "aliases": "",
    "active": "true",
    "non_inventory": "false",
    "unit_cost": "12.50",
    "currency": "GBP",
    "description": "Training tee, black, M",
}


def csv_text(rows: list[dict[str, str]], header: tuple[str, ...] = HEADER) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(column, "") for column in header])
    return out.getvalue()


def row(**cells: str) -> dict[str, str]:
    return {**GOOD_ROW, **cells}


@pytest.fixture
def catalog_file(tmp_path: Path) -> Path:
    return tmp_path / "catalog.csv"


def refusal(path: Path) -> str:
    with pytest.raises(MasterDataError) as refused:
        read_catalog(path)
    return refused.value.message


# -- the catalog CSV ------------------------------------------------------------------------------


def test_a_good_catalog_file_loads_every_column(catalog_file: Path) -> None:
    catalog_file.write_text(
        csv_text(
            [
                row(aliases="LEGACY-1| old 2 |", unit_cost="12.5", asin="b0cas123bk"),
                row(
                    sku="FEE-DAMAGED-ITEM",
                    asin="",
                    ean="",
                    active="no",
                    non_inventory="yes",
                    unit_cost="0",
                    currency="eur",
                    description="",
                ),
            ]
        ),
        encoding="utf-8",
    )
    first, second = read_catalog(catalog_file)
    assert first.sku == "CAS-123-BLK-M"
    assert first.aliases == ("LEGACY-1", "old 2")
    assert first.unit_cost == Money(1250, "GBP")
    assert first.asin == "B0CAS123BK"
    assert first.ean == "5012345678900"
    assert (first.active, first.non_inventory) == (True, False)
    assert first.description == "Training tee, black, M"
    assert second.unit_cost == Money(0, "EUR")
    assert (second.active, second.non_inventory) == (False, True)
    assert (second.asin, second.ean, second.aliases) == (None, None, ())


def test_a_catalog_file_needs_only_the_required_columns_in_any_order(catalog_file: Path) -> None:
    catalog_file.write_text("Currency, UNIT_COST ,Sku\nGBP,3,CAS-1\n", encoding="utf-8")
    (item,) = read_catalog(catalog_file)
    assert item.sku == "CAS-1"
    assert item.unit_cost == Money(300, "GBP")
    assert (item.active, item.non_inventory) == (True, False)


def test_a_catalog_file_saved_with_a_byte_order_mark_loads(catalog_file: Path) -> None:
    catalog_file.write_bytes(csv_text([row()]).encode("utf-8-sig"))
    assert [item.sku for item in read_catalog(catalog_file)] == ["CAS-123-BLK-M"]


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("unit_cost", "12.345", "at most two decimals"),
        ("unit_cost", "abc", "at most two decimals"),
        ("unit_cost", "-1.00", "negative"),
        ("unit_cost", "", "empty"),
        ("currency", "GB", "not a 3-letter ISO code"),
        ("currency", "G8P", "not a 3-letter ISO code"),
        ("ean", "50123", "not an EAN/GTIN"),
        ("ean", "501234567890X", "not an EAN/GTIN"),
        ("asin", "B0SHORT", "not a 10-character ASIN"),
        ("asin", "1234567890", "not a 10-character ASIN"),
        ("active", "maybe", "not true or false"),
        ("non_inventory", "2", "not true or false"),
        ("sku", "", "is empty"),
    ],
)
def test_a_bad_cell_is_refused_naming_file_row_and_field(
    catalog_file: Path, field: str, value: str, why: str
) -> None:
    catalog_file.write_text(csv_text([row(sku="CAS-1"), row(**{field: value})]), encoding="utf-8")
    message = refusal(catalog_file)
    assert f"catalog.csv row 3, field '{field}'" in message
    assert why in message
    assert "row 2" not in message


def test_a_refusal_lists_every_bad_row(catalog_file: Path) -> None:
    catalog_file.write_text(
        csv_text(
            [
                row(sku="CAS-1", unit_cost="abc"),
                row(sku="CAS-2"),
                row(sku="CAS-3", currency="POUNDS"),
                row(sku="CAS-4", active="perhaps"),
            ]
        ),
        encoding="utf-8",
    )
    message = refusal(catalog_file)
    assert "row 2, field 'unit_cost'" in message
    assert "row 4, field 'currency'" in message
    assert "row 5, field 'active'" in message
    assert "row 3" not in message


def test_a_row_with_more_cells_than_the_header_is_refused(catalog_file: Path) -> None:
    catalog_file.write_text("sku,unit_cost,currency\nCAS-1,1.00,GBP\nCAS-2,1.00,GBP,x\n")
    assert "catalog.csv row 3, field '(row)': more cells" in refusal(catalog_file)


def test_a_file_without_a_required_column_is_refused_naming_it(catalog_file: Path) -> None:
    catalog_file.write_text("sku,unit_cost\nCAS-1,1.00\n")
    assert refusal(catalog_file) == "catalog.csv: header lacks column(s) currency"


def test_a_file_with_an_unknown_column_is_refused_naming_it(catalog_file: Path) -> None:
    catalog_file.write_text("sku,unit_cost,currency,colour\nCAS-1,1.00,GBP,black\n")
    assert refusal(catalog_file) == "catalog.csv: unknown column(s) colour"


def test_a_file_that_is_not_utf8_is_refused_naming_the_file(catalog_file: Path) -> None:
    catalog_file.write_bytes(b"sku,unit_cost,currency\nCAS-1,1.00,GBP\nCAF\xc9-2,1.00,GBP\n")
    message = refusal(catalog_file)
    assert message.startswith("catalog.csv row 3: not UTF-8")
    assert "byte 41" in message


def test_a_file_that_is_not_utf8_is_refused_naming_the_row(catalog_file: Path) -> None:
    catalog_file.write_bytes(b"sku,unit_cost,currency\nCAS-1,1.00,GBP\nCAF\xc9-2,1.00,GBP\n")
    assert "row 3" in refusal(catalog_file)


def test_a_file_that_cannot_be_read_is_refused(tmp_path: Path) -> None:
    assert "missing.csv: cannot be read" in refusal(tmp_path / "missing.csv")


def test_two_rows_answering_to_one_identifier_are_refused_naming_both(catalog_file: Path) -> None:
    catalog_file.write_text(
        csv_text([row(sku="CAS-1"), row(sku="CAS-2")]), encoding="utf-8"
    )  # same EAN and ASIN
    message = refusal(catalog_file)
    assert message.startswith("catalog.csv: ")
    assert "'CAS-1'" in message and "'CAS-2'" in message


def test_a_quoted_description_spanning_two_lines_is_kept_intact(catalog_file: Path) -> None:
    catalog_file.write_text(
        csv_text([row(description="Training tee\nblack, size M")]), encoding="utf-8"
    )
    (item,) = read_catalog(catalog_file)
    assert item.description == "Training tee\nblack, size M"


# -- the mappings TOML ----------------------------------------------------------------------------

SHIPPED = DEFAULT_MAPPINGS.read_text(encoding="utf-8")


def mappings_refusal(text: str) -> str:
    with pytest.raises(MasterDataError) as refused:
        parse_mappings(text)
    return refused.value.message


def test_the_shipped_mappings_file_loads() -> None:
    mappings = read_mappings(DEFAULT_MAPPINGS)
    assert len(mappings.reasons) == 8
    assert mappings.sellable_grades == frozenset({"A"})
    assert mappings.grade_routes == {
        "A": Route.RESTOCK,
        "B": Route.REFURBISH,
        "C": Route.LIQUIDATE,
        "D": Route.WRITE_OFF,
        "F": Route.RETURN_TO_VENDOR,
    }
    assert set(mappings.dispositions) == {"RESTOCK", "REFURBISH", "LIQUIDATE", "DESTROY", "RTV"}
    assert set(mappings.charges) == {"DAMAGED_ITEM_FEE", "REPACKAGING_FEE"}
    assert mappings.write_off_disposition == "DESTROY"
    assert mappings.dispositions["DESTROY"].route is Route.WRITE_OFF
    assert mappings.charges["DAMAGED_ITEM_FEE"].non_inventory_sku == "FEE-DAMAGED-ITEM"
    assert mappings.dispositions["RESTOCK"].accounts == GlAccounts(
        "1310-INVENTORY-SELLABLE", "1390-RETURNS-IN-TRANSIT"
    )
    assert parse_mappings(SHIPPED) == mappings


def test_a_non_sellable_grade_routed_to_restock_is_refused() -> None:
    message = mappings_refusal(SHIPPED.replace('B = "refurbish"', 'B = "restock"'))
    assert "field 'grades.B'" in message
    assert "only a sellable grade (A) may route to restock" in message


def test_a_grade_declared_sellable_may_route_to_restock() -> None:
    text = SHIPPED.replace('B = "refurbish"', 'B = "restock"').replace(
        'sellable_grades = ["A"]', 'sellable_grades = ["A", "b"]'
    )
    assert parse_mappings(text).route_for_grade("B") is Route.RESTOCK


def test_an_unknown_route_is_refused_naming_the_field() -> None:
    message = mappings_refusal(SHIPPED.replace('B = "refurbish"', 'B = "donate"'))
    assert message.startswith("mappings.toml: field 'grades.B': ")


def test_a_write_off_disposition_that_does_not_write_off_is_refused() -> None:
    message = mappings_refusal(
        SHIPPED.replace('write_off_disposition = "DESTROY"', 'write_off_disposition = "RTV"')
    )
    assert "field 'write_off_disposition': 'RTV' must name a disposition" in message


def test_a_write_off_disposition_naming_no_disposition_is_refused() -> None:
    message = mappings_refusal(
        SHIPPED.replace('write_off_disposition = "DESTROY"', 'write_off_disposition = "BURN"')
    )
    assert "field 'write_off_disposition': 'BURN'" in message


def test_invalid_toml_is_refused_naming_the_file() -> None:
    with pytest.raises(MasterDataError, match=r"^brand\.toml: not valid TOML"):
        parse_mappings("[grades\nA = 'restock'", name="brand.toml")


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ('colour = "black"\n', "colour"),
        (
            '[dispositions.DONATE]\nroute = "write_off"\ndebit = "1"\ncredit = "2"\nvat = "3"\n',
            "dispositions.DONATE.vat",
        ),
    ],
)
def test_an_unknown_key_is_refused_naming_it(extra: str, field: str) -> None:
    text = extra + SHIPPED if not extra.startswith("[") else SHIPPED + extra
    assert f"field '{field}': Extra inputs are not permitted" in mappings_refusal(text)


def test_a_disposition_without_accounts_is_refused_naming_the_field() -> None:
    message = mappings_refusal(SHIPPED + '[dispositions.DONATE]\nroute = "write_off"\n')
    assert "field 'dispositions.DONATE.debit'" in message
    assert "field 'dispositions.DONATE.credit'" in message


def test_codes_are_looked_up_without_case_or_surrounding_blanks() -> None:
    mappings = parse_mappings(SHIPPED)
    assert mappings.route_for_grade("a") is Route.RESTOCK
    assert mappings.is_sellable(" a ")
    assert not mappings.is_sellable("b")
    rule = mappings.disposition(" restock ")
    assert rule is not None and rule.route is Route.RESTOCK
    assert mappings.amazon_reason(" 3 ") == "DEFECTIVE"
    charge = mappings.charge("damaged_item_fee")
    assert charge is not None and charge.code == "DAMAGED_ITEM_FEE"
    assert mappings.route_for_grade("Z") is None
    assert mappings.disposition("DONATE") is None


def test_codes_written_in_lower_case_in_the_file_are_normalised() -> None:
    mappings = parse_mappings(
        'sellable_grades = ["a"]\nwrite_off_disposition = "destroy"\n'
        '[grades]\na = "restock"\n'
        '[dispositions.destroy]\nroute = "write_off"\ndebit = "5410"\ncredit = "1390"\n'
    )
    assert mappings.sellable_grades == frozenset({"A"})
    assert mappings.route_for_grade("A") is Route.RESTOCK
    assert mappings.write_off_disposition == "DESTROY"
    assert set(mappings.dispositions) == {"DESTROY"}


def test_two_grades_that_differ_only_in_case_are_refused() -> None:
    assert "grades" in mappings_refusal(
        SHIPPED.replace("[grades]\n", '[grades]\na = "liquidate"\n')
    )


def test_a_blank_amazon_reason_is_refused() -> None:
    assert "reasons.9" in mappings_refusal(SHIPPED.replace("[reasons]\n", '[reasons]\n"9" = " "\n'))


def test_the_mappings_survive_their_stored_form() -> None:
    mappings = parse_mappings(SHIPPED)
    assert mappings_from_dict(mappings_to_dict(mappings)) == mappings


def test_mappings_left_unconfigured_route_nothing() -> None:
    assert Mappings().route_for_grade("A") is None


# -- money ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "minor"),
    [
        ("12.50", 1250),
        ("12.5", 1250),
        ("12", 1200),
        ("0.05", 5),
        ("0", 0),
        (" 3.20 ", 320),
        ("-1.00", -100),
        ("1234567.89", 123456789),
    ],
)
def test_an_amount_with_up_to_two_decimals_reads_as_minor_units(text: str, minor: int) -> None:
    assert parse_minor_units(text) == minor


@pytest.mark.parametrize(
    "text", ["12.345", "abc", "", "   ", ".50", "1,000.00", "1e3", "+1", "--1", "12.5.0", "£12"]
)
def test_anything_else_is_refused_rather_than_rounded(text: str) -> None:
    with pytest.raises(ValueError):
        parse_minor_units(text)


@pytest.mark.parametrize("currency", ["gbp", "GB", "GBPX", "G8P", ""])
def test_money_needs_an_iso_currency_code(currency: str) -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        Money(100, currency)


def test_money_times_a_quantity_keeps_its_currency() -> None:
    assert Money(1250, "GBP").times(3) == Money(3750, "GBP")
