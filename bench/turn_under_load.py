"""Platform updates stored while 30 conversations wait on a slow model.

Run: uv run python bench/turn_under_load.py [--conversations 30] [--model-seconds 5] [--updates 300]

Thirty users each send a message that the model brain (the real Anthropic SDK against the fake
provider on 127.0.0.1) takes `--model-seconds` to answer. Meanwhile platform updates arrive at a
steady rate and are stored by `Inbox.accept`, the step every adapter runs before it acknowledges
the platform. Prints the store latency (p50/p95/max), the most pooled connections checked out at
once, whether the pool ever ran out, and how long the 30 turns took in all.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bots.app import make_brain, open_runtime  # noqa: E402
from core.config import Settings  # noqa: E402
from core.inbox import Inbox  # noqa: E402
from core.types import IncomingMessage  # noqa: E402
from tests.fakes.llm import FakeLLM, reply  # noqa: E402

NOW = dt.datetime(2026, 1, 13, 9, 0, tzinfo=dt.UTC)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def main(conversations: int, model_seconds: float, updates: int) -> None:
    async with FakeLLM() as fake:
        fake.anthropic.responder = lambda body: reply("Noted.", delay=model_seconds)
        with tempfile.TemporaryDirectory() as data:
            settings = Settings(PIXIE_DATA_DIR=Path(data), PIXIE_LLM="anthropic", PIXIE_EMBEDDINGS="hash",
                                ANTHROPIC_API_KEY="sk-ant-bench", ANTHROPIC_BASE_URL=fake.anthropic_url,
                                PIXIE_LLM_BUDGET=model_seconds * 4, PIXIE_LLM_TIMEOUT=model_seconds * 3)
            brain = make_brain(settings)
            async with open_runtime(settings, default_tz="UTC", brain=brain) as rt:
                pool = rt.engine.pool
                inbox = Inbox(rt.sessions, rt.assistant)
                peak = {"all": 0, "waiting": 0}
                exhausted = 0
                waiting = False

                async def watch() -> None:
                    while True:
                        out = pool.checkedout()  # type: ignore[attr-defined]
                        peak["all"] = max(peak["all"], out)
                        if waiting:
                            peak["waiting"] = max(peak["waiting"], out)
                        await asyncio.sleep(0.005)

                async def talk(i: int) -> float:
                    nonlocal waiting
                    t0 = time.perf_counter()
                    await rt.assistant.handle(IncomingMessage("terminal", f"user{i}", "what did I plan for the "
                                                              "launch, and who is on it?", ts=NOW,
                                                              display_name=f"user{i}"))
                    waiting = False  # from the first answer on, turns act: the window of pure waiting is over
                    return time.perf_counter() - t0

                async def store(n: int) -> list[float]:
                    nonlocal exhausted
                    times = []
                    gap = model_seconds * 0.5 / n
                    for k in range(n):
                        item = IncomingMessage("telegram", str(1000 + k % 50), f"update {k}", message_id=f"u{k}")
                        t0 = time.perf_counter()
                        try:
                            await inbox.accept(f"u{k}", item, f"chat{k % 50}")
                        except TimeoutError:  # the pool's wait ran out: the platform would retry
                            exhausted += 1
                        times.append(time.perf_counter() - t0)
                        await asyncio.sleep(gap)
                    return times

                watcher = asyncio.create_task(watch())
                t0 = time.perf_counter()
                turns = [asyncio.create_task(talk(i)) for i in range(conversations)]
                while fake.anthropic.calls < conversations:  # noqa: ASYNC110 (polls the fake's count)
                    await asyncio.sleep(0.01)  # every turn has read its context: all of them wait
                waiting = True
                stored = await store(updates)
                waiting = False
                durations = await asyncio.gather(*turns)
                total = time.perf_counter() - t0
                watcher.cancel()
                await brain.aclose()  # type: ignore[attr-defined]
    ms = [t * 1000 for t in stored]
    size = pool.size() + pool._max_overflow  # type: ignore[attr-defined]
    print(f"{conversations} conversations waiting {model_seconds:g} s on the model; {updates} updates stored meanwhile")
    print(f"  store p50 {pct(ms, 50):.1f} ms  p95 {pct(ms, 95):.1f} ms  max {max(ms):.1f} ms")
    print(f"  pooled connections checked out while the model thinks: at most {peak['waiting']} of {size} "
          f"(at any time: {peak['all']}); pool exhausted {exhausted} times")
    print(f"  turns: p50 {pct(durations, 50):.2f} s, max {max(durations):.2f} s; all done in {total:.2f} s")
    print(f"  model calls made: {fake.anthropic.calls}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conversations", type=int, default=30)
    ap.add_argument("--model-seconds", type=float, default=5.0)
    ap.add_argument("--updates", type=int, default=300)
    a = ap.parse_args()
    asyncio.run(main(a.conversations, a.model_seconds, a.updates))
