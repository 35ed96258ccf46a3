"""reply outbox: a chat delivery keeps the reply it got until the platform has taken it

Revision ID: 0012
Revises: 0011
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("inbound", sa.Column("reply", JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("inbound", "reply")
