"""Read the warehouses file (TOML): each ZigZag DC's Amazon warehouse, and each Amazon
warehouse's stock authority, with errors that name the file, the entry and the field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from returnbridge.domain.errors import MasterDataError
from returnbridge.domain.stock import AmazonWarehouse, StockAuthority, StockGuards, WarehouseMap
from returnbridge.masterdata.toml_file import read_text, validated

DEFAULT_WAREHOUSES = Path(__file__).resolve().parent.parent / "data" / "warehouses.toml"

WarehouseId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[\w.\-]+$"),
]

AUTHORITY_HELP = (
    "'snapshot' (returnbridge sends the stock: the WMS/ERP snapshot plus the restocks since; "
    "the brand's own inventory feed for the warehouse must be off) or 'none' (returnbridge "
    "sends nothing; the brand's own feed informs Amazon)"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Dc(_Strict):
    amazon_warehouse: WarehouseId


class _Warehouse(_Strict):
    stock_authority: Literal["snapshot", "none"] = "none"


class _Stock(_Strict):
    snapshot_max_age_hours: float = Field(default=26.0, gt=0, le=24 * 366)
    drop_guard_share: float = Field(default=0.5, gt=0, le=1)
    drop_guard_min_units: int = Field(default=10, ge=1)


class _WarehousesFile(_Strict):
    stock: _Stock = _Stock()
    dcs: dict[WarehouseId, _Dc] = Field(default_factory=dict)
    warehouses: dict[WarehouseId, _Warehouse] = Field(default_factory=dict)


def parse_warehouses(text: str, name: str = "warehouses.toml") -> WarehouseMap:
    raw = validated(text, name, _WarehousesFile, _problem)
    problems = [
        f"{name}: entry 'dcs.{dc}', field 'amazon_warehouse': {d.amazon_warehouse!r} is not "
        f"declared; add [warehouses.{d.amazon_warehouse}] with stock_authority = "
        f"{AUTHORITY_HELP}"
        for dc, d in sorted(raw.dcs.items())
        if d.amazon_warehouse not in raw.warehouses
    ]
    if problems:
        raise MasterDataError("; ".join(problems))
    return WarehouseMap(
        dcs={dc: d.amazon_warehouse for dc, d in raw.dcs.items()},
        warehouses={
            wid: AmazonWarehouse(wid, StockAuthority(w.stock_authority))
            for wid, w in raw.warehouses.items()
        },
        guards=StockGuards(
            max_snapshot_age=timedelta(hours=raw.stock.snapshot_max_age_hours),
            drop_share=raw.stock.drop_guard_share,
            drop_min_units=raw.stock.drop_guard_min_units,
        ),
    )


def _problem(name: str, err: Any) -> str:
    loc = [str(p) for p in err["loc"]]
    msg = str(err["msg"])
    if loc and loc[-1] == "stock_authority":
        msg = f"must be {AUTHORITY_HELP}"
    if len(loc) >= 3 and loc[0] in ("dcs", "warehouses"):
        return f"{name}: entry '{loc[0]}.{loc[1]}', field '{'.'.join(loc[2:])}': {msg}"
    return f"{name}: field '{'.'.join(loc)}': {msg}"


def authority_notes(warehouses: WarehouseMap) -> list[str]:
    """What each warehouse's authority means for the people running the brand's feeds."""
    notes = []
    for wid, w in sorted(warehouses.warehouses.items()):
        dcs = ", ".join(warehouses.dcs_of(wid)) or "no DC"
        if w.authority is StockAuthority.SNAPSHOT:
            notes.append(
                f"{wid} ({dcs}): snapshot: returnbridge sends this warehouse's stock to Amazon "
                f"(the latest snapshot plus the restocks since); turn the brand's own inventory "
                f"feed for {wid} off, or the two will overwrite each other"
            )
        else:
            notes.append(
                f"{wid} ({dcs}): none: returnbridge sends no stock for {wid}; the brand's own "
                "feed informs Amazon, and restocks reach the ERP as stock adjustments"
            )
    return notes


def read_warehouses(path: Path) -> WarehouseMap:
    return parse_warehouses(read_text(path), path.name)
