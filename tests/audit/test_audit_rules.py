"""The audit's domain rules on small hand-made facts: percentiles, how a document names a return,
credit matching and standing, stranded stock, write-downs against a ledger, unmapped codes."""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from returnbridge.domain.audit import (
    AuditLine,
    AuditReturn,
    CreditNote,
    Standing,
    credit_standings,
    match_credits,
    percentile,
)
from returnbridge.domain.audit_gaps import (
    CodeKind,
    Journalled,
    LedgerLine,
    StrandedWhy,
    UnmappedUse,
    WriteDown,
    check_write_downs,
    rank_unmapped,
    stranded_stock,
)
from returnbridge.domain.audit_matching import (
    AmazonRequest,
    Referable,
    ReferenceIndex,
    Rule,
    identifiers,
)
from returnbridge.domain.mappings import DispositionRule, GlAccounts, Mappings, Route
from returnbridge.services.audit import AuditRefused, as_of_date

T0 = datetime(2026, 9, 1, 10, 0, tzinfo=UTC)
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
WINDOW = timedelta(days=30)
MAPPINGS = Mappings(
    grade_routes={"A": Route.RESTOCK, "D": Route.WRITE_OFF},
    dispositions={
        "RESTOCK": DispositionRule("RESTOCK", Route.RESTOCK, GlAccounts("1310", "1390")),
        "LIQUIDATE": DispositionRule("LIQUIDATE", Route.LIQUIDATE, GlAccounts("1330", "1390")),
        "DESTROY": DispositionRule("DESTROY", Route.WRITE_OFF, GlAccounts("5410", "1390")),
    },
)


def line(
    line_id: str = "1", *, credit: int = 1000, received: datetime | None = T0, **kw: Any
) -> AuditLine:
    values: dict[str, Any] = {
        "units": 1 if received else 0,
        "status": "closed",
        "sku": "SKU-1",
        "asin": "B0AAAAAAAA",
        "credit": credit,
        "currency": "GBP",
        "unit_cost": credit,
        "received_at": received,
    }
    values.update(kw)
    return AuditLine(line_id, **values)


def ret(case_id: int, *lines: AuditLine, status: str = "closed", **kw: Any) -> AuditReturn:
    ids: dict[str, Any] = {"return_id": f"ZZR-{case_id}", "order_ref": f"204-000000{case_id}-1"}
    ids.update(kw)
    return AuditReturn(case_id, ids["return_id"], status, lines=lines or (line(),), **ids)


def note(text: str, amount: int = 1000, *, doc: str = "CN-1", day: int = 10) -> CreditNote:
    return CreditNote("P1", day, doc, text, amount, "GBP", T0 + timedelta(days=day))


# ----------------------------------------------------------------------------- percentiles
def test_percentiles_interpolate_between_the_closest_ranks() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([3, 1, 2], 50) == 2
    assert percentile(list(range(1, 11)), 90) == 9.1
    assert percentile([7], 90) == 7
    assert percentile([], 50) is None
    with pytest.raises(ValueError, match="from 0 to 100"):
        percentile([1], 101)


@given(st.lists(st.integers(min_value=0, max_value=400), min_size=2, max_size=60))
def test_percentiles_agree_with_the_standard_library(values: list[int]) -> None:
    assert percentile(values, 50) == pytest.approx(statistics.median(values))
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    assert percentile(values, 90) == pytest.approx(deciles[8])
    assert min(values) <= percentile(values, 90) <= max(values)  # type: ignore[operator]


# ---------------------------------------------------------------------- naming a return
def test_identifiers_are_words_and_runs_of_their_parts_without_case() -> None:
    found = identifiers("CN-zzr-7-000012", "Returns credit (RMA335782605).")
    assert "ZZR-7-000012" in found and "RMA335782605" in found and "RETURNS" in found
    assert "CN-ZZR-7-000012" in found


INDEX = ReferenceIndex(
    [
        Referable(1, "ZZR-1", "204-1111111-1111111", "RMA1", frozenset({"B0AAAAAAAA"})),
        Referable(2, "ZZR-2", "204-2222222-2222222", None, frozenset({"B0BBBBBBBB"})),
        Referable(3, "ZZR-3", "204-2222222-2222222", None, frozenset({"B0CCCCCCCC"})),
    ],
    [AmazonRequest("RR-1", "204-2222222-2222222", "B0CCCCCCCC", "VRET9")],
)


@pytest.mark.parametrize(
    ("text", "rule", "cases"),
    [
        ("Returns credit zzr-2, order 204-1111111-1111111", Rule.RETURN_ID, (2,)),
        ("Credit for RMA1 order 204-2222222-2222222", Rule.RMA_ID, (1,)),
        ("Credit VRET9", Rule.REQUEST_RMA, (3,)),
        ("Return 204-2222222-2222222 B0BBBBBBBB", Rule.ORDER_ASIN, (2,)),
        ("Return 204-2222222-2222222", Rule.ORDER, (2, 3)),
        ("Return 204-2222222-2222222 B0AAAAAAAA", Rule.ORDER_ASIN, ()),
        ("Customer returns credit B0AAAAAAAA", Rule.NONE, ()),
    ],
)
def test_a_text_names_returns_by_the_first_rule_that_finds_any(
    text: str, rule: Rule, cases: tuple[int, ...]
) -> None:
    found = INDEX.resolve("CN-000001", text)
    assert (found.rule, found.cases) == (rule, cases)


# ------------------------------------------------------------------------------- credits
def test_a_credit_naming_an_order_of_two_returns_goes_to_the_one_whose_amount_it_is() -> None:
    returns = [
        ret(1, line(credit=1000, asin="B0AAAAAAAA"), order_ref="204-9"),
        ret(2, line(credit=2500, asin="B0BBBBBBBB"), order_ref="204-9"),
    ]
    matches = match_credits(returns, [note("order 204-9", 2500), note("order 204-9", 1000)])
    assert [m.case_id for m in matches] == [2, 1]
    assert all(m.resolution.rule is Rule.ORDER for m in matches)


def test_a_credit_for_a_return_never_received_matches_nothing_and_says_why() -> None:
    returns = [ret(1, line(received=None, credit=0), status="in_transit")]
    (match,) = match_credits(returns, [note("Returns credit ZZR-1")])
    assert match.case_id is None
    assert match.why == "names return ZZR-1: in transit, never received"
    (nothing,) = match_credits(returns, [note("Customer returns")])
    assert nothing.case_id is None and nothing.resolution.rule is Rule.NONE


def test_standing_compares_amounts_within_one_minor_unit_per_line() -> None:
    two_lines = ret(1, line("1", credit=1000), line("2", credit=500))
    cases = {
        1502: Standing.CREDITED,  # owes 1500; 2 lines: 2 minor units of tolerance
        1498: Standing.CREDITED,
        1503: Standing.OTHER_AMOUNT,
    }
    for paid, standing in cases.items():
        matches = match_credits([two_lines], [note("ZZR-1", paid)])
        (row,) = credit_standings([two_lines], matches, AS_OF, WINDOW)
        assert row.standing is standing, paid


def test_a_credit_split_over_two_notes_is_credited_and_counted_from_the_first() -> None:
    returns = [ret(1, line(credit=1000))]
    notes = [note("ZZR-1", 400, day=12, doc="CN-2"), note("ZZR-1", 600, day=5, doc="CN-1")]
    (row,) = credit_standings(returns, match_credits(returns, notes), AS_OF, WINDOW)
    assert row.standing is Standing.CREDITED
    assert row.days_to_credit == 5


def test_no_credit_is_a_gap_only_once_the_window_has_passed() -> None:
    old = ret(1, line(received=AS_OF - WINDOW - timedelta(minutes=1)))
    young = ret(2, line(received=AS_OF - WINDOW + timedelta(minutes=1)))
    held = ret(3, line(credit=0, status="exception", received=T0))
    rows = credit_standings([old, young, held], [], AS_OF, WINDOW)
    assert [r.standing for r in rows] == [
        Standing.NO_CREDIT,
        Standing.NOT_YET_DUE,
        Standing.NOTHING_OWED,
    ]


def test_a_credited_return_with_a_held_line_is_not_compared() -> None:
    returns = [ret(1, line("1"), line("2", credit=0, status="exception"))]
    (row,) = credit_standings(returns, match_credits(returns, [note("ZZR-1", 9999)]), AS_OF, WINDOW)
    assert row.standing is Standing.NOT_COMPARED


@given(st.lists(st.tuples(st.integers(1, 8), st.booleans()), min_size=1, max_size=20))
def test_a_credit_matches_exactly_when_it_names_a_received_return(
    named: list[tuple[int, bool]],
) -> None:
    received = {n for n, got in named if got}
    returns = [
        ret(n, line(received=T0 if n in received else None, credit=100 if n in received else 0))
        for n in sorted({n for n, _ in named})
    ]
    notes = [note(f"Returns credit ZZR-{n}", doc=f"CN-{i}") for i, (n, _) in enumerate(named)]
    for match in match_credits(returns, notes):
        number = int(match.credit.description.rsplit("-", 1)[1])
        assert (match.case_id == number) == (number in received)
        assert (match.case_id is None) == (number not in received)


# ------------------------------------------------------------------------ stranded stock
def test_sellable_units_not_dispositioned_to_restock_are_stranded() -> None:
    old, young = T0, AS_OF - timedelta(days=2)
    returns = [
        ret(1, line("1", grade="A", disposition="RESTOCK")),
        ret(2, line("1", grade="A", disposition="LIQUIDATE", units=2, unit_cost=700)),
        ret(3, line("1", grade="a", disposition="hold")),
        ret(4, line("1", grade="A", disposition=None, received=old)),
        ret(5, line("1", grade="A", disposition=None, received=young)),
        ret(6, line("1", grade="D", disposition="DESTROY")),
    ]
    stranded, waiting = stranded_stock(returns, MAPPINGS, AS_OF, WINDOW)
    assert [(s.ret.case_id, s.why) for s in stranded] == [
        (2, StrandedWhy.OTHER_ROUTE),
        (3, StrandedWhy.UNMAPPED),
        (4, StrandedWhy.MISSING),
    ]
    assert stranded[0].value == 1400 and stranded[0].route == "liquidate"
    assert [w.ret.case_id for w in waiting] == [5]


# ---------------------------------------------------------------------------- write-downs
def write_down(case_id: int, amount: int = 2000, line_id: str = "1") -> WriteDown:
    return WriteDown(case_id, line_id, "SKU-1", 1, "5410", amount, "GBP", f"{case_id}/1/1")


def gl(row: int, account: str, debit: int, text: str, reference: str = "") -> LedgerLine:
    return LedgerLine(row, f"GL-{row}", date(2026, 9, 2), account, debit, 0, "GBP", reference, text)


def test_write_downs_are_checked_against_the_ledger_lines_naming_their_return() -> None:
    returns = [ret(n, rma_id=f"RMA{n}") for n in (1, 2, 3, 4)]
    downs = [
        write_down(1),
        write_down(2),
        write_down(3),
        write_down(4, 500),
        write_down(4, 700, "2"),
    ]
    ledger = [
        gl(1, "5410", 2000, "", "ZZR-1"),
        gl(2, "5410", 2000, "write-down for RMA2"),
        gl(3, "1390", 2000, "", "ZZR-3"),  # another account: not a write-down journal
        gl(4, "5410", 900, "ZZR-4 both lines"),
        gl(5, "5410", 300, "ZZR-4 late line"),
    ]
    checks = check_write_downs(returns, downs, ledger, AS_OF, WINDOW)
    found = {(c.write_down.case_id, c.write_down.line_id): c.standing for c in checks}
    assert found == {
        (1, "1"): Journalled.JOURNALLED,
        (2, "1"): Journalled.JOURNALLED,
        (3, "1"): Journalled.NOT_JOURNALLED,
        (4, "1"): Journalled.JOURNALLED,  # 900 + 300 = 500 + 700
        (4, "2"): Journalled.JOURNALLED,
    }
    halved = check_write_downs(returns, downs[:1], [gl(1, "5410", 1000, "ZZR-1")], AS_OF, WINDOW)
    assert [c.standing for c in halved] == [Journalled.OTHER_AMOUNT]
    unassessed = check_write_downs(returns, downs, None, AS_OF, WINDOW)
    assert {c.standing for c in unassessed} == {Journalled.NOT_ASSESSED}


# ------------------------------------------------------------------------ unmapped codes
def test_unmapped_codes_are_grouped_as_compared_and_ranked_by_lines_then_units() -> None:
    uses = [
        UnmappedUse(CodeKind.SKU, "ZZ-1-UNK", "R1", "1", 1),
        UnmappedUse(CodeKind.SKU, "zz 1 unk", "R2", "1", 1),
        UnmappedUse(CodeKind.REASON, "42", "R3", "1", 3),
        UnmappedUse(CodeKind.REASON, "42", "R3", "2", 1),
        UnmappedUse(CodeKind.DISPOSITION, "hold", "R4", "1", 5),
        UnmappedUse(CodeKind.DISPOSITION, " HOLD ", "R5", "1", 1),
        UnmappedUse(CodeKind.CHARGE, "LATE_FEE", "R6", "charge:C1", 0),
    ]
    ranked = rank_unmapped(uses)
    assert [(c.kind, c.code, c.lines, c.units, c.returns) for c in ranked] == [
        (CodeKind.DISPOSITION, "HOLD", 2, 6, 2),
        (CodeKind.REASON, "42", 2, 4, 1),
        (CodeKind.SKU, "ZZ-1-UNK", 2, 2, 2),
        (CodeKind.CHARGE, "LATE_FEE", 1, 0, 1),
    ]


# ------------------------------------------------------------------------------- as of
def test_the_as_of_date_defaults_to_the_files_and_may_not_come_before_them() -> None:
    latest = datetime(2026, 10, 12, 23, 0, tzinfo=UTC)
    assert as_of_date(None, latest) == date(2026, 10, 12)
    assert as_of_date(date(2026, 12, 31), latest) == date(2026, 12, 31)
    with pytest.raises(AuditRefused, match="before the latest date in the files"):
        as_of_date(date(2026, 10, 11), latest)
    with pytest.raises(AuditRefused, match="no dated fact"):
        as_of_date(None, None)
