"""Notifications to chat platforms: the `Notifier` the worker calls, which picks each user's adapter.

Each platform adapter registers a `Sender`. A note goes where the worker routed it; else to the
identity on the platform the user chose (`/digest here` sets `users.digest_platform`), else to the
one they wrote from most recently. Adapters raise `PlatformUnavailable` / `Undeliverable`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import clock
from core.types import Button, OutgoingNotification, Undeliverable
from db.models import Identity, Task, User

DIGEST_BUTTONS = 5  # Done buttons under a digest: the first few tasks due today or overdue


class Sender(Protocol):
    """What a platform adapter offers the router: write one note to one person."""

    async def send_note(self, platform_user_id: str, chat_id: str | None, note: OutgoingNotification) -> None: ...


def pick_identity(identities: list[Identity], chosen: str | None, available: set[str]) -> Identity | None:
    """The identity a note should go to: the chosen platform if it is running, else the most recent one."""
    usable = [i for i in identities if i.platform in available]
    if not usable:
        return None
    preferred = [i for i in usable if i.platform == chosen] or usable
    never = dt.datetime.min.replace(tzinfo=clock.UTC)
    return max(preferred, key=lambda i: (i.last_seen_at or never, i.created_at))


def with_done_buttons(note: OutgoingNotification, tasks: list[Task]) -> OutgoingNotification:
    """A digest with a Done button for each of its first few open tasks."""
    buttons = tuple(Button(f"✓ {t.title[:30]}", "done", str(t.id)) for t in tasks[:DIGEST_BUTTONS])
    return OutgoingNotification(note.id, note.user_id, note.kind, note.text, note.buttons + buttons)


class Router:
    """The `core.types.Notifier` for chat platforms: the worker hands it notes, it picks the adapter."""

    def __init__(self, sessions: async_sessionmaker, senders: dict[str, Sender] | None = None) -> None:
        self.sessions = sessions
        self.senders: dict[str, Sender] = dict(senders or {})

    def register(self, platform: str, sender: Sender) -> None:
        """Let notes reach users on `platform`."""
        self.senders[platform] = sender

    async def _prepare(self, session: AsyncSession, user_id: uuid.UUID,
                       note: OutgoingNotification) -> tuple[Identity, str | None, OutgoingNotification]:
        user = await session.get(User, user_id)
        if user is None:
            raise Undeliverable(f"user {user_id} no longer exists")
        identities = list(await session.scalars(select(Identity).where(Identity.user_id == user_id)))
        # The worker's routing (note.platform) wins while that platform runs here; else pick again.
        chosen = note.platform if note.platform in self.senders else user.digest_platform
        target = pick_identity(identities, chosen, set(self.senders))
        if target is None:
            raise Undeliverable(f"no identity on a running platform ({', '.join(sorted(self.senders)) or 'none'})")
        chat_id = note.chat_id if note.platform == target.platform and note.chat_id else target.chat_id
        if note.kind == "digest" and not note.buttons:
            today = dt.datetime.now(clock.UTC).astimezone(clock.zone(user.tz)).date()
            tasks = list(await session.scalars(
                select(Task).where(Task.user_id == user_id, Task.status == "open", Task.due_date <= today)
                .order_by(Task.due_date, Task.due_at).limit(DIGEST_BUTTONS)))
            note = with_done_buttons(note, tasks)
        return target, chat_id, note

    async def send(self, user_id: str, note: OutgoingNotification) -> None:
        """Deliver one note where the user wants it (Undeliverable / PlatformUnavailable as the contract says)."""
        async with self.sessions() as session:
            target, chat_id, note = await self._prepare(session, uuid.UUID(user_id), note)
        await self.senders[target.platform].send_note(target.platform_user_id, chat_id, note)
