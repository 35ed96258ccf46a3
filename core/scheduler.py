"""Pixie's own initiative: find what came due by a given clock and queue it, exactly once.

`step_user` is the whole decision for one user; `step_all` runs it for every user with
something due (the arq worker calls it); `take_unsent` hands queued notifications to an
adapter. A notification's unique `key` is what makes delivery happen at most once even
when two workers or a replayed clock ask twice.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import clock
from core.digest import compose_digest
from core.memory import Memory
from core.replies import Speaker
from core.tools import ToolContext, events_between, task_dict
from core.types import Button, OutgoingNotification
from db.models import Notification, Reminder, Task, User

LATE_AFTER = dt.timedelta(minutes=5)


def digest_slot_at_or_before(now: dt.datetime, at: dt.time, tz_name: str) -> dt.datetime:
    """The latest digest moment (local `at`) that is not after `now`."""
    tz = clock.zone(tz_name)
    day = now.astimezone(tz).date()
    slot = clock.localize(dt.datetime.combine(day, at), tz)
    if slot > now:
        slot = clock.localize(dt.datetime.combine(day - dt.timedelta(days=1), at), tz)
    return slot


def digest_slot_after(now: dt.datetime, at: dt.time | None, tz_name: str) -> dt.datetime | None:
    """The first digest moment strictly after `now` (None when the digest is off)."""
    if at is None:
        return None
    tz = clock.zone(tz_name)
    day = now.astimezone(tz).date()
    for offset in (0, 1, 2):
        slot = clock.localize(dt.datetime.combine(day + dt.timedelta(days=offset), at), tz)
        if slot > now:
            return slot.astimezone(clock.UTC)
    raise AssertionError("unreachable: a slot exists within two days")


async def _queue(session: AsyncSession, **values: object) -> None:
    await session.execute(insert(Notification).values(id=uuid.uuid4(), **values)
                          .on_conflict_do_nothing(index_elements=["key"]))


async def _reminders(session: AsyncSession, user: User, now: dt.datetime) -> None:
    tz = clock.zone(user.tz)
    due = await session.scalars(
        select(Reminder).where(Reminder.user_id == user.id, Reminder.status == "pending",
                               Reminder.remind_at <= now)
        .order_by(Reminder.remind_at).with_for_update(skip_locked=True))
    for r in due:
        text = f"⏰ Reminder: {r.text}"
        if now - r.remind_at > LATE_AFTER:
            text += f" (sorry, this is late — it was due {clock.fmt_when(r.remind_at, tz, now.date())})"
        await _queue(session, user_id=user.id, key=f"reminder:{r.id}:{r.remind_at.isoformat()}",
                     kind="reminder", text=text, task_id=r.task_id, due_at=r.remind_at, created_at=now)
        r.status, r.fired_at = "fired", now


async def digest_text(session: AsyncSession, user: User, slot: dt.datetime, memory: Memory,
                      since: dt.datetime | None = None) -> str:
    """Compose the digest for the local day of `slot`."""
    tz = clock.zone(user.tz)
    day = slot.astimezone(tz).date()
    ctx = ToolContext(session, user, slot, tz, memory)
    start = clock.start_of_day(day, tz)
    events = await events_between(ctx, start, clock.start_of_day(day + dt.timedelta(days=1), tz))
    open_tasks = list(await session.scalars(
        select(Task).where(Task.user_id == user.id, Task.status == "open", Task.due_date <= day)
        .order_by(Task.due_date, Task.due_at)))
    due_today = [task_dict(t, tz) for t in open_tasks if t.due_date == day]
    overdue = [task_dict(t, tz) for t in open_tasks if t.due_date and t.due_date < day]
    arrived: list[dict[str, object]] = []
    if since is not None:
        fresh = await session.scalars(
            select(Task).where(Task.user_id == user.id, Task.source != "chat", Task.created_at > since,
                               Task.status == "open"))
        arrived = [task_dict(t, tz) for t in fresh]
    return compose_digest(Speaker(tz, slot), day, events, due_today, overdue, arrived)


async def _digest(session: AsyncSession, user: User, now: dt.datetime, memory: Memory) -> None:
    if user.next_digest_at is None or user.next_digest_at > now or user.digest_time is None:
        return
    # Only the latest digest that came due: a clock that skipped days gets one, not one per day.
    slot = digest_slot_at_or_before(now, user.digest_time, user.tz)
    previous = slot - dt.timedelta(days=1)
    text = await digest_text(session, user, slot, memory, since=previous)
    day = slot.astimezone(clock.zone(user.tz)).date()
    await _queue(session, user_id=user.id, key=f"digest:{user.id}:{day.isoformat()}", kind="digest",
                 text=text, due_at=slot, created_at=now)
    user.next_digest_at = digest_slot_after(now, user.digest_time, user.tz)


async def step_user(session: AsyncSession, user: User, now: dt.datetime, memory: Memory) -> None:
    """Queue every reminder and the digest that came due for `user` by `now`."""
    await _reminders(session, user, now)
    await _digest(session, user, now, memory)


async def step_all(sessions: async_sessionmaker, now: dt.datetime, memory: Memory, limit: int = 500) -> int:
    """Run `step_user` for every user with something due; returns how many users were handled."""
    async with sessions() as session:
        due_reminder = select(Reminder.user_id).where(Reminder.status == "pending", Reminder.remind_at <= now)
        ids = list(await session.scalars(
            select(User.id).where(or_(User.next_digest_at <= now, User.id.in_(due_reminder))).limit(limit)))
    for user_id in ids:
        async with sessions() as session, session.begin():
            user = await session.scalar(select(User).where(User.id == user_id).with_for_update(skip_locked=True))
            if user is not None:
                await step_user(session, user, now, memory)
    return len(ids)


def outgoing(n: Notification) -> OutgoingNotification:
    """A queued notification as adapters see it, with Done/Snooze buttons for reminders."""
    buttons: tuple[Button, ...] = ()
    if n.kind == "reminder" and n.task_id is not None:
        buttons = (Button("Done", "done", str(n.task_id)), Button("Snooze 1h", "snooze", str(n.task_id)))
    return OutgoingNotification(str(n.id), str(n.user_id), n.kind, n.text, buttons)


async def take_unsent(session: AsyncSession, user_id: uuid.UUID, now: dt.datetime) -> list[OutgoingNotification]:
    """Claim this user's queued notifications, marking them sent (the caller delivers them)."""
    rows = list(await session.scalars(
        select(Notification).where(Notification.user_id == user_id, Notification.status == "queued")
        .order_by(Notification.due_at, Notification.created_at).with_for_update(skip_locked=True)))
    for n in rows:  # a row a worker is delivering ("sending") is skipped: it goes out once
        n.sent_at, n.attempts, n.status = now, n.attempts + 1, "sent"
    return [outgoing(n) for n in rows]
