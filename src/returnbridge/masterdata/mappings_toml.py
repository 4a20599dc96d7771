"""Read the mappings file (TOML), with errors that name the file and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from returnbridge.domain.errors import MasterDataError
from returnbridge.domain.mappings import (
    ChargeRule,
    DispositionRule,
    GlAccounts,
    Mappings,
    Route,
    normalize_code,
)
from returnbridge.masterdata.toml_file import read_text, validated

DEFAULT_MAPPINGS = Path(__file__).resolve().parent.parent / "data" / "mappings.toml"

Account = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Disposition(_Strict):
    route: Route
    debit: Account
    credit: Account


class _Charge(_Strict):
    debit: Account
    credit: Account
    non_inventory_sku: str | None = None


class _MappingsFile(_Strict):
    sellable_grades: list[str] = Field(default_factory=lambda: ["A"], min_length=1)
    write_off_disposition: str = "DESTROY"
    reasons: dict[str, Code] = Field(default_factory=dict)
    grades: dict[str, Route] = Field(default_factory=dict)
    dispositions: dict[str, _Disposition] = Field(default_factory=dict)
    charges: dict[str, _Charge] = Field(default_factory=dict)


def _clashing_keys(raw: _MappingsFile) -> list[tuple[str, list[str]]]:
    clashes: list[tuple[str, list[str]]] = []
    for table in ("reasons", "grades", "dispositions", "charges"):
        seen: dict[str, list[str]] = {}
        for key in getattr(raw, table):
            seen.setdefault(normalize_code(key), []).append(key)
        clashes += [(table, keys) for keys in seen.values() if len(keys) > 1]
    return clashes


def parse_mappings(text: str, name: str = "mappings.toml") -> Mappings:
    raw = validated(text, name, _MappingsFile)
    problems = [
        f"{name}: field '{table}': keys {', '.join(repr(k) for k in keys)} differ only in case "
        "or spaces; codes compare without them, so keep one"
        for table, keys in _clashing_keys(raw)
    ]
    if problems:
        raise MasterDataError("; ".join(problems))
    sellable = frozenset(normalize_code(g) for g in raw.sellable_grades)
    grade_routes = {normalize_code(g): r for g, r in raw.grades.items()}
    problems += [
        f"{name}: field 'grades.{g}': only a sellable grade ({', '.join(sorted(sellable))}) "
        "may route to restock"
        for g, r in grade_routes.items()
        if r is Route.RESTOCK and g not in sellable
    ]
    dispositions = {
        normalize_code(code): DispositionRule(
            normalize_code(code), d.route, GlAccounts(d.debit, d.credit)
        )
        for code, d in raw.dispositions.items()
    }
    write_off = normalize_code(raw.write_off_disposition)
    if write_off not in dispositions or dispositions[write_off].route is not Route.WRITE_OFF:
        problems.append(
            f"{name}: field 'write_off_disposition': {raw.write_off_disposition!r} must name a "
            "disposition whose route is write_off"
        )
    if problems:
        raise MasterDataError("; ".join(problems))
    return Mappings(
        reasons={normalize_code(k): v.strip() for k, v in raw.reasons.items()},
        sellable_grades=sellable,
        grade_routes=grade_routes,
        dispositions=dispositions,
        charges={
            normalize_code(code): ChargeRule(
                normalize_code(code), GlAccounts(c.debit, c.credit), c.non_inventory_sku
            )
            for code, c in raw.charges.items()
        },
        write_off_disposition=write_off,
    )


def read_mappings(path: Path) -> Mappings:
    return parse_mappings(read_text(path), path.name)
