"""inbox claims by several workers: who applied each event, an index of the pending events (the
claim walks it in id order, however many are already processed) and one of the pending events
of a case (the claim skips an event while an earlier one of its case is still pending)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("processed_by", sa.String(length=100), nullable=True))
    op.create_index(
        "ix_inbox_pending_id", "inbox", ["id"], postgresql_where=PENDING, sqlite_where=PENDING
    )
    op.create_index(
        "ix_inbox_pending_case",
        "inbox",
        ["case_key", "id"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_inbox_pending_case", table_name="inbox")
    op.drop_index("ix_inbox_pending_id", table_name="inbox")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_column("processed_by")
