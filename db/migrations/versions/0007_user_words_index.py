"""memory: each user's words in a column and index of their own

The plain GIN index on memory_items.tsv answers "which rows say 'Orion'" for every user at once;
a search then throws away all but one user's rows, and on a shared deployment that is most of the
work. Here every lexeme is stored and indexed together with the first eight hex digits of its
owner's id (column user_tsv), so the index hands back (nearly) only the searching user's rows.
The prefix only narrows the index: every query still says user_id = :uid, so a rare prefix clash
can cost a row read, never a leak. A stored column (not an expression index) lets a row be checked
without recomputing anything and gives the planner statistics to choose the index by.

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Each lexeme in the stripped tsvector's text gets the prefix after its opening quote (a quote
    # inside a lexeme is doubled and never follows a space). Immutable built-ins only.
    op.execute(r"""
        CREATE FUNCTION pixie_user_tsv(uid uuid, doc tsvector) RETURNS tsvector
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT CAST(regexp_replace(strip(doc)::text, '(^| )''', '\1''' || left(uid::text, 8), 'g') AS tsvector)
        $$""")
    # The same prefix on every lexeme of a query.
    op.execute(r"""
        CREATE FUNCTION pixie_user_tsquery(uid uuid, query tsquery) RETURNS tsquery
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT CAST(regexp_replace(query::text, '''((?:[^'']|'''')*)''',
                                       '''' || left(uid::text, 8) || '\1''', 'g') AS tsquery)
        $$""")
    op.add_column("memory_items", sa.Column(
        "user_tsv", postgresql.TSVECTOR(),
        sa.Computed("pixie_user_tsv(user_id, to_tsvector('english', text))", persisted=True), nullable=False))
    # fastupdate off: a search never reads through a list of not-yet-merged entries, and no
    # message pays for merging a full one; an insert costs a few more microseconds instead.
    op.create_index("ix_memory_user_tsv", "memory_items", ["user_tsv"], postgresql_using="gin",
                    postgresql_with={"fastupdate": "off"})
    op.drop_index("ix_memory_tsv", table_name="memory_items", postgresql_using="gin")


def downgrade() -> None:
    op.create_index("ix_memory_tsv", "memory_items", ["tsv"], unique=False, postgresql_using="gin")
    op.drop_index("ix_memory_user_tsv", table_name="memory_items")
    op.drop_column("memory_items", "user_tsv")
    op.execute("DROP FUNCTION pixie_user_tsquery(uuid, tsquery)")
    op.execute("DROP FUNCTION pixie_user_tsv(uuid, tsvector)")
