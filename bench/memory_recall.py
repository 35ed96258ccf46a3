"""Recall@5 of memory search alone, without the offline brain's language understanding in the way.

Run: uv run python bench/memory_recall.py ../shared/evals/memory_dev.json [--embeddings hash|local] [-v]

Every memory line of the eval file is stored with the `remember` tool (its lead-in such as
"remember that" cut off by a plain regex) and every question goes, as asked, straight to
`search_memory` — so a miss here is a miss of retrieval, not of routing. A second user's
memories are loaded too, and no hit may come from them.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import re
import tempfile
from pathlib import Path

from bots.app import open_runtime
from core import clock
from core.config import Settings
from core.tools import ToolContext, run_tool

LEAD = re.compile(r"^(?:please\s+|also\s+)*(?:remember(?:\s+that)?|note(?:\s+that)?|don'?t forget(?:\s+that)?|"
                  r"fyi,?|keep in mind(?:\s+that)?|for the record,?)\s*[:,]?\s*", re.I)


async def run(cases: dict, embeddings: str, verbose: bool) -> tuple[int, int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(PIXIE_DATA_DIR=Path(tmp), PIXIE_LLM="offline", PIXIE_EMBEDDINGS=embeddings)
        async with open_runtime(settings, default_tz=cases.get("tz", "UTC")) as rt:
            now = dt.datetime.fromisoformat(cases["now"])

            async def act(name: str, tool: str, args: dict) -> dict:
                async with rt.sessions() as session, session.begin():
                    user = await rt.assistant.user_for(session, "terminal", name, now, cases.get("tz"), name=name)
                    assert user is not None
                    ctx = ToolContext(session, user, now, clock.zone(user.tz), rt.memory)
                    action = await run_tool(ctx, tool, args)
                    assert action.ok, action.result
                    return action.result

            for line in cases["memories"]:
                await act("owner", "remember", {"text": LEAD.sub("", line, count=1)})
            for line in ("my locker code is 9911-zebra", "the office wifi password is zebra-9911"):
                await act("other", "remember", {"text": line})
            passed = leaks = 0
            for q in cases["queries"]:
                hits = (await act("owner", "search_memory", {"query": q["text"], "k": 5}))["hits"]
                got = [h["text"].lower() for h in hits]
                ok = any(all(w.lower() in t for w in q["hit_has"]) for t in got)
                leak = any("zebra" in t for t in got)
                passed += ok and not leak
                leaks += leak
                if verbose or not ok or leak:
                    print(f"{'ok  ' if ok and not leak else 'MISS'} {q['text']!r} want {q['hit_has']} -> "
                          f"{[t[:50] for t in got]}")
            return passed, len(cases["queries"]), leaks


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("cases")
    p.add_argument("--embeddings", default="hash", choices=("hash", "local"))
    p.add_argument("-v", action="store_true")
    args = p.parse_args()
    cases = json.loads(Path(args.cases).read_text(encoding="utf-8"))
    passed, n, leaks = asyncio.run(run(cases, args.embeddings, args.v))
    print(f"search_memory recall@5 ({args.embeddings}): {passed}/{n} = {100.0 * passed / max(1, n):.1f}%, "
          f"leaks {leaks}")


if __name__ == "__main__":
    main()
