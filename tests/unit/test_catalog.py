"""SKU resolution: every form a warehouse scans resolves to one canonical SKU, or to nothing."""

from __future__ import annotations

import pytest

from returnbridge.domain.catalog import Catalog, CatalogItem, MatchedBy
from returnbridge.domain.errors import CatalogAmbiguity, MasterDataError
from returnbridge.domain.money import Money

GBP = Money(1000, "GBP")


@pytest.fixture(scope="module")
def scans() -> Catalog:
    return Catalog.of(
        [
            CatalogItem(
                "CAS-123-BLK-M",
                GBP,
                asin="B0CAS123BK",
                ean="5012345678900",
                aliases=("LEGACY1230001", "cas 123 black medium"),
            ),
            # A UPC-12 product, stored in its EAN-13 form with a leading zero.
            CatalogItem("CAS-456-WHT-S", GBP, asin="B0CAS456WS", ean="0012345678905"),
        ]
    )


@pytest.mark.parametrize(
    "scanned",
    [
        "CAS-123-BLK-M",
        "cas-123-blk-m",
        "CAS123BLKM",
        "CAS_123_BLK_M",
        "CAS 123 BLK M",
        "  cas-123-blk-m\t",
        "Cas.123/Blk-M",
    ],
)
def test_a_vendor_sku_in_any_case_or_separators_resolves_to_the_canonical_sku(
    scans: Catalog, scanned: str
) -> None:
    resolution = scans.resolve(scanned)
    assert resolution is not None
    assert resolution.item.sku == "CAS-123-BLK-M"
    assert resolution.matched_by is MatchedBy.SKU


@pytest.mark.parametrize(
    ("scanned", "sku"),
    [
        ("5012345678900", "CAS-123-BLK-M"),  # EAN-13 as printed
        ("05012345678900", "CAS-123-BLK-M"),  # the same as a GTIN-14 with a leading zero
        ("501-2345-678900", "CAS-123-BLK-M"),  # with separators
        ("012345678905", "CAS-456-WHT-S"),  # UPC-12 of an item stored as EAN-13
        ("00012345678905", "CAS-456-WHT-S"),  # that UPC padded to GTIN-14
    ],
)
def test_an_ean_or_upc_resolves_with_or_without_leading_zeros(
    scans: Catalog, scanned: str, sku: str
) -> None:
    resolution = scans.resolve(scanned)
    assert resolution is not None
    assert resolution.item.sku == sku
    assert resolution.matched_by is MatchedBy.EAN


@pytest.mark.parametrize("scanned", ["B0CAS123BK", "b0cas123bk", "B0cas123Bk", " B0CAS123BK "])
def test_an_asin_in_any_case_resolves_to_its_sku(scans: Catalog, scanned: str) -> None:
    resolution = scans.resolve(scanned)
    assert resolution is not None
    assert resolution.item.sku == "CAS-123-BLK-M"
    assert resolution.matched_by is MatchedBy.ASIN


@pytest.mark.parametrize(
    "scanned", ["LEGACY1230001", "legacy-1230001", "CAS 123 BLACK MEDIUM", "cas_123_black_medium"]
)
def test_an_alias_resolves_to_its_sku(scans: Catalog, scanned: str) -> None:
    resolution = scans.resolve(scanned)
    assert resolution is not None
    assert resolution.item.sku == "CAS-123-BLK-M"
    assert resolution.matched_by is MatchedBy.ALIAS


@pytest.mark.parametrize(
    "scanned",
    [
        "CAS-124-BLK-M",  # one digit off the SKU
        "CAS-123-BLK",  # a prefix of the SKU
        "5012345678901",  # one digit off the EAN
        "501234567890",  # the EAN missing its check digit
        "15012345678900",  # a case-pack GTIN-14, not the unit
        "B0CAS123BX",  # one character off the ASIN
        "LEGACY123000",
    ],
)
def test_an_identifier_nothing_answers_to_resolves_to_none(scans: Catalog, scanned: str) -> None:
    assert scans.resolve(scanned) is None


@pytest.mark.parametrize("scanned", ["", " ", "\t\n"])
def test_a_blank_scan_resolves_to_none(scans: Catalog, scanned: str) -> None:
    assert scans.resolve(scanned) is None


def test_an_alias_that_reads_like_its_own_sku_is_still_matched_by_sku() -> None:
    catalog = Catalog.of([CatalogItem("CAS-1-BLK", GBP, aliases=("cas1blk", "OLD-1"))])
    resolution = catalog.resolve("CAS1BLK")
    assert resolution is not None
    assert resolution.matched_by is MatchedBy.SKU


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(
            CatalogItem("CAS-123-BLK-M", GBP),
            CatalogItem("cas_123_blk_m", GBP),
            id="skus-that-normalise-alike",
        ),
        pytest.param(
            CatalogItem("CAS-1", GBP, ean="5012345678900"),
            CatalogItem("CAS-2", GBP, ean="05012345678900"),
            id="shared-ean",
        ),
        pytest.param(
            CatalogItem("CAS-1", GBP, asin="B0CAS123BK"),
            CatalogItem("CAS-2", GBP, asin="b0cas123bk"),
            id="shared-asin",
        ),
        pytest.param(
            CatalogItem("CAS-1", GBP, aliases=("OLD-7",)),
            CatalogItem("CAS-2", GBP, aliases=("old 7",)),
            id="shared-alias",
        ),
        pytest.param(
            CatalogItem("CAS-1", GBP, aliases=("CAS-2",)),
            CatalogItem("CAS-2", GBP),
            id="alias-of-one-is-the-sku-of-the-other",
        ),
    ],
)
def test_two_items_answering_to_one_identifier_are_refused_at_load(
    first: CatalogItem, second: CatalogItem
) -> None:
    with pytest.raises(CatalogAmbiguity) as refused:
        Catalog.of([first, second])
    assert repr(first.sku) in refused.value.message
    assert repr(second.sku) in refused.value.message


def test_a_sku_listed_twice_is_refused_at_load() -> None:
    with pytest.raises(CatalogAmbiguity, match="'CAS-1' is listed twice"):
        Catalog.of([CatalogItem("CAS-1", GBP), CatalogItem("CAS-1", Money(2000, "GBP"))])


@pytest.mark.parametrize(
    ("item", "what"),
    [
        (CatalogItem("CAS-1", GBP, ean="50123"), "EAN '50123'"),
        (CatalogItem("CAS-1", GBP, ean="50123456789X0"), "EAN '50123456789X0'"),
        (CatalogItem("CAS-1", GBP, asin="B0SHORT"), "ASIN 'B0SHORT'"),
        (CatalogItem("CAS-1", GBP, asin="1234567890"), "ASIN '1234567890'"),
    ],
)
def test_an_identifier_of_the_wrong_shape_is_refused_at_load(item: CatalogItem, what: str) -> None:
    with pytest.raises(CatalogAmbiguity) as refused:
        Catalog.of([item])
    assert what in refused.value.message
    assert "'CAS-1'" in refused.value.message


def test_an_ambiguity_is_a_coded_master_data_error() -> None:
    with pytest.raises(MasterDataError) as refused:
        Catalog.of([CatalogItem("A-1", GBP), CatalogItem("a1", GBP)])
    assert refused.value.code == "catalog.ambiguous"


def test_an_alias_equal_to_another_items_ean_is_refused_at_load() -> None:
    with pytest.raises(CatalogAmbiguity):
        Catalog.of(
            [
                CatalogItem("CAS-1", GBP, aliases=("5012345678900",)),
                CatalogItem("CAS-2", GBP, ean="5012345678900"),
            ]
        )


def test_the_catalog_counts_its_items(scans: Catalog) -> None:
    assert len(scans) == 2
    assert len(Catalog.of([])) == 0
