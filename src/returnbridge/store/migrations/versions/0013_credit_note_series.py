"""credit-note numbering: a gapless series per vendor account, and every note kept as it was
numbered (date and items fixed), voided with a reason rather than deleted

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credit_note_series",
        sa.Column("series", sa.String(length=32), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("series", name=op.f("pk_credit_note_series")),
    )
    op.create_table(
        "credit_notes",
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("series", sa.String(length=32), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("returns_reference", sa.String(length=100), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_by", sa.String(length=100), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_credit_notes")),
        sa.UniqueConstraint("series", "sequence", name="uq_credit_notes_series_sequence"),
    )


def downgrade() -> None:
    op.drop_table("credit_notes")
    op.drop_table("credit_note_series")
