"""returns credit notes: credit movements per line, and the credit-note number on the outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "credit_movements",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("movement_key", sa.String(length=300), nullable=False),
        sa.Column("line_ref", _ID, nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("inbox_id", _ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity <> 0", name=op.f("ck_credit_movements_nonzero")),
        sa.ForeignKeyConstraint(
            ["inbox_id"], ["inbox.id"], name=op.f("fk_credit_movements_inbox_id_inbox")
        ),
        sa.ForeignKeyConstraint(
            ["line_ref"],
            ["return_lines.id"],
            name=op.f("fk_credit_movements_line_ref_return_lines"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_movements")),
        sa.UniqueConstraint("movement_key", name=op.f("uq_credit_movements_movement_key")),
    )
    with op.batch_alter_table("credit_movements", schema=None) as batch_op:
        batch_op.create_index("ix_credit_movements_line_ref", ["line_ref"], unique=False)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("document", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("document")
    with op.batch_alter_table("credit_movements", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_movements_line_ref")
    op.drop_table("credit_movements")
