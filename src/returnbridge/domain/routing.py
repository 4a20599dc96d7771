"""Route each return line by catalog, grade and disposition, and say what it should cause.

``evaluate_case`` is pure: given the merged facts of a case, the catalog and the mappings, it
says for every line where its units stand, which exceptions hold it, how much sellable stock it
should have added, and which journal entry should exist for it. The service layer compares that
with what was already posted and writes only the difference, so the same facts always lead to
the same books however often, and in whatever order, they arrive.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from returnbridge.domain.catalog import Catalog, CatalogItem
from returnbridge.domain.errors import ExceptionCode
from returnbridge.domain.events import ChargeFact
from returnbridge.domain.journals import JournalDraft, JournalKind, transfer
from returnbridge.domain.mappings import DispositionRule, Mappings, Route
from returnbridge.domain.returns import CaseFacts, CaseStatus, LineState, LineStatus

# A person may waive these and let the line flow; the others leave no way to book the units.
WAIVABLE = frozenset(
    {ExceptionCode.UNMAPPED_REASON, ExceptionCode.QUANTITY_MISMATCH, ExceptionCode.UNMAPPED_CHARGE}
)

CHARGE_PREFIX = "charge:"

# The codes the routing of a line decides; the pipeline opens and closes only these. Others on
# the same line (Amazon's rejections) belong to the clearing cycles and people.
ROUTING_CODES = frozenset(
    {
        ExceptionCode.UNKNOWN_SKU,
        ExceptionCode.INACTIVE_SKU,
        ExceptionCode.UNMAPPED_REASON,
        ExceptionCode.UNMAPPED_DISPOSITION,
        ExceptionCode.UNMAPPED_GRADE,
        ExceptionCode.UNMAPPED_CHARGE,
        ExceptionCode.GRADE_DISPOSITION_CONFLICT,
        ExceptionCode.QUANTITY_MISMATCH,
    }
)


@dataclass(frozen=True)
class Finding:
    """A reason a line cannot flow: becomes (or keeps open) an exception record."""

    code: ExceptionCode
    message: str


@dataclass(frozen=True)
class UnitBuckets:
    """Where the received units of a line stand; they always add up to ``received``."""

    received: int = 0
    restocked: int = 0
    written_off: int = 0
    liquidated: int = 0
    refurbished: int = 0
    returned_to_vendor: int = 0
    in_exception: int = 0
    pending: int = 0

    @property
    def conserved(self) -> bool:
        return self.received == (
            self.restocked
            + self.written_off
            + self.liquidated
            + self.refurbished
            + self.returned_to_vendor
            + self.in_exception
            + self.pending
        )


_BUCKET_OF_ROUTE = {
    Route.RESTOCK: "restocked",
    Route.WRITE_OFF: "written_off",
    Route.LIQUIDATE: "liquidated",
    Route.REFURBISH: "refurbished",
    Route.RETURN_TO_VENDOR: "returned_to_vendor",
}


@dataclass(frozen=True)
class CreditDraft:
    """The returns credit a closed line owes Amazon: its units at the catalog unit cost.

    Amazon refunded the customer; the goods came back to the brand, so the brand credits
    Amazon (SP-API ``submitInvoices``, ``invoiceType: CreditNote``).
    """

    sku: str
    asin: str | None
    quantity: int
    unit_amount: int  # minor units, net of tax
    currency: str
    returned_at: datetime | None  # goodsReturnDate: when the warehouse took the units in

    @property
    def key(self) -> tuple[str, int, str]:
        """What one credit position is: a SKU at a unit amount in a currency."""
        return (self.sku, self.unit_amount, self.currency)


@dataclass(frozen=True)
class LineOutcome:
    """What a line should look like now: status, units, exceptions, stock and journal."""

    line_id: str
    kind: str
    status: LineStatus
    units: UnitBuckets
    findings: tuple[Finding, ...] = ()
    sku_scanned: str | None = None
    sku: str | None = None
    route: Route | None = None
    grade: str | None = None
    disposition: str | None = None
    reason: str | None = None
    amazon_reason: str | None = None
    expected_qty: int | None = None
    stock: int = 0
    journal: JournalDraft | None = None
    credit: CreditDraft | None = None
    digest: str = ""  # of the facts the outcome was decided on (see facts_digest)


@dataclass(frozen=True)
class CaseOutcome:
    status: CaseStatus
    lines: tuple[LineOutcome, ...] = field(default_factory=tuple)


_NO_UNITS = UnitBuckets()


def _units(received: int, bucket: str) -> UnitBuckets:
    return UnitBuckets(received=received, **{bucket: received})


def _where(facts: CaseFacts, line: LineState) -> str:
    return f"return {facts.return_id or facts.case_key} line {line.line_id}"


def _check_sku(
    facts: CaseFacts, line: LineState, catalog: Catalog, findings: list[Finding]
) -> CatalogItem | None:
    scanned = line.sku
    if not scanned:
        # Not yet known (a grading scan can arrive before the registration that names the
        # SKU): the units wait as pending, they are not an exception.
        return None
    resolution = catalog.resolve(scanned)
    if resolution is None:
        findings.append(
            Finding(
                ExceptionCode.UNKNOWN_SKU,
                f"{_where(facts, line)}: SKU {scanned!r} matches no vendor SKU, EAN, ASIN or alias "
                "in the catalog master; add it (or an alias) to the catalog, or re-map the line",
            )
        )
        return None
    item = resolution.item
    if item.non_inventory:
        findings.append(
            Finding(
                ExceptionCode.UNKNOWN_SKU,
                f"{_where(facts, line)}: {item.sku!r} is a non-inventory SKU and cannot be "
                "a returned product; re-map the line to the product that came back",
            )
        )
        return None
    if not item.active:
        findings.append(
            Finding(
                ExceptionCode.INACTIVE_SKU,
                f"{_where(facts, line)}: {item.sku!r} is inactive in the catalog master, so "
                "its units cannot be restocked; write the line off, book it to another "
                "disposition (liquidate, refurbish, return to vendor), or re-map it to an "
                "active product",
            )
        )
    return item


def evaluate_line(
    facts: CaseFacts,
    line: LineState,
    catalog: Catalog,
    mappings: Mappings,
    *,
    digest: str = "",
) -> LineOutcome:
    """Decide where one product line stands. Pure: same inputs, same outcome.

    ``digest`` is carried into the outcome as given (``evaluate_case`` passes ``facts_digest``).
    """
    received = line.units_received
    reason = line.effective_reason
    disposition = line.effective_disposition
    if facts.cancelled and not facts.any_received:
        return LineOutcome(
            line_id=line.line_id,
            kind="product",
            status=LineStatus.CANCELLED,
            units=_NO_UNITS,
            sku_scanned=line.sku_scanned,
            grade=line.grade,
            disposition=disposition,
            reason=reason,
            expected_qty=line.expected_qty,
            digest=digest,
        )

    findings: list[Finding] = []
    item = _check_sku(facts, line, catalog, findings)

    amazon_reason = None
    if reason is not None:
        amazon_reason = mappings.amazon_reason(reason)
        if amazon_reason is None:
            findings.append(
                Finding(
                    ExceptionCode.UNMAPPED_REASON,
                    f"{_where(facts, line)}: ZigZag reason {reason!r} has no Amazon return reason "
                    "in the reason map; add it to the mappings file",
                )
            )

    if line.received_qty is not None:
        for label, qty in (("graded", line.graded_qty), ("disposed of", line.disposed_qty)):
            if qty is not None and qty != line.received_qty:
                findings.append(
                    Finding(
                        ExceptionCode.QUANTITY_MISMATCH,
                        f"{_where(facts, line)}: {line.received_qty} received but {qty} {label}",
                    )
                )
    if line.expected_qty is not None and received > line.expected_qty:
        findings.append(
            Finding(
                ExceptionCode.QUANTITY_MISMATCH,
                f"{_where(facts, line)}: {received} received but only "
                f"{line.expected_qty} registered",
            )
        )

    route: Route | None = None
    if line.grade is not None:
        route = mappings.route_for_grade(line.grade)
        if route is None:
            findings.append(
                Finding(
                    ExceptionCode.UNMAPPED_GRADE,
                    f"{_where(facts, line)}: grade {line.grade!r} has no route in the "
                    "mappings file",
                )
            )

    rule: DispositionRule | None = None
    if disposition is not None:
        rule = mappings.disposition(disposition)
        if rule is None:
            findings.append(
                Finding(
                    ExceptionCode.UNMAPPED_DISPOSITION,
                    f"{_where(facts, line)}: disposition {disposition!r} has no GL accounts in the "
                    "mappings file, so its financial impact cannot be journalled",
                )
            )
        elif route is not None and rule.route is not route:
            findings.append(
                Finding(
                    ExceptionCode.GRADE_DISPOSITION_CONFLICT,
                    f"{_where(facts, line)}: grade {line.grade!r} routes to {route.value} but "
                    f"disposition {disposition!r} routes to {rule.route.value}",
                )
            )

    if route is None and line.grade is None and rule is not None:
        # A disposition without a grade routes its units, but only a confirmed sellable grade
        # may restock: a RESTOCK disposition waits for the grade.
        route = None if rule.route is Route.RESTOCK else rule.route
    if (
        item is not None
        and not item.active
        and line.disposition_override
        and rule is not None
        and rule.route is not Route.RESTOCK
    ):
        # A person booked the inactive product's units to a disposition (the "disposition
        # record"): its route stands, whatever the grade said, and it never touches stock.
        waived = {ExceptionCode.INACTIVE_SKU, ExceptionCode.GRADE_DISPOSITION_CONFLICT}
        findings = [f for f in findings if f.code not in waived]
        route = rule.route
    if line.write_off:
        # A person decided to write the units off: nothing else stands in the way.
        findings = []
        route = Route.WRITE_OFF
        rule = mappings.disposition(mappings.write_off_disposition)
    if line.accept_quantity:
        findings = [f for f in findings if f.code is not ExceptionCode.QUANTITY_MISMATCH]
    if line.ignored:
        findings = [f for f in findings if not _waived(f, line, received)]

    stock = 0
    journal: JournalDraft | None = None
    credit: CreditDraft | None = None
    if not received:
        status, units = _pre_receipt_status(facts), _NO_UNITS
    elif findings:
        status, units = LineStatus.EXCEPTION, _units(received, "in_exception")
    elif route is None or (item is None and not line.write_off):
        status, units = LineStatus.RECEIVED, _units(received, "pending")
    elif rule is None:
        # Graded, no disposition yet: an A-grade is sellable now, the rest waits.
        stock = received if route is Route.RESTOCK else 0
        status, units = LineStatus.GRADED, _units(received, "restocked" if stock else "pending")
    else:
        stock = received if route is Route.RESTOCK else 0
        status, units = LineStatus.CLOSED, _units(received, _BUCKET_OF_ROUTE[route])
        if item is not None and item.unit_cost.amount > 0:
            journal = transfer(
                rule.accounts,
                item.unit_cost.times(received),
                JournalKind.DISPOSITION,
                f"{route.value} {received} x {item.sku} ({rule.code}), {_where(facts, line)}",
            )
            credit = CreditDraft(
                item.sku,
                item.asin,
                received,
                item.unit_cost.amount,
                item.unit_cost.currency,
                line.received_at,
            )
    return LineOutcome(
        line_id=line.line_id,
        kind="product",
        status=status,
        units=units,
        findings=tuple(findings),
        sku_scanned=line.sku_scanned,
        sku=item.sku if item is not None else None,
        route=route,
        grade=line.grade,
        disposition=disposition,
        reason=reason,
        amazon_reason=amazon_reason,
        expected_qty=line.expected_qty,
        stock=stock,
        journal=journal,
        credit=credit,
        digest=digest,
    )


def facts_digest(facts: CaseFacts, line: LineState | None, charge: ChargeFact | None = None) -> str:
    """A fingerprint of everything a line's outcome is decided from, except master data.

    A line whose facts did not change is left as it was booked: loading a new catalog or
    mappings file never restates returns already closed. It applies to lines that receive new
    facts, and to lines a person reprocesses (each decision changes the fingerprint).
    """
    return _digest(_case_part(facts), line, charge)


def _case_part(facts: CaseFacts) -> list[object]:
    """The facts of the case in every line's digest: worked out once per case."""
    return [facts.return_id, facts.warehouse, facts.cancelled, facts.any_received, facts.in_transit]


def _digest(case_part: list[object], line: LineState | None, charge: ChargeFact | None) -> str:
    parts = case_part.copy()
    if line is not None:
        parts += [
            line.line_id,
            line.sku_scanned,
            line.expected_qty,
            line.received_qty,
            line.graded_qty,
            line.disposed_qty,
            line.reason,
            line.grade,
            line.disposition,
            line.sku_override,
            line.reason_override,
            line.disposition_override,
            line.write_off,
            line.accept_quantity,
            sorted(line.ignored),
            line.decisions,
        ]
    if charge is not None:
        parts += [
            charge.charge_id,
            charge.charge_type,
            charge.amount.amount,
            charge.amount.currency,
            charge.sku,
        ]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def _waived(finding: Finding, line: LineState, received: int) -> bool:
    """A person ignored this code; only waivable codes may be ignored once units are in hand."""
    if finding.code not in line.ignored:
        return False
    return finding.code in WAIVABLE or received == 0


def _pre_receipt_status(facts: CaseFacts) -> LineStatus:
    return LineStatus.IN_TRANSIT if facts.in_transit else LineStatus.REGISTERED


def evaluate_charge(
    facts: CaseFacts,
    charge_id: str,
    mappings: Mappings,
    waived: frozenset[str],
    *,
    digest: str = "",
) -> LineOutcome:
    """A non-product charge: journalled on its accounts, never stock.

    ``digest`` is carried into the outcome as given (``evaluate_case`` passes ``facts_digest``).
    """
    charge = facts.charges[charge_id]
    rule = mappings.charge(charge.charge_type)
    status = LineStatus.CLOSED
    findings: tuple[Finding, ...] = ()
    journal = None
    if rule is None:
        if ExceptionCode.UNMAPPED_CHARGE not in waived:
            status = LineStatus.EXCEPTION
            findings = (
                Finding(
                    ExceptionCode.UNMAPPED_CHARGE,
                    f"return {facts.return_id or facts.case_key} charge {charge_id}: charge type "
                    f"{charge.charge_type!r} has no GL accounts in the mappings file",
                ),
            )
    elif charge.amount.amount > 0:
        journal = transfer(
            rule.accounts,
            charge.amount,
            JournalKind.CHARGE,
            f"charge {charge.charge_type} on return {facts.return_id}",
        )
    return LineOutcome(
        line_id=CHARGE_PREFIX + charge_id,
        kind="charge",
        status=status,
        units=_NO_UNITS,
        findings=findings,
        sku_scanned=charge.sku,
        sku=rule.non_inventory_sku if rule is not None else None,
        disposition=charge.charge_type,
        journal=journal,
        digest=digest,
    )


def evaluate_case(facts: CaseFacts, catalog: Catalog, mappings: Mappings) -> CaseOutcome:
    """Evaluate every line and charge of a case and derive the case's status."""
    outcomes: list[LineOutcome] = []
    case_part = _case_part(facts)
    for line_id, line in facts.lines.items():
        if line_id.startswith(CHARGE_PREFIX) or not line.has_facts:
            continue
        digest = _digest(case_part, line, None)
        outcomes.append(evaluate_line(facts, line, catalog, mappings, digest=digest))
    for charge_id, charge in facts.charges.items():
        override = facts.lines.get(CHARGE_PREFIX + charge_id)
        waived = override.ignored if override else frozenset()
        digest = _digest(case_part, override, charge)
        outcomes.append(evaluate_charge(facts, charge_id, mappings, waived, digest=digest))
    return CaseOutcome(status=_case_status(facts, outcomes), lines=tuple(outcomes))


_PROGRESS = [
    CaseStatus.REGISTERED,
    CaseStatus.IN_TRANSIT,
    CaseStatus.RECEIVED,
    CaseStatus.GRADED,
    CaseStatus.DISPOSITION_SET,
    CaseStatus.CLOSED,
]


_STAGE_OF_STATUS = {s: CaseStatus(s.value) for s in LineStatus if s is not LineStatus.EXCEPTION}


def _stage(outcome: LineOutcome) -> CaseStatus:
    """How far a line has come in its life cycle, exceptions aside."""
    if outcome.status is LineStatus.EXCEPTION:
        if outcome.disposition is not None:
            return CaseStatus.DISPOSITION_SET
        return CaseStatus.GRADED if outcome.grade is not None else CaseStatus.RECEIVED
    return _STAGE_OF_STATUS[outcome.status]


def _case_status(facts: CaseFacts, outcomes: list[LineOutcome]) -> CaseStatus:
    if facts.provisional:
        return CaseStatus.PROVISIONAL
    if facts.cancelled and not facts.any_received:
        return CaseStatus.CANCELLED
    products = [o for o in outcomes if o.kind == "product"]
    if not products:
        return CaseStatus.IN_TRANSIT if facts.in_transit else CaseStatus.REGISTERED
    # The case is as far along as its least advanced line.
    return min((_stage(o) for o in products), key=_PROGRESS.index)
