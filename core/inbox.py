"""Deliveries from chat platforms, stored before they are acknowledged and handled once.

A platform delivers at least once (Slack retries, Telegram re-serves, Discord replays). An adapter
calls `Inbox.accept` first — one INSERT keyed by (platform, event id) — and acknowledges only after
it returns; `Inbox.handle` then runs the assistant, which stores its reply on the row in the turn's
own transaction (the outbox). The row is marked handled once the platform took the reply
(`Inbox.sent`). A delivery stored but never handled (the process died) is handed back by
`Inbox.unhandled` on the next start — with its reply, when the turn had already been taken, so the
reply is sent then instead of being lost as a "duplicate".
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import null, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import clock
from core.assistant import Assistant
from core.outage import Backoff, classify
from core.types import IncomingMessage, Reply, storable
from db.models import Inbound

log = logging.getLogger(__name__)


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
    reply: Reply | None = None  # stored with its turn but not sent yet (the process died in between)


def _payload(item: Delivery, reply_to: str) -> dict[str, Any]:
    data = {k: storable(v) if isinstance(v, str) else v for k, v in asdict(item).items()}
    data["ts"] = item.ts.isoformat() if item.ts else None
    return {"type": "press" if isinstance(item, Press) else "message", "reply_to": storable(reply_to), "item": data}


def _reply_data(reply: Reply) -> dict[str, Any]:
    return {"text": reply.text, "private": reply.private, "note": reply.note}


def _reply(data: dict[str, Any] | None) -> Reply | None:
    return Reply(data["text"], private=bool(data.get("private")), note=data.get("note")) if data else None


def _item(payload: dict[str, Any]) -> Delivery:
    data = dict(payload["item"])
    data["ts"] = dt.datetime.fromisoformat(data["ts"]) if data.get("ts") else None
    return Press(**data) if payload["type"] == "press" else IncomingMessage(**data)


class Inbox:
    """The store-then-ack-then-handle path shared by every chat adapter."""

    def __init__(self, sessions: async_sessionmaker, assistant: Assistant) -> None:
        self.sessions = sessions
        self.assistant = assistant
        # Deliveries to mark handled, each with the future of whoever waits for that (`sent`).
        self._handled: list[tuple[tuple[str, str], asyncio.Future[None] | None]] = []
        self._urgent = asyncio.Event()
        self._writing = asyncio.Lock()  # the flusher and a shutdown's flush never write one batch twice
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
        """Run the assistant on a stored delivery; its reply is kept on the row until `sent` is called.

        Raises `DatabaseUnavailable` while the database is away: the delivery stays stored, retry it.
        """

        async def keep(session: AsyncSession, reply: Reply) -> None:
            if not reply.duplicate and reply.text.strip():
                await session.execute(update(Inbound).where(
                    Inbound.platform == item.platform, Inbound.event_id == event_id).values(reply=_reply_data(reply)))

        if isinstance(item, Press):
            reply = await self.assistant.press(item.platform, item.platform_user_id, item.action, item.value,
                                               now=item.ts, press_id=item.press_id, keep=keep)
        else:
            reply = await self.assistant.handle(item, keep=keep)
        if reply.duplicate or not reply.text.strip():
            # Nothing to send: marked handled in batches a moment later. A crash before that only re-runs
            # the delivery, which the assistant answers as a duplicate (its messages table dedupes it).
            self._mark((item.platform, event_id), None)
        return reply

    async def sent(self, platform: str, event_id: str) -> None:
        """The platform took the reply: mark the delivery handled now (waits out a database outage).

        Marks of replies sent at the same moment share one commit. A crash before it ends sends the
        reply again after the restart: at least once, in a window of a few milliseconds.
        """
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._mark((platform, event_id), done)
        self._urgent.set()
        await asyncio.shield(done)

    def _mark(self, key: tuple[str, str], done: asyncio.Future[None] | None) -> None:
        self._handled.append((key, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        backoff = Backoff()
        while self._handled:
            if not self._urgent.is_set():  # a moment to gather a batch, unless a sender waits
                try:
                    await asyncio.wait_for(self._urgent.wait(), 0.05)
                except TimeoutError:
                    pass
            self._urgent.clear()
            try:
                await self.flush()
                backoff.reset()
            except Exception as exc:
                if classify(exc) is None:
                    log.exception("could not mark deliveries handled; retrying")
                elif backoff.tries == 0:  # one line per outage; the retries are quiet
                    log.warning("database unavailable marking deliveries handled (%s); retrying", exc)
                await backoff.wait()
                self._urgent.set()

    async def flush(self) -> None:
        """Mark what was handled as handled, dropping the stored text and the sent reply."""
        async with self._writing:
            while self._handled:
                await self._write(self._handled[:1000])

    async def _write(self, batch: list[tuple[tuple[str, str], asyncio.Future[None] | None]]) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(update(Inbound).where(
                tuple_(Inbound.platform, Inbound.event_id).in_([key for key, _ in batch]))
                .values(handled_at=dt.datetime.now(clock.UTC), payload=None, reply=null()))
        del self._handled[:len(batch)]
        for _, done in batch:
            if done is not None and not done.done():
                done.set_result(None)

    async def unhandled(self, platform: str, limit: int = 500) -> list[Stored]:
        """Deliveries stored but never handled (oldest first), to finish after a restart."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(Inbound.event_id, Inbound.payload, Inbound.reply)
                .where(Inbound.platform == platform, Inbound.handled_at.is_(None))
                .order_by(Inbound.received_at).limit(limit))
            return [Stored(event_id, _item(p), p["reply_to"], _reply(r)) for event_id, p, r in rows if p]
