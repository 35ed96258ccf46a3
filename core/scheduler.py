"""Pixie's own initiative: find what came due by a given clock and queue it, exactly once.

`step_batch` is the whole decision, for a batch of users in a handful of queries (the
worker steps 25 at a time; `step_user` is a batch of one, used by replays). `step_all`
runs it for every user with something due; `take_unsent` hands queued notifications to
an adapter. A notification's unique `key` makes delivery happen at most once even when
two workers or a replayed clock ask twice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import clock
from core.digest import compose_digest
from core.replies import Speaker
from core.tools import Hidden, event_dict, expand, hidden_instances, next_time, task_dict
from core.types import Button, OutgoingNotification
from db.models import Event, Notification, Reminder, Task, User

MAIL = "email"  # the source of what forwarded mail made (connectors.email_tasks, connectors.mail_intake)

LATE_AFTER = dt.timedelta(minutes=5)
MAIL_LOOKBACK = dt.timedelta(days=7)  # the furthest back a digest lists what arrived by mail


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


def _reminder_rows(user: User, due: list[Reminder], now: dt.datetime) -> list[dict[str, Any]]:
    tz = clock.zone(user.tz)
    rows = []
    for r in due:
        text = f"⏰ Reminder: {r.text}"
        if now - r.remind_at > LATE_AFTER:
            text += f" (sorry, this is late — it was due {clock.fmt_when(r.remind_at, tz, now.date())})"
        rows.append({"user_id": user.id, "key": f"reminder:{r.id}:{r.remind_at.isoformat()}", "kind": "reminder",
                     "text": text, "task_id": r.task_id, "due_at": r.remind_at, "created_at": now})
        r.status, r.fired_at = "fired", now
    return rows


def _day_events(events: list[Event], tz: Any, start: dt.datetime, end: dt.datetime,
                hidden: Hidden | None = None) -> list[dict[str, Any]]:
    found = []
    for ev in events:
        if ev.start_at >= end or (ev.recurrence is None and ev.end_at <= start) or (
                ev.recurrence is not None and ev.series_end_at is not None and ev.series_end_at <= start):
            continue
        for s, e in expand(ev, start, end, hidden):
            found.append((s, ev.title, event_dict(ev, tz, s, e)))
    found.sort(key=lambda x: (x[0], x[1]))
    return [f[2] for f in found]


async def digest_texts(session: AsyncSession, users: Sequence[User],
                       slots: dict[uuid.UUID, dt.datetime]) -> dict[uuid.UUID, str]:
    """Each user's digest for the local day of their slot, loading events and tasks for all at once."""
    if not users:
        return {}
    plan = {}  # user id → (zone, slot, local day, day start, day end)
    for u in users:
        tz = clock.zone(u.tz)
        slot = slots[u.id]
        day = slot.astimezone(tz).date()
        plan[u.id] = (tz, slot, day, clock.start_of_day(day, tz), clock.start_of_day(day + dt.timedelta(days=1), tz))
    ids = list(plan)
    lo, hi = min(p[3] for p in plan.values()), max(p[4] for p in plan.values())
    # What arrived by mail is listed from the previous digest on (a day before, for the first one; a
    # worker that was down for days, or a digest turned off and on, reaches back at most MAIL_LOOKBACK).
    earliest = min(p[1] for p in plan.values()) - MAIL_LOOKBACK
    previous: dict[uuid.UUID, dt.datetime] = {}
    for uid, due in await session.execute(select(Notification.user_id, Notification.due_at).where(
            Notification.user_id.in_(ids), Notification.kind == "digest", Notification.due_at >= earliest)):
        if due < plan[uid][1] and due > previous.get(uid, earliest):
            previous[uid] = due
    last = {uid: previous.get(uid, plan[uid][1] - dt.timedelta(days=1)) for uid in ids}
    since = min(last.values())
    events: dict[uuid.UUID, list[Event]] = defaultdict(list)
    for ev in await session.scalars(select(Event).where(
            Event.user_id.in_(ids), Event.status != "cancelled", Event.start_at < hi,
            or_(and_(Event.recurrence.is_(None), Event.end_at > lo),
                and_(Event.recurrence.is_not(None), or_(Event.series_end_at.is_(None), Event.series_end_at > lo))))):
        events[ev.user_id].append(ev)
    synced_series = [u for u, evs in events.items() if any(e.recurrence and e.external_id for e in evs)]
    hidden = await hidden_instances(session, synced_series, lo, hi) if synced_series else None
    mailed: dict[uuid.UUID, list[Event]] = defaultdict(list)  # events a forwarded mail proposed
    for ev in await session.scalars(select(Event).where(
            Event.user_id.in_(ids), Event.source == MAIL, Event.status != "cancelled", Event.created_at > since)
            .order_by(Event.start_at)):
        mailed[ev.user_id].append(ev)
    tasks: dict[uuid.UUID, list[Task]] = defaultdict(list)
    for t in await session.scalars(select(Task).where(
            Task.user_id.in_(ids), Task.status == "open",
            or_(Task.due_date <= max(p[2] for p in plan.values()),
                and_(Task.source == MAIL, Task.created_at > since)))
            .order_by(Task.due_date, Task.due_at, Task.created_at)):
        tasks[t.user_id].append(t)
    texts = {}
    for u in users:
        tz, slot, day, start, end = plan[u.id]
        mine = tasks[u.id]
        due_today = [task_dict(t, tz) for t in mine if t.due_date == day]
        overdue = [task_dict(t, tz) for t in mine if t.due_date and t.due_date < day]
        since_last = last[u.id]  # what arrived by mail since the previous digest (up to this one)
        arrived = [task_dict(t, tz) for t in mine if t.source == MAIL and since_last < t.created_at <= slot]
        arrived += [event_dict(e, tz) for e in mailed[u.id] if since_last < e.created_at <= slot]
        texts[u.id] = compose_digest(Speaker(tz, slot), day, _day_events(events[u.id], tz, start, end, hidden),
                                     due_today, overdue, arrived)
    return texts


async def digest_text(session: AsyncSession, user: User, slot: dt.datetime) -> str:
    """One user's digest for the local day of `slot` (what `pixie digest` previews)."""
    return (await digest_texts(session, [user], {user.id: slot}))[user.id]


async def step_batch(session: AsyncSession, users: Sequence[User], now: dt.datetime) -> int:
    """Queue every reminder and digest that came due by `now` for `users` (locked by the caller).

    The worker steps users in batches; `step_user` is the batch of one, so both decide alike.

    Returns how many notifications were queued (duplicates of existing keys are not counted).
    """
    if not users:
        return 0
    ids = [u.id for u in users]
    values: list[dict[str, Any]] = []

    reminders: dict[uuid.UUID, list[Reminder]] = defaultdict(list)
    for r in await session.scalars(
            select(Reminder).where(Reminder.user_id.in_(ids), Reminder.status == "pending", Reminder.remind_at <= now)
            .order_by(Reminder.remind_at).with_for_update(skip_locked=True)):
        reminders[r.user_id].append(r)
    for user in users:
        values += _reminder_rows(user, reminders[user.id], now)
    await _repeat(session, [r for rs in reminders.values() for r in rs], {u.id: u for u in users}, now)

    digests = [u for u in users if u.next_digest_at is not None and u.next_digest_at <= now
               and u.digest_time is not None]
    # Only the latest digest that came due: a clock that skipped days gets one, not one per day.
    slots = {u.id: digest_slot_at_or_before(now, u.digest_time, u.tz) for u in digests if u.digest_time}
    texts = await digest_texts(session, digests, slots)
    for u in digests:
        slot = slots[u.id]
        day = slot.astimezone(clock.zone(u.tz)).date()
        values.append({"user_id": u.id, "key": f"digest:{u.id}:{day.isoformat()}", "kind": "digest",
                       "text": texts[u.id], "task_id": None, "due_at": slot, "created_at": now})
        u.next_digest_at = digest_slot_after(now, u.digest_time, u.tz)

    if not values:
        return 0
    for v in values:
        v["id"] = uuid.uuid4()
    result = await session.execute(insert(Notification).values(values)
                                   .on_conflict_do_nothing(index_elements=["key"]).returning(Notification.id))
    return len(result.all())


async def _repeat(session: AsyncSession, fired: list[Reminder], users: dict[uuid.UUID, User],
                  now: dt.datetime) -> None:
    """A repeating task's reminder fired: set its next one (and move its due time with it)."""
    ids = [r.task_id for r in fired if r.task_id is not None]
    if not ids:
        return
    for task in await session.scalars(select(Task).where(Task.id.in_(ids), Task.recurrence.is_not(None),
                                                         Task.status == "open")):
        tz = clock.zone(users[task.user_id].tz)
        following = next_time(task, tz, max(now, task.remind_at or now))
        if following is None or task.remind_at is None:
            continue
        if task.due_at is not None:
            task.due_at = task.due_at + (following - task.remind_at)
            task.due_date = task.due_at.astimezone(tz).date()
        task.remind_at = following
        session.add(Reminder(user_id=task.user_id, task_id=task.id, remind_at=following, text=task.title,
                             created_at=now))


async def step_user(session: AsyncSession, user: User, now: dt.datetime) -> None:
    """Queue every reminder and the digest that came due for `user` by `now`."""
    await step_batch(session, [user], now)


async def step_all(sessions: async_sessionmaker, now: dt.datetime, limit: int = 500) -> int:
    """Step every user with something due, one transaction each; returns how many users were handled."""
    async with sessions() as session:
        due_reminder = select(Reminder.user_id).where(Reminder.status == "pending", Reminder.remind_at <= now)
        ids = list(await session.scalars(
            select(User.id).where(or_(User.next_digest_at <= now, User.id.in_(due_reminder))).limit(limit)))
    for user_id in ids:
        async with sessions() as session, session.begin():
            user = await session.scalar(select(User).where(User.id == user_id).with_for_update(skip_locked=True))
            if user is not None:
                await step_user(session, user, now)
    return len(ids)


def outgoing(n: Notification) -> OutgoingNotification:
    """A queued notification as adapters see it, with Done/Snooze buttons for reminders."""
    buttons: tuple[Button, ...] = ()
    if n.kind == "reminder" and n.task_id is not None:
        buttons = (Button("Done", "done", str(n.task_id)), Button("Snooze 1h", "snooze", str(n.task_id)))
    elif n.kind == "mail" and n.key.startswith("mail:") and n.key.endswith(":undo"):  # what a mail added
        buttons = (Button("↩ Undo", "undo", n.key.split(":")[1]),)
    return OutgoingNotification(str(n.id), str(n.user_id), n.kind, n.text, buttons)


async def take_unsent(session: AsyncSession, user_id: uuid.UUID, now: dt.datetime) -> list[OutgoingNotification]:
    """Claim this user's queued notifications, marking them sent (the caller delivers them)."""
    rows = list(await session.scalars(
        select(Notification).where(Notification.user_id == user_id, Notification.status == "queued")
        .order_by(Notification.due_at, Notification.created_at).with_for_update(skip_locked=True)))
    for n in rows:  # a row a worker is delivering ("sending") is skipped: it goes out once
        n.sent_at, n.attempts, n.status = now, n.attempts + 1, "sent"
    return [outgoing(n) for n in rows]
