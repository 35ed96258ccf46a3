"""Model thrift: input tokens per turn, the cached prefix, calls per command, and Pixie's own time per model turn.

A 20-turn conversation from a user with 200 memories (plus a few tasks and today's events),
through the real runtime wiring (PIXIE_LLM=auto with a key) and the real SDK, against the
fake provider of tests/fakes/llm.py scripted with a plausible tool call for each message.

Run: uv run python bench/llm_tokens.py [--provider anthropic|openai|both] [--memories 200] [--rounds 3]

Tokens are approximate — one token per 4 bytes of UTF-8, the providers' rule of thumb — because
no tokenizer for these models is available offline; the fake counts what it receives that way.
"Pixie's own time" is a turn's wall time minus the time spent inside the provider call (the
SDK's HTTP round trip to the fake, and the fake itself); the strict figure also charges the
SDK's client-side work and the loopback HTTP to Pixie (wall minus the fake's in-handler time).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bots.app import open_runtime  # noqa: E402
from core.brain import OfflineBrain  # noqa: E402
from core.config import Settings  # noqa: E402
from core.context import static_prefix  # noqa: E402
from core.llm_brain import LLMBrain, TurnReport  # noqa: E402
from core.tools import ToolContext, run_tool  # noqa: E402
from core.types import IncomingMessage  # noqa: E402
from tests.fakes.llm import FakeLLM, Step, calls, last_user_text  # noqa: E402

TZ = "Europe/Berlin"
START = dt.datetime.fromisoformat("2026-01-13T09:00:00+01:00")
# (message, the call a model makes, or None for small talk that needs no model)
CONVERSATION: list[tuple[str, tuple[str, dict[str, Any]] | None]] = [
    ("add buy milk", ("create_task", {"title": "Buy milk"})),
    ("fix the login timeout bug in the Avenue project by friday",
     ("create_task", {"title": "Fix the login timeout bug", "project": "Avenue", "due": "2026-01-16"})),
    ("what's on my calendar today?", ("list_events", {"start": "2026-01-13", "end": "2026-01-14"})),
    ("remember that Sarah's birthday is May 3", ("remember", {"text": "Sarah's birthday is May 3"})),
    ("am I free tomorrow at 2pm?", ("check_availability", {"start": "2026-01-14T14:00:00+01:00",
                                                           "end": "2026-01-14T15:00:00+01:00"})),
    ("when is sarah's bday again?", ("search_memory", {"query": "Sarah birthday"})),
    ("thanks!", None),
    ("lunch with Priya on friday 12:30-1:30 at the taco place",
     ("create_event", {"title": "Lunch with Priya", "start": "2026-01-16T12:30:00+01:00",
                       "end": "2026-01-16T13:30:00+01:00", "location": "the taco place"})),
    ("what do i have to do today", ("list_tasks", {"due_before": "2026-01-14"})),
    ("mark the milk task done", ("complete_task", {"task_ref": "milk"})),
    ("push the Avenue bug to monday", ("update_task", {"task_ref": "Avenue bug", "due": "2026-01-19"})),
    ("what's the wifi password at the office?", ("search_memory", {"query": "office wifi password"})),
    ("remind me to call mom at 6pm", ("create_task", {"title": "Call mom",
                                                      "remind_at": "2026-01-13T18:00:00+01:00"})),
    ("weekly team sync every Monday at 9:30",
     ("create_event", {"title": "Team sync", "start": "2026-01-19T09:30:00+01:00",
                       "recurrence": "FREQ=WEEKLY;BYDAY=MO"})),
    ("what meetings do I have this week", ("list_events", {"start": "2026-01-12", "end": "2026-01-19"})),
    ("delete the milk task", ("delete_task", {"task_ref": "milk"})),
    ("remember my gym locker is 112", ("remember", {"text": "My gym locker is number 112"})),
    ("is friday afternoon free?", ("check_availability", {"start": "2026-01-16T12:00:00+01:00",
                                                          "end": "2026-01-16T18:00:00+01:00"})),
    ("add a task to book flights to Denver, no rush",
     ("create_task", {"title": "Book flights to Denver", "priority": "low"})),
    ("what's my locker number?", ("search_memory", {"query": "gym locker number"})),
]
PEOPLE = ["Sarah", "Jonas", "Priya", "Tom", "Anna", "Diego", "Kenji", "Laura", "Mark", "Aiko"]
THINGS = ["prefers calls after 10am", "is allergic to peanuts", "drinks coffee black", "lives in Lisbon",
          "has a dog called Biscuit", "plays the cello", "runs the Berlin marathon", "is vegetarian",
          "works at Acme on the billing team", "birthday is in October"]
FACTS = ["the office wifi password is hunter2", "the garage door code is 4471", "my car's plate is 7XKD291",
         "the spare key is under the blue flowerpot", "my passport number is X1234567",
         "the building's front desk number is 030 555 0199", "our team's jira board is called PLAT"]


def memories(n: int) -> list[str]:
    rnd = random.Random(7)
    out = list(FACTS)
    while len(out) < n:
        out.append(f"{rnd.choice(PEOPLE)} {rnd.choice(THINGS)} (noted {rnd.randint(1, 28)} "
                   f"{rnd.choice(['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun'])})")
    return out[:n]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def seed(rt: Any, user: str, n: int) -> None:
    async with rt.sessions() as session, session.begin():
        u = await rt.assistant.user_for(session, "terminal", user, START, TZ, name=user)
        ctx = ToolContext(session, u, START - dt.timedelta(days=1), ZoneInfo(TZ), rt.memory)
        for text in memories(n):
            await run_tool(ctx, "remember", {"text": text})
        for title, due in [("Send the Q4 numbers", "2026-01-13"), ("Renew passport", "2026-01-14"),
                           ("Pay the electricity bill", "2026-01-12"), ("Prepare board slides", "2026-01-15")]:
            await run_tool(ctx, "create_task", {"title": title, "due": due})
        for title, start, end in [("Standup", "09:30", "09:45"), ("Design review", "15:00", "16:00"),
                                  ("Dinner with Anna", "19:30", "21:00")]:
            await run_tool(ctx, "create_event", {"title": title, "start": f"2026-01-13T{start}:00+01:00",
                                                 "end": f"2026-01-13T{end}:00+01:00"})


async def conversation(provider: str, rounds: int, n_memories: int) -> dict[str, Any]:
    async with FakeLLM() as fake:
        script = getattr(fake, provider)
        pending: dict[str, tuple[str, dict[str, Any]]] = {}

        def respond(body: dict[str, Any]) -> Step:
            text = last_user_text(body).split("<message>\n", 1)[1].rsplit("\n</message>", 1)[0]
            return calls(pending[text])

        script.responder = respond
        reports: list[TurnReport] = []
        with tempfile.TemporaryDirectory() as tmp:
            keys = {"anthropic": {"ANTHROPIC_API_KEY": "sk-ant-bench", "ANTHROPIC_BASE_URL": fake.anthropic_url},
                    "openai": {"OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": fake.openai_url}}[provider]
            settings = Settings(PIXIE_DATA_DIR=Path(tmp), PIXIE_LLM="auto", PIXIE_EMBEDDINGS="hash",
                                PIXIE_DATABASE_URL=os.environ.get("PIXIE_DATABASE_URL"), **keys)
            async with open_runtime(settings, default_tz=TZ) as rt:
                brain = rt.assistant.brain
                assert isinstance(brain, LLMBrain), type(brain)
                if provider == "openai":  # speak to the fake as to OpenAI itself (prompt_cache_key and all)
                    brain.router.providers[0].client.compatible = False  # type: ignore[attr-defined]
                brain.observer = reports.append
                rows: list[dict[str, Any]] = []
                for r in range(rounds):
                    user = f"bench{r}"
                    await seed(rt, user, n_memories)
                    for i, (text, call) in enumerate(CONVERSATION):
                        if call is not None:
                            pending[text] = call
                        before, seen_before, n_reports = script.calls, len(script.requests), len(reports)
                        t0 = time.perf_counter()
                        reply = await rt.assistant.handle(IncomingMessage(
                            "terminal", user, text, ts=START + dt.timedelta(minutes=3 * i), display_name=user), tz=TZ)
                        wall = time.perf_counter() - t0
                        assert reply.text and "went wrong" not in reply.text, reply.text
                        new = script.requests[seen_before:]
                        provider_s = sum(rep.outcome.provider_seconds for rep in reports[n_reports:])
                        rows.append({"round": r, "turn": i, "text": text, "calls": script.calls - before,
                                     "simple": call is not None and call[0] not in ("search_memory",),
                                     "usage": [q.usage for q in new], "body": [q.body for q in new],
                                     "pixie_ms": (wall - provider_s) * 1000,
                                     "strict_ms": (wall - sum(q.handled_seconds for q in new)) * 1000,
                                     "reply": reply.text})
                await brain.aclose()
                # The same turns through the offline rules, same data, same moment: what the machine
                # itself costs right now (the model turn's own time is that plus context and checks).
                rt.assistant.brain = OfflineBrain()
                offline: list[float] = []
                for r in range(rounds):
                    user = f"offline{r}"
                    await seed(rt, user, n_memories)
                    for i, (text, _call) in enumerate(CONVERSATION):
                        t0 = time.perf_counter()
                        await rt.assistant.handle(IncomingMessage(
                            "terminal", user, text, ts=START + dt.timedelta(minutes=3 * i), display_name=user), tz=TZ)
                        offline.append((time.perf_counter() - t0) * 1000)
        return {**summarise(provider, rows), "offline_p50": pct(offline, 50), "offline_p95": pct(offline, 95)}


def summarise(provider: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    model_turns = [r for r in rows if r["calls"]]
    if provider == "anthropic":
        inputs = [u["input_tokens"] + u["cache_read_input_tokens"] + u["cache_creation_input_tokens"]
                  for r in model_turns for u in r["usage"]]
        cached = [u["cache_read_input_tokens"] for r in model_turns for u in r["usage"]]
        prefixes = {json.dumps([b["system"], b["tools"]], sort_keys=True) for r in model_turns for b in r["body"]}
    else:
        inputs = [u["prompt_tokens"] for r in model_turns for u in r["usage"]]
        cached = [u["cached_tokens"] for r in model_turns for u in r["usage"]]
        prefixes = {json.dumps([b["messages"][0], b["tools"]], sort_keys=True) for r in model_turns for b in r["body"]}
    simple = [r["calls"] for r in rows if r["simple"]]
    return {
        "provider": provider, "turns": len(rows), "model_turns": len(model_turns),
        "input_median": statistics.median(inputs), "input_p95": pct(inputs, 95),
        "prefix_tokens": static_prefix().tokens, "distinct_prefixes": len(prefixes),
        "cached_share": sum(cached) / max(1, sum(inputs)),
        "calls_per_simple_command": sum(simple) / max(1, len(simple)),
        "calls_small_talk": sum(r["calls"] for r in rows if r["text"] == "thanks!"),
        "pixie_p50": pct([r["pixie_ms"] for r in model_turns], 50),
        "pixie_p95": pct([r["pixie_ms"] for r in model_turns], 95),
        "strict_p95": pct([r["strict_ms"] for r in model_turns], 95),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--provider", choices=["anthropic", "openai", "both"], default="both")
    p.add_argument("--memories", type=int, default=200)
    p.add_argument("--rounds", type=int, default=3, help="conversations per provider (fresh user each)")
    args = p.parse_args()
    providers = ["anthropic", "openai"] if args.provider == "both" else [args.provider]
    print(f"static prefix (system prompt + tool definitions): ~{static_prefix().tokens} tokens "
          "(approximate: 4 bytes of UTF-8 per token)")
    for name in providers:
        s = asyncio.run(conversation(name, args.rounds, args.memories))
        print(f"\n{name}: {s['turns']} turns ({s['model_turns']} reached the model), {args.memories} memories")
        print(f"  input tokens per model turn: median {s['input_median']:.0f}, p95 {s['input_p95']:.0f}; "
              f"{s['cached_share']:.0%} of them read from the prompt cache")
        print(f"  static prefix identical across turns: {s['distinct_prefixes'] == 1} "
              f"({s['distinct_prefixes']} distinct)")
        print(f"  model calls per simple command: {s['calls_per_simple_command']:.2f}; "
              f"for small talk: {s['calls_small_talk']}")
        print(f"  Pixie's own time per model turn: p50 {s['pixie_p50']:.1f} ms, p95 {s['pixie_p95']:.1f} ms "
              f"(strict, SDK + loopback HTTP included: p95 {s['strict_p95']:.1f} ms)")
        print(f"  the same turns with the offline brain, same machine, same moment: p50 {s['offline_p50']:.1f} ms, "
              f"p95 {s['offline_p95']:.1f} ms")


if __name__ == "__main__":
    main()
