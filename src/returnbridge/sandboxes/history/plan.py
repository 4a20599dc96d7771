"""A seeded history of a manual returns process: the files the pre-go-live audit reads, with a
known set of planted gaps (docs/audit.md).

``generate_history(returns, seed)`` plans ten weeks of returns before go-live and
``write_history(history, folder)`` writes what the brand would export for them: ZigZag's CSV
export, Vendor Central's return requests, refunds and remittance, the catalog master and a GL
export. Before go-live the brand numbered its own credit notes (``CN-...``), so each remittance
credit-note line names its return only in its text: the return id, the RMA or VRET id, or the
order id (with the ASIN), as docs/audit.md's matching rule reads them.

Every gap of the audit is planted a known number of times (``History.planted``, with the amounts
in ``History.amounts`` and the unmapped codes ranked in ``History.unmapped``). Everything else is
clean: credited within the tolerance, journalled, mapped, received. A few look like gaps and are
not (``History.decoys``): a credit a penny off, a credit split over two payments, a credit, a
restock or a receipt not due yet because the window has not passed by the as-of date.

Written independently of ``returnbridge.connectors`` and ``returnbridge.store`` on purpose: the
sandbox states the files as the partners write them, so a misreading cannot hide on both sides.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from returnbridge.sandboxes.zigzag.generator import (
    DISPOSITION_OF_GRADE,
    GRADES,
    MAPPED_REASONS,
    Product,
    make_catalog,
    scanned_form,
)

HISTORY_START = datetime(2026, 8, 3, tzinfo=UTC)  # a Monday: payments fall on Mondays
WEEKS = 10
WINDOW_DAYS = 30  # the audit's default window: planted gaps are older, decoys younger
RFS_WINDOW_DAYS = 14  # the engine's default RFS window
HOLD = "HOLD"  # a disposition the shipped mappings do not know: the unit is held
UNMAPPED_REASONS = {42: 4, 99: 1}  # reason id: lines
UNKNOWN_SKU_LINES = (3, 2, 1)  # three unknown SKUs, on this many lines each
KIND_ORDER = ("SKU", "reason", "grade", "disposition", "charge type")


def payment_date(week: int) -> datetime:
    """Vendor Central's weekly payment: the Monday ``week`` weeks after the history starts."""
    return HISTORY_START + timedelta(days=7 * week)


AS_OF = payment_date(WEEKS)  # the last payment: the latest date in the files
AS_OF_DATE = AS_OF.date()


@dataclass
class Line:
    line_id: str
    product: Product
    scanned: str
    quantity: int
    reason: int
    grade: str
    disposition: str | None
    clean: bool = True  # the engine closes it: known SKU, mapped reason, disposition on route

    @property
    def value(self) -> int:
        return self.product.unit_cost * self.quantity


@dataclass
class Credit:
    week: int
    amount: int
    document: str
    description: str


@dataclass
class Return:
    """One planned return (or, with ``goods`` False, an order Amazon refunded at first scan
    whose goods ZigZag never saw)."""

    role: str
    return_id: str
    order: str
    registered_at: datetime
    lines: list[Line]
    rma: str | None = None
    vret: str | None = None  # an Amazon return request's VRET id, when ZigZag has no RMA
    goods: bool = True
    stage: str = "disposed"  # in_transit | cancelled | graded | disposed
    transit_at: datetime | None = None
    received_at: datetime | None = None
    graded_at: datetime | None = None
    disposed_at: datetime | None = None
    rfs_at: datetime | None = None
    charge: int = 0
    request: dict[str, Any] | None = None  # Amazon's return request for it, if any
    credits: list[Credit] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return all(x.clean for x in self.lines)

    @property
    def owed(self) -> int:
        """What the brand owes Amazon for it: every received unit at catalog cost."""
        return sum(x.value for x in self.lines) if self.received_at else 0


@dataclass
class History:
    """A planned history, what was planted in it, and what only looks like a gap."""

    seed: int
    products: list[Product]
    returns: list[Return]
    orphan_credits: list[tuple[str, Credit]]  # (why, credit) naming no received return
    as_of: date = AS_OF_DATE
    planted: dict[str, int] = field(default_factory=dict)
    amounts: dict[str, dict[str, int]] = field(default_factory=dict)
    unmapped: list[dict[str, Any]] = field(default_factory=list)
    decoys: dict[str, int] = field(default_factory=dict)
    days_to_credit: list[int] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        """What the audit of these files must find (written as ``planted.json``)."""
        return {
            "seed": self.seed,
            "returns": len([r for r in self.returns if r.goods]),
            "as_of": self.as_of.isoformat(),
            "window_days": WINDOW_DAYS,
            "rfs_window_days": RFS_WINDOW_DAYS,
            "planted": dict(sorted(self.planted.items())),
            "amounts": self.amounts,
            "unmapped": self.unmapped,
            "decoys": dict(sorted(self.decoys.items())),
            "days_to_credit": sorted(self.days_to_credit),
        }


# Roles a return plays, how many (a multiple of ``per``, or fixed) and when it is registered.
OLD, ANY, RECENT, RFS_RECENT = "old", "any", "recent", "rfs_recent"
ROLES: tuple[tuple[str, int, int, str], ...] = (
    # (role, per-multiple, fixed, period)
    ("no_credit", 2, 0, OLD),  # gap 1
    ("other_amount", 1, 0, OLD),  # credited at another amount
    ("tolerance", 1, 0, OLD),  # decoy: a penny off
    ("split", 1, 0, OLD),  # decoy: two credit notes
    ("in_transit_credited", 1, 0, OLD),  # gap 2: never received
    ("cancelled_credited", 1, 0, OLD),  # gap 2: cancelled
    ("rfs_credited", 1, 0, OLD),  # gaps 2 and 6
    ("rfs_missing", 2, 0, OLD),  # gap 6
    ("rfs_waiting", 1, 0, RFS_RECENT),  # decoy: within the RFS window
    ("stranded_route", 1, 0, OLD),  # gap 3: A graded, liquidated
    ("stranded_hold", 1, 0, OLD),  # gap 3 and gap 5: A graded, held
    ("stranded_missing", 1, 0, OLD),  # gap 3: A graded, no disposition
    ("restock_waiting", 1, 0, RECENT),  # decoy: within the window
    ("write_down_missing", 2, 0, OLD),  # gap 4
    ("write_down_other", 1, 0, OLD),  # journalled at another amount
    ("unknown_sku", 0, sum(UNKNOWN_SKU_LINES), OLD),  # gap 5
    ("unmapped_reason", 0, sum(UNMAPPED_REASONS.values()), OLD),  # gap 5
    ("shared_order", 2, 0, OLD),  # two returns of one order: credited by order + ASIN
)


def _minutes(rng: random.Random, low_days: float, high_days: float) -> datetime:
    minutes = rng.randint(int(low_days * 1440), int(high_days * 1440))
    return HISTORY_START + timedelta(minutes=minutes)


class Planner:
    """Plans a history: every return with its role, dates, credit notes and requests. Every
    random draw comes from one generator seeded by ``seed``, in a fixed order."""

    def __init__(self, returns: int, seed: int) -> None:
        if returns < 50:
            raise ValueError("a history needs at least 50 returns to plant every gap")
        self.rng = random.Random(f"history/{seed}")
        self.seed = seed
        self.per = max(1, returns // 100)
        products = make_catalog(self.rng, max(40, returns // 6))
        self.products = products
        self.pool = [p for p in products if p.active and not p.non_inventory]
        self.orders: set[str] = set()
        self.count = returns
        self.requested: list[Return] = []
        self.documents = 0

    def order(self) -> str:
        while True:
            rng = self.rng
            order = f"{rng.randint(202, 206)}-{rng.randint(10**6, 10**7 - 1)}-"
            order += f"{rng.randint(10**6, 10**7 - 1)}"
            if order not in self.orders:
                self.orders.add(order)
                return order

    def period(self, name: str) -> datetime:
        days = WEEKS * 7
        low, high = {
            OLD: (0.2, days - WINDOW_DAYS - 9),
            ANY: (0.2, days - 6),
            RECENT: (days - 16, days - 6),
            RFS_RECENT: (days - 10, days - 1),
        }[name]
        return _minutes(self.rng, low, high)

    def line(self, n: int, product: Product, grade: str | None = None) -> Line:
        rng = self.rng
        grade = grade or rng.choices([g for g, _ in GRADES], [w for _, w in GRADES])[0]
        return Line(
            str(n),
            product,
            scanned_form(rng, product),
            rng.choices([1, 2, 3], [80, 15, 5])[0],
            rng.choice(MAPPED_REASONS),
            grade,
            DISPOSITION_OF_GRADE[grade],
        )

    def lines(
        self, count: int, grade: str | None = None, avoid: frozenset[str] = frozenset()
    ) -> list[Line]:
        chosen = self.rng.sample([p for p in self.pool if p.sku not in avoid], count)
        return [self.line(n, p, grade if n == 1 else None) for n, p in enumerate(chosen, 1)]

    def plan(self) -> list[Return]:
        """Every return of the history, dated, each shaped by its role."""
        rng = self.rng
        roles: list[tuple[str, str]] = []
        for role, multiple, fixed, period in ROLES:
            roles += [(role, period)] * (multiple * self.per + fixed)
        roles += [("clean", ANY)] * max(0, self.count - len(roles))
        planned: list[Return] = []
        shared: Return | None = None
        for role, period in roles:
            size = rng.choices([1, 2, 3], [70, 22, 8])[0] if role == "clean" else 1
            size = rng.choice([1, 2]) if role == "no_credit" else size
            ret = Return(role, "", self.order(), self.period(period), self.lines(size))
            if role == "shared_order":
                if shared is None:
                    shared = ret
                else:
                    avoid = frozenset(x.product.sku for x in shared.lines)
                    ret.order, ret.lines = shared.order, self.lines(1, avoid=avoid)
                    ret.registered_at = shared.registered_at + timedelta(hours=rng.randint(1, 72))
                    shared = None
            self.shape(ret)
            planned.append(ret)
        self.unknown_skus([r for r in planned if r.role == "unknown_sku"])
        self.unmapped_reasons([r for r in planned if r.role == "unmapped_reason"])
        planned.sort(key=lambda r: (r.registered_at, r.order))
        number = 0
        for ret in planned:
            self.live(ret)
            if ret.goods:
                number += 1
                ret.return_id = f"ZZR-{self.seed}-{number:06d}"
        return planned

    def shape(self, ret: Return) -> None:
        """What the role changes: the grade and disposition of its line, or how far it got."""
        role, line = ret.role, ret.lines[0]
        if role.startswith("rfs_"):
            ret.goods, ret.stage = False, "none"
            return
        if self.rng.random() < 0.3:
            ret.rma = f"RMA{self.rng.randint(10**8, 10**9 - 1)}"
        if role == "in_transit_credited":
            ret.stage = "in_transit"
        elif role == "cancelled_credited":
            ret.stage = "cancelled"
        elif role in ("stranded_missing", "restock_waiting"):
            ret.stage, line.grade, line.disposition, line.clean = "graded", "A", None, False
        elif role == "stranded_route":
            line.grade, line.disposition, line.clean = "A", "LIQUIDATE", False
        elif role == "stranded_hold":
            line.grade, line.disposition, line.clean = "A", HOLD, False
        elif role.startswith("write_down_"):
            line.grade, line.disposition = "D", DISPOSITION_OF_GRADE["D"]

    def unknown_skus(self, found: list[Return]) -> None:
        codes = [f"ZZ-{self.rng.randint(10000, 99999)}-UNK" for _ in UNKNOWN_SKU_LINES]
        spread = [code for code, n in zip(codes, UNKNOWN_SKU_LINES, strict=True) for _ in range(n)]
        for n, (ret, code) in enumerate(zip(found, spread, strict=True)):
            line = ret.lines[0]
            line.scanned = code.lower() if n == 1 else code  # the same SKU, typed in lower case
            line.clean = False

    def unmapped_reasons(self, found: list[Return]) -> None:
        spread = [reason for reason, n in UNMAPPED_REASONS.items() for _ in range(n)]
        for ret, reason in zip(found, spread, strict=True):
            ret.lines[0].reason, ret.lines[0].clean = reason, False

    def live(self, ret: Return) -> None:
        """The times of the return's life, as far as its stage goes."""
        rng = self.rng
        if not ret.goods:
            ret.rfs_at = ret.registered_at
            return
        at = ret.registered_at + timedelta(minutes=rng.randint(120, 480))
        if ret.stage == "cancelled":
            return
        ret.transit_at = at
        if ret.stage == "in_transit":
            return
        if ret.role == "clean" and rng.random() < 0.06:
            ret.rfs_at = at + timedelta(minutes=rng.randint(360, 1200))  # the carrier's scan
        ret.received_at = at + timedelta(minutes=rng.randint(1440, 4320))
        ret.graded_at = ret.received_at + timedelta(minutes=rng.randint(60, 1200))
        if ret.stage == "graded":
            return
        ret.disposed_at = ret.graded_at + timedelta(minutes=rng.randint(10, 1800))
        if ret.role == "clean" and rng.random() < 0.05:
            ret.charge = rng.randint(150, 650)

    def requests(self, planned: list[Return]) -> None:
        """Amazon's return requests for about a third of the returns, some with a VRET id."""
        rng = self.rng
        for ret in planned:
            if not ret.goods or rng.random() > 0.35:
                continue
            if ret.rma is None and rng.random() < 0.4:
                ret.vret = f"VRET{rng.randint(10**7, 10**8 - 1)}"
            ret.request = {
                "request_id": f"AMZ-RR-{self.seed}-{len(self.requested) + 1:06d}",
                "requested_at": ret.registered_at - timedelta(days=rng.randint(0, 3)),
                "condition": "damaged" if rng.random() < 0.2 else "sellable",
            }
            self.requested.append(ret)

    def document(self) -> str:
        self.documents += 1
        return f"CN-{self.seed}-{self.documents:06d}"

    def reference(self, ret: Return) -> tuple[str, str]:
        """The brand's credit-note number and description: each names the return its own way."""
        doc, asin = self.document(), ret.lines[0].product.asin
        known = ret.role != "unknown_sku"  # the catalog knows its first line's ASIN
        if ret.role == "shared_order":
            return doc, f"Return {ret.order} {asin}"
        roll = self.rng.random()
        if roll < 0.45:
            return doc, f"Returns credit {ret.return_id}"
        if roll < 0.60:
            return f"CN-{ret.return_id}", "Customer returns credit"
        if roll < 0.72 and ret.rma:
            return doc, f"Credit for {ret.rma}"
        if roll < 0.84 and ret.vret and known:
            return doc, f"Credit {ret.vret}"
        if roll < 0.92 and known:
            return doc, f"Return {ret.order} {asin}"
        return doc, f"Returns credit order {ret.order}"

    def credits(self, planned: list[Return]) -> list[tuple[str, Credit]]:
        """The credit notes Amazon's remittances took back; returns those naming no received
        return (gap 2), with why."""
        rng = self.rng
        orphans: list[tuple[str, Credit]] = []
        for ret in planned:
            value = sum(x.value for x in ret.lines)
            if ret.role == "rfs_credited" and ret.rfs_at:
                week = _week_after(ret.rfs_at + timedelta(days=7))
                credit = Credit(week, value, self.document(), f"Returns credit {ret.order}")
                orphans.append(("refunded at first scan, goods never received", credit))
            elif ret.role in ("in_transit_credited", "cancelled_credited"):
                week = _week_after(ret.registered_at + timedelta(days=10))
                credit = Credit(week, value, self.document(), f"Returns credit {ret.return_id}")
                orphans.append((f"return {ret.stage.replace('_', ' ')}, never received", credit))
            elif ret.received_at and ret.role != "no_credit":
                week = _week_after(ret.received_at + timedelta(days=rng.randint(2, 21)))
                if week > WEEKS:
                    continue  # not paid yet by the last payment: within the window
                amount = ret.owed
                if ret.role == "other_amount":
                    amount = amount * 9 // 10
                elif ret.role == "tolerance":
                    amount += rng.choice((-1, 1))
                doc, text = self.reference(ret)
                if ret.role == "split":
                    half = amount // 2
                    ret.credits = [
                        Credit(week, half, doc, text),
                        Credit(week + 1, amount - half, f"{doc}-2", text),
                    ]
                else:
                    ret.credits = [Credit(week, amount, doc, text)]
        for _ in range(self.per):
            credit = Credit(
                rng.randint(1, WEEKS),
                rng.randint(500, 8000),
                self.document(),
                f"Returns credit order {self.order()}",
            )
            orphans.append(("an order the files do not know", credit))
            credit = Credit(
                rng.randint(1, WEEKS), rng.randint(500, 8000), self.document(), "Returns credit"
            )
            orphans.append(("no reference", credit))
        return orphans


def _week_after(moment: datetime) -> int:
    """The first weekly payment on or after ``moment`` (past ``WEEKS``: none yet)."""
    days = (moment - HISTORY_START) / timedelta(days=1)
    return max(1, -int(-days // 7))
