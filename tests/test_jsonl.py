"""`pixie chat --jsonl`: the replay protocol of DESIGN.md, line by line, as a script would use it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bots.app import Runtime
from bots.terminal import run_jsonl
from db.models import Event, MemoryItem, Reminder, Task, User


async def replay(rt: Runtime, lines: list[Any], tz: str = "Europe/Berlin", user: str = "ada") -> list[dict]:
    raw = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    out = io.StringIO()
    await run_jsonl(rt, user, tz, io.StringIO(raw), out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def rows(rt: Runtime) -> dict[str, int]:
    async with rt.sessions() as s:
        return {m.__name__: int(await s.scalar(select(func.count()).select_from(m)) or 0)
                for m in (Task, Event, Reminder, MemoryItem)}


async def test_a_task_line_gets_a_reply_the_action_and_its_result(rt: Runtime) -> None:
    [out] = await replay(rt, [{"text": "fix the auth bug in Avenue by Friday", "now": "2026-01-13T09:00:00+01:00"}])
    assert set(out) == {"reply", "actions", "notifications"}
    [action] = out["actions"]
    assert action["tool"] == "create_task" and action["ok"] is True
    assert action["args"]["project"] == "Avenue" and action["args"]["due"] == "2026-01-16"
    assert action["result"]["task_id"]
    assert "auth bug" in out["reply"].lower() and "Fri 16 Jan" in out["reply"]
    assert out["notifications"] == []


async def test_users_on_one_stream_are_separate_people(rt: Runtime) -> None:
    outs = await replay(rt, [
        {"text": "add buy printer ink", "user": "ada", "now": "2026-01-13T09:00:00+01:00"},
        {"text": "what's on my to-do list", "user": "bob", "now": "2026-01-13T09:01:00+01:00"},
        {"text": "what's on my to-do list", "user": "ada", "now": "2026-01-13T09:02:00+01:00"},
    ])
    assert outs[1]["actions"][0]["result"]["tasks"] == []
    assert [t["title"] for t in outs[2]["actions"][0]["result"]["tasks"]] == ["Buy printer ink"]


async def test_a_reminder_is_pushed_once_on_the_first_line_after_it_came_due(rt: Runtime) -> None:
    outs = await replay(rt, [
        {"text": "remind me to call mom at 6pm", "now": "2026-03-27T09:00:00+01:00"},
        {"text": "hey", "now": "2026-03-27T17:59:00+01:00"},
        {"text": "hey", "now": "2026-03-27T18:01:00+01:00"},
        {"text": "hey", "now": "2026-03-27T18:30:00+01:00"},
    ])
    assert [len(o["notifications"]) for o in outs] == [0, 0, 1, 0]
    assert outs[2]["notifications"][0]["kind"] == "reminder"
    assert "call mom" in outs[2]["notifications"][0]["text"].lower()
    assert outs[2]["actions"] == []


async def test_the_morning_digest_arrives_with_the_days_plan(rt: Runtime) -> None:
    outs = await replay(rt, [
        {"text": "dentist appointment tomorrow at 10:30", "now": "2026-05-11T14:00:00-04:00"},
        {"text": "pay the electricity bill by tomorrow", "now": "2026-05-11T14:05:00-04:00"},
        {"text": "good morning", "now": "2026-05-12T07:31:00-04:00"},
    ], tz="America/New_York")
    [digest] = outs[2]["notifications"]
    assert digest["kind"] == "digest"
    assert "dentist" in digest["text"].lower() and "electricity" in digest["text"].lower()


async def test_bad_lines_get_a_clear_reply_and_the_stream_goes_on(rt: Runtime) -> None:
    outs = await replay(rt, [
        "this is not json",
        "[1, 2, 3]",
        {"now": "2026-01-13T09:00:00+01:00"},
        {"text": 42},
        {"text": "hi", "now": "yesterday-ish"},
        {"text": ""},
        {"text": "x" * 100_000},
        {"text": "\x00\x01\x02\x7f\ufffd\x00"},
        {"text": "remind me on February 30 to renew the lease", "now": "2026-01-13T09:00:00+01:00"},
        {"text": "mark the unicorn grooming task done", "now": "2026-01-13T09:00:00+01:00"},
        {"text": "add buy milk", "now": "2026-01-13T09:00:00+01:00"},
    ])
    assert len(outs) == 11
    for out in outs[:-1]:
        assert out["reply"] and "Traceback" not in out["reply"]
        assert all(not a["ok"] for a in out["actions"]), out
    assert "not JSON" in outs[0]["reply"] and "text" in outs[2]["reply"] and "now" in outs[4]["reply"]
    assert "too long" in outs[6]["reply"]
    assert "couldn't find" in outs[9]["reply"]
    assert outs[-1]["actions"][0]["ok"] is True  # the stream is still healthy
    assert (await rows(rt))["Task"] == 1 and (await rows(rt))["Reminder"] == 0


async def test_when_several_tasks_fit_pixie_asks_and_takes_the_answer(rt: Runtime) -> None:
    now = "2026-01-13T09:00:00+01:00"
    outs = await replay(rt, [
        {"text": "add send the invoice to Acme", "now": now},
        {"text": "add send the invoice to Globex", "now": now},
        {"text": "I sent the invoice, mark it done", "now": now},
        {"text": "the second one", "now": now},
    ])
    assert "Which one" in outs[2]["reply"] and "Acme" in outs[2]["reply"] and "Globex" in outs[2]["reply"]
    [done] = outs[3]["actions"]
    assert done["tool"] == "complete_task" and done["ok"]
    assert done["args"]["task_id"] == outs[1]["actions"][0]["result"]["task_id"]


def test_pixie_chat_jsonl_end_to_end(data_dir: Path, tmp_path: Path) -> None:
    """The real command: starts on the embedded Postgres in the data dir and answers in order."""
    env = dict(os.environ, PIXIE_DATA_DIR=str(data_dir), PIXIE_LLM="offline", PIXIE_EMBEDDINGS="hash")
    env.pop("PIXIE_DATABASE_URL", None)
    lines = [{"text": "lunch with Priya on friday 12:30-1:30", "now": "2026-05-31T11:20:00-07:00", "user": "e2e"},
             {"text": "is friday at 1pm free?", "now": "2026-05-31T11:21:00-07:00", "user": "e2e"}]
    proc = subprocess.run([str(Path(sys.executable).with_name("pixie")), "chat", "--jsonl",
                           "--tz", "America/Los_Angeles"],
                          input="".join(json.dumps(x) + "\n" for x in lines), capture_output=True, text=True,
                          env=env, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    outs = [json.loads(x) for x in proc.stdout.splitlines()]
    assert outs[0]["actions"][0]["args"]["start"].startswith("2026-06-05T12:30")
    avail = outs[1]["actions"][0]
    assert avail["tool"] == "check_availability" and avail["result"]["free"] is False
    assert "Priya" in outs[1]["reply"]


async def test_undoing_a_move_puts_the_zone_back_for_the_rest_of_the_stream(rt: Runtime) -> None:
    # The terminal carries each speaker's zone from line to line: after an undo it must carry the zone put
    # back, or the next line would silently move the user again while the undo said it had not.
    outs = await replay(rt, [
        {"text": "I'm in Tokyo now", "now": "2026-01-13T09:00:00+01:00"},
        {"text": "set my timezone to America/New_York", "now": "2026-01-13T09:01:00+01:00"},
        {"text": "undo", "now": "2026-01-13T09:02:00+01:00"},
        {"text": "what time is it?", "now": "2026-01-13T09:03:00+01:00"},
    ])
    assert "Asia/Tokyo" in outs[2]["reply"]
    assert "Asia/Tokyo" in outs[3]["reply"] and "17:03" in outs[3]["reply"]
    async with rt.sessions() as s:
        assert [u.tz for u in (await s.scalars(select(User))).all()] == ["Asia/Tokyo"]
