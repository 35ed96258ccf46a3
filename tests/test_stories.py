"""What a secretary is asked every day, told as short conversations with the offline brain (issue 15, Deliver 4
and 5): each story is said the way a person says it, and checked by what changed in the calendar, the list and
the memory — and by what did not."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bots.app import Runtime
from core.assistant import Assistant
from core.brain import OfflineBrain
from core.privacy import ANSWERED_IN_DM
from core.types import IncomingMessage, Reply
from db.models import Event, MemoryItem, Reminder, Task
from tests.chat_support import count
from tests.conftest import at

BERLIN = ZoneInfo("Europe/Berlin")
NOW = at("2026-01-13T09:00:00+01:00")  # a Tuesday


async def say(rt: Runtime, text: str, now: dt.datetime = NOW, public: bool = False) -> Reply:
    pixie = Assistant(rt.sessions, OfflineBrain(), rt.memory, "Europe/Berlin")
    return await pixie.handle(IncomingMessage("terminal", "ada", text, ts=now, display_name="ada", public=public))


async def events(rt: Runtime) -> dict[str, tuple[str, dt.datetime]]:
    async with rt.sessions() as s:
        return {e.title: (e.status, e.start_at.astimezone(BERLIN)) for e in await s.scalars(select(Event))}


async def tasks(rt: Runtime) -> list[Task]:
    async with rt.sessions() as s:
        return list(await s.scalars(select(Task).order_by(Task.created_at)))


def local(value: dt.datetime | None) -> str:
    assert value is not None
    return value.astimezone(BERLIN).strftime("%a %d %H:%M")


def wrote(reply: Reply) -> list[str]:
    return [a.tool for a in reply.actions if a.ok and a.tool not in (
        "list_tasks", "list_events", "search_memory", "check_availability", "about_me")]


# ---------------------------------------------------------------- reminders relative to an event

async def test_a_reminder_before_an_event_is_anchored_to_it_and_moves_when_the_event_moves(rt: Runtime) -> None:
    await say(rt, "dentist on friday at 10am")
    reply = await say(rt, "remind me 2 days before the dentist")
    assert "2 days before Dentist" in reply.text, reply.text
    [task] = await tasks(rt)
    assert local(task.remind_at) == "Wed 14 10:00"
    moved = await say(rt, "move the dentist to next tuesday at 3pm")
    assert wrote(moved) == ["update_event"], moved
    [task] = await tasks(rt)
    assert local(task.remind_at) == "Sun 18 15:00"  # still two days before
    async with rt.sessions() as s:
        pending = [local(r.remind_at) for r in await s.scalars(select(Reminder).where(Reminder.status == "pending"))]
    assert pending == ["Sun 18 15:00"]  # the old moment will not fire


async def test_the_day_before_and_an_hour_before_an_event(rt: Runtime) -> None:
    await say(rt, "vet on thursday at 5pm")
    await say(rt, "flight to Rome saturday at 7am")
    vet = await say(rt, "remind me the day before the vet to find the cat carrier")
    flight = await say(rt, "an hour before the flight remind me to grab the passports")
    assert wrote(vet) == wrote(flight) == ["create_task"]
    got = {t.title: local(t.remind_at) for t in await tasks(rt)}
    assert got == {"Find the cat carrier": "Wed 14 17:00", "Grab the passports": "Sat 17 06:00"}


async def test_a_reminder_before_an_event_pixie_cannot_find_writes_nothing(rt: Runtime) -> None:
    reply = await say(rt, "remind me 2 days before the dentist")
    assert not wrote(reply) and "couldn't find" in reply.text
    assert await tasks(rt) == []


async def test_cancelling_the_event_drops_its_anchored_reminder(rt: Runtime) -> None:
    await say(rt, "dentist on friday at 10am")
    await say(rt, "remind me the day before the dentist")
    await say(rt, "cancel the dentist")
    [task] = await tasks(rt)
    assert task.remind_at is None


# ---------------------------------------------------------------- events named by their time or day

async def test_push_my_2pm_back_an_hour_moves_the_event_at_2pm(rt: Runtime) -> None:
    await say(rt, "call with Raj today at 2pm")
    await say(rt, "gym today at 6pm")
    reply = await say(rt, "push my 2pm back an hour")
    assert wrote(reply) == ["update_event"], reply.text
    got = await events(rt)
    assert local(got["Call with Raj"][1]) == "Tue 13 15:00" and local(got["Gym"][1]) == "Tue 13 18:00"


async def test_thursdays_pilates_is_cancelled_and_fridays_stays(rt: Runtime) -> None:
    await say(rt, "pilates on thursday at 6pm")
    await say(rt, "pilates on friday at 6pm")
    reply = await say(rt, "scrap thursday's pilates")
    assert wrote(reply) == ["cancel_event"], reply.text
    async with rt.sessions() as s:
        left = sorted((local(e.start_at), e.status) for e in await s.scalars(select(Event)))
    assert left == [("Fri 16 18:00", "confirmed"), ("Thu 15 18:00", "cancelled")]


async def test_tomorrows_standup_is_moved_and_my_3pm_is_cancelled(rt: Runtime) -> None:
    await say(rt, "standup tomorrow at 9:30")
    await say(rt, "meeting with Ana tomorrow at 3pm")
    moved = await say(rt, "move tomorrow's standup to 10")
    gone = await say(rt, "cancel my 3pm")
    assert wrote(moved) == ["update_event"] and wrote(gone) == ["cancel_event"], (moved.text, gone.text)
    got = await events(rt)
    assert local(got["Standup"][1]) == "Wed 14 10:00" and got["Meeting with Ana"][0] == "cancelled"


async def test_an_event_named_by_a_time_with_nothing_then_changes_nothing(rt: Runtime) -> None:
    await say(rt, "gym today at 6pm")
    reply = await say(rt, "push my 2pm back an hour")
    assert not wrote(reply) and "couldn't find" in reply.text
    assert local((await events(rt))["Gym"][1]) == "Tue 13 18:00"


# ---------------------------------------------------------------- repeating reminders and tasks

async def test_every_weekday_at_8_reminds_each_weekday_and_skips_the_weekend(rt: Runtime) -> None:
    reply = await say(rt, "every weekday at 8 remind me to check email")
    assert wrote(reply) == ["create_task"] and "Repeats every weekday." in reply.text, reply.text
    [task] = await tasks(rt)
    assert task.recurrence and "BYDAY=MO,TU,WE,TH,FR" in task.recurrence
    assert local(task.remind_at) == "Wed 14 08:00"
    pixie = Assistant(rt.sessions, OfflineBrain(), rt.memory, "Europe/Berlin")
    fired = []
    for day in ("2026-01-14", "2026-01-15", "2026-01-16", "2026-01-17", "2026-01-18", "2026-01-19"):
        sent = await pixie.tick("terminal", "ada", at(f"{day}T08:01:00+01:00"))
        fired += [n.text for n in sent if "Check email" in n.text]
    assert len(fired) == 4  # Wed, Thu, Fri and Monday; not the weekend
    [task] = await tasks(rt)
    assert local(task.remind_at) == "Tue 20 08:00" and task.status == "open"


async def test_ticking_off_a_repeating_task_keeps_it_for_next_time(rt: Runtime) -> None:
    said = await say(rt, "remind me every monday at 9 to do the timesheet")
    assert "Repeats every Monday." in said.text, said.text
    reply = await say(rt, "done with the timesheet", now=at("2026-01-19T10:00:00+01:00"))
    assert wrote(reply) == ["complete_task"] and "next time" in reply.text, reply.text
    [task] = await tasks(rt)
    assert task.status == "open" and local(task.remind_at) == "Mon 26 09:00"


# ---------------------------------------------------------------- corrections of the last thing said

async def test_no_wait_5pm_not_4_moves_the_event_just_made(rt: Runtime) -> None:
    await say(rt, "drinks with Sam tomorrow at 4pm")
    reply = await say(rt, "no wait, 5pm not 4")
    assert wrote(reply) == ["correct_last"], reply.text
    got = await events(rt)
    assert list(got) == ["Drinks with Sam"] and local(got["Drinks with Sam"][1]) == "Wed 14 17:00"


async def test_actually_make_that_friday_changes_the_task_just_made_and_makes_no_new_one(rt: Runtime) -> None:
    await say(rt, "call the bank on thursday")
    reply = await say(rt, "actually make that friday")
    assert wrote(reply) == ["correct_last"], reply.text
    [task] = await tasks(rt)
    assert task.title == "Call the bank" and task.due_date == dt.date(2026, 1, 16)


async def test_a_correction_with_nothing_just_made_writes_nothing(rt: Runtime) -> None:
    reply = await say(rt, "no wait, 5pm not 4")
    assert not wrote(reply) and "haven't just made" in reply.text
    assert await tasks(rt) == [] and await count(rt, Event) == 0


# ---------------------------------------------------------------- what's on, what was done, when is it

async def test_whats_on_today_lists_the_tasks_due_today_beside_the_events(rt: Runtime) -> None:
    await say(rt, "team lunch today at 12:30")
    await say(rt, "send the invoice today")
    await say(rt, "renew the passport next month")
    reply = await say(rt, "what's on today")
    assert "Team lunch" in reply.text and "Send the invoice" in reply.text, reply.text
    assert "passport" not in reply.text


async def test_what_did_i_do_last_week_lists_what_was_completed_then(rt: Runtime) -> None:
    await say(rt, "add file the expenses", now=at("2026-01-05T09:00:00+01:00"))
    await say(rt, "add clean the oven", now=at("2026-01-05T09:00:00+01:00"))
    await say(rt, "add fix the shed", now=at("2026-01-05T09:00:00+01:00"))
    await say(rt, "file the expenses is done", now=at("2026-01-07T18:00:00+01:00"))
    await say(rt, "i've cleaned the oven, tick it off", now=at("2026-01-13T08:00:00+01:00"))
    reply = await say(rt, "what did I do last week")
    assert "File the expenses" in reply.text, reply.text
    assert "oven" not in reply.text.lower() and "shed" not in reply.text.lower()


async def test_whens_my_dentist_appointment_finds_the_event_weeks_away(rt: Runtime) -> None:
    await say(rt, "dentist appointment on march 3 at 11am")
    reply = await say(rt, "when's my dentist appointment?")
    assert "Dentist" in reply.text and "11:00" in reply.text, reply.text


# ---------------------------------------------------------------- bulk changes: shown and asked first

async def test_clear_my_afternoon_shows_what_it_would_cancel_and_cancels_only_after_yes(rt: Runtime) -> None:
    await say(rt, "1:1 with Ben today at 2pm")
    await say(rt, "design review today at 4pm")
    await say(rt, "coffee with Jo today at 10am")
    asked = await say(rt, "clear my afternoon")
    assert not wrote(asked) and "are you sure" in asked.text, asked.text
    assert "1:1 with Ben" in asked.text and "Design review" in asked.text and "Coffee" not in asked.text
    assert {s for s, _ in (await events(rt)).values()} == {"confirmed"}
    done = await say(rt, "yes")
    assert wrote(done) == ["cancel_events"], done.text
    got = await events(rt)
    assert got["1:1 with Ben"][0] == got["Design review"][0] == "cancelled" and got["Coffee with Jo"][0] == "confirmed"


async def test_cancel_all_my_meetings_friday_then_no_leaves_everything(rt: Runtime) -> None:
    await say(rt, "meeting with the bank friday at 9am")
    await say(rt, "sales meeting friday at 11am")
    asked = await say(rt, "cancel all my meetings friday")
    assert "are you sure" in asked.text and "Sales meeting" in asked.text, asked.text
    kept = await say(rt, "no")
    assert not wrote(kept) and {s for s, _ in (await events(rt)).values()} == {"confirmed"}


async def test_clearing_a_single_event_still_asks_first(rt: Runtime) -> None:
    await say(rt, "physio today at 3pm")
    asked = await say(rt, "clear my afternoon")
    assert not wrote(asked) and "Physio" in asked.text and "are you sure" in asked.text
    assert (await events(rt))["Physio"][0] == "confirmed"


# ---------------------------------------------------------------- real answers

async def test_what_can_you_do_and_what_time_is_it(rt: Runtime) -> None:
    can = await say(rt, "what can you do?")
    assert "tasks" in can.text and "remind" in can.text
    time = await say(rt, "what time is it?", now=at("2026-01-13T16:45:00+01:00"))
    assert "16:45" in time.text and "Tuesday" in time.text, time.text
    assert await tasks(rt) == []


async def test_what_do_you_know_about_me_summarises_memory_and_only_in_a_dm(rt: Runtime) -> None:
    await say(rt, "remember that I'm allergic to penicillin")
    await say(rt, "note to self: the bike lock code is 1984")
    await say(rt, "call the bank on friday")
    reply = await say(rt, "what do you know about me?")
    assert "penicillin" in reply.text and "1984" in reply.text and "1 open task" in reply.text, reply.text
    in_group = await say(rt, "what do you know about me?", public=True)
    assert in_group.private and in_group.note == ANSWERED_IN_DM


# ---------------------------------------------------------------- memory: remember, and two hops

async def test_a_code_name_then_its_date_answers_when_is_the_code_name(rt: Runtime) -> None:
    await say(rt, "Orion is the code name for the Berlin launch")
    await say(rt, "the Berlin launch is on May 3")
    await say(rt, "remember that the Madrid office opens in June")
    reply = await say(rt, "when is Orion?")
    assert "code name" in reply.text and "May 3" in reply.text, reply.text
    assert "Madrid" not in reply.text


@pytest.mark.parametrize("text", [
    "remember that the spare key is under the blue pot",
    "note to self: the spare key is under the blue pot",
    "for the record, the spare key is under the blue pot",
    "keep in mind the spare key is under the blue pot",
    "fyi the spare key is under the blue pot",
    "the spare key is under the blue pot",
])
async def test_every_way_of_saying_remember_keeps_the_note(rt: Runtime, text: str) -> None:
    reply = await say(rt, text)
    assert wrote(reply) == ["remember"], reply.text
    async with rt.sessions() as s:
        kept = [m.text for m in await s.scalars(select(MemoryItem).where(MemoryItem.kind == "note"))]
    assert len(kept) == 1 and "blue pot" in kept[0]


# ---------------------------------------------------------------- the remaining unsafe writes

@pytest.mark.parametrize("text", [
    "skip the MOT reminder, i'll do it myself",
    "order me a new hoover filter",
    "book me a table somewhere nice",
    "lunch with the team went great",
    "no reminders today please",
    "clear my afternoon",
])
async def test_these_write_nothing_without_a_yes(rt: Runtime, text: str) -> None:
    await say(rt, "design review today at 4pm")
    await say(rt, "take the car for its MOT on friday")
    before = (await events(rt), [(t.title, t.status, t.remind_at) for t in await tasks(rt)])
    reply = await say(rt, text)
    assert not wrote(reply), reply.text
    assert (await events(rt), [(t.title, t.status, t.remind_at) for t in await tasks(rt)]) == before


async def test_a_bare_hour_in_a_correction_is_the_one_nearest_what_was_said(rt: Runtime) -> None:
    await say(rt, "lunch with Tom on friday at 1")
    reply = await say(rt, "actually make it 2")
    assert wrote(reply) == ["correct_last"], reply.text
    assert local((await events(rt))["Lunch with Tom"][1]) == "Fri 16 14:00"  # 2pm beside a 1pm lunch, not 2am


async def test_an_event_moved_to_a_time_alone_stays_on_its_day(rt: Runtime) -> None:
    await say(rt, "dentist on friday at 3pm")
    reply = await say(rt, "push the dentist to 4")
    assert wrote(reply) == ["update_event"], reply.text
    assert local((await events(rt))["Dentist"][1]) == "Fri 16 16:00"  # Friday still, not today at 4
    assert reply.actions[0].args["start"].startswith("2026-01-16T16:00")  # the action says where it came to


async def test_news_that_an_event_moved_moves_it_and_makes_nothing_new(rt: Runtime) -> None:
    await say(rt, "vet on friday at 3pm")
    reply = await say(rt, "the vet is now at 4")
    assert wrote(reply) == ["update_event"], reply.text
    found = await events(rt)
    assert list(found) == ["Vet"] and local(found["Vet"][1]) == "Fri 16 16:00"
