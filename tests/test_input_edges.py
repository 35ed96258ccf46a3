"""Input that cannot hurt: names from one platform never collide with another's, far dates are refused."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bots.app import Runtime
from connectors.email_tasks import ingest
from core.types import IncomingMessage
from db.models import Identity, Task, User
from tests.chat_support import admit
from tests.test_email import mail
from tests.test_jsonl import replay

NOW = "2026-01-13T09:00:00+01:00"
AT = dt.datetime.fromisoformat(NOW)


async def test_a_terminal_user_named_like_a_telegram_account_does_not_lock_that_account_out(rt: Runtime) -> None:
    [squatter] = await replay(rt, [{"text": "add buy milk", "user": "telegram:1004", "now": NOW}])
    assert squatter["actions"][0]["ok"]
    admit(rt, "telegram", 1004)
    reply = await rt.assistant.handle(IncomingMessage("telegram", "1004", "add call the bank", chat_id="1004",
                                                      message_id="m1", ts=AT))
    assert "Call the bank" in reply.text, reply.text
    listed = await rt.assistant.handle(IncomingMessage("telegram", "1004", "/tasks", chat_id="1004",
                                                       message_id="m2", ts=AT))
    assert "Call the bank" in listed.text and "milk" not in listed.text.lower()  # two people, two lists
    async with rt.sessions() as s:
        owners = {i.platform: i.user_id for i in await s.scalars(select(Identity))}
    assert owners["terminal"] != owners["telegram"]


async def test_email_ingest_for_a_telegram_account_files_the_tasks_under_that_account(rt: Runtime) -> None:
    admit(rt, "telegram", 1003)
    await rt.assistant.handle(IncomingMessage("telegram", "1003", "hello", chat_id="1003", message_id="h",
                                              ts=AT))
    got = await ingest(rt, "telegram:1003", "UTC", mail("Could you please send me the Q3 report by Friday?"))
    assert got["status"] == "created" and got["tasks"], got
    async with rt.sessions() as s:
        owner = await s.scalar(select(User).join(Task, Task.user_id == User.id))
        ids = list(await s.scalars(select(Identity.platform).where(Identity.user_id == owner.id)))
    assert ids == ["telegram"]


async def test_far_dates_are_refused_with_the_span_pixie_works_in(rt: Runtime) -> None:
    outs = await replay(rt, [
        {"text": "hello", "now": NOW},
        {"text": "hello", "now": "9999-12-31T23:59:59+00:00"},
        {"text": "hello", "now": "0001-01-01T00:00:00+00:00"},
        {"text": "hello", "now": "2026-01-13T09:00:00"},
        {"text": "remind me to renew my passport in 10000 years", "now": NOW},
        {"text": "call the plumber on 1 Jan 2500", "now": NOW},
        {"text": "set my timezone to UTC-14", "now": NOW},
        {"text": "/tasks", "now": NOW},
    ])
    assert [("error" in o) for o in outs] == [False, True, True, True, False, False, False, False]
    assert all("1900 and 2200" in outs[i]["error"] for i in (1, 2))
    assert "offset" in outs[3]["error"]
    for out in outs[4:6]:
        assert "1900 and 2200" in out["reply"] and out["actions"] == []
    assert "time zone" in outs[6]["reply"] and "went wrong" not in outs[6]["reply"]
    assert outs[7]["actions"][0]["ok"] and outs[7]["actions"][0]["result"]["tasks"] == []


async def test_a_tool_given_a_far_date_says_so(rt: Runtime) -> None:
    from core.tools import ToolContext, run_tool

    [_] = await replay(rt, [{"text": "hello", "now": NOW}])
    async with rt.sessions() as s, s.begin():
        user = await rt.assistant.user_named(s, "ada")
        assert user is not None
        ctx = ToolContext(s, user, AT, AT.tzinfo, rt.memory)  # type: ignore[arg-type]
        action = await run_tool(ctx, "create_task", {"title": "x", "due": "9999-01-01"})
    assert not action.ok and "1900 and 2200" in action.result["error"]


async def test_a_bad_user_or_a_nul_is_refused_for_that_line_only(rt: Runtime) -> None:
    outs = await replay(rt, [
        {"text": "add buy milk", "user": "a\x00b", "now": NOW},
        {"text": "add buy milk", "user": "x" * 201, "now": NOW},
        {"text": "add buy milk", "user": "\x1b[31mred", "now": NOW},
        {"text": "add buy \x00 eggs\x07", "now": NOW},
        "[" * 100_000,
        '{"text": "hi", "now": ' + "9" * 5000 + "}",
        {"text": "/tasks", "now": NOW},
    ])
    assert len(outs) == 7
    assert all("user" in o["error"] for o in outs[:3])
    assert outs[3]["actions"][0]["ok"] and "\x00" not in outs[3]["reply"]
    assert "not JSON" in outs[4]["error"] and "error" in outs[5]
    assert [t["title"] for t in outs[6]["actions"][0]["result"]["tasks"]] == ["Buy eggs"]
