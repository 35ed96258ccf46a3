"""1,000 reminders due in the same minute: how late does each reach the (fake) chat platform?

Run: uv run python bench/reminder_lateness.py [--reminders 1000] [--workers 2] [--spread 60] [--database-url URL]
Workers run on their real schedule (a tick every 10 s), not in burst mode. Needs the Redis server
on 127.0.0.1:6379. Lateness = arrival at the fake platform − the reminder's time. Target: p95 ≤ 60 s.
Takes about two minutes (it waits for the minute to come).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from jobs_common import copy, fresh_engine, pct, spawn_workers, wait_for  # noqa: E402

from tests.fakes.chat_platform import FakeChatPlatform  # noqa: E402
from tests.jobs_support import private_redis_db  # noqa: E402


async def main(args: argparse.Namespace) -> None:
    engine, url = await fresh_engine(args.database_url)
    now = dt.datetime.now(dt.UTC)
    # The first whole minute at least 25 s away, so the workers are up and idle when it starts.
    minute = (now + dt.timedelta(seconds=85)).replace(second=0, microsecond=0)
    users, idents, tasks, reminders, due = [], [], [], [], {}
    for i in range(args.reminders):
        uid, tid = uuid.uuid4(), uuid.uuid4()
        at = minute + dt.timedelta(seconds=args.spread * i / args.reminders)
        title = f"Ping #{i}"
        due[f"⏰ Reminder: {title}"] = at.timestamp()
        users.append((uid, f"user{i}", "Europe/Berlin", now))
        idents.append((uuid.uuid4(), uid, "telegram", str(5000 + i), str(5000 + i), now, now))
        tasks.append((tid, uid, title, "medium", "open", at, "chat", now, now))
        reminders.append((uuid.uuid4(), uid, tid, at, title, "pending", now))
    await copy(url, {
        "users": (["id", "name", "tz", "created_at"], users),  # digest off: only the reminders are due
        "identities": (["id", "user_id", "platform", "platform_user_id", "chat_id", "created_at", "last_seen_at"],
                       idents),
        "tasks": (["id", "user_id", "title", "priority", "status", "remind_at", "source", "created_at", "updated_at"],
                  tasks),
        "reminders": (["id", "user_id", "task_id", "remind_at", "text", "status", "created_at"], reminders),
    })
    print(f"{args.reminders} reminders due between {minute:%H:%M:%S} and "
          f"{minute + dt.timedelta(seconds=args.spread):%H:%M:%S} UTC (now {now:%H:%M:%S})")

    async with private_redis_db() as redis, FakeChatPlatform() as fake:
        procs = spawn_workers(args.workers, url, redis.database, fake.url)

        async def all_in() -> bool:
            return len(fake.messages) >= args.reminders

        limit = (minute - dt.datetime.now(dt.UTC)).total_seconds() + args.spread + args.limit
        ok = await wait_for(all_in, limit, every=0.5)
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
        late = [m.at - due[m.text] for m in fake.messages if m.text in due]
        early = sum(1 for x in late if x < 0)
        print(f"\n{len(late)}/{args.reminders} delivered by {args.workers} workers"
              f"{'' if ok else ' (LIMIT HIT: the rest never came)'}; "
              f"{len(fake.posts) - len(fake.messages)} duplicate posts; {early} early")
        if late:
            print(f"lateness: p50 {pct(late, 50):.1f} s · p95 {pct(late, 95):.1f} s · max {max(late):.1f} s")
            print(f"target p95 ≤ 60 s: {'met' if ok and pct(late, 95) <= 60 else 'NOT met'}")
    await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reminders", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--spread", type=float, default=60.0, help="seconds over which the reminders fall due")
    parser.add_argument("--limit", type=float, default=120.0, help="seconds to wait after the last one is due")
    parser.add_argument("--database-url")
    asyncio.run(main(parser.parse_args()))
