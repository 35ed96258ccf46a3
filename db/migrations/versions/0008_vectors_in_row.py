"""memory: a vector stays in its row

A memory's row holds its text, two tsvectors and a 384-float vector (1.5 kB): together just over
Postgres' 2 kB TOAST threshold for most real notes. With the vector type's default storage
(EXTERNAL) the toaster then moves the vector out of line, and an exact per-user scan fetches every
vector from the TOAST table by index: 1k memories took 0.9 ms to scan where the distances themselves
are 0.1 ms. MAIN storage makes the text columns go first and keeps the vector in the row unless the
row would not fit a page. Rows written from now on are stored so; older rows move when rewritten.

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE memory_items ALTER COLUMN embedding SET STORAGE MAIN")


def downgrade() -> None:
    op.execute("ALTER TABLE memory_items ALTER COLUMN embedding SET STORAGE EXTERNAL")
