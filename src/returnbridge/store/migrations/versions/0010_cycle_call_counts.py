"""clearing cycles count what talking to Amazon cost: requests, retries, throttled answers,
rejected items (nullable: cycles before this revision have none)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

COLUMNS = ("amazon_requests", "amazon_retries", "amazon_throttled", "items_rejected")


def upgrade() -> None:
    with op.batch_alter_table("clearing_cycles", schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clearing_cycles", schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
