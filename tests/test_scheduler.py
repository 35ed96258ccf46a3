"""Reminders and the digest come due on the user's wall clock, exactly once, across DST."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bots.app import Runtime
from core.scheduler import step_all, take_unsent
from core.tools import ToolContext, run_tool
from db.models import Notification, User
from tests.conftest import at


async def _user(rt: Runtime, name: str, tz: str, now: dt.datetime) -> User:
    async with rt.sessions() as session, session.begin():
        user = await rt.assistant.user_for(session, "terminal", name, now, tz, name=name)
        assert user is not None
        return user


async def call(rt: Runtime, user: User, tool: str, args: dict[str, Any], now: dt.datetime) -> Any:
    async with rt.sessions() as session, session.begin():
        fresh = await session.get(User, user.id)
        assert fresh is not None
        action = await run_tool(ToolContext(session, fresh, now, ZoneInfo(fresh.tz), rt.memory), tool, args)
        assert action.ok, action.result
        return action


async def tick(rt: Runtime, name: str, now: dt.datetime) -> list[str]:
    return [n.text for n in await rt.assistant.tick("terminal", name, now)]


async def test_reminder_fires_once_at_its_local_time(rt: Runtime) -> None:
    set_at = at("2026-03-27T09:00:00+01:00")
    ada = await _user(rt, "ada", "Europe/Berlin", set_at)
    await call(rt, ada, "create_task", {"title": "Call mom", "remind_at": "2026-03-27T18:00:00+01:00"}, set_at)
    assert await tick(rt, "ada", at("2026-03-27T17:59:00+01:00")) == []
    [text] = await tick(rt, "ada", at("2026-03-27T18:00:30+01:00"))
    assert "Call mom" in text and "late" not in text
    assert await tick(rt, "ada", at("2026-03-27T18:05:00+01:00")) == []


async def test_reminder_after_fall_back_uses_the_new_offset(rt: Runtime) -> None:
    set_at = at("2026-10-31T12:00:00-04:00")
    ny = await _user(rt, "ny", "America/New_York", set_at)
    # "tomorrow at 9am" is 09:00 EST (UTC-5) on 1 November, not 09:00 EDT.
    await call(rt, ny, "create_task", {"title": "Feed the cat", "remind_at": "2026-11-01T09:00:00"}, set_at)
    notes = await tick(rt, "ny", at("2026-11-01T08:30:00-05:00"))
    assert not any("cat" in n for n in notes)
    assert any("Feed the cat" in n for n in await tick(rt, "ny", at("2026-11-01T09:00:00-05:00")))


async def test_reminder_delivered_late_says_so(rt: Runtime) -> None:
    set_at = at("2026-06-02T10:00:00+09:00")
    ken = await _user(rt, "ken", "Asia/Tokyo", set_at)
    await call(rt, ken, "create_task", {"title": "Move the car", "remind_at": "2026-06-02T12:00:00+09:00"}, set_at)
    [text] = [t for t in await tick(rt, "ken", at("2026-06-02T15:00:00+09:00")) if "car" in t]
    assert "late" in text and "12:00" in text


async def test_digest_at_0730_lists_the_day_once(rt: Runtime) -> None:
    created = at("2026-05-11T14:00:00-04:00")
    ny = await _user(rt, "ny", "America/New_York", created)
    await call(rt, ny, "create_event", {"title": "Dentist", "start": "2026-05-12T10:30:00-04:00"}, created)
    await call(rt, ny, "create_task", {"title": "Pay the electricity bill", "due": "2026-05-12"}, created)
    await call(rt, ny, "create_task", {"title": "Return library books", "due": "2026-05-01"}, created)
    assert await tick(rt, "ny", at("2026-05-12T07:29:00-04:00")) == []
    [digest] = await tick(rt, "ny", at("2026-05-12T07:31:00-04:00"))
    assert "Dentist" in digest and "10:30" in digest
    assert "electricity bill" in digest and "Return library books" in digest
    assert digest.index("Due today") < digest.index("Overdue") < digest.index("Return library books")
    assert await tick(rt, "ny", at("2026-05-12T12:00:00-04:00")) == []


async def test_a_clock_that_skips_days_gets_only_the_latest_digest(rt: Runtime) -> None:
    created = at("2026-05-11T14:00:00-04:00")
    await _user(rt, "ny", "America/New_York", created)
    notes = await tick(rt, "ny", at("2026-05-15T09:00:00-04:00"))
    assert len(notes) == 1 and "15 May" in notes[0]


async def test_digest_at_the_users_chosen_time_or_off(rt: Runtime) -> None:
    created = at("2026-01-12T20:00:00+01:00")
    ada = await _user(rt, "ada", "Europe/Berlin", created)
    async with rt.sessions() as session, session.begin():
        user = await session.get(User, ada.id)
        assert user is not None
        user.digest_time = dt.time(8, 0)
        user.next_digest_at = at("2026-01-13T08:00:00+01:00")
    assert await tick(rt, "ada", at("2026-01-13T07:45:00+01:00")) == []
    assert len(await tick(rt, "ada", at("2026-01-13T08:00:00+01:00"))) == 1
    async with rt.sessions() as session, session.begin():
        user = await session.get(User, ada.id)
        assert user is not None
        user.digest_time, user.next_digest_at = None, None
    assert await tick(rt, "ada", at("2026-01-20T08:00:00+01:00")) == []


async def test_concurrent_scheduler_steps_queue_each_reminder_once(rt: Runtime) -> None:
    set_at = at("2026-02-01T08:00:00+00:00")
    users = [await _user(rt, f"u{i}", "UTC", set_at) for i in range(5)]
    for u in users:
        await call(rt, u, "create_task", {"title": f"Ping {u.name}", "remind_at": "2026-02-01T09:00:00+00:00"}, set_at)
    due = at("2026-02-01T09:00:10+00:00")
    await asyncio.gather(*(step_all(rt.sessions, due) for _ in range(4)))
    async with rt.sessions() as session:
        keys = list(await session.scalars(select(Notification.key).where(Notification.kind == "reminder")))
    assert len(keys) == 5 == len(set(keys))
    async with rt.sessions() as session, session.begin():
        claimed = await take_unsent(session, users[0].id, due)
    async with rt.sessions() as session, session.begin():
        again = await take_unsent(session, users[0].id, due)
    assert [n.kind for n in claimed] == ["reminder"] and again == []
    assert [b.label for b in claimed[0].buttons] == ["Done", "Snooze 1h"]
