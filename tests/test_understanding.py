"""Understanding you can trust: Pixie never writes a guess, hears "remember" however it is said, and its
learned classifier is built from the labelled sentences kept in the repo."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bots.app import Runtime
from core import timeparse as tp
from core.assistant import Assistant
from core.brain import OfflineBrain
from core.intent_model import LABELS, intent_model
from core.types import IncomingMessage, Reply
from core.understand import understand
from db.models import Event, MemoryItem, Task
from tests.chat_support import count
from tests.conftest import at

NOW = at("2026-01-13T09:00:00+01:00")


async def say(rt: Runtime, text: str, who: str = "ada", now: dt.datetime = NOW) -> Reply:
    """One message from a terminal user, as `pixie chat` sends it."""
    pixie = Assistant(rt.sessions, OfflineBrain(), rt.memory, "Europe/Berlin")
    return await pixie.handle(IncomingMessage("terminal", who, text, ts=now, display_name=who))


async def made_task(rt: Runtime, text: str) -> Task:
    """Say `text`; it must make one task and nothing else: that task."""
    reply = await say(rt, text)
    assert [a.tool for a in reply.actions if a.ok] == ["create_task"], reply.text
    async with rt.sessions() as s:
        [task] = list(await s.scalars(select(Task)))
    return task


async def titles(rt: Runtime) -> list[str]:
    async with rt.sessions() as s:
        return sorted(t.title for t in await s.scalars(select(Task)))


async def notes(rt: Runtime) -> list[str]:
    async with rt.sessions() as s:
        return [m.text for m in await s.scalars(select(MemoryItem).where(MemoryItem.kind == "note"))]


def test_the_classifier_is_bundled_and_knows_every_label() -> None:
    model = intent_model()
    assert model is not None, "core/intent_model.npz and the local model ship with pixie"
    assert model.weights.shape[1] == len(LABELS)


# ---------------------------------------------------------------- never write a guess

async def test_a_request_pixie_cannot_do_is_offered_as_a_task_and_written_only_after_yes(rt: Runtime) -> None:
    asked = await say(rt, "book me a table somewhere nice")
    assert "can't do that myself" in asked.text
    assert "Add a task “Book me a table somewhere nice”? (yes / no)" in asked.text
    assert not asked.actions and await titles(rt) == []
    done = await say(rt, "yes")
    assert [a.tool for a in done.actions] == ["create_task"] and done.actions[0].ok
    assert await titles(rt) == ["Book me a table somewhere nice"]


async def test_no_to_the_question_writes_nothing_and_a_new_request_lets_it_lapse(rt: Runtime) -> None:
    await say(rt, "order me a pizza")
    left = await say(rt, "no")
    assert "left everything" in left.text and await titles(rt) == []
    await say(rt, "get me a taxi to the airport")
    other = await say(rt, "what's on my calendar tomorrow?")  # not an answer: the question lapses
    assert [a.tool for a in other.actions] == ["list_events"]
    later = await say(rt, "yes")
    assert not later.actions and await titles(rt) == []


@pytest.mark.parametrize("text", [
    "don't add milk",
    "skip the reminder",
    "no reminders today please",
    "lunch with the team went great",
    "should I move the dentist to friday?",
    "what if we pushed the launch to april",
    "ugh, what a week",
    "thanks, that's brilliant",
])
async def test_talk_negations_hypotheticals_and_news_of_the_past_change_nothing(rt: Runtime, text: str) -> None:
    reply = await say(rt, text)
    assert not any(a.ok and a.tool not in ("list_tasks", "list_events", "search_memory", "check_availability")
                   for a in reply.actions), reply
    assert await titles(rt) == []
    assert await count(rt, Event) == 0
    assert await notes(rt) == []


async def test_a_bare_add_makes_a_task(rt: Runtime) -> None:
    reply = await say(rt, "add milk")
    assert reply.text.startswith("Added: Milk")


async def test_an_edit_of_something_pixie_cannot_find_asks_and_creates_nothing(rt: Runtime) -> None:
    await say(rt, "call mom on sunday")
    reply = await say(rt, "move the dentist call to 4pm")
    assert not any(a.ok for a in reply.actions)
    assert "couldn't find" in reply.text or "Which" in reply.text
    assert await titles(rt) == ["Call mom"]  # unchanged, and nothing new made
    async with rt.sessions() as s:
        task = await s.scalar(select(Task))
        assert task is not None and task.due_date == dt.date(2026, 1, 18) and task.due_at is None


async def test_an_edit_that_fits_two_tasks_asks_which_one(rt: Runtime) -> None:
    await say(rt, "add pay the gas bill")
    await say(rt, "add pay the water bill")
    reply = await say(rt, "mark the bill done")
    assert not any(a.ok for a in reply.actions) and "gas bill" in reply.text and "water bill" in reply.text
    chosen = await say(rt, "the water one")
    assert [a.tool for a in chosen.actions] == ["complete_task"] and chosen.actions[0].ok
    async with rt.sessions() as s:
        open_ = [t.title for t in await s.scalars(select(Task).where(Task.status == "open"))]
    assert open_ == ["Pay the gas bill"]


async def test_cancelling_by_weekday_cancels_that_event(rt: Runtime) -> None:
    await say(rt, "pilates every thursday at 6pm")
    reply = await say(rt, "scrap thursday's pilates")
    assert [a.tool for a in reply.actions] == ["cancel_event"] and reply.actions[0].ok
    assert "pilates" in reply.text.lower()


async def test_a_completion_said_in_passing_ticks_the_task_off(rt: Runtime) -> None:
    await say(rt, "pay the gas bill by friday")
    reply = await say(rt, "gas bill: sorted ✅")
    assert [a.tool for a in reply.actions] == ["complete_task"] and reply.actions[0].ok


@pytest.mark.parametrize("said", ["water bill done", "water bill: sorted", "water bill - done!"])
async def test_a_task_named_then_done_ticks_off_that_task_and_not_its_neighbour(rt: Runtime, said: str) -> None:
    await say(rt, "pay the gas bill by friday")
    await say(rt, "pay the water bill by friday")
    reply = await say(rt, said)
    assert [a.tool for a in reply.actions] == ["complete_task"] and reply.actions[0].ok, reply.text
    async with rt.sessions() as s:
        open_ = [t.title for t in await s.scalars(select(Task).where(Task.status == "open"))]
    assert open_ == ["Pay the gas bill"]


@pytest.mark.parametrize("said", ["get the report done", "report done by friday", "keep me posted when it's done",
                                  "almost done", "well done"])
async def test_done_in_a_plan_or_a_remark_ticks_nothing_off(rt: Runtime, said: str) -> None:
    await say(rt, "write the report by friday")
    reply = await say(rt, said)
    assert not any(a.ok and a.tool == "complete_task" for a in reply.actions), reply.text
    async with rt.sessions() as s:
        assert [t.title for t in await s.scalars(select(Task).where(Task.status == "open"))][0] == "Write the report"


# ---------------------------------------------------------------- every way of saying "remember"

@pytest.mark.parametrize(("text", "kept"), [
    ("note to self: the spare key is under the mat", "the spare key is under the mat"),
    ("for the record, the boiler was serviced in March", "the boiler was serviced in March"),
    ("keep in mind that Priya is coeliac", "Priya is coeliac"),
    ("door code 1984", "Door code 1984"),
    ("Mum's new mobile: 07700 900456", "Mum's new mobile: 07700 900456"),
])
async def test_a_fact_is_remembered_however_it_is_said(rt: Runtime, text: str, kept: str) -> None:
    reply = await say(rt, text)
    assert [a.tool for a in reply.actions] == ["remember"], reply
    assert await notes(rt) == [kept]
    assert await titles(rt) == []


async def test_a_note_to_self_that_is_a_chore_is_a_task(rt: Runtime) -> None:
    await say(rt, "note to self: buy a present for Jess")
    assert await titles(rt) == ["Buy a present for Jess"] and await notes(rt) == []


async def test_what_was_noted_to_self_is_found_again(rt: Runtime) -> None:
    await say(rt, "note to self: the spare key is under the mat")
    reply = await say(rt, "where's the spare key?")
    assert "under the mat" in reply.text


# ---------------------------------------------------------------- the decision itself (pure)

def test_without_the_model_the_rules_decide_alone() -> None:
    now = NOW.astimezone(ZoneInfo("Europe/Berlin"))
    alone = understand("add a task to water the plants", now, model=False)
    assert alone.intent.tool == "create_task" and alone.confidence == 1.0 and alone.label == "create_task"


def test_an_impossible_date_is_never_guessed_around() -> None:
    found = understand("remind me on February 30 to renew the lease", NOW)
    assert found.intent.tool is None


async def test_a_task_edit_that_finds_no_task_moves_or_cancels_the_event_it_names(rt: Runtime) -> None:
    await say(rt, "vet appointment for Rolo on monday at 4pm")
    [ev] = await _events(rt)
    moved = await say(rt, "move the vet to tuesday same time")
    [after] = await _events(rt)
    assert moved.text.startswith("Updated") and after.start_at == ev.start_at + dt.timedelta(days=1)
    assert await titles(rt) == []  # never a new task
    missing = await say(rt, "move the gym thing to friday")  # names nothing at all: says so, makes nothing
    assert "couldn't find" in missing.text and await titles(rt) == [] and len(await _events(rt)) == 1


async def _events(rt: Runtime) -> list[Event]:
    async with rt.sessions() as s:
        return list(await s.scalars(select(Event)))


@pytest.mark.parametrize("text", ["no need to remind me about the bins", "don't add the gym this week",
                                  "please don't bother putting the party in my calendar",
                                  "skip the MOT reminder, i'll do it myself", "no reminders today please",
                                  "nah, don't put that in my calendar"])
async def test_saying_not_to_write_something_writes_nothing(rt: Runtime, text: str) -> None:
    reply = await say(rt, text)
    assert reply.actions == [] and await titles(rt) == [] and await count(rt, Event) == 0
    assert "left everything" in reply.text


async def test_dont_forget_is_still_a_request(rt: Runtime) -> None:
    await say(rt, "don't forget to call the plumber tomorrow")
    assert await titles(rt) == ["Call the plumber"]


# ---------------------------------------------------------------- a fact said plainly is a note, and found again

@pytest.mark.parametrize("text", [
    "Gwen is vegetarian",  # a diet
    "I lent my sander to Rob",  # a possession lent, not a task done
    "the gas bill is £60 a month, due on the 3rd, by direct debit",  # a standing bill, not a deadline
    "the style guide lives in the Design shared drive",  # where something is kept
    "Moira likes her updates on Thursday afternoons",  # someone's preference, not a meeting
    "I take fish oil every morning",  # a habit, not an event
    "I don't take calls after 6 on Fridays",  # a standing rule, not an event called "I don't take calls"
    "my rowing goal is 500k metres this year",  # a goal
    "Imogen is due in early May",  # a person's date, not a task's
    "the summer party this year is at Kew Gardens",  # a place, not an all-day event
])
async def test_a_fact_stated_with_no_verb_of_remembering_is_a_note_not_a_task_or_event(rt: Runtime,
                                                                                      text: str) -> None:
    reply = await say(rt, text)
    assert [a.tool for a in reply.actions] == ["remember"] and reply.actions[0].ok, reply
    assert await notes(rt) == [text[0].upper() + text[1:]]
    assert await titles(rt) == [] and await count(rt, Event) == 0


@pytest.mark.parametrize(("text", "kind"), [
    ("pay the gas bill on the 3rd", Task),
    ("dentist on friday at 3", Event),
    ("the team lunch is on friday at 1", Event),
])
async def test_requests_and_plans_beside_those_facts_still_make_tasks_and_events(rt: Runtime, text: str,
                                                                                  kind: type) -> None:
    reply = await say(rt, text)
    assert len(reply.actions) == 1 and reply.actions[0].ok, reply
    assert await count(rt, kind) == 1 and await notes(rt) == []


@pytest.mark.parametrize(("fact", "question", "answer"), [
    ("my Ocado account number is 7781-22", "Ocado account number", "7781-22"),  # asked by its name alone
    ("shed lock: 3-1-4-1", "shed lock code", "3-1-4-1"),  # a code, not a sum
    ("Imogen is due in early May", "when is Imogen due", "early May"),  # a person's date, not the task list
    ("Rafa is the PM on billing", "who is the PM on billing?", "Rafa"),  # a colleague, not world knowledge
    ("Moira likes her updates on Thursday afternoons", "what does Moira like before meetings?", "Thursday"),
])
async def test_a_question_about_a_stated_fact_searches_memory_and_writes_nothing(rt: Runtime, fact: str,
                                                                                 question: str, answer: str) -> None:
    await say(rt, fact)
    reply = await say(rt, question)
    assert [a.tool for a in reply.actions] == ["search_memory"], reply
    assert answer in reply.text
    assert len(await notes(rt)) == 1 and await titles(rt) == [] and await count(rt, Event) == 0


def test_a_weekday_part_said_in_the_plural_recurs() -> None:
    said = tp.find("I do pilates on Sunday evenings", NOW)
    assert [(w.rrule, w.period) for w in said] == [("FREQ=WEEKLY;BYDAY=SU", "evening")]
    once = tp.find("dinner on sunday evening at 7", NOW)
    assert once[0].rrule is None and once[0].day == dt.date(2026, 1, 18)


@pytest.mark.parametrize("text, title, when", [
    ("remind me at 1:30am on sunday to check the server", "Check the server", "2026-01-18T01:30"),
    ("remind me on friday at 7am to put the bins out", "Put the bins out", "2026-01-16T07:00"),
    # 02:30 does not exist that night in Berlin (clocks go forward): the reminder comes at 03:30
    ("can you remind me at 2:30am on march 29 to check the boiler", "Check the boiler", "2026-03-29T03:30"),
])
async def test_remind_me_at_a_time_on_a_day_is_a_reminder_not_an_event(rt: Runtime, text: str, title: str,
                                                                        when: str) -> None:
    task = await made_task(rt, text)
    assert await count(rt, Event) == 0
    assert task.title == title and task.remind_at is not None
    assert task.remind_at.astimezone(ZoneInfo("Europe/Berlin")).isoformat()[:16] == when


@pytest.mark.parametrize("text", ["lol I forgot to call mum at 9 yesterday", "I forgot to call mum yesterday"])
async def test_a_new_task_whose_time_has_passed_is_asked_about_not_written(rt: Runtime, text: str) -> None:
    reply = await say(rt, text)
    assert not [a for a in reply.actions if a.ok] and "?" in reply.text, reply.text
    assert await titles(rt) == []
    again = await say(rt, "yes")  # they do want it kept: then it is
    assert [a.tool for a in again.actions if a.ok] == ["create_task"] and len(await titles(rt)) == 1


async def test_an_unsure_move_of_an_event_named_as_a_task_asks_about_the_event_and_a_new_request_is_no_answer(
        rt: Runtime) -> None:
    await say(rt, "lunch with Tom on friday at 1")
    asked = await say(rt, "move lunch with tom to saturday")
    if asked.actions:  # sure enough to move it at once: then it moved the event, not a task
        assert [a.tool for a in asked.actions if a.ok] == ["update_event"]
    else:
        assert "calendar" in asked.text and "2026-01-17" in asked.text and "?" in asked.text, asked.text
    reply = await say(rt, "cancel lunch with tom")  # a new request, not a "no" to the question
    assert [a.tool for a in reply.actions if a.ok] == ["cancel_event"], reply.text
    assert await titles(rt) == []
    async with rt.sessions() as s:
        assert [e.status for e in await s.scalars(select(Event))] == ["cancelled"]


@pytest.mark.parametrize("text, title, due", [
    ("I need to renew my passport before june", "Renew my passport", "2026-05-31"),
    ("file the taxes by the end of april", "File the taxes", "2026-04-30"),
])
async def test_a_month_said_by_name_is_a_deadline_not_part_of_the_title(rt: Runtime, text: str, title: str,
                                                                        due: str) -> None:
    task = await made_task(rt, text)
    assert (task.title, str(task.due_date)) == (title, due)


@pytest.mark.parametrize("text", ["dinner with sam next week", "a party in may"])
async def test_an_event_said_only_within_a_stretch_is_asked_about_not_put_on_a_guessed_day(rt: Runtime,
                                                                                         text: str) -> None:
    reply = await say(rt, text)
    assert not [a for a in reply.actions if a.ok] and "?" in reply.text, reply.text
    assert await count(rt, Event) == 0


@pytest.mark.parametrize("text, at", [("change the morning summary to 8am", "08:00"),
                                      ("move the daily briefing to 6:45", "06:45")])
async def test_the_digest_called_by_another_name_moves_to_the_time_said(rt: Runtime, text: str, at: str) -> None:
    from db.models import User

    reply = await say(rt, text)
    assert [a.tool for a in reply.actions if a.ok] == ["set_digest"], reply.text
    async with rt.sessions() as s:
        [user] = list(await s.scalars(select(User)))
    assert user.digest_time is not None and user.digest_time.strftime("%H:%M") == at


@pytest.mark.parametrize("text, zone", [("i'm flying to NYC next week, switch me to new york time", "new york"),
                                        ("can you put me on tokyo time please", "tokyo")])
def test_being_switched_to_a_places_time_sets_the_time_zone(text: str, zone: str) -> None:
    found = understand(text, NOW)
    assert (found.intent.tool, found.intent.args.get("zone")) == ("set_timezone", zone)


@pytest.mark.parametrize("text", ["when's standup tomorrow?", "when is yoga on thursday?"])
def test_when_an_event_is_on_a_day_is_read_from_the_calendar(text: str) -> None:
    assert understand(text, NOW).intent.tool == "list_events"


@pytest.mark.parametrize("text, title", [("call mom", "Call mom"), ("ring my boss", "Ring my boss"),
                                         ("phone the bank on friday", "Phone the bank")])
async def test_a_call_the_user_makes_is_a_task_and_one_asked_of_pixie_is_an_errand_it_asks_about(
        rt: Runtime, text: str, title: str) -> None:
    reply = await say(rt, text)
    assert [a.tool for a in reply.actions if a.ok] == ["create_task"], reply.text
    assert await titles(rt) == [title]
    asked = await say(rt, "could you call my brother for me")
    assert not [a for a in asked.actions if a.ok] and "?" in asked.text
    assert await titles(rt) == [title]


@pytest.mark.parametrize("text", ["I might go to yoga on thursday", "perhaps lunch with tom on friday"])
async def test_a_hedged_plan_is_asked_about_not_written(rt: Runtime, text: str) -> None:
    reply = await say(rt, text)
    assert not [a for a in reply.actions if a.ok] and "?" in reply.text, reply.text
    assert await count(rt, Event) == 0


async def test_remind_me_an_hour_before_nothing_asks_before_what(rt: Runtime) -> None:
    await say(rt, "dentist next tuesday 10am")
    reply = await say(rt, "remind me an hour before")
    assert not [a for a in reply.actions if a.ok] and "Before what?" in reply.text, reply.text
    assert await titles(rt) == []


async def test_good_night_is_a_goodbye_not_a_greeting(rt: Runtime) -> None:
    reply = await say(rt, "good night pixie")
    assert "Talk soon" in reply.text and not reply.actions


async def test_the_time_somewhere_else_is_read_from_that_zones_clock(rt: Runtime) -> None:
    reply = await say(rt, "what time is it in tokyo?")  # NOW is 09:00 in Berlin: 17:00 in Tokyo
    assert reply.text.startswith("It's 17:00 on Tuesday 13 January 2026") and "Asia/Tokyo" in reply.text, reply.text


@pytest.mark.parametrize("text", ["we went to the cinema on friday at 8", "my boss cancelled the 3pm"])
async def test_news_of_what_happened_is_asked_about_not_acted_on(rt: Runtime, text: str) -> None:
    await say(rt, "team meeting today at 3pm")
    reply = await say(rt, text)
    assert not [a for a in reply.actions if a.ok], reply.text
    async with rt.sessions() as s:
        assert [(e.title, e.status) for e in await s.scalars(select(Event))] == [("Team meeting", "confirmed")]


# ---------------------------------------------------------------- everyday phrasing (nlu8)

async def _starts(rt: Runtime) -> dict[str, str]:
    async with rt.sessions() as s:
        return {e.title: e.start_at.astimezone(ZoneInfo("Europe/Berlin")).strftime("%a %H:%M")
                for e in await s.scalars(select(Event).where(Event.status != "cancelled"))}


async def test_whats_on_my_plate_for_a_day_shows_its_tasks_beside_its_events(rt: Runtime) -> None:
    await say(rt, "pay the gas bill tomorrow")
    await say(rt, "yoga tomorrow at 6pm")
    await say(rt, "renew the car insurance next month")
    reply = await say(rt, "what's on my plate tomorrow")
    assert [a.tool for a in reply.actions] == ["list_events"], reply.text
    assert "gas bill" in reply.text.lower() and "yoga" in reply.text.lower(), reply.text
    assert "insurance" not in reply.text.lower()  # not due that day
    plain = await say(rt, "what's on my plate?")  # no day said: the whole to-do list
    assert [a.tool for a in plain.actions] == ["list_tasks"] and "insurance" in plain.text.lower(), plain.text


async def test_an_errand_with_a_time_tomorrow_is_a_task_due_then(rt: Runtime) -> None:
    task = await made_task(rt, "pick up the kids at 3:30 tomorrow")
    assert "kids" in task.title.lower()
    assert task.due_at is not None
    assert task.due_at.astimezone(ZoneInfo("Europe/Berlin")).strftime("%Y-%m-%d %H:%M") == "2026-01-14 15:30"


@pytest.mark.parametrize("text", ["water bill's paid 👍", "the water bill's sorted"])
async def test_a_chore_said_done_in_passing_ticks_it_off_and_adds_nothing(rt: Runtime, text: str) -> None:
    await say(rt, "pay the water bill by friday")
    reply = await say(rt, text)
    assert [a.tool for a in reply.actions if a.ok] == ["complete_task"], reply.text
    async with rt.sessions() as s:
        assert [(t.title, t.status) for t in await s.scalars(select(Task))] == [("Pay the water bill", "done")]


async def test_gotta_do_something_is_a_new_task_not_a_completion(rt: Runtime) -> None:
    task = await made_task(rt, "gotta pay Sam back the tenner I owe him")
    assert task.status == "open" and "Sam" in task.title


@pytest.mark.parametrize("text, moved", [("bring the haircut forward to 11:30", "Wed 11:30"),
                                         ("push the haircut to 3", "Wed 15:00"),
                                         ("can we make the haircut 2 instead", "Wed 14:00")])
async def test_an_event_moved_to_an_hour_said_without_am_pm_keeps_to_its_own_half_of_the_day(
        rt: Runtime, text: str, moved: str) -> None:
    await say(rt, "haircut wednesday at 1pm")
    evening = at("2026-01-13T20:15:00+01:00")  # "11:30" next after 8pm would be 23:30: not what is meant
    reply = await say(rt, text, now=evening)
    assert [a.tool for a in reply.actions if a.ok] == ["update_event"], reply.text
    assert await _starts(rt) == {"Haircut": moved}


@pytest.mark.parametrize("text", ["Tom cancelled, take coffee off the calendar", "coffee with Tom is off"])
async def test_a_plan_called_off_in_passing_cancels_that_event(rt: Runtime, text: str) -> None:
    await say(rt, "coffee with Tom tomorrow at 10am")
    await say(rt, "dentist tomorrow at 3pm")
    reply = await say(rt, text)
    assert [a.tool for a in reply.actions if a.ok] == ["cancel_event"], reply.text
    assert await _starts(rt) == {"Dentist": "Wed 15:00"}


async def test_a_deadline_that_can_wait_moves_the_task(rt: Runtime) -> None:
    await say(rt, "prepare the quarterly report by the 20th")
    reply = await say(rt, "the quarterly report can wait till february 2nd")
    assert [a.tool for a in reply.actions if a.ok] == ["update_task"], reply.text
    async with rt.sessions() as s:
        [task] = list(await s.scalars(select(Task)))
    assert str(task.due_date) == "2026-02-02"


async def test_a_capitalised_project_lead_in_is_the_project_not_the_title(rt: Runtime) -> None:
    task = await made_task(rt, "add a todo in Project Nimbus: migrate the staging db")
    assert (task.project, task.title) == ("Nimbus", "Migrate the staging db")


async def test_a_fact_for_future_ref_is_a_note_not_an_event(rt: Runtime) -> None:
    reply = await say(rt, "for future ref: the surgery opens at 8")
    assert [a.tool for a in reply.actions if a.ok] == ["remember"], reply.text
    assert await notes(rt) == ["the surgery opens at 8"] and await count(rt, Event) == 0



async def test_moving_a_weekly_call_to_other_days_moves_the_series_and_makes_no_task(rt: Runtime) -> None:
    await say(rt, "weekly call with dad sundays at 6pm")  # today is Tue 13 Jan 2026
    reply = await say(rt, "move the call with dad to saturdays")
    assert [a.tool for a in reply.actions] == ["update_event"] and reply.actions[0].ok, reply.text
    assert "every Saturday" in reply.text, reply.text
    assert await count(rt, Task) == 0
    async with rt.sessions() as s:
        ev = await s.scalar(select(Event))
    assert ev is not None and ev.recurrence == "FREQ=WEEKLY;BYDAY=SA"
    assert ev.start_at == at("2026-01-17T18:00:00+01:00")  # the first Saturday, at the same time
    tuesdays = await say(rt, "can we make the call with dad tuesdays and thursdays from now on")
    assert tuesdays.actions[0].ok
    async with rt.sessions() as s:
        ev = await s.scalar(select(Event))
    assert ev is not None and ev.recurrence == "FREQ=WEEKLY;BYDAY=TU,TH"


@pytest.mark.parametrize("said", ["move the call with dad to saturday", "change the call with dad to tues"])
def test_one_day_said_once_is_a_one_off_move_not_new_days_for_the_series(said: str) -> None:
    found = understand(said, NOW)
    assert "recurrence" not in found.intent.args, found.intent


async def test_an_event_of_a_series_named_by_its_time_is_that_occurrence_only(rt: Runtime) -> None:
    await say(rt, "weekly call with dad sundays at 6pm")  # today is Tue 13 Jan 2026: Sundays 18, 25, 1 Feb…
    await say(rt, "standup every weekday at 9:30")
    cancelled = await say(rt, "cancel my 6pm on sunday")
    assert [a.tool for a in cancelled.actions] == ["cancel_event"] and cancelled.actions[0].ok, cancelled.text
    moved = await say(rt, "push my 9:30 on thursday back half an hour")
    assert moved.actions and moved.actions[0].ok, moved.text

    async def starts(day: str) -> list[str]:
        listed = await say(rt, f"what's on {day}")
        return [line for line in listed.text.splitlines() if line.startswith("•")]

    assert not any("Call with dad" in line for line in await starts("sunday 18 january"))
    assert any("18:00" in line and "Call with dad" in line for line in await starts("sunday 25 january"))
    assert any("10:00" in line and "Standup" in line for line in await starts("thursday 15 january"))
    assert any("09:30" in line and "Standup" in line for line in await starts("friday 16 january"))


@pytest.mark.parametrize("said", ["pick up eggs, bread and milk", "grab batteries on the way home"])
async def test_a_bare_shopping_errand_is_the_users_own_task(rt: Runtime, said: str) -> None:
    reply = await say(rt, said)
    assert [a.tool for a in reply.actions] == ["create_task"] and reply.actions[0].ok, reply.text


@pytest.mark.parametrize("said", ["buy me a coffee", "could you buy milk for me"])
async def test_an_errand_asked_of_pixie_is_asked_about_not_written(rt: Runtime, said: str) -> None:
    reply = await say(rt, said)
    assert not reply.actions and "(yes / no)" in reply.text, reply.text
    assert await count(rt, Task) == 0


async def test_cancelling_everything_on_a_day_of_the_month_shows_them_all_and_asks_first(rt: Runtime) -> None:
    await say(rt, "dentist on the 15th at 2:30pm")
    await say(rt, "lunch with Sam on the 15th at 12:30")
    asked = await say(rt, "cancel everything on the 15th")
    assert not asked.actions and "Dentist" in asked.text and "Lunch with Sam" in asked.text, asked.text
    async with rt.sessions() as s:
        assert {e.status for e in await s.scalars(select(Event))} == {"confirmed"}
    done = await say(rt, "yes")
    assert done.actions and all(a.ok for a in done.actions), done.text
    async with rt.sessions() as s:
        assert {e.status for e in await s.scalars(select(Event))} == {"cancelled"}


@pytest.mark.parametrize(("said", "gone"), [("forget where the spare key is", "spare key"),
                                            ("forget who my landlord is", "landlord")])
async def test_forgetting_a_clause_forgets_the_note_and_touches_no_task(rt: Runtime, said: str, gone: str) -> None:
    await say(rt, "fyi the spare key is with Mrs Patel at no. 14")
    await say(rt, "my landlord is Mr Okafor")
    await say(rt, "find the spare key for the shed")  # a task that shares the words
    reply = await say(rt, said)
    assert [a.tool for a in reply.actions] == ["forget"] and reply.actions[0].ok, reply.text
    assert await titles(rt) == ["Find the spare key for the shed"]
    async with rt.sessions() as s:
        notes = [n.text for n in await s.scalars(select(MemoryItem).where(MemoryItem.kind == "note"))]
    assert not any(gone in n.lower() for n in notes) and len(notes) == 1, notes


async def test_a_reminder_every_few_hours_is_declined_plainly_and_nothing_is_written(rt: Runtime) -> None:
    reply = await say(rt, "remind me every 2 hours to drink water")
    assert not reply.actions and "not every few hours" in reply.text
    assert await count(rt, Task) == 0


async def test_the_time_zone_and_the_digest_time_are_answered_when_asked(rt: Runtime) -> None:
    zone = await say(rt, "what timezone am I in?")
    assert "Europe/Berlin" in zone.text and not zone.actions
    await say(rt, "send my digest at 6:45")
    digest = await say(rt, "what time does my digest come?")
    assert "06:45" in digest.text and [a.tool for a in digest.actions] == ["about_me"]


async def test_a_note_added_to_a_task_is_kept_with_it_after_its_notes_and_makes_no_task(rt: Runtime) -> None:
    await say(rt, "finish the quarterly report by friday")
    first = await say(rt, "add a note to the report task: include Q3 numbers")
    assert first.text.startswith("Noted on Finish the quarterly report"), first.text
    await say(rt, "put a note on the report - ask Dana for the chart")
    async with rt.sessions() as s:
        tasks = list(await s.scalars(select(Task)))
    assert [t.title for t in tasks] == ["Finish the quarterly report"]
    assert tasks[0].notes == "include Q3 numbers\nask Dana for the chart"
    await say(rt, "undo")
    async with rt.sessions() as s:
        task = await s.scalar(select(Task))
    assert task is not None and task.notes == "include Q3 numbers"  # undo takes back the last note only


async def test_an_event_is_renamed_and_given_a_new_place_by_name_and_no_task_is_made(rt: Runtime) -> None:
    await say(rt, "dinner with the Smiths on saturday at 7:30pm at Luigi's")
    renamed = await say(rt, "rename dinner with the smiths to smiths dinner")
    assert renamed.actions and renamed.actions[-1].ok, renamed.text
    moved = await say(rt, "change the dinner location to Nandos")
    assert [a.tool for a in moved.actions] == ["update_event"] and moved.actions[0].ok, moved.text
    async with rt.sessions() as s:
        ev = await s.scalar(select(Event))
    assert ev is not None and (ev.title, ev.location) == ("Smiths dinner", "Nandos")
    assert await count(rt, Task) == 0


async def test_deadlines_asked_about_list_the_tasks_due_then_and_a_month_named_lists_that_month(rt: Runtime) -> None:
    await say(rt, "send the invoice by friday")  # today is Tue 13 Jan 2026
    await say(rt, "book the venue by february 20")
    await say(rt, "ski trip february 14")
    deadlines = await say(rt, "any deadlines this week?")
    assert [a.tool for a in deadlines.actions] == ["list_tasks"], deadlines.text
    assert "Send the invoice" in deadlines.text and "Book the venue" not in deadlines.text
    february = await say(rt, "list my events for february")
    assert "Ski trip" in february.text, february.text


@pytest.mark.parametrize("said", ["add a note to self: the spare key is under the mat",
                                  "make a note to self that the spare key is under the mat"])
async def test_a_note_to_self_however_it_is_asked_for_is_a_note_and_no_task(rt: Runtime, said: str) -> None:
    reply = await say(rt, said)
    assert [a.tool for a in reply.actions] == ["remember"] and reply.actions[0].ok, reply.text
    assert await count(rt, Task) == 0
