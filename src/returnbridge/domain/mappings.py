"""The brand's mappings: reason codes, grades to routes, dispositions and charges to GL accounts."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Route(StrEnum):
    """Where the units of a return line end up."""

    RESTOCK = "restock"
    WRITE_OFF = "write_off"
    LIQUIDATE = "liquidate"
    REFURBISH = "refurbish"
    RETURN_TO_VENDOR = "return_to_vendor"


@dataclass(frozen=True)
class GlAccounts:
    """The accounts a posting debits and credits."""

    debit: str
    credit: str


@dataclass(frozen=True)
class DispositionRule:
    """A ZigZag disposition code: the route it belongs to and the accounts it posts to."""

    code: str
    route: Route
    accounts: GlAccounts


@dataclass(frozen=True)
class ChargeRule:
    """A non-product charge (e.g. a damaged-item fee): a non-inventory SKU and its accounts."""

    code: str
    accounts: GlAccounts
    non_inventory_sku: str | None = None


@dataclass(frozen=True)
class Mappings:
    """Everything the brand configures about how a return flows.

    Only a grade in ``sellable_grades`` may route to ``Route.RESTOCK``; the loader refuses a
    file that says otherwise, so sellable stock cannot be contaminated by configuration.
    """

    reasons: dict[str, str] = field(default_factory=dict)
    sellable_grades: frozenset[str] = frozenset({"A"})
    grade_routes: dict[str, Route] = field(default_factory=dict)
    dispositions: dict[str, DispositionRule] = field(default_factory=dict)
    charges: dict[str, ChargeRule] = field(default_factory=dict)
    write_off_disposition: str = "DESTROY"

    def route_for_grade(self, grade: str) -> Route | None:
        return self.grade_routes.get(normalize_code(grade))

    def disposition(self, code: str) -> DispositionRule | None:
        return self.dispositions.get(normalize_code(code))

    def amazon_reason(self, reason: str) -> str | None:
        return self.reasons.get(normalize_code(reason))

    def charge(self, code: str) -> ChargeRule | None:
        return self.charges.get(normalize_code(code))

    def is_sellable(self, grade: str) -> bool:
        return normalize_code(grade) in self.sellable_grades


def normalize_code(code: str) -> str:
    """Codes from partners compare without case or surrounding blanks."""
    return code.strip().upper()


def mappings_to_dict(mappings: Mappings) -> dict[str, object]:
    """The canonical, JSON-ready form kept in the database as loaded."""
    return {
        "reasons": dict(sorted(mappings.reasons.items())),
        "sellable_grades": sorted(mappings.sellable_grades),
        "grade_routes": {g: r.value for g, r in sorted(mappings.grade_routes.items())},
        "dispositions": {
            code: {
                "route": rule.route.value,
                "debit": rule.accounts.debit,
                "credit": rule.accounts.credit,
            }
            for code, rule in sorted(mappings.dispositions.items())
        },
        "charges": {
            code: {
                "debit": rule.accounts.debit,
                "credit": rule.accounts.credit,
                "non_inventory_sku": rule.non_inventory_sku,
            }
            for code, rule in sorted(mappings.charges.items())
        },
        "write_off_disposition": mappings.write_off_disposition,
    }


def mappings_from_dict(data: dict[str, Any]) -> Mappings:
    return Mappings(
        reasons=dict(data["reasons"]),
        sellable_grades=frozenset(data["sellable_grades"]),
        grade_routes={g: Route(r) for g, r in data["grade_routes"].items()},
        dispositions={
            code: DispositionRule(code, Route(v["route"]), GlAccounts(v["debit"], v["credit"]))
            for code, v in data["dispositions"].items()
        },
        charges={
            code: ChargeRule(code, GlAccounts(v["debit"], v["credit"]), v.get("non_inventory_sku"))
            for code, v in data["charges"].items()
        },
        write_off_disposition=data["write_off_disposition"],
    )
