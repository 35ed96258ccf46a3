"""A turn reads, thinks, then acts: the brain holds no database handle, and only tools change data."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select

from bots.app import Runtime
from core.access import parse_owners
from core.assistant import Assistant
from core.brain import BrainInput, OfflineBrain, Thought, ToolCall
from core.tools import TOOLS, Tool, register
from core.types import IncomingMessage
from db.models import Identity, MemoryItem, Message, Task, User
from jobs.delivery import route
from tests.conftest import at

NOW = at("2026-01-13T09:00:00+01:00")


class WaitingBrain(OfflineBrain):
    """A brain that reads context and then waits, as a model would, until the test lets it answer."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.thinking = asyncio.Event()
        self.answer = asyncio.Event()
        self.held: list[int] = []
        self.seen: list[BrainInput] = []

    def reads_context(self, text: str) -> bool:
        return True

    async def think(self, request: BrainInput) -> Thought:
        self.seen.append(request)
        self.held.append(self.rt.engine.pool.checkedout())  # type: ignore[attr-defined]
        self.thinking.set()
        await self.answer.wait()
        return await super().think(request)


async def test_no_connection_is_held_while_the_brain_thinks(rt: Runtime) -> None:
    brain = WaitingBrain(rt)
    pixie = Assistant(rt.sessions, brain, rt.memory, "UTC")
    brain.answer.set()
    await pixie.handle(IncomingMessage("terminal", "ada", "remember the gate code is 4412", ts=NOW,
                                       display_name="ada"))
    brain.answer.clear()
    brain.thinking.clear()
    turn = asyncio.create_task(pixie.handle(IncomingMessage("terminal", "ada", "what is the gate code?", ts=NOW,
                                                            display_name="ada")))
    await asyncio.wait_for(brain.thinking.wait(), 10)
    # While the model "thinks", the database is free: another conversation is stored and answered.
    other = await Assistant(rt.sessions, OfflineBrain(), rt.memory, "UTC").handle(
        IncomingMessage("terminal", "bob", "add buy stamps tomorrow", ts=NOW, display_name="bob"))
    assert other.text.startswith("Added: Buy stamps")
    brain.answer.set()
    reply = await asyncio.wait_for(turn, 10)
    assert "4412" in reply.text
    assert brain.held == [0, 0]  # no pooled connection was checked out across either model call
    context = brain.seen[-1].context
    assert context is not None and any("4412" in m["text"] for m in context.memories)
    # The earlier turns it saw are the earlier ones only, not the message being answered.
    assert [t.text for t in context.turns][-1].startswith("Got it")


async def test_a_redelivery_while_the_first_is_thinking_is_answered_once(rt: Runtime) -> None:
    brain = WaitingBrain(rt)
    pixie = Assistant(rt.sessions, brain, rt.memory, "UTC")
    rt.assistant.access.owners = parse_owners("telegram:7")
    pixie.access = rt.assistant.access
    msg = IncomingMessage("telegram", "7", "add call the plumber", message_id="u1", ts=NOW)
    first = asyncio.create_task(pixie.handle(msg))
    await asyncio.wait_for(brain.thinking.wait(), 10)
    second = asyncio.create_task(pixie.handle(msg))
    await asyncio.sleep(0.05)
    brain.answer.set()
    replies = await asyncio.gather(first, second)
    assert sorted(r.duplicate for r in replies) == [False, True]
    async with rt.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Task)) == 1
        assert await s.scalar(select(func.count()).select_from(Message).where(Message.role == "user")) == 1


async def test_digest_here_on_telegram_after_a_slack_channel_sends_it_to_telegram(rt: Runtime) -> None:
    """The bug: /digest here kept the Slack channel id, so every digest went to Telegram with it and failed."""
    rt.assistant.access.owners = parse_owners("telegram:1001")
    await rt.assistant.handle(IncomingMessage("telegram", "1001", "hi", chat_id="tg-chat", message_id="t1", ts=NOW))
    async with rt.sessions() as s, s.begin():
        user = await s.scalar(select(User))
        assert user is not None
        s.add(Identity(user_id=user.id, platform="slack", platform_user_id="T1/U1", chat_id="D1", created_at=NOW))
    await rt.assistant.handle(IncomingMessage("telegram", "1001", "post my digest in #general on Slack",
                                              chat_id="tg-chat", message_id="t2", ts=NOW))
    async with rt.sessions() as s:
        user = await s.scalar(select(User))
        assert user is not None and (user.digest_platform, user.digest_channel) == ("slack", "#general")
    reply = await rt.assistant.handle(IncomingMessage("telegram", "1001", "/digest here", chat_id="tg-chat",
                                                      message_id="t3", ts=NOW))
    assert "Telegram" in reply.text and reply.actions[0].tool == "set_digest"
    async with rt.sessions() as s:
        user = await s.scalar(select(User))
        idents = list(await s.scalars(select(Identity)))
    assert user is not None
    assert route(user, idents, "digest") == ("telegram", "tg-chat")
    assert route(user, idents, "reminder") == ("telegram", "tg-chat")


async def test_one_forget_that_would_remove_two_notes_asks_first(rt: Runtime) -> None:
    async def say(text: str) -> str:
        reply = await rt.assistant.handle(IncomingMessage("terminal", "ada", text, ts=NOW, display_name="ada"))
        return reply.text

    await say("remember my gym locker is 112")
    await say("remember the pool locker is 7")
    question = await say("forget locker")
    assert "2 items" in question and "sure" in question
    async with rt.sessions() as s:  # nothing is gone until the user says yes
        assert await s.scalar(select(func.count()).select_from(MemoryItem).where(MemoryItem.kind == "note")) == 2
    assert "forgotten" in await say("yes")
    async with rt.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(MemoryItem).where(MemoryItem.kind == "note")) == 0
    # One item by words is done at once.
    await say("remember the bike lock code is 5150")
    assert "forgotten it" in await say("forget the bike lock code")


async def test_a_failing_tool_in_a_turn_leaves_nothing_half_written(rt: Runtime) -> None:
    class TwoCalls(OfflineBrain):
        async def think(self, request: BrainInput) -> Thought:
            return Thought(calls=[ToolCall("create_task", {"title": "Pay rent"}),
                                  ToolCall("create_event", {"title": "Party", "start": "2026-01-20T20:00:00+01:00",
                                                            "end": "2026-01-20T19:00:00+01:00"})])

    pixie = Assistant(rt.sessions, TwoCalls(), rt.memory, "UTC")
    reply = await pixie.handle(IncomingMessage("terminal", "ada", "rent and a party", ts=NOW, display_name="ada"))
    assert "end after it starts" in reply.text
    async with rt.sessions() as s:  # the first call ran; the second changed nothing
        assert [t.title for t in await s.scalars(select(Task))] == ["Pay rent"]


def test_a_tool_is_registered_once_with_its_reply() -> None:
    for tool in TOOLS.values():
        assert callable(tool.say) and tool.description and tool.args.model_json_schema()["type"] == "object"
        assert not tool.destroys or tool.changes  # what destroys data also changes it (a savepoint)
    with pytest.raises(ValueError, match="registered twice"):
        register(Tool("create_task", TOOLS["create_task"].args, TOOLS["create_task"].run, "again",
                      TOOLS["create_task"].say))


async def test_email_ingest_tags_what_it_made_through_the_tools(rt: Runtime, tmp_path: object) -> None:
    from connectors.email_tasks import ingest

    raw = (b"From: Lee <lee@example.org>\r\nTo: ada@example.org\r\nSubject: agenda\r\n"
           b"Message-ID: <m1@example.org>\r\nDate: Mon, 12 Jan 2026 10:00:00 +0100\r\n\r\n"
           b"Hi Ada,\r\n\r\nCould you please send me the agenda by Friday?\r\n"
           b"Also, could we meet on Thursday at 15:00 to go through it?\r\n\r\nThanks, Lee\r\n")
    result = await ingest(rt, "ada", "Europe/Berlin", raw, "agenda.eml")
    assert result["status"] == "created" and result["tasks"] and result["events"]
    assert all(e["source"] == "email" and e["status"] == "proposed" for e in result["events"])
    async with rt.sessions() as s:
        assert {t.source for t in await s.scalars(select(Task))} == {"email"}
    assert dt.date.fromisoformat(result["tasks"][0]["due"][:10]) == dt.date(2026, 1, 16)


async def test_a_new_task_is_shown_open(rt: Runtime) -> None:
    reply = await rt.assistant.handle(IncomingMessage("terminal", "ada", "add buy stamps tomorrow", ts=NOW,
                                                      display_name="ada"))
    assert reply.actions[0].result["task"]["status"] == "open"  # `pixie chat --jsonl` showed null


async def test_an_unsure_move_asks_with_the_time_it_would_really_set_and_yes_sets_exactly_that(
        rt: Runtime) -> None:
    class Unsure(OfflineBrain):  # "lunch is at 1 now, I think": a move the brain is not sure of
        async def think(self, request: BrainInput) -> Thought:
            if request.text.startswith("lunch"):
                return Thought(calls=[ToolCall("update_event", {"event_ref": "team lunch", "new_time": "01:00",
                                                                "either_half": True})], confidence=0.3)
            return await super().think(request)

    pixie = Assistant(rt.sessions, Unsure(), rt.memory, "Europe/Berlin")

    async def say(text: str) -> str:
        reply = await pixie.handle(IncomingMessage("terminal", "ada", text, ts=NOW, display_name="ada"))
        return reply.text

    await say("team lunch friday at 12:30")
    question = await say("lunch is at 1 now, I think")
    assert "13:00" in question and "01:00" not in question, question  # 1 beside a 12:30 lunch is 1 pm
    assert "Updated" in await say("yes")
    async with rt.sessions() as s:
        from db.models import Event

        ev = await s.scalar(select(Event))
    assert ev is not None and ev.start_at == at("2026-01-16T13:00:00+01:00")
