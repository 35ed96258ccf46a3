"""Wiring: settings → database → memory → brain → assistant, opened once per process."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from core.assistant import Assistant
from core.brain import Brain, OfflineBrain
from core.config import Settings, get_settings
from core.embeddings import Embedder, HashEmbedder
from core.memory import Memory
from db.engine import database_url, make_engine, make_sessionmaker
from db.migrate import migrate

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything a command needs, opened once."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker
    memory: Memory
    assistant: Assistant


def make_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for."""
    return HashEmbedder()


def make_brain(settings: Settings) -> Brain:
    """The brain the settings ask for (the offline rules without a model)."""
    return OfflineBrain()


@asynccontextmanager
async def open_runtime(settings: Settings | None = None, default_tz: str | None = None,
                       brain: Brain | None = None) -> AsyncIterator[Runtime]:
    """Connect (starting the embedded Postgres if needed), migrate, and build the assistant."""
    settings = settings or get_settings()
    engine = make_engine(database_url(settings.database_url, settings.data_dir))
    try:
        await migrate(engine)
        sessions = make_sessionmaker(engine)
        memory = Memory(make_embedder(settings))
        assistant = Assistant(sessions, brain or make_brain(settings), memory, default_tz)
        yield Runtime(settings, engine, sessions, memory, assistant)
    finally:
        await engine.dispose()
