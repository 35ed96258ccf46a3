"""Long-term memory: items with text and a vector, searched by meaning and by words, per user."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.embeddings import Embedder
from db.models import MemoryItem, utcnow

RRF_K = 60
CANDIDATES = 50
TOKEN = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Hit:
    """One memory found by a search."""

    id: str
    kind: str
    text: str
    score: float
    created_at: dt.datetime

    def as_dict(self) -> dict[str, object]:
        """The hit as the search_memory tool returns it."""
        return {"id": self.id, "kind": self.kind, "text": self.text, "score": round(self.score, 4)}


def or_query(text: str) -> str:
    """A tsquery that matches any of the words (stop words are dropped by Postgres)."""
    return " | ".join(dict.fromkeys(TOKEN.findall(text.lower())))


class Memory:
    """Reads and writes memory items for one user at a time."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    async def add(self, session: AsyncSession, user_id: uuid.UUID, kind: str, text: str,
                  source_id: uuid.UUID | None = None, at: dt.datetime | None = None) -> MemoryItem:
        """Store one item with its embedding (flushed with the caller's transaction)."""
        [vector] = await self.embedder.embed([text])
        item = MemoryItem(user_id=user_id, kind=kind, text=text, source_id=source_id, embedding=vector,
                          embedding_model=self.embedder.name, created_at=at or utcnow())
        session.add(item)
        return item

    async def reindex_source(self, session: AsyncSession, user_id: uuid.UUID, kind: str,
                             source_id: uuid.UUID, text: str) -> None:
        """Make the item derived from a task or event say what its source says now."""
        [vector] = await self.embedder.embed([text])
        result = await session.execute(
            update(MemoryItem)
            .where(MemoryItem.user_id == user_id, MemoryItem.source_id == source_id, MemoryItem.kind == kind)
            .values(text=text, embedding=vector, embedding_model=self.embedder.name))
        if result.rowcount == 0:  # type: ignore[attr-defined]
            await self.add(session, user_id, kind, text, source_id)

    async def forget_source(self, session: AsyncSession, user_id: uuid.UUID, source_id: uuid.UUID) -> None:
        """Remove what was derived from a deleted task or event."""
        await session.execute(
            delete(MemoryItem).where(MemoryItem.user_id == user_id, MemoryItem.source_id == source_id))

    async def find_same(self, session: AsyncSession, user_id: uuid.UUID, text: str) -> MemoryItem | None:
        """A note of this user's that says the same thing (ignoring case and spacing)."""
        norm = " ".join(TOKEN.findall(text.lower()))
        rows = await session.scalars(
            select(MemoryItem).where(MemoryItem.user_id == user_id, MemoryItem.kind == "note"))
        for item in rows:
            if " ".join(TOKEN.findall(item.text.lower())) == norm:
                return item
        return None

    async def search(self, session: AsyncSession, user_id: uuid.UUID, query: str, k: int = 5,
                     kinds: tuple[str, ...] = ("note", "task", "event")) -> list[Hit]:
        """The k items of this user that best fit `query`: vector and full-text ranks, fused."""
        [vector] = await self.embedder.embed([query])
        mine = (MemoryItem.user_id == user_id, MemoryItem.kind.in_(kinds))
        distance = MemoryItem.embedding.cosine_distance(vector)
        by_vector = (await session.execute(
            select(MemoryItem.id).where(*mine).order_by(distance).limit(CANDIDATES))).scalars().all()
        ranks: dict[uuid.UUID, float] = {}
        for rank, item_id in enumerate(by_vector):
            ranks[item_id] = ranks.get(item_id, 0.0) + 1.0 / (RRF_K + rank + 1)
        words = or_query(query)
        if words:
            tsq = func.to_tsquery("english", words)
            by_text = (await session.execute(
                select(MemoryItem.id).where(*mine, MemoryItem.tsv.op("@@")(tsq))
                .order_by(func.ts_rank_cd(MemoryItem.tsv, tsq).desc()).limit(CANDIDATES))).scalars().all()
            for rank, item_id in enumerate(by_text):
                ranks[item_id] = ranks.get(item_id, 0.0) + 1.0 / (RRF_K + rank + 1)
        if not ranks:
            return []
        items = {i.id: i for i in await session.scalars(select(MemoryItem).where(MemoryItem.id.in_(ranks)))}
        ordered = sorted(ranks, key=lambda i: (ranks[i], items[i].created_at), reverse=True)[:k]
        return [Hit(str(i), items[i].kind, items[i].text, ranks[i], items[i].created_at) for i in ordered]
