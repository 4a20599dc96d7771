"""Who may do what: API token roles, their permissions, and which side owns each exception code.

- ``viewer`` reads (the exception queue, metrics) and changes nothing;
- ``ops`` also resolves **stock-side** exceptions: what the warehouse and the catalog decide;
- ``finance`` also resolves **money-side** exceptions: credit, refunds and charges;
- ``admin`` may do everything, and alone manages tokens and mappings.

An exception code belongs to a side by what a person must decide to clear it (see
docs/operations.md). ``AMAZON_REJECTED`` and ``AMAZON_STUCK`` belong to both: they are raised
for a stock update and for a credit note alike, the code does not say which, and the decision
(send it again, or accept Amazon's copy) is the same.

Pure: the standard library only. A token is a 256-bit random string; only its SHA-256 is kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from enum import StrEnum

from returnbridge.domain.errors import ExceptionCode

TOKEN_PREFIX = "rb_"
"""Every API token starts with this, so a leaked one is easy to recognise (and to scrub)."""
PREFIX_SHOWN = len(TOKEN_PREFIX) + 8
"""How much of a token ``tokens list`` shows: enough to tell tokens apart, far too little to
guess the rest (248 random bits stay hidden)."""


class Role(StrEnum):
    VIEWER = "viewer"
    OPS = "ops"
    FINANCE = "finance"
    ADMIN = "admin"


class Permission(StrEnum):
    READ = "read"  # the exception queue and its history
    READ_METRICS = "metrics.read"
    RESOLVE_STOCK = "exceptions.resolve.stock"
    RESOLVE_MONEY = "exceptions.resolve.money"
    MANAGE_TOKENS = "tokens.manage"
    MANAGE_MAPPINGS = "mappings.manage"


class Side(StrEnum):
    """Who owns the decision on an exception."""

    STOCK = "stock"
    MONEY = "money"


_READ = frozenset({Permission.READ, Permission.READ_METRICS})

PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.VIEWER: _READ,
    Role.OPS: _READ | {Permission.RESOLVE_STOCK},
    Role.FINANCE: _READ | {Permission.RESOLVE_MONEY},
    Role.ADMIN: frozenset(Permission),
}

SIDES: Mapping[ExceptionCode, frozenset[Side]] = {
    ExceptionCode.UNKNOWN_SKU: frozenset({Side.STOCK}),
    ExceptionCode.INACTIVE_SKU: frozenset({Side.STOCK}),
    ExceptionCode.UNMAPPED_REASON: frozenset({Side.STOCK}),
    ExceptionCode.UNMAPPED_DISPOSITION: frozenset({Side.STOCK}),
    ExceptionCode.UNMAPPED_GRADE: frozenset({Side.STOCK}),
    ExceptionCode.GRADE_DISPOSITION_CONFLICT: frozenset({Side.STOCK}),
    ExceptionCode.QUANTITY_MISMATCH: frozenset({Side.STOCK}),
    ExceptionCode.INVALID_EVENT: frozenset({Side.STOCK}),
    ExceptionCode.PROCESSING_FAILED: frozenset({Side.STOCK}),
    ExceptionCode.AMAZON_REJECTED: frozenset({Side.STOCK, Side.MONEY}),
    ExceptionCode.AMAZON_STUCK: frozenset({Side.STOCK, Side.MONEY}),
    ExceptionCode.UNMAPPED_CHARGE: frozenset({Side.MONEY}),  # a fee: GL accounts, no units
    ExceptionCode.CREDIT_OVERSTATED: frozenset({Side.MONEY}),
    ExceptionCode.RFS_NOT_RECEIVED: frozenset({Side.MONEY}),  # refunded money; a SAFE-T claim
    ExceptionCode.OVER_RETURN: frozenset({Side.MONEY}),  # credit Amazon may refuse
    ExceptionCode.STOCK_SNAPSHOT_MISSING: frozenset({Side.STOCK}),
    ExceptionCode.STOCK_SNAPSHOT_STALE: frozenset({Side.STOCK}),
    ExceptionCode.STOCK_DROP_HELD: frozenset({Side.STOCK}),
    ExceptionCode.UNMAPPED_WAREHOUSE: frozenset({Side.STOCK}),
}

_RESOLVES: Mapping[Side, Permission] = {
    Side.STOCK: Permission.RESOLVE_STOCK,
    Side.MONEY: Permission.RESOLVE_MONEY,
}


def may(role: Role, permission: Permission) -> bool:
    return permission in PERMISSIONS[role]


def roles_with(permission: Permission) -> tuple[Role, ...]:
    """The roles holding ``permission``, in the order of ``Role``."""
    return tuple(role for role in Role if may(role, permission))


def sides_of(code: str) -> frozenset[Side]:
    """The sides that own ``code``; none for a code this version does not know."""
    try:
        return SIDES[ExceptionCode(code)]
    except ValueError:
        return frozenset()


def may_resolve(role: Role, code: str) -> bool:
    """Whether ``role`` may act on an exception of ``code``. A code no side owns (one a newer
    version raised) is left to admin."""
    if role is Role.ADMIN:
        return True
    return any(may(role, _RESOLVES[side]) for side in sides_of(code))


def roles_that_resolve(code: str) -> tuple[Role, ...]:
    return tuple(role for role in Role if may_resolve(role, code))


def may_resolve_any(role: Role) -> bool:
    """Whether ``role`` may resolve exceptions of at least one side."""
    return any(may(role, permission) for permission in _RESOLVES.values())


def token_digest(token: str) -> str:
    """What is stored for a token: its SHA-256, hex.

    A plain hash, not a slow key-derivation function: slow KDFs protect low-entropy secrets
    (passwords) against guessing, and a 256-bit random token cannot be guessed, so stretching
    it buys nothing and would cost every request. The digest also serves as the lookup key.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_prefix(token: str) -> str:
    """The non-secret start of a token, shown by ``tokens list`` to tell tokens apart."""
    return token[:PREFIX_SHOWN]
