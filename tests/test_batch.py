"""A batch of users stepped together gets exactly what each would get stepped alone (no cross-talk)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from bots.app import Runtime
from core.scheduler import step_batch, step_user
from db.models import Notification, Reminder, Task, User
from tests.conftest import at
from tests.jobs_support import call, platform_user

NOW = at("2026-05-12T07:40:00-04:00")  # 13:40 in Berlin, 20:40 in Tokyo


async def _world(rt: Runtime) -> None:
    made = at("2026-05-01T09:00:00-04:00")
    ny = await platform_user(rt, "ny", "America/New_York", made)
    de = await platform_user(rt, "de", "Europe/Berlin", made)
    jp = await platform_user(rt, "jp", "Asia/Tokyo", made, digest=False)
    au = await platform_user(rt, "au", "Australia/Sydney", made)
    for user in (ny, de):
        await call(rt, user, "create_task", {"title": "Call the bank", "remind_at": "2026-05-12T07:39:00-04:00"}, made)
        await call(rt, user, "create_task", {"title": "Move the car", "remind_at": "2026-05-12T01:00:00-04:00"}, made)
        await call(rt, user, "create_task", {"title": "Later thing", "remind_at": "2026-05-13T09:00:00-04:00"}, made)
        await call(rt, user, "create_task", {"title": "Pay rent", "due": "2026-05-12T17:00:00-04:00"}, made)
        await call(rt, user, "create_task", {"title": "Send slides", "due": "2026-05-12"}, made)
        await call(rt, user, "create_task", {"title": "Return books", "due": "2026-05-02"}, made)
        await call(rt, user, "create_task", {"title": "Renew visa", "due": "2026-04-20", "priority": "high"}, made)
        await call(rt, user, "create_task", {"title": "Next month", "due": "2026-06-12"}, made)
        done = await call(rt, user, "create_task", {"title": "Old done", "due": "2026-05-12"}, made)
        await call(rt, user, "complete_task", {"task_id": done["task_id"]}, made)
        await call(rt, user, "create_event", {"title": "Dentist", "start": "2026-05-12T10:30:00-04:00"}, made)
        await call(rt, user, "create_event", {"title": "Offsite", "start": "2026-05-12"}, made)
        await call(rt, user, "create_event", {"title": "Stand-up", "start": "2026-04-06T09:30:00-04:00",
                                              "recurrence": "FREQ=WEEKLY;BYDAY=MO,TU"}, made)
        await call(rt, user, "create_event", {"title": "Yesterday", "start": "2026-05-11T10:00:00-04:00"}, made)
        gone = await call(rt, user, "create_event", {"title": "Cancelled", "start": "2026-05-12T12:00:00-04:00"}, made)
        await call(rt, user, "cancel_event", {"event_id": gone["event_id"]}, made)
        await call(rt, user, "create_event", {"title": "Night shift", "start": "2026-05-11T22:00:00-04:00",
                                              "end": "2026-05-12T06:00:00-04:00"}, made)
    await call(rt, jp, "create_task", {"title": "Water plants", "remind_at": "2026-05-12T20:00:00+09:00"}, made)
    async with rt.sessions() as session, session.begin():
        for name in ("ny", "de"):  # arrived by email: one since the last digest, one long before
            user = await session.scalar(select(User).where(User.name == name))
            assert user is not None
            session.add(Task(user_id=user.id, title="Sign the NDA", source="email",
                             created_at=NOW - dt.timedelta(hours=5), updated_at=NOW))
            session.add(Task(user_id=user.id, title="Old mail task", source="email",
                             created_at=NOW - dt.timedelta(days=4), updated_at=NOW))
        sydney = await session.get(User, au.id)
        assert sydney is not None
        sydney.next_digest_at = NOW - dt.timedelta(days=3)  # down for days: only the latest digest


async def _outcome(rt: Runtime, batched: bool) -> dict[str, Any]:
    async with rt.sessions() as session:
        await session.begin()
        users = list(await session.scalars(select(User).order_by(User.name).with_for_update()))
        if batched:
            await step_batch(session, users, NOW)
        else:
            for user in users:
                await step_user(session, user, NOW)
        await session.flush()
        notes = sorted((n.key, n.kind, n.text, n.due_at, n.task_id)
                       for n in await session.scalars(select(Notification)))
        nexts = {u.name: u.next_digest_at for u in users}
        fired = sorted((r.text, r.status, r.fired_at) for r in await session.scalars(select(Reminder)))
        await session.rollback()
    return {"notes": notes, "next": nexts, "reminders": fired}


async def test_the_batched_step_queues_exactly_what_step_user_does(rt: Runtime) -> None:
    await _world(rt)
    one_by_one = await _outcome(rt, batched=False)
    batched = await _outcome(rt, batched=True)
    assert batched == one_by_one
    kinds = [n[1] for n in one_by_one["notes"]]
    assert kinds.count("digest") == 3 and kinds.count("reminder") == 5  # the world is not trivially empty
    digest = next(n[2] for n in one_by_one["notes"] if n[0].startswith("digest:") and "Dentist" in n[2]
                  and "Sign the NDA" in n[2])
    assert "Old mail task" not in digest and "Yesterday" not in digest and "Cancelled" not in digest
