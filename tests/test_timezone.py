"""Telling Pixie where you are: the zone reminders, the digest and every time said follow."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

from sqlalchemy import select

from bots.app import Runtime
from bots.terminal import run_jsonl
from core import clock
from core.types import IncomingMessage, Reply
from db.models import Task, User
from tests.conftest import at
from tests.jobs_support import platform_user

NOW = at("2026-03-06T18:00:00+01:00")  # a Friday; the US moves its clocks on Sunday 8 March


async def say(rt: Runtime, text: str, now: dt.datetime = NOW, who: str = "ada") -> Reply:
    """A DM on Telegram, which tells Pixie nothing about the sender's zone."""
    return await rt.assistant.handle(IncomingMessage("telegram", f"{who}-id", text, ts=now, message_id=None))


async def stored(rt: Runtime, name: str = "ada") -> User:
    async with rt.sessions() as session:
        user = await session.scalar(select(User).where(User.name == name))
        assert user is not None
        return user


async def test_saying_where_you_are_moves_reminders_and_the_digest_across_dst(rt: Runtime) -> None:
    await platform_user(rt, "ada", "Europe/Berlin", NOW)
    reply = await say(rt, "I'm in New York now")
    assert "America/New_York" in reply.text and "12:00 there" in reply.text
    ada = await stored(rt)
    assert ada.tz == "America/New_York"
    assert ada.next_digest_at == at("2026-03-07T07:30:00-05:00")  # tomorrow 07:30 in New York
    # Monday 9am is 9am in New York, after its clocks moved forward on Sunday (EDT, UTC-4)
    await say(rt, "remind me to call the landlord on Monday at 9am")
    async with rt.sessions() as session:
        task = await session.scalar(select(Task).where(Task.title.ilike("%landlord%")))
    assert task is not None and task.remind_at == at("2026-03-09T09:00:00-04:00")
    # and it arrives then, not at 9am Berlin time
    assert not [n for n in await rt.assistant.tick("telegram", "ada-id", at("2026-03-09T08:59:00-04:00"))
                if "landlord" in n.text]
    due = await rt.assistant.tick("telegram", "ada-id", at("2026-03-09T09:00:30-04:00"))
    assert [n for n in due if "landlord" in n.text]


async def test_a_place_that_is_no_zone_gets_a_clear_answer_and_changes_nothing(rt: Runtime) -> None:
    await platform_user(rt, "ada", "Europe/Berlin", NOW)
    reply = await say(rt, "set my timezone to Atlantis")
    assert "couldn't tell which time zone" in reply.text and "Atlantis" in reply.text
    assert (await stored(rt)).tz == "Europe/Berlin"
    for remark in ("I'm in a meeting now", "I moved to a new flat", "I'm on it"):
        await say(rt, remark)
        assert (await stored(rt)).tz == "Europe/Berlin", remark


async def test_an_all_day_event_keeps_its_date_when_you_move_west(rt: Runtime) -> None:
    await platform_user(rt, "ada", "Europe/Berlin", NOW)
    await say(rt, "Mia's birthday party on March 10, all day")
    await say(rt, "my time zone is Los Angeles")
    reply = await say(rt, "what's on my calendar on March 10?")
    [action] = reply.actions
    assert [e["start"] for e in action.result["events"]] == ["2026-03-10"], action.result


def test_the_ways_people_name_a_zone() -> None:
    for said, zone in (("Europe/Lisbon", "Europe/Lisbon"), ("america/new_york", "America/New_York"),
                       ("São Paulo", "America/Sao_Paulo"), ("Tokyo time", "Asia/Tokyo"), ("PST", "America/Los_Angeles"),
                       ("Munich", "Europe/Berlin"), ("the UK", "Europe/London"), ("UTC", "UTC"),
                       ("UTC+2", "Etc/GMT-2"), ("GMT-5", "Etc/GMT+5")):
        assert clock.find_zone(said) == zone, said
        assert clock.is_zone(zone)
    for nowhere in ("Atlantis", "a meeting", "the USA", "+05:30", "UTC+20", "", "Christmas"):
        assert clock.find_zone(nowhere) is None, nowhere


async def test_a_move_said_in_a_jsonl_replay_lasts_and_is_that_speakers_alone(rt: Runtime) -> None:
    lines = [{"user": "ada", "text": "I'm in Tokyo now", "now": "2026-03-06T18:00:00+01:00"},
             {"user": "ada", "text": "remind me tomorrow at 9am to water the plants",
              "now": "2026-03-06T18:01:00+01:00"},
             {"user": "bob", "text": "remind me tomorrow at 9am to feed the cat", "now": "2026-03-06T18:02:00+01:00"}]
    out = io.StringIO()
    await run_jsonl(rt, "ada", "Europe/Berlin", io.StringIO("".join(json.dumps(x) + "\n" for x in lines)), out)
    replies: list[dict[str, Any]] = [json.loads(line) for line in out.getvalue().splitlines()]
    assert replies[0]["actions"][0]["result"]["tz"] == "Asia/Tokyo"
    assert replies[1]["actions"][0]["args"]["remind_at"].endswith("T09:00:00+09:00")
    assert replies[2]["actions"][0]["args"]["remind_at"].endswith("T09:00:00+01:00")
    assert (await stored(rt, "ada")).tz == "Asia/Tokyo" and (await stored(rt, "bob")).tz == "Europe/Berlin"
