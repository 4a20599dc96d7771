"""amazon vendor central export facts: return requests, standard refunds, remittance lines

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "amazon_return_requests",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=False),
        sa.Column("vendor_code", sa.String(length=20), nullable=False),
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("asin", sa.String(length=10), nullable=False),
        sa.Column("quantity_requested", sa.Integer(), nullable=False),
        sa.Column("quantity_approved", sa.Integer(), nullable=False),
        sa.Column("refund_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("condition", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rma_id", sa.String(length=100), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_amazon_return_requests")),
        sa.UniqueConstraint("request_id", name=op.f("uq_amazon_return_requests_request_id")),
    )
    op.create_index(
        "ix_amazon_return_requests_order_id", "amazon_return_requests", ["order_id"], unique=False
    )
    op.create_table(
        "amazon_standard_refunds",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("refund_id", sa.String(length=100), nullable=False),
        sa.Column("order_id", sa.String(length=100), nullable=False),
        sa.Column("asin", sa.String(length=10), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_amazon_standard_refunds")),
        sa.UniqueConstraint("refund_id", name=op.f("uq_amazon_standard_refunds_refund_id")),
    )
    op.create_index(
        "ix_amazon_standard_refunds_order_id", "amazon_standard_refunds", ["order_id"], unique=False
    )
    op.create_table(
        "amazon_remittance_lines",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("payment_id", sa.String(length=100), nullable=False),
        sa.Column("document_number", sa.String(length=100), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("document_type", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deductions", sa.Text(), nullable=False),
        sa.Column("deductions_total", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_amazon_remittance_lines")),
        sa.UniqueConstraint(
            "payment_id", "document_number", "line_no", name="uq_amazon_remittance_lines_key"
        ),
    )
    op.create_index(
        "ix_amazon_remittance_lines_document_number",
        "amazon_remittance_lines",
        ["document_number"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_amazon_remittance_lines_document_number", "amazon_remittance_lines")
    op.drop_table("amazon_remittance_lines")
    op.drop_index("ix_amazon_standard_refunds_order_id", "amazon_standard_refunds")
    op.drop_table("amazon_standard_refunds")
    op.drop_index("ix_amazon_return_requests_order_id", "amazon_return_requests")
    op.drop_table("amazon_return_requests")
