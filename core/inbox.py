"""Deliveries from chat platforms, stored before they are acknowledged and handled once.

A platform delivers at least once (Slack retries, Telegram re-serves, Discord replays). An adapter
calls `Inbox.accept` first — one INSERT keyed by (platform, event id) — and acknowledges only after
it returns; `Inbox.handle` then runs the assistant and marks the row handled. A delivery stored but
never handled (the process died) is handed back by `Inbox.unhandled` on the next start.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker

from core import clock
from core.assistant import Assistant
from core.types import IncomingMessage, Reply
from db.models import Inbound


@dataclass(frozen=True)
class Press:
    """A button pressed under a notification: Done or Snooze on a task."""

    platform: str
    platform_user_id: str
    action: str  # done | snooze
    value: str  # the task id
    press_id: str | None = None
    ts: dt.datetime | None = None


Delivery = IncomingMessage | Press


@dataclass(frozen=True)
class Stored:
    """A delivery as the inbox keeps it, with the adapter's opaque note of where to answer."""

    event_id: str
    item: Delivery
    reply_to: str


def _payload(item: Delivery, reply_to: str) -> dict[str, Any]:
    data = asdict(item)
    data["ts"] = item.ts.isoformat() if item.ts else None
    return {"type": "press" if isinstance(item, Press) else "message", "reply_to": reply_to, "item": data}


def _item(payload: dict[str, Any]) -> Delivery:
    data = dict(payload["item"])
    data["ts"] = dt.datetime.fromisoformat(data["ts"]) if data.get("ts") else None
    return Press(**data) if payload["type"] == "press" else IncomingMessage(**data)


class Inbox:
    """The store-then-ack-then-handle path shared by every chat adapter."""

    def __init__(self, sessions: async_sessionmaker, assistant: Assistant) -> None:
        self.sessions = sessions
        self.assistant = assistant
        self._handled: list[tuple[str, str]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def accept(self, event_id: str, item: Delivery, reply_to: str) -> bool:
        """Store a delivery; False when this (platform, event id) was stored before (a redelivery)."""
        return (await self.accept_many([(event_id, item, reply_to)]))[0]

    async def accept_many(self, batch: list[tuple[str, Delivery, str]]) -> list[bool]:
        """Store a batch in one statement; for each, whether it is new (the first of its key in the batch)."""
        if not batch:
            return []
        now = dt.datetime.now(clock.UTC)
        rows = [{"id": uuid.uuid4(), "platform": item.platform, "event_id": event_id,
                 "payload": _payload(item, reply_to), "received_at": now} for event_id, item, reply_to in batch]
        async with self.sessions() as session, session.begin():
            stored = await session.execute(insert(Inbound).values(rows).on_conflict_do_nothing(
                constraint="uq_inbound_event").returning(Inbound.platform, Inbound.event_id))
            new = {tuple(r) for r in stored}
        out = []
        for row in rows:  # a key twice in one batch: only its first copy is new
            key = (row["platform"], row["event_id"])
            out.append(key in new)
            new.discard(key)
        return out

    async def handle(self, event_id: str, item: Delivery) -> Reply:
        """Run the assistant on a stored delivery, then mark it handled and drop its text."""
        if isinstance(item, Press):
            reply = await self.assistant.press(item.platform, item.platform_user_id, item.action, item.value,
                                               now=item.ts, press_id=item.press_id)
        else:
            reply = await self.assistant.handle(item)
        # Marked handled in batches a moment later: a crash before that only re-runs the delivery,
        # which the assistant answers as a duplicate (its own messages table dedupes the event id).
        self._handled.append((item.platform, event_id))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon())
        return reply

    async def _flush_soon(self) -> None:
        await asyncio.sleep(0.05)
        await self.flush()

    async def flush(self) -> None:
        """Mark what was handled as handled, dropping the stored text."""
        while self._handled:
            batch, self._handled = self._handled[:1000], self._handled[1000:]
            async with self.sessions() as session, session.begin():
                await session.execute(update(Inbound).where(tuple_(Inbound.platform, Inbound.event_id).in_(batch))
                                      .values(handled_at=dt.datetime.now(clock.UTC), payload=None))

    async def unhandled(self, platform: str, limit: int = 500) -> list[Stored]:
        """Deliveries stored but never handled (oldest first), to finish after a restart."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(Inbound.event_id, Inbound.payload)
                .where(Inbound.platform == platform, Inbound.handled_at.is_(None))
                .order_by(Inbound.received_at).limit(limit))
            return [Stored(event_id, _item(p), p["reply_to"]) for event_id, p in rows if p]
