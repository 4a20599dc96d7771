"""API tokens and the audit log: create, list and revoke tokens; authenticate one; verify the log.

A token is ``rb_`` and 43 URL-safe characters (256 random bits), shown once when it is created;
only its SHA-256 is stored (domain/auth.py says why a plain hash is enough). Creating and
revoking a token each write an audit row in the same transaction.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from returnbridge.domain.audit_log import (
    ActorKind,
    AuditEntry,
    AuditRecord,
    ChainCheck,
    verify_chain,
)
from returnbridge.domain.auth import TOKEN_PREFIX, Role, token_digest, token_prefix
from returnbridge.domain.errors import NotFound, TokenRefused

LAST_USED_EVERY = timedelta(minutes=1)
"""``last_used_at`` is written at most this often per token: a write per request would make
every read a write."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


@dataclass(frozen=True)
class TokenRecord:
    """A stored token as a person sees it: never the token, never its hash."""

    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class IssuedToken:
    record: TokenRecord
    token: str  # the secret: shown once, stored nowhere


@dataclass(frozen=True)
class Principal:
    """Who is calling the API: the token's name and role."""

    token_id: int
    name: str
    role: Role


class TokenRefusal(StrEnum):
    """Why a presented token does not authenticate (the API answers 401 with this code)."""

    INVALID = "invalid_token"
    REVOKED = "revoked_token"


class AccessStore(Protocol):
    """Tokens and the audit log, in one transaction."""

    def add_token(
        self,
        name: str,
        role: Role,
        token_hash: str,
        prefix: str,
        created_by: str,
        now: datetime,
    ) -> TokenRecord: ...
    def token_by_hash(self, token_hash: str) -> TokenRecord | None: ...
    def tokens(self) -> list[TokenRecord]: ...
    def revoke_token(self, token_id: int, now: datetime) -> None: ...
    def touch_token(self, token_id: int, now: datetime) -> None: ...
    def append_audit(self, entry: AuditEntry) -> AuditRecord: ...
    def audit_rows(self) -> Iterator[AuditRecord]: ...


def token_view(record: TokenRecord) -> dict[str, Any]:
    """A token as the audit log keeps it."""
    return {
        "id": record.id,
        "name": record.name,
        "role": record.role.value,
        "prefix": record.prefix,
        "revoked_at": record.revoked_at.isoformat() if record.revoked_at else None,
    }


def create_token(
    store: AccessStore,
    name: str,
    role: Role,
    actor: str,
    now: datetime,
    actor_kind: ActorKind = ActorKind.CLI,
) -> IssuedToken:
    """A new token for ``name`` (a person or a system) with ``role``; the secret is returned
    once. One active token per name, so that revoking by name is never ambiguous."""
    if not _NAME.match(name) or name.isdigit():
        raise TokenRefused(
            f"token name {name!r}: use letters, digits and . _ @ - (up to 100, not only "
            "digits), e.g. alice or grafana-prod"
        )
    if not actor.strip():
        raise TokenRefused("say who is creating the token (--actor)")
    if any(t.name == name and t.revoked_at is None for t in store.tokens()):
        raise TokenRefused(
            f"a token named {name!r} is active already: revoke it first "
            f"(`returnbridge tokens revoke {name}`), or choose another name"
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = store.add_token(name, role, token_digest(token), token_prefix(token), actor, now)
    store.append_audit(
        AuditEntry(
            now, actor, actor_kind, "token.create", f"token:{record.id}", None, token_view(record)
        )
    )
    return IssuedToken(record, token)


def revoke_tokens(
    store: AccessStore,
    name_or_id: str,
    actor: str,
    now: datetime,
    actor_kind: ActorKind = ActorKind.CLI,
) -> list[TokenRecord]:
    """Revoke the active token named ``name_or_id``, or the token with that id."""
    if not actor.strip():
        raise TokenRefused("say who is revoking the token (--actor)")
    known = store.tokens()
    chosen = [t for t in known if t.name == name_or_id and t.revoked_at is None]
    if not chosen and name_or_id.isdigit():
        chosen = [t for t in known if t.id == int(name_or_id)]
        if chosen and chosen[0].revoked_at is not None:
            raise TokenRefused(
                f"token {name_or_id} ({chosen[0].name}) was revoked already, at "
                f"{chosen[0].revoked_at.isoformat()}"
            )
    if not chosen:
        raise NotFound(f"no active token named {name_or_id!r} and no token with that id")
    revoked = []
    for token in chosen:
        store.revoke_token(token.id, now)
        after = replace(token, revoked_at=now)
        store.append_audit(
            AuditEntry(
                now,
                actor,
                actor_kind,
                "token.revoke",
                f"token:{token.id}",
                token_view(token),
                token_view(after),
            )
        )
        revoked.append(after)
    return revoked


def authenticate(store: AccessStore, presented: str, now: datetime) -> Principal | TokenRefusal:
    """Who ``presented`` belongs to, or why it is refused; notes when the token was last used.

    The lookup is by the token's SHA-256: comparing digests of a 256-bit secret leaks nothing
    a timing attack could use, so no constant-time comparison is needed.
    """
    record = store.token_by_hash(token_digest(presented))
    if record is None:
        return TokenRefusal.INVALID
    if record.revoked_at is not None:
        return TokenRefusal.REVOKED
    if record.last_used_at is None or now - record.last_used_at >= LAST_USED_EVERY:
        store.touch_token(record.id, now)
    return Principal(record.id, record.name, record.role)


def verify_audit_log(store: AccessStore, anchor: str | None = None) -> ChainCheck:
    """Walk the whole audit log and say whether its chain holds (domain/audit_log.py)."""
    return verify_chain(store.audit_rows(), anchor)
