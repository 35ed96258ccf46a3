"""Reply latency through Telegram: simulated users DM Pixie through the fake Bot API (offline brain).

Run: uv run python bench/telegram_load.py [--users 200] [--per-user 20] [--think 4.0] [--duplicates 0.05]

Each user sends a message, waits for Pixie's answer, reads it for a while (`--think` seconds on
average; 0 floods the bot to find its capacity), then sends the next, as a person would. A share
of the updates is served twice (as Telegram does after a lost offset). Checked: every message gets
exactly one reply. Reported: p50/p95/max from the moment an update is available on the Bot API to
the moment Pixie's `sendMessage` arrives — once for Pixie, once for an echo bot on the same fake and
the same python-telegram-bot calls (the fake's and the SDK's own share), and their difference. The
fake and the simulated people run in a child process, so they do not take Pixie's CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fakes.telegram import TOKEN, FakeTelegram, Sent  # noqa: E402
from telegram import Bot  # noqa: E402

from bots.app import open_runtime  # noqa: E402
from bots.telegram import TelegramBot  # noqa: E402
from core.access import parse_owners  # noqa: E402
from core.config import Settings  # noqa: E402
from core.inbox import Inbox  # noqa: E402

MESSAGES = ["add buy milk tomorrow", "remind me to call mom at 6pm", "/tasks", "what's on my calendar today?",
            "add fix the login bug by friday", "hi", "remember that my locker is 112", "/today",
            "am I free tomorrow at 2pm?", "thanks"]
FIRST_USER = 10_000


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Load:
    """Drives simulated users against a fake and times each reply."""

    def __init__(self, fake: FakeTelegram, users: int, per_user: int, duplicates: float, think: float) -> None:
        self.fake, self.users, self.per_user, self.duplicates = fake, users, per_user, duplicates
        self.think = think
        self.replies: dict[int, int] = defaultdict(int)
        self.waiting: dict[int, tuple[float, asyncio.Event]] = {}
        self.latencies: list[float] = []
        fake.listeners.append(self.on_sent)

    def on_sent(self, sent: Sent) -> None:
        self.replies[sent.chat_id] += 1
        started, event = self.waiting.pop(sent.chat_id, (None, None))
        if started is not None and event is not None:
            self.latencies.append((time.perf_counter() - started) * 1000)
            event.set()

    async def user(self, uid: int, rng: random.Random) -> None:
        await asyncio.sleep(rng.random() * max(0.5, self.think))  # people do not all start at once
        for i in range(self.per_user):
            done = asyncio.Event()
            self.waiting[uid] = (time.perf_counter(), done)
            update = self.fake.user_sends(uid, MESSAGES[(uid + i) % len(MESSAGES)])
            if rng.random() < self.duplicates:
                self.fake.push(update)
            await asyncio.wait_for(done.wait(), timeout=60)
            await asyncio.sleep(rng.uniform(0.5, 1.5) * self.think)

    async def run(self) -> float:
        rng = random.Random(5)
        t0 = time.perf_counter()
        await asyncio.gather(*(self.user(FIRST_USER + u, rng) for u in range(self.users)))
        elapsed = time.perf_counter() - t0
        await asyncio.sleep(1.0)  # let any late duplicate show itself
        return elapsed


def fake_side(conn: Any, users: int, per_user: int, duplicates: float, think: float) -> None:
    """The fake Bot API and the simulated people, in their own process (Telegram is not on our CPU)."""

    async def go() -> None:
        fake = await FakeTelegram().start()
        conn.send(fake.port)
        await asyncio.to_thread(conn.recv)  # the bot is polling
        load = Load(fake, users, per_user, duplicates, think)
        elapsed = await load.run()
        wrong = {uid: n for uid, n in load.replies.items() if n != per_user}
        conn.send({"latencies": load.latencies, "elapsed": elapsed, "wrong": wrong,
                   "missing": users - len(load.replies)})
        await asyncio.to_thread(conn.recv)
        await fake.stop()

    asyncio.run(go())


async def drive(bot_for: Any, users: int, per_user: int, duplicates: float, think: float) -> dict[str, Any]:
    """Start the fake side, run the bot `bot_for(base_url)` against it, return what the fake side saw."""
    ctx = multiprocessing.get_context("spawn")
    here, there = ctx.Pipe()
    child = ctx.Process(target=fake_side, args=(there, users, per_user, duplicates, think), daemon=True)
    child.start()
    port = await asyncio.to_thread(here.recv)
    runner = asyncio.create_task(bot_for(f"http://127.0.0.1:{port}/bot"))
    await asyncio.sleep(1.0)
    here.send("go")
    result: dict[str, Any] = await asyncio.to_thread(here.recv)
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    here.send("stop")
    await asyncio.to_thread(child.join, 10)
    assert not result["wrong"] and not result["missing"], \
        f"replies per user off: {result['wrong']}, users without replies: {result['missing']}"
    return result


async def echo_bot(base_url: str) -> None:
    """The same SDK calls with no Pixie behind them: what the transport costs."""
    bot = Bot(TOKEN, base_url=base_url, base_file_url=base_url.replace("/bot", "/file/bot"))
    offset = None
    async with bot:
        while True:
            updates = await bot.get_updates(offset=offset, timeout=1, read_timeout=5)
            for u in updates:
                assert u.message is not None
                asyncio.create_task(bot.send_message(u.message.chat.id, u.message.text or "", parse_mode="HTML"))
            if updates:
                offset = updates[-1].update_id + 1


async def main(users: int, per_user: int, duplicates: float, think: float) -> dict[str, Any]:
    baseline = await drive(echo_bot, users, per_user, 0.0, think)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(PIXIE_DATA_DIR=Path(os.environ.get("PIXIE_BENCH_DATA", tmp)), PIXIE_LLM="offline",
                            PIXIE_EMBEDDINGS="hash", PIXIE_DATABASE_URL=os.environ.get("PIXIE_DATABASE_URL"))
        async with open_runtime(settings, default_tz="Europe/Berlin") as rt:
            rt.assistant.access.owners = parse_owners(",".join(f"telegram:{FIRST_USER + u}" for u in range(users)))

            async def pixie(base_url: str) -> None:
                await TelegramBot(Inbox(rt.sessions, rt.assistant), TOKEN, base_url, poll_timeout=1).run()

            result = await drive(pixie, users, per_user, duplicates, think)
    lat, echo = result["latencies"], baseline["latencies"]
    return {"users": users, "messages": len(lat), "elapsed_s": result["elapsed"],
            "throughput": len(lat) / result["elapsed"], "p50": pct(lat, 50), "p95": pct(lat, 95), "max": max(lat),
            "echo_p50": pct(echo, 50), "echo_p95": pct(echo, 95)}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--per-user", type=int, default=20)
    ap.add_argument("--duplicates", type=float, default=0.05)
    ap.add_argument("--think", type=float, default=4.0, help="mean seconds a user reads before writing again")
    args = ap.parse_args()
    r = asyncio.run(main(args.users, args.per_user, args.duplicates, args.think))
    print(f"{r['users']} users × {args.per_user} messages = {r['messages']} replies, every one arrived exactly once "
          f"({args.duplicates:.0%} of updates delivered twice; users think {args.think:.1f} s on average)")
    print(f"Pixie:   p50 {r['p50']:.1f} ms  p95 {r['p95']:.1f} ms  max {r['max']:.1f} ms  "
          f"({r['throughput']:.0f} replies/s over {r['elapsed_s']:.1f} s)")
    print(f"echo:    p50 {r['echo_p50']:.1f} ms  p95 {r['echo_p95']:.1f} ms  (fake Bot API + SDK alone)")
    print(f"on top:  p50 {r['p50'] - r['echo_p50']:.1f} ms  p95 {r['p95'] - r['echo_p95']:.1f} ms")
