from returnbridge.domain.catalog import Catalog, CatalogItem
from returnbridge.domain.money import Money


def test_a_sku_scanned_with_other_case_and_separators_resolves_to_the_canonical_sku() -> None:
    catalog = Catalog.of([CatalogItem("CAS-123-BLK-M", Money(1000, "GBP"))])
    for scanned in ("cas-123-blk-m", "CAS123BLKM", "CAS_123_BLK_M"):
        resolution = catalog.resolve(scanned)
        assert resolution is not None and resolution.item.sku == "CAS-123-BLK-M"
    assert catalog.resolve("CAS-124-BLK-M") is None
