"""``SqlAccessStore``: API tokens and the audit log (``services.access.AccessStore``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from returnbridge.domain.audit_log import AuditRecord
from returnbridge.domain.auth import Role
from returnbridge.services.access import TokenRecord
from returnbridge.store.audit_log import audit_rows
from returnbridge.store.sql import SqlStore, aware, aware_or_none, transaction
from returnbridge.store.tables import api_tokens

_SHOWN = (
    api_tokens.c.id,
    api_tokens.c.name,
    api_tokens.c.role,
    api_tokens.c.prefix,
    api_tokens.c.created_at,
    api_tokens.c.created_by,
    api_tokens.c.revoked_at,
    api_tokens.c.last_used_at,
)  # never the hash


def _token(row: Any) -> TokenRecord:
    return TokenRecord(
        id=int(row.id),
        name=row.name,
        role=Role(row.role),
        prefix=row.prefix,
        created_at=aware(row.created_at),
        created_by=row.created_by,
        revoked_at=aware_or_none(row.revoked_at),
        last_used_at=aware_or_none(row.last_used_at),
    )


class SqlAccessStore(SqlStore):
    """The SQL store, plus tokens and the audit log's rows."""

    def add_token(
        self,
        name: str,
        role: Role,
        token_hash: str,
        prefix: str,
        created_by: str,
        now: datetime,
    ) -> TokenRecord:
        token_id = self._insert(
            insert(api_tokens).values(
                name=name,
                role=role.value,
                token_hash=token_hash,
                prefix=prefix,
                created_at=now,
                created_by=created_by[:200],
            )
        )
        row = self.conn.execute(select(*_SHOWN).where(api_tokens.c.id == token_id)).one()
        return _token(row)

    def token_by_hash(self, token_hash: str) -> TokenRecord | None:
        row = self.conn.execute(select(*_SHOWN).where(api_tokens.c.token_hash == token_hash))
        found = row.first()
        return _token(found) if found else None

    def tokens(self) -> list[TokenRecord]:
        return [_token(r) for r in self.conn.execute(select(*_SHOWN).order_by(api_tokens.c.id))]

    def revoke_token(self, token_id: int, now: datetime) -> None:
        self.conn.execute(
            update(api_tokens)
            .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    def touch_token(self, token_id: int, now: datetime) -> None:
        self.conn.execute(
            update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now)
        )

    def audit_rows(self) -> Iterator[AuditRecord]:
        return audit_rows(self.conn)


@contextmanager
def access_transaction(engine: Engine) -> Iterator[SqlAccessStore]:
    """One unit of work over tokens, the audit log and everything ``SqlStore`` offers."""
    with transaction(engine) as store:
        yield SqlAccessStore(store.conn)


__all__ = ["SqlAccessStore", "access_transaction"]
