"""The scheduler step for a batch of users in a handful of queries (the worker's path).

`core.scheduler.step_user` decides for one user with ~8 statements; at 10,000 digests a
morning that is most of a worker's CPU. `step_batch` makes the *same* decisions — the same
notification keys, texts and `next_digest_at` — loading reminders, events and tasks for the
whole batch at once. tests/test_batch.py holds the two paths to the same output.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.digest import compose_digest
from core.recurrence import occurrences
from core.replies import Speaker
from core.scheduler import LATE_AFTER, digest_slot_after, digest_slot_at_or_before
from core.tools import event_dict, task_dict
from db.models import Event, Notification, Reminder, Task, User


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


def _day_events(events: list[Event], tz: Any, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    found = []
    for ev in events:
        if ev.start_at >= end or (ev.recurrence is None and ev.end_at <= start) or (
                ev.recurrence is not None and ev.series_end_at is not None and ev.series_end_at <= start):
            continue
        for s, e in occurrences(ev.start_at, ev.end_at, clock.zone(ev.tz), ev.recurrence, start, end):
            found.append((s, ev.title, event_dict(ev, tz, s, e)))
    found.sort(key=lambda x: (x[0], x[1]))
    return [f[2] for f in found]


async def step_batch(session: AsyncSession, users: Sequence[User], now: dt.datetime) -> int:
    """Queue every reminder and digest that came due by `now` for `users` (locked by the caller).

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

    digests = [u for u in users if u.next_digest_at is not None and u.next_digest_at <= now
               and u.digest_time is not None]
    if digests:
        plan = {}  # user id → (zone, slot, local day, day start, day end)
        for u in digests:
            assert u.digest_time is not None
            tz = clock.zone(u.tz)
            slot = digest_slot_at_or_before(now, u.digest_time, u.tz)
            day = slot.astimezone(tz).date()
            plan[u.id] = (tz, slot, day, clock.start_of_day(day, tz),
                          clock.start_of_day(day + dt.timedelta(days=1), tz))
        d_ids = list(plan)
        lo, hi = min(p[3] for p in plan.values()), max(p[4] for p in plan.values())
        since = min(p[1] for p in plan.values()) - dt.timedelta(days=1)
        events: dict[uuid.UUID, list[Event]] = defaultdict(list)
        for ev in await session.scalars(select(Event).where(
                Event.user_id.in_(d_ids), Event.status != "cancelled", Event.start_at < hi,
                or_(and_(Event.recurrence.is_(None), Event.end_at > lo),
                    and_(Event.recurrence.is_not(None),
                         or_(Event.series_end_at.is_(None), Event.series_end_at > lo))))):
            events[ev.user_id].append(ev)
        tasks: dict[uuid.UUID, list[Task]] = defaultdict(list)
        for t in await session.scalars(select(Task).where(
                Task.user_id.in_(d_ids), Task.status == "open",
                or_(Task.due_date <= max(p[2] for p in plan.values()),
                    and_(Task.source != "chat", Task.created_at > since)))
                .order_by(Task.due_date, Task.due_at, Task.created_at)):
            tasks[t.user_id].append(t)
        for u in digests:
            assert u.digest_time is not None
            tz, slot, day, start, end = plan[u.id]
            mine = tasks[u.id]
            due_today = [task_dict(t, tz) for t in mine if t.due_date == day]
            overdue = [task_dict(t, tz) for t in mine if t.due_date and t.due_date < day]
            since_last = slot - dt.timedelta(days=1)
            arrived = [task_dict(t, tz) for t in mine if t.source != "chat" and t.created_at > since_last]
            text = compose_digest(Speaker(tz, slot), day, _day_events(events[u.id], tz, start, end),
                                  due_today, overdue, arrived)
            values.append({"user_id": u.id, "key": f"digest:{u.id}:{day.isoformat()}", "kind": "digest",
                           "text": text, "task_id": None, "due_at": slot, "created_at": now})
            u.next_digest_at = digest_slot_after(now, u.digest_time, u.tz)

    if not values:
        return 0
    for v in values:
        v["id"] = uuid.uuid4()
    result = await session.execute(insert(Notification).values(values)
                                   .on_conflict_do_nothing(index_elements=["key"]).returning(Notification.id))
    return len(result.all())
