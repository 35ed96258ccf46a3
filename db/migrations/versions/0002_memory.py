"""long-term memory: vectors of any model and dimension, an embedding cache, per-user and ANN indexes

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import pgvector.sqlalchemy
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # An untyped vector column holds any model's dimension; the model and dimension sit beside each vector.
    op.alter_column("memory_items", "embedding", type_=pgvector.sqlalchemy.Vector(), existing_nullable=True,
                    postgresql_using="embedding::vector")
    op.add_column("memory_items", sa.Column("embedding_dim", sa.SmallInteger(), nullable=True))
    op.execute("UPDATE memory_items SET embedding_dim = vector_dims(embedding) WHERE embedding IS NOT NULL")
    # One user's vectors of one model (exact scans), and the rows still to embed (three range scans).
    op.create_index("ix_memory_user_model", "memory_items", ["user_id", "embedding_model"])
    # The approximate index, used only for users with very many memories (see core/memory.py).
    op.execute("CREATE INDEX ix_memory_hnsw_384 ON memory_items USING hnsw "
               "((embedding::vector(384)) vector_cosine_ops) WITH (m = 16, ef_construction = 64) "
               "WHERE embedding_dim = 384")
    op.create_table(
        "embedding_cache",
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("text_hash", sa.LargeBinary(), nullable=False),
        sa.Column("embedding", pgvector.sqlalchemy.Vector(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("model", "text_hash"),
    )


def downgrade() -> None:
    op.drop_table("embedding_cache")
    op.execute("DROP INDEX IF EXISTS ix_memory_hnsw_384")
    op.drop_index("ix_memory_user_model", table_name="memory_items")
    op.drop_column("memory_items", "embedding_dim")
    op.execute("UPDATE memory_items SET embedding = NULL, embedding_model = NULL "
               "WHERE embedding_dim IS DISTINCT FROM 384")
    op.alter_column("memory_items", "embedding", type_=pgvector.sqlalchemy.Vector(384), existing_nullable=True,
                    postgresql_using="embedding::vector(384)")
