"""Every tool, called the way every brain calls it, against real Postgres."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bots.app import Runtime
from core.tools import ToolContext, run_tool
from db.models import Event, MemoryItem, Reminder, Task, User
from tests.conftest import at

BERLIN = ZoneInfo("Europe/Berlin")
NOW = at("2026-01-13T09:00:00+01:00")


async def _user(rt: Runtime, name: str = "ada", tz: str = "Europe/Berlin") -> User:
    async with rt.sessions() as session, session.begin():
        user = await rt.assistant.user_for(session, "terminal", name, NOW, tz, name=name)
        assert user is not None
        return user


async def call(rt: Runtime, user: User, tool: str, args: dict[str, Any], now: dt.datetime = NOW) -> Any:
    async with rt.sessions() as session, session.begin():
        fresh = await session.get(User, user.id)
        assert fresh is not None
        ctx = ToolContext(session, fresh, now, ZoneInfo(fresh.tz), rt.memory)
        return await run_tool(ctx, tool, args)


async def count(rt: Runtime, model: Any) -> int:
    async with rt.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_create_task_stores_fields_in_the_users_zone(rt: Runtime) -> None:
    ada = await _user(rt)
    a = await call(rt, ada, "create_task", {"title": "Fix the auth bug", "due": "2026-01-16", "project": "Avenue",
                                             "priority": "high", "remind_at": "2026-01-16T08:00:00"})
    assert a.ok, a.result
    task = a.result["task"]
    assert (task["due"], task["project"], task["priority"]) == ("2026-01-16", "Avenue", "high")
    assert task["remind_at"] == "2026-01-16T08:00:00+01:00"  # a naive time is read in the user's zone
    async with rt.sessions() as session:
        r = await session.scalar(select(Reminder))
        assert r is not None and r.remind_at == at("2026-01-16T07:00:00+00:00")


async def test_list_tasks_filters_by_project_status_and_due(rt: Runtime) -> None:
    ada = await _user(rt)
    for title, due, project in [("Ship it", "2026-01-14", "Avenue"), ("Pay rent", "2026-01-10", None),
                                ("Plan trip", None, None)]:
        await call(rt, ada, "create_task", {"title": title, "due": due, "project": project})
    avenue = await call(rt, ada, "list_tasks", {"project": "avenue"})
    assert [t["title"] for t in avenue.result["tasks"]] == ["Ship it"]
    overdue = await call(rt, ada, "list_tasks", {"due_before": NOW.isoformat()})
    assert [t["title"] for t in overdue.result["tasks"]] == ["Pay rent"]
    await call(rt, ada, "complete_task", {"task_ref": "rent"})
    assert len((await call(rt, ada, "list_tasks", {})).result["tasks"]) == 2
    assert len((await call(rt, ada, "list_tasks", {"status": "all"})).result["tasks"]) == 3


async def test_task_named_by_words_is_resolved_and_ambiguity_asks(rt: Runtime) -> None:
    ada = await _user(rt)
    await call(rt, ada, "create_task", {"title": "Send the invoice to Acme"})
    await call(rt, ada, "create_task", {"title": "Send the invoice to Globex"})
    amb = await call(rt, ada, "complete_task", {"task_ref": "invoice"})
    assert not amb.ok and len(amb.result["candidates"]) == 2
    done = await call(rt, ada, "complete_task", {"task_ref": "acme invoice"})
    assert done.ok and done.result["task"]["title"] == "Send the invoice to Acme"
    assert done.args["task_id"] == done.result["task_id"]
    missing = await call(rt, ada, "complete_task", {"task_ref": "unicorn grooming"})
    assert not missing.ok and "couldn't find" in missing.result["error"]


async def test_update_task_shift_and_delete_leave_memory(rt: Runtime) -> None:
    ada = await _user(rt)
    made = await call(rt, ada, "create_task", {"title": "Call the accountant", "due": "2026-01-20"})
    moved = await call(rt, ada, "update_task", {"task_ref": "accountant", "shift": {"weeks": 1}, "priority": "low"})
    assert moved.ok and moved.result["task"]["due"] == "2026-01-27" and moved.result["task"]["priority"] == "low"
    async with rt.sessions() as session:
        texts = list(await session.scalars(select(MemoryItem.text).where(MemoryItem.kind == "task")))
    assert texts and "27 Jan" in texts[0]
    gone = await call(rt, ada, "delete_task", {"task_id": made.result["task_id"]})
    assert gone.ok
    assert await count(rt, Task) == 0
    async with rt.sessions() as session:
        assert await session.scalar(select(func.count()).where(MemoryItem.kind == "task")) == 0


async def test_bad_arguments_are_refused_and_nothing_is_written(rt: Runtime) -> None:
    ada = await _user(rt)
    cases = [
        ("create_task", {"title": ""}),
        ("create_task", {"title": "x", "due": "2026-02-30"}),
        ("create_task", {"title": "x", "priority": "urgent!!"}),
        ("create_task", {"title": "x", "bogus": 1}),
        ("create_event", {"title": "x", "start": "2026-01-14T10:00:00", "end": "2026-01-14T09:00:00"}),
        ("create_event", {"title": "x", "start": "2026-01-14T10:00:00", "recurrence": "EVERY TUESDAY"}),
        ("complete_task", {"task_id": "not-a-uuid"}),
        ("nonexistent_tool", {}),
    ]
    for tool, args in cases:
        action = await call(rt, ada, tool, args)
        assert not action.ok and action.result["error"], (tool, args)
    assert await count(rt, Task) == 0 and await count(rt, Event) == 0 and await count(rt, Reminder) == 0


async def test_events_overlap_and_availability(rt: Runtime) -> None:
    ada = await _user(rt)
    review = await call(rt, ada, "create_event", {"title": "Design review", "start": "2026-01-15T15:00:00+01:00",
                                                  "end": "2026-01-15T16:00:00+01:00"})
    assert review.ok and review.result["conflicts"] == []
    clash = await call(rt, ada, "create_event", {"title": "Call Jonas", "start": "2026-01-15T15:30:00+01:00"})
    assert [c["title"] for c in clash.result["conflicts"]] == ["Design review"]
    busy = await call(rt, ada, "check_availability", {"start": "2026-01-15T15:45:00+01:00",
                                                      "end": "2026-01-15T16:15:00+01:00"})
    assert busy.result["free"] is False and len(busy.result["conflicts"]) == 2
    free = await call(rt, ada, "check_availability", {"start": "2026-01-15T17:00:00+01:00",
                                                      "end": "2026-01-15T18:00:00+01:00"})
    assert free.result == {**free.result, "free": True, "conflicts": []}


async def test_weekly_event_keeps_its_wall_clock_across_dst(rt: Runtime) -> None:
    ada = await _user(rt)
    made = await call(rt, ada, "create_event", {"title": "Team sync", "start": "2026-03-16T09:30:00+01:00",
                                                "end": "2026-03-16T10:00:00+01:00",
                                                "recurrence": "FREQ=WEEKLY;BYDAY=MO"})
    assert made.ok
    listed = await call(rt, ada, "list_events", {"start": "2026-03-16", "end": "2026-04-07"})
    starts = [e["start"] for e in listed.result["events"]]
    # Berlin moves to summer time on 29 March: the sync stays at 09:30 local.
    assert starts == ["2026-03-16T09:30:00+01:00", "2026-03-23T09:30:00+01:00",
                      "2026-03-30T09:30:00+02:00", "2026-04-06T09:30:00+02:00"]
    busy = await call(rt, ada, "check_availability", {"start": "2026-03-30T09:45:00+02:00",
                                                      "end": "2026-03-30T10:15:00+02:00"})
    assert busy.result["free"] is False


async def test_update_and_cancel_event(rt: Runtime) -> None:
    ada = await _user(rt)
    await call(rt, ada, "create_event", {"title": "Dentist", "start": "2026-01-20T10:00:00+01:00"})
    moved = await call(rt, ada, "update_event", {"event_ref": "dentist", "start": "2026-01-21T11:00:00+01:00"})
    assert moved.ok and moved.result["event"]["end"] == "2026-01-21T12:00:00+01:00"
    cancelled = await call(rt, ada, "cancel_event", {"event_ref": "dentist"})
    assert cancelled.ok
    listed = await call(rt, ada, "list_events", {"start": "2026-01-19", "end": "2026-01-25"})
    assert listed.result["events"] == []


async def test_an_all_day_stretch_covers_its_last_day_across_dst(rt: Runtime) -> None:
    """A date-only end is the last day, as people say it ("27 to 31 March"); Berlin moves its clocks on the 29th."""
    ada = await _user(rt)
    trip = await call(rt, ada, "create_event", {"title": "Lisbon trip", "start": "2026-03-27", "end": "2026-03-31"})
    assert trip.ok and (trip.result["event"]["start"], trip.result["event"]["end"]) == ("2026-03-27", "2026-03-31")
    async with rt.sessions() as session:
        ev = await session.scalar(select(Event))
        assert ev is not None and ev.all_day
        assert (ev.start_at, ev.end_at) == (at("2026-03-27T00:00:00+01:00"), at("2026-04-01T00:00:00+02:00"))
    for day, expected in (("2026-03-26", []), ("2026-03-29", ["Lisbon trip"]), ("2026-03-31", ["Lisbon trip"]),
                          ("2026-04-01", [])):
        listed = await call(rt, ada, "list_events", {"start": day, "end": day})
        assert [e["title"] for e in listed.result["events"]] == expected, day
    one_day = await call(rt, ada, "create_event", {"title": "Pi day", "start": "2026-03-14", "end": "2026-03-14"})
    assert one_day.result["event"]["end"] == "2026-03-14"
    # A new end alone keeps it all-day; a new start alone keeps its five days, midnight to midnight.
    longer = await call(rt, ada, "update_event", {"event_ref": "lisbon", "end": "2026-04-02"})
    assert longer.ok and longer.result["event"] == {**longer.result["event"], "all_day": True,
                                                    "start": "2026-03-27", "end": "2026-04-02"}
    moved = await call(rt, ada, "update_event", {"event_ref": "lisbon", "start": "2026-03-20"})
    assert (moved.result["event"]["start"], moved.result["event"]["end"]) == ("2026-03-20", "2026-03-26")
    backwards = await call(rt, ada, "create_event", {"title": "Nope", "start": "2026-03-27", "end": "2026-03-26"})
    assert not backwards.ok


async def test_remember_dedupes_and_search_finds(rt: Runtime) -> None:
    ada = await _user(rt)
    first = await call(rt, ada, "remember", {"text": "The office wifi password is hunter2"})
    again = await call(rt, ada, "remember", {"text": "the office WiFi password is  hunter2"})
    assert first.ok and again.result["duplicate"] is True
    await call(rt, ada, "remember", {"text": "My gym locker is number 112"})
    found = await call(rt, ada, "search_memory", {"query": "wifi password"})
    assert "hunter2" in found.result["hits"][0]["text"]


async def test_one_users_rows_are_invisible_to_another(rt: Runtime) -> None:
    ada, bob = await _user(rt, "ada"), await _user(rt, "bob")
    secret = await call(rt, ada, "create_task", {"title": "Ada's secret project"})
    await call(rt, ada, "remember", {"text": "Ada's safe code is 8812"})
    await call(rt, ada, "create_event", {"title": "Ada's dentist", "start": "2026-01-14T10:00:00+01:00"})
    assert (await call(rt, bob, "list_tasks", {"status": "all"})).result["tasks"] == []
    assert (await call(rt, bob, "search_memory", {"query": "safe code secret project"})).result["hits"] == []
    assert (await call(rt, bob, "list_events", {"start": "2026-01-14", "end": "2026-01-15"})).result["events"] == []
    steal = await call(rt, bob, "complete_task", {"task_id": secret.result["task_id"]})
    assert not steal.ok
