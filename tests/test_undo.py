"""Undo: "undo" (or the Undo button) puts back exactly what the user's last change did, once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from bots.app import Runtime
from core.assistant import Assistant
from core.brain import OfflineBrain
from core.tools import TOOLS
from core.types import IncomingMessage, Reply
from core.undo import NOT_RECORDED
from db.models import Event, MemoryItem, Reminder, Task, User
from tests.conftest import at

NOW = at("2026-01-13T09:00:00+01:00")


async def say(rt: Runtime, text: str, who: str = "ada", now: dt.datetime = NOW) -> Reply:
    pixie = Assistant(rt.sessions, OfflineBrain(), rt.memory, "Europe/Berlin")
    return await pixie.handle(IncomingMessage("terminal", who, text, ts=now, display_name=who))


async def press(rt: Runtime, action: str, value: str, who: str = "ada", now: dt.datetime = NOW) -> Reply:
    pixie = Assistant(rt.sessions, OfflineBrain(), rt.memory, "Europe/Berlin")
    return await pixie.press("terminal", who, action, value, now=now)


async def rows(rt: Runtime, model: Any) -> list[Any]:
    async with rt.sessions() as s:
        return list(await s.scalars(select(model)))


def undo_button(reply: Reply) -> str:
    [button] = [b for b in reply.buttons if b.action == "undo"]
    return button.value


async def test_undo_removes_a_new_task_with_its_reminder_and_memory_once(rt: Runtime) -> None:
    await say(rt, "add buy stamps tomorrow")
    made = await say(rt, "remind me at 5pm to call the plumber")
    assert undo_button(made)
    assert len(await rows(rt, Task)) == 2 and len(await rows(rt, Reminder)) == 1
    reply = await say(rt, "undo that")
    assert reply.text.startswith("Undone") and "plumber" in reply.text
    assert [t.title for t in await rows(rt, Task)] == ["Buy stamps"]
    assert await rows(rt, Reminder) == []
    assert not [m for m in await rows(rt, MemoryItem) if "plumber" in m.text and m.kind == "task"]
    again = await say(rt, "undo")  # the one before: buy stamps
    assert "stamps" in again.text and await rows(rt, Task) == []
    assert "nothing" in (await say(rt, "undo")).text.lower()


async def test_undo_brings_a_deleted_task_back_with_its_id_and_fields(rt: Runtime) -> None:
    await say(rt, "urgent: file the tax return by friday, remind me thursday at 9am")
    [before] = await rows(rt, Task)
    await say(rt, "delete the tax return task")
    deleted = await rows(rt, Task)
    if deleted:  # asked first: say yes
        await say(rt, "yes")
    assert await rows(rt, Task) == []
    reply = await say(rt, "undo")
    assert "tax return" in reply.text
    [after] = await rows(rt, Task)
    assert (after.id, after.title, after.priority, after.due_date, after.remind_at) == \
           (before.id, before.title, before.priority, before.due_date, before.remind_at)
    assert [r.task_id for r in await rows(rt, Reminder) if r.status == "pending"] == [before.id]


async def test_undo_of_done_and_of_a_moved_event(rt: Runtime) -> None:
    await say(rt, "pay the gas bill tomorrow")
    await say(rt, "I paid the gas bill")
    assert (await rows(rt, Task))[0].status == "done"
    await say(rt, "undo")
    [task] = await rows(rt, Task)
    assert task.status == "open" and task.completed_at is None

    await say(rt, "dentist on thursday at 10am")
    [ev] = await rows(rt, Event)
    said = await say(rt, "move the dentist appointment to 2pm")
    if said.buttons and said.buttons[0].action == "yes":  # asked first: yes
        await press(rt, "yes", said.buttons[0].value)
    [moved] = await rows(rt, Event)
    assert moved.start_at != ev.start_at
    await say(rt, "undo")
    [back] = await rows(rt, Event)
    assert back.start_at == ev.start_at and back.end_at == ev.end_at


async def test_undo_of_a_forget_and_of_settings(rt: Runtime) -> None:
    await say(rt, "remember that the bike lock code is 4471")
    await say(rt, "forget the bike lock code")
    assert not [m for m in await rows(rt, MemoryItem) if m.kind == "note"]
    await say(rt, "undo")
    assert [m.text for m in await rows(rt, MemoryItem) if m.kind == "note"] == ["the bike lock code is 4471"] or \
        any("4471" in m.text for m in await rows(rt, MemoryItem) if m.kind == "note")

    await say(rt, "set my timezone to Asia/Tokyo")
    await say(rt, "send my digest at 6:15")
    await say(rt, "undo")
    [user] = await rows(rt, User)
    assert user.tz == "Asia/Tokyo" and user.digest_time == dt.time(7, 30)
    await say(rt, "undo")
    [user] = await rows(rt, User)
    assert user.tz == "Europe/Berlin"
    assert user.next_digest_at is not None and user.next_digest_at > NOW  # the next digest follows, not a past slot


async def test_an_undo_never_tramples_a_later_change_and_the_button_works_once(rt: Runtime) -> None:
    made = await say(rt, "add water the plants on friday")
    await say(rt, "rename the water the plants task to water the garden")
    [task] = await rows(rt, Task)
    change = undo_button(made)
    refused = await press(rt, "undo", change)
    assert "changed again" in refused.text
    assert [t.title for t in await rows(rt, Task)] == [task.title]  # nothing moved
    # The rename's own Undo, then the create's.
    assert "Undone" in (await say(rt, "undo")).text
    assert "Undone" in (await press(rt, "undo", change)).text
    assert await rows(rt, Task) == []
    assert "already undone" in (await press(rt, "undo", change)).text


async def test_one_user_cannot_undo_another_users_change(rt: Runtime) -> None:
    made = await say(rt, "add renew the passport", who="ada")
    assert "nothing" in (await say(rt, "undo", who="bob")).text.lower()
    other = await press(rt, "undo", undo_button(made), who="bob")
    assert "Undone" not in other.text
    assert [t.title for t in await rows(rt, Task)] == ["Renew the passport"]


async def test_yes_and_no_buttons_answer_a_question_once(rt: Runtime) -> None:
    asked = await say(rt, "book me a table somewhere nice")
    if not asked.buttons:
        pytest.fail(f"no question with buttons: {asked.text!r}")
    yes, no = asked.buttons
    assert (yes.label, no.label) == ("Yes", "No") and yes.value == no.value
    assert await rows(rt, Task) == []
    done = await press(rt, "yes", yes.value)
    assert len(await rows(rt, Task)) == 1 and undo_button(done)
    stale = await press(rt, "yes", yes.value)
    assert "already answered" in stale.text and len(await rows(rt, Task)) == 1

    asked = await say(rt, "book me a flight somewhere warm")
    assert asked.buttons
    assert "left everything" in (await press(rt, "no", asked.buttons[1].value)).text
    assert len(await rows(rt, Task)) == 1


async def test_undo_of_a_correction_and_of_a_bulk_cancel(rt: Runtime) -> None:
    await say(rt, "call with the bank tomorrow at 4pm")
    [ev] = await rows(rt, Event)
    await say(rt, "no wait, 5pm not 4")
    [corrected] = await rows(rt, Event)
    assert corrected.start_at == ev.start_at + dt.timedelta(hours=1)
    assert "Undone" in (await say(rt, "undo")).text
    [back] = await rows(rt, Event)
    assert back.start_at == ev.start_at

    await say(rt, "team sync tomorrow at 3pm")
    asked = await say(rt, "clear my afternoon tomorrow")
    assert asked.buttons and asked.buttons[0].action == "yes", asked.text
    await press(rt, "yes", asked.buttons[0].value)
    assert {e.status for e in await rows(rt, Event)} == {"cancelled"}
    assert "Undone" in (await say(rt, "undo")).text
    assert {e.status for e in await rows(rt, Event)} == {"confirmed"}


def test_every_tool_that_changes_data_can_be_undone() -> None:
    """A new data-changing tool is recorded by the trigger (its tables are logged) — listed here on purpose."""
    changing = {name for name, t in TOOLS.items() if t.changes and name not in NOT_RECORDED}
    covered = {"create_task", "update_task", "complete_task", "delete_task", "create_event", "update_event",
               "cancel_event", "remember", "forget", "set_digest", "set_timezone", "snooze_task",
               "correct_last", "cancel_events"}
    assert changing <= covered | {n for n in changing if n.startswith(("apply_", "prune_", "settle_"))}, \
        f"tools without an undo story: {sorted(changing - covered)}"
