"""Which return a historical document names: the audit's matching rule.

Before go-live the brand numbered its own credit notes and journals, so a Vendor Central
remittance line or a GL line names a return only in its free text: the document number and the
description (or the ledger's reference). The rule reads every identifier out of that text and
looks it up among the identifiers the files know, in this order of precedence:

1. a ZigZag **return id** (``ZZR-7-000012``): that return;
2. an **RMA / VRET id** carried by a ZigZag return: that return;
3. an **RMA / VRET id of an Amazon return request** (the return-requests export): the returns of
   the request's order that hold the request's ASIN (the line's SKU resolved through the
   catalog);
4. an Amazon **order id** (``204-8827143-1816728``): the returns of that order; with an ASIN
   in the same text, only those holding that ASIN.

The first kind that names anything decides; a later kind is not looked at. An identifier is a
whole word of the text (words are split at anything but letters, digits, ``-`` and ``_``) or a
run of its ``-``-separated parts, so ``CN-ZZR-7-000012`` names return ``ZZR-7-000012``. Case is
ignored. An ASIN alone names no return.

Pure: the caller passes what the files hold.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

_WORDS = re.compile(r"[^A-Za-z0-9_\-]+")
MAX_PARTS = 8  # an identifier spans at most this many '-'-separated parts of a word


class Rule(StrEnum):
    """How a document was tied to a return (or that it was not)."""

    RETURN_ID = "return id"
    RMA_ID = "RMA id"
    REQUEST_RMA = "RMA id of an Amazon return request (order + ASIN)"
    ORDER_ASIN = "order id + ASIN"
    ORDER = "order id"
    NONE = "no known reference"


@dataclass(frozen=True)
class Referable:
    """What a return is known by: its ids and the ASINs of its lines (through the catalog)."""

    case_id: int
    return_id: str | None = None
    order_ref: str | None = None
    rma_id: str | None = None
    asins: frozenset[str] = frozenset()


@dataclass(frozen=True)
class AmazonRequest:
    """An Amazon return request: its RMA / VRET id leads to an order and an ASIN."""

    request_id: str
    order_id: str
    asin: str
    rma_id: str | None = None


@dataclass(frozen=True)
class Resolution:
    """The returns a text names, by which rule, and the identifier that named them."""

    rule: Rule
    cases: tuple[int, ...]
    named: str = ""  # the identifier as found, e.g. "ZZR-7-000012" or "204-... + B0..."

    @property
    def found(self) -> bool:
        return bool(self.cases)


def identifiers(*texts: str) -> list[str]:
    """Every candidate identifier in the texts, upper-cased, first seen first, each once."""
    found: dict[str, None] = {}
    for text in texts:
        for word in _WORDS.split(text or ""):
            parts = word.split("-")
            for start in range(len(parts)):
                for end in range(start + 1, min(len(parts), start + MAX_PARTS) + 1):
                    run = "-".join(parts[start:end]).strip("-_")
                    if run:
                        found.setdefault(run.upper(), None)
    return list(found)


def _key(value: str | None) -> str | None:
    return value.strip().upper() if value and value.strip() else None


class ReferenceIndex:
    """The identifiers the files know, for resolving free text to returns."""

    def __init__(self, returns: Iterable[Referable], requests: Iterable[AmazonRequest] = ()):
        self.by_return: dict[str, list[int]] = defaultdict(list)
        self.by_rma: dict[str, list[int]] = defaultdict(list)
        self.by_order: dict[str, list[Referable]] = defaultdict(list)
        self.by_request: dict[str, list[AmazonRequest]] = defaultdict(list)
        self.asins: set[str] = set()
        for ret in sorted(returns, key=lambda r: r.case_id):
            if key := _key(ret.return_id):
                self.by_return[key].append(ret.case_id)
            if key := _key(ret.rma_id):
                self.by_rma[key].append(ret.case_id)
            if key := _key(ret.order_ref):
                self.by_order[key].append(ret)
            self.asins |= {a.upper() for a in ret.asins}
        for request in requests:
            if key := _key(request.rma_id):
                self.by_request[key].append(request)
            self.asins.add(request.asin.upper())

    def resolve(self, *texts: str) -> Resolution:
        """The returns the texts name, by the first rule (in precedence) that names any."""
        words = identifiers(*texts)
        for word in words:
            if word in self.by_return:
                return Resolution(Rule.RETURN_ID, tuple(self.by_return[word]), word)
        for word in words:
            if word in self.by_rma:
                return Resolution(Rule.RMA_ID, tuple(self.by_rma[word]), word)
        for word in words:
            for request in self.by_request.get(word, ()):
                cases = self._of_order(request.order_id, {request.asin.upper()})
                named = f"{word} (order {request.order_id}, ASIN {request.asin})"
                return Resolution(Rule.REQUEST_RMA, cases, named)
        asins = {w for w in words if w in self.asins}
        for word in words:
            if word in self.by_order:
                if asins:
                    cases = self._of_order(word, asins)
                    named = f"{word} + {', '.join(sorted(asins))}"
                    return Resolution(Rule.ORDER_ASIN, cases, named)
                return Resolution(Rule.ORDER, tuple(r.case_id for r in self.by_order[word]), word)
        return Resolution(Rule.NONE, ())

    def _of_order(self, order_id: str, asins: set[str]) -> tuple[int, ...]:
        found = self.by_order.get(order_id.strip().upper(), [])
        return tuple(r.case_id for r in found if r.asins & asins)


def choose(
    cases: Sequence[int],
    amount: int,
    outstanding: dict[int, int],
    matched: set[int],
    tolerance: int,
) -> int:
    """One return out of several a document names (``cases``, in order of receipt): the first
    whose outstanding amount (``outstanding``: expected less what is matched so far) equals the
    document's within the tolerance, else the first no document was matched to yet, else the
    first."""
    for case in cases:
        if abs(outstanding.get(case, 0) - amount) <= tolerance:
            return case
    for case in cases:
        if case not in matched:
            return case
    return cases[0]
