"""Acceptance: the chat eval through the model brain, the fake provider scripted with each expected call.

Every case of ../shared/evals/nlu_dev.jsonl (and its setup messages) goes through `pixie chat
--jsonl`'s own loop, the real Anthropic SDK and the fake server, which answers with the tool
call derived from the case's `expect`. The eval's own scorer must pass every case, and the data
each case stores must be exactly what a brain emitting those calls directly stores — the model
path adds, drops or changes nothing on the way.
"""

from __future__ import annotations

import collections
import datetime as dt
import importlib.util
import io
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bots.app import Runtime
from bots.terminal import run_jsonl
from connectors.llm.anthropic import AnthropicClient
from core.assistant import Assistant
from core.brain import BrainInput, OfflineBrain, Thought, ToolCall
from core.llm import Provider, RetryPolicy, Router
from core.llm_brain import LLMBrain, small_talk
from db.models import Event, Identity, MemoryItem, Task
from tests.fakes.llm import FakeLLM, Step, calls, last_user_text, reply

EVALS = Path(os.environ.get("PIXIE_EVALS_DIR", Path(__file__).resolve().parents[2] / "shared" / "evals"))
CASES = EVALS / "nlu_dev.jsonl"
pytestmark = pytest.mark.skipif(not CASES.exists(), reason=f"the eval set is not at {CASES}")

# Setup messages that make events need their times spelled out; other setups follow simple rules below.
SETUP_EVENTS = {
    "schedule a call with the bank on monday from 10 to 11am":  # US DST began the day before
        {"title": "Call with the bank", "start": "2026-03-09T10:00:00-04:00", "end": "2026-03-09T11:00:00-04:00"},
    "lunch with Kenji tomorrow 12-1pm":
        {"title": "Lunch with Kenji", "start": "2026-07-31T12:00:00+09:00", "end": "2026-07-31T13:00:00+09:00"},
    "team offsite on friday from 9am to 5pm":
        {"title": "Team offsite", "start": "2026-09-18T09:00:00+02:00", "end": "2026-09-18T17:00:00+02:00"},
    "dentist monday at 9am":  # Sydney's DST began the day before
        {"title": "Dentist", "start": "2026-10-05T09:00:00+11:00"},
}
_LEAD = re.compile(r"^(please )?(remember( that)?|keep in mind( that)?|add( a task)?( in the \w+ project)?:?"
                   r"|add a task to|remind me to)\s+", re.I)
_TRAIL = re.compile(r"\s+(by|on|tomorrow)\b.*$", re.I)


def iso(value: str, tz: ZoneInfo) -> str:
    """An eval time ("YYYY-MM-DD" or "YYYY-MM-DDTHH:MM", local) as the tool schema writes it."""
    if len(value) == 10:
        return value
    return dt.datetime.fromisoformat(value).replace(tzinfo=tz).isoformat()


def setup_call(text: str) -> tuple[str, dict[str, Any]]:
    """The call a model makes for a setup message."""
    if text in SETUP_EVENTS:
        return "create_event", SETUP_EVENTS[text]
    if text.lower().startswith("remember"):
        return "remember", {"text": _LEAD.sub("", text)}
    project = re.search(r"in the (\w+) project", text)
    title = _TRAIL.sub("", _LEAD.sub("", text))
    args: dict[str, Any] = {"title": title[0].upper() + title[1:]}
    if project:
        args["project"] = project.group(1)
    return "create_task", args


def expected_call(case: dict[str, Any], setups: list[tuple[str, dict[str, Any]]]) -> tuple[str, dict[str, Any]] | str:
    """The call derived from the case's `expect` (a str: the model answers in words, no tool)."""
    exp, tz = case["expect"], ZoneInfo(case["tz"])
    tool = exp["tool"]
    if tool == "none":
        return "I only keep your tasks, calendar and notes."
    args: dict[str, Any] = {}
    if "title_has" in exp:
        args["title"] = " ".join(exp["title_has"]).capitalize()
    for key in ("due", "remind_at", "start", "end"):
        if key in exp:
            args[key] = iso(exp[key], tz)
    for key in ("priority", "project"):
        if key in exp:
            args[key] = exp[key]
    if "within" in exp or "covers" in exp:
        lo, hi = exp.get("within") or [min(exp["covers"]), max(exp["covers"])]
        args["start"], args["end"] = iso(lo, tz), iso(hi, tz)
    if "recurrence_has" in exp:
        parts = exp["recurrence_has"]
        freq = next(p for p in parts if p in ("DAILY", "WEEKLY", "MONTHLY", "YEARLY"))
        days = [p.removeprefix("BYDAY=") for p in parts if p not in (freq,)]
        args["recurrence"] = f"FREQ={freq}" + (f";BYDAY={','.join(days)}" if days else "")
        args.setdefault("start", iso(f"{case['now'][:10]}T07:00", tz))
    if tool == "remember":
        args = {"text": _LEAD.sub("", re.sub(r"^(fyi for later: )", "", case["text"], flags=re.I))}
    if tool == "search_memory":
        args = {"query": case["text"]}
    if "task_from_setup" in exp:
        # The responder swaps this for the context's name of the task (t1…) when the context shows it.
        args["task_ref"] = setups[exp["task_from_setup"]][1]["title"]
    return tool, args


class Scripted:
    """What the fake provider answers for each message text (in order), and a brain that skips the model."""

    def __init__(self) -> None:
        self.by_text: dict[str, collections.deque[tuple[str, dict[str, Any]] | str]] = collections.defaultdict(
            collections.deque)
        self.by_id = 0

    def add(self, text: str, call: tuple[str, dict[str, Any]] | str) -> None:
        self.by_text[text].append(call)

    def respond(self, body: dict[str, Any]) -> Step:
        prompt = last_user_text(body)
        text = prompt.split("<message>\n", 1)[1].rsplit("\n</message>", 1)[0]
        call = self.by_text[text].popleft()
        if isinstance(call, str):
            return reply(call)
        name, args = call
        if "task_ref" in args:  # a model names the task by the id the context shows for it
            ids = {m.group(1) for line in prompt.splitlines() if args["task_ref"] in line
                   for m in [re.match(r"(t\d+) ", line)] if m}
            if len(ids) == 1:
                self.by_id += 1
                args = {**{k: v for k, v in args.items() if k != "task_ref"}, "task_id": ids.pop()}
        return calls((name, args))


class DirectBrain(OfflineBrain):
    """Emits the scripted calls without any model: the reference for "the same data"."""

    def __init__(self, script: Scripted) -> None:
        self.script = script

    async def think(self, request: BrainInput) -> Thought:
        kind = small_talk(request.text)
        if kind:
            return Thought(reply_kind=kind)
        call = self.script.by_text[request.text].popleft()
        return Thought(text=call) if isinstance(call, str) else Thought(calls=[ToolCall(call[0], dict(call[1]))])


def load_checker() -> Any:
    spec = importlib.util.spec_from_file_location("run_chat_eval", EVALS / "run_chat_eval.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.check


def script_for(cases: list[dict[str, Any]], prefix: str) -> tuple[Scripted, dict[str, list[dict[str, Any]]]]:
    script, lines = Scripted(), collections.defaultdict(list)
    for c in cases:
        setups = []
        for s in c.get("setup", []):
            s = s if isinstance(s, dict) else {"text": s}
            call = setup_call(s["text"])
            setups.append(call)
            script.add(s["text"], call)
            lines[c["tz"]].append({"text": s["text"], "now": s.get("now", c["now"]), "user": f"{prefix}{c['id']}"})
        script.add(c["text"], expected_call(c, setups))
        lines[c["tz"]].append({"text": c["text"], "now": c["now"], "user": f"{prefix}{c['id']}"})
    return script, lines


async def replay(rt: Runtime, assistant: Assistant, lines: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    outs = []
    for tz, group in lines.items():
        live = Runtime(rt.settings, rt.engine, rt.sessions, rt.memory, assistant)
        out = io.StringIO()
        await run_jsonl(live, "eval", tz, io.StringIO("".join(json.dumps(x) + "\n" for x in group)), out)
        outs += [json.loads(x) for x in out.getvalue().splitlines()]
    return outs


def grouped(cases: list[dict[str, Any]], lines: dict[str, list[dict[str, Any]]],
            outs: list[dict[str, Any]]) -> dict[str, tuple[list[dict[str, Any]], dict[str, Any]]]:
    """Per case: (setup outputs, final output), matched back to the lines that produced them."""
    flat = [x for group in lines.values() for x in group]
    by_user: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for line, out in zip(flat, outs, strict=True):
        by_user[line["user"].split("-", 1)[1]].append(out)
    return {c["id"]: (by_user[c["id"]][:-1], by_user[c["id"]][-1]) for c in cases}


async def stored(rt: Runtime, user_name: str) -> dict[str, Any]:
    """What a user's conversation left in the database, without ids and clocks."""
    async with rt.sessions() as s:
        uid = await s.scalar(select(Identity.user_id).where(Identity.platform_user_id == user_name))
        tasks = sorted((t.title, t.due_date, t.due_at, t.priority, t.project, t.status, t.remind_at)
                       for t in await s.scalars(select(Task).where(Task.user_id == uid)))
        events = sorted((e.title, e.start_at, e.end_at, e.recurrence, e.status)
                        for e in await s.scalars(select(Event).where(Event.user_id == uid)))
        notes = sorted(await s.scalars(select(MemoryItem.text).where(MemoryItem.user_id == uid)))
    return {"tasks": tasks, "events": events, "memory": notes}


@pytest.fixture
async def fake() -> AsyncIterator[FakeLLM]:
    async with FakeLLM() as f:
        yield f


async def test_the_chat_eval_through_the_model_stores_what_the_calls_say(rt: Runtime, fake: FakeLLM) -> None:
    cases = [json.loads(x) for x in CASES.read_text(encoding="utf-8").splitlines() if x.strip()]
    check = load_checker()

    script, lines = script_for(cases, "llm-")
    fake.anthropic.responder = script.respond
    brain = LLMBrain(Router([Provider("anthropic", AnthropicClient("sk-ant-eval", fake.anthropic_url),
                                      "claude-haiku-4-5", "claude-sonnet-4-6")], RetryPolicy(budget=5)),
                     OfflineBrain())
    try:
        outs = grouped(cases, lines, await replay(rt, Assistant(rt.sessions, brain, rt.memory, "UTC"), lines))
    finally:
        await brain.aclose()
    failures = {c["id"]: why for c in cases if (why := check(c, outs[c["id"]][1], outs[c["id"]][0]))}
    assert failures == {}
    assert fake.anthropic.calls == sum(len(v) for v in lines.values()) - 1  # "hi pixie!" needed no model

    direct_script, direct_lines = script_for(cases, "direct-")
    await replay(rt, Assistant(rt.sessions, DirectBrain(direct_script), rt.memory, "UTC"), direct_lines)
    different = [c["id"] for c in cases
                 if await stored(rt, f"llm-{c['id']}") != await stored(rt, f"direct-{c['id']}")]
    assert different == []
    print(f"\nchat eval through the model: {len(cases) - len(failures)}/{len(cases)} pass the eval's checks; "
          f"{len(cases) - len(different)}/{len(cases)} store the same data as the calls made directly; "
          f"{script.by_id} tasks named by the id shown in the context")
