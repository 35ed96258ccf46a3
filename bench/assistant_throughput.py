"""Messages/s and per-message latency through the Assistant (offline brain, embedded Postgres).

Run: uv run python bench/assistant_throughput.py [--messages 400] [--users 50] [--per-user 20]
Loads: one user back to back; 50 users back to back (capacity: latency there is queueing);
50 users at a human pace offering ~50 and ~100 messages/s in all (latency under concurrency).
Also times `pixie chat --jsonl` from start to its first reply on an existing data dir.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bots.app import open_runtime
from core.config import Settings
from core.types import IncomingMessage

MESSAGES = [
    "fix the login timeout bug in the Avenue project by friday",
    "remind me to call mom at 8pm",
    "what do i have to do today",
    "set up a meeting with Jonas on thursday at 2pm for 30 minutes",
    "am I free tomorrow at 2pm?",
    "remember that Sarah's birthday is May 3",
    "when is sarah's bday again?",
    "what's on my calendar tomorrow?",
    "pay the electricity bill on March 3",
    "thanks, you're a lifesaver",
]
NOW = dt.datetime(2026, 1, 13, 9, 0, tzinfo=dt.UTC)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def run_user(rt, name: str, count: int, lat: list[float],  # type: ignore[no-untyped-def]
                   gap: float = 0.0) -> None:
    """One person sending `count` messages, each after the last reply (and `gap` seconds of reading)."""
    if gap:
        await asyncio.sleep(random.uniform(0, gap))  # people do not all start in the same millisecond
    for i in range(count):
        msg = IncomingMessage("terminal", name, MESSAGES[i % len(MESSAGES)], ts=NOW + dt.timedelta(minutes=i))
        t0 = time.perf_counter()
        reply = await rt.assistant.handle(msg, tz="Europe/Berlin")
        lat.append((time.perf_counter() - t0) * 1000)
        assert reply.text and "went wrong" not in reply.text, reply.text
        if gap:
            await asyncio.sleep(random.uniform(0.5 * gap, 1.5 * gap))


async def measure(data_dir: Path, messages: int, users: int, per_user: int) -> dict[str, dict[str, float]]:
    settings = Settings(PIXIE_DATA_DIR=data_dir, PIXIE_LLM="offline", PIXIE_EMBEDDINGS="hash",
                        PIXIE_DATABASE_URL=os.environ.get("PIXIE_DATABASE_URL"))
    out = {}
    async with open_runtime(settings, default_tz="Europe/Berlin") as rt:
        await run_user(rt, "warmup", 20, [])
        lat: list[float] = []
        t0 = time.perf_counter()
        await run_user(rt, "solo", messages, lat)
        wall = time.perf_counter() - t0
        out["1 user"] = {"n": len(lat), "msg_s": len(lat) / wall, "p50": pct(lat, 50), "p95": pct(lat, 95)}
        lat = []
        t0 = time.perf_counter()
        await asyncio.gather(*(run_user(rt, f"user{u}", per_user, lat) for u in range(users)))
        wall = time.perf_counter() - t0
        out[f"{users} users"] = {"n": len(lat), "msg_s": len(lat) / wall, "p50": pct(lat, 50), "p95": pct(lat, 95)}
        # The same people at a human pace: each reads the reply for ~`gap` s before writing again.
        for rate in (50, 100):
            lat = []
            gap = users / rate
            t0 = time.perf_counter()
            await asyncio.gather(*(run_user(rt, f"paced{rate}-{u}", per_user, lat, gap) for u in range(users)))
            wall = time.perf_counter() - t0
            out[f"{users} paced ~{rate}/s"] = {"n": len(lat), "msg_s": len(lat) / wall, "p50": pct(lat, 50),
                                               "p95": pct(lat, 95)}
    return out


def first_reply_seconds(data_dir: Path, runs: int = 3) -> list[float]:
    env = dict(os.environ, PIXIE_DATA_DIR=str(data_dir), PIXIE_LLM="offline", PIXIE_EMBEDDINGS="hash")
    pixie = str(Path(sys.executable).with_name("pixie"))
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.Popen([pixie, "chat", "--jsonl", "--user", "startup", "--tz", "Europe/Berlin"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        assert proc.stdin and proc.stdout
        proc.stdin.write(json.dumps({"text": "what's on my calendar today?"}) + "\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        times.append(time.perf_counter() - t0)
        assert json.loads(line)["reply"]
        proc.stdin.close()
        proc.wait(timeout=30)
    return times


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--messages", type=int, default=400)
    p.add_argument("--users", type=int, default=50)
    p.add_argument("--per-user", type=int, default=20)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        results = asyncio.run(measure(data, args.messages, args.users, args.per_user))
        print(f"{'load':<22} {'messages':>8} {'msg/s':>8} {'p50 ms':>8} {'p95 ms':>8}")
        for name, r in results.items():
            print(f"{name:<22} {r['n']:>8} {r['msg_s']:>8.0f} {r['p50']:>8.1f} {r['p95']:>8.1f}")
        starts = first_reply_seconds(data)
        print("pixie chat --jsonl, start to first reply on an existing data dir (s): "
              + ", ".join(f"{s:.2f}" for s in starts))


if __name__ == "__main__":
    main()
