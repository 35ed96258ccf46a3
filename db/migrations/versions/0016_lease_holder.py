"""notifications: which worker holds a row it is sending

A worker marks itself alive in Redis every few seconds (jobs/delivery.py). A row "sending" whose
holder's mark is gone was held by a worker that died mid-send: it is in doubt at once (after a
short grace), not only when its 60 s lease runs out, so a reminder caught in a crash is late by
seconds rather than a minute.

Revision ID: 0016
Revises: 0015
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notifications", sa.Column("lease_holder", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("notifications", "lease_holder")
