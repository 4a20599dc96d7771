"""The permission table: what each role may do, and which side owns each exception code."""

from __future__ import annotations

import hashlib

import pytest

from returnbridge.domain.auth import (
    PERMISSIONS,
    SIDES,
    Permission,
    Role,
    Side,
    may,
    may_resolve,
    roles_that_resolve,
    roles_with,
    token_digest,
    token_prefix,
)
from returnbridge.domain.errors import ExceptionCode
from returnbridge.observability.logging import redact

STOCK = {
    "UNKNOWN_SKU", "INACTIVE_SKU", "UNMAPPED_REASON", "UNMAPPED_DISPOSITION", "UNMAPPED_GRADE",
    "GRADE_DISPOSITION_CONFLICT", "QUANTITY_MISMATCH", "INVALID_EVENT", "PROCESSING_FAILED",
    "STOCK_SNAPSHOT_MISSING", "STOCK_SNAPSHOT_STALE", "STOCK_DROP_HELD", "UNMAPPED_WAREHOUSE",
}  # fmt: skip
MONEY = {"UNMAPPED_CHARGE", "CREDIT_OVERSTATED", "RFS_NOT_RECEIVED", "OVER_RETURN"}
BOTH = {"AMAZON_REJECTED", "AMAZON_STUCK"}  # a stock update or a credit note alike


def test_every_exception_code_has_an_owner_and_the_sides_are_as_the_runbook_says() -> None:
    assert set(SIDES) == set(ExceptionCode)
    assert {c.value for c, s in SIDES.items() if s == {Side.STOCK}} == STOCK
    assert {c.value for c, s in SIDES.items() if s == {Side.MONEY}} == MONEY
    assert {c.value for c, s in SIDES.items() if s == {Side.STOCK, Side.MONEY}} == BOTH


@pytest.mark.parametrize("code", sorted(ExceptionCode))
def test_ops_resolve_the_stock_side_finance_the_money_side_admin_all_viewer_none(
    code: ExceptionCode,
) -> None:
    expected = {Role.ADMIN}
    if code in STOCK | BOTH:
        expected.add(Role.OPS)
    if code in MONEY | BOTH:
        expected.add(Role.FINANCE)
    assert {role for role in Role if may_resolve(role, code)} == expected


def test_a_code_this_version_does_not_know_is_left_to_admin() -> None:
    assert roles_that_resolve("SOMETHING_NEW") == (Role.ADMIN,)


def test_every_role_reads_only_admin_manages_tokens_and_mappings() -> None:
    for role in Role:
        assert may(role, Permission.READ) and may(role, Permission.READ_METRICS)
    assert PERMISSIONS[Role.VIEWER] == {Permission.READ, Permission.READ_METRICS}
    assert PERMISSIONS[Role.ADMIN] == set(Permission)
    assert roles_with(Permission.MANAGE_TOKENS) == (Role.ADMIN,)
    assert roles_with(Permission.MANAGE_MAPPINGS) == (Role.ADMIN,)
    assert roles_with(Permission.RESOLVE_STOCK) == (Role.OPS, Role.ADMIN)
    assert roles_with(Permission.RESOLVE_MONEY) == (Role.FINANCE, Role.ADMIN)


def test_a_token_is_kept_as_its_sha256_and_shown_by_a_short_prefix() -> None:
    token = "rb_" + "A" * 43
    assert token_digest(token) == hashlib.sha256(token.encode()).hexdigest()
    assert token_prefix(token) == "rb_AAAAAAAA"


def test_tokens_and_authorization_values_never_reach_a_log_line() -> None:
    token = "rb_Zq4x8T2mY9LwPq1cB7vN3kR5sD0fG6hJ8aK2eU4iO1p"
    line = redact(
        None,
        "info",
        {
            "event": f"request with {token}",
            "error": f"headers={{'authorization': 'Bearer {token}'}}",
            "detail": "Authorization: Basic dXNlcjpwYXNzd29yZA==",
            "authorization": f"Bearer {token}",
            "path": "/api/exceptions",
        },
    )
    assert token not in str(line) and "dXNlcjpwYXNzd29yZA" not in str(line)
    assert line["path"] == "/api/exceptions" and line["authorization"] == "[redacted]"
