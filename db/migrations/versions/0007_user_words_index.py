"""memory: full-text index scoped to each user (the words of one user's memories, not everyone's)

The plain GIN index on memory_items.tsv answers "which rows say 'Orion'" for every user at once;
a search then throws away all but one user's rows, and on a shared deployment that is most of the
work. Here every lexeme is indexed together with the first eight hex digits of its owner's id, so
the index hands back (nearly) only the searching user's rows. The prefix only narrows the index:
every query still says user_id = :uid, so a rare prefix clash can cost a row read, never a leak.

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(r"""
        CREATE FUNCTION pixie_user_tsv(uid uuid, doc tsvector) RETURNS tsvector
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
            SELECT array_to_tsvector(ARRAY(SELECT left(uid::text, 8) || lex FROM unnest(tsvector_to_array(doc)) lex))
        $$""")
    op.execute(r"""
        CREATE FUNCTION pixie_user_tsquery(uid uuid, query tsquery) RETURNS tsquery
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
            SELECT CAST(regexp_replace(query::text, '''((?:[^'']|'''')*)''',
                                       '''' || left(uid::text, 8) || '\1''', 'g') AS tsquery)
        $$""")
    # fastupdate off: a search never reads through a list of not-yet-merged entries, and no
    # message pays for merging a full one; an insert costs a few more microseconds instead.
    op.execute("CREATE INDEX ix_memory_user_tsv ON memory_items USING gin (pixie_user_tsv(user_id, tsv)) "
               "WITH (fastupdate = off)")
    op.drop_index("ix_memory_tsv", table_name="memory_items", postgresql_using="gin")


def downgrade() -> None:
    op.create_index("ix_memory_tsv", "memory_items", ["tsv"], unique=False, postgresql_using="gin")
    op.execute("DROP INDEX ix_memory_user_tsv")
    op.execute("DROP FUNCTION pixie_user_tsquery(uuid, tsquery)")
    op.execute("DROP FUNCTION pixie_user_tsv(uuid, tsvector)")
