"""stock authority: snapshots of the WMS/ERP's available stock per (Amazon warehouse, SKU), the
business time of each stock movement, and the subject of exceptions not about a return line

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stock_snapshots",
        sa.Column("warehouse", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("available", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "available >= 0", name=op.f("ck_stock_snapshots_available_not_negative")
        ),
        sa.PrimaryKeyConstraint("warehouse", "sku", name=op.f("pk_stock_snapshots")),
    )
    with op.batch_alter_table("stock_movements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("exceptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exceptions", schema=None) as batch_op:
        batch_op.drop_column("subject")
    with op.batch_alter_table("stock_movements", schema=None) as batch_op:
        batch_op.drop_column("occurred_at")
    op.drop_table("stock_snapshots")
