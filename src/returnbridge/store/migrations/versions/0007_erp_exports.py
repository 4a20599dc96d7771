"""erp export batches and the outbox messages each settles

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "erp_exports",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("batch_key", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_outbox_id", Id, nullable=False),
        sa.Column("last_outbox_id", Id, nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_exports")),
        sa.UniqueConstraint("batch_key", name=op.f("uq_erp_exports_batch_key")),
    )
    op.create_index("ix_erp_exports_status_id", "erp_exports", ["status", "id"], unique=False)
    op.create_table(
        "erp_export_messages",
        sa.Column("outbox_id", Id, nullable=False),
        sa.Column("export_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_erp_export_messages_outbox_id_outbox")
        ),
        sa.ForeignKeyConstraint(
            ["export_id"],
            ["erp_exports.id"],
            name=op.f("fk_erp_export_messages_export_id_erp_exports"),
        ),
        sa.PrimaryKeyConstraint("outbox_id", name=op.f("pk_erp_export_messages")),
    )
    op.create_index(
        "ix_erp_export_messages_export_id", "erp_export_messages", ["export_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_erp_export_messages_export_id", "erp_export_messages")
    op.drop_table("erp_export_messages")
    op.drop_index("ix_erp_exports_status_id", "erp_exports")
    op.drop_table("erp_exports")
