"""Bring the schema to the newest Alembic revision; run automatically on start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK = 0x70697869  # "pixi": one migrator at a time across processes


def alembic_config() -> Config:
    """Alembic's config, built in code (no alembic.ini to keep in sync)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str | None:
    """The newest revision in db/migrations."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _upgrade(conn: Connection, cfg: Config) -> None:
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


async def current_revision(conn: AsyncConnection) -> str | None:
    """The revision the database is at (None for an empty database)."""
    if not (await conn.execute(text("SELECT to_regclass('public.alembic_version') IS NOT NULL"))).scalar():
        return None
    return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one_or_none()


async def migrate(engine: AsyncEngine) -> None:
    """Create the vector extension and apply pending migrations (a no-op when up to date)."""
    head = head_revision()
    async with engine.connect() as conn:
        if await current_revision(conn) == head:
            return
        await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK})
        try:
            if await current_revision(conn) != head:  # another process may have just done it
                await conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
                await conn.commit()
                await conn.run_sync(_upgrade, alembic_config())
            await conn.commit()
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK})
            await conn.commit()
