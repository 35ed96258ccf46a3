"""The morning digest for 10,000 users (20 tasks and 10 events each), composed and delivered by worker processes.

Run: uv run python bench/digest_load.py [--users 10000] [--workers 2] [--database-url URL]
Needs the Redis server on 127.0.0.1:6379 (a private db number is used and emptied). Without
--database-url a fresh embedded Postgres is started in a temporary dir. Target: ≤ 60 s with two workers.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import sys
import time
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from jobs_common import copy, fresh_engine, spawn_workers, wait_for  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from db.engine import make_sessionmaker  # noqa: E402
from db.models import Notification  # noqa: E402
from tests.fakes.chat_platform import FakeChatPlatform  # noqa: E402
from tests.jobs_support import private_redis_db  # noqa: E402

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC", "Australia/Sydney", "America/Los_Angeles"]
WORDS = ["invoice", "report", "call", "review", "deploy", "budget", "slides", "contract", "dentist", "groceries"]


def rows(users: int, now: dt.datetime) -> dict[str, tuple[list[str], list[tuple[object, ...]]]]:
    """Every user's digest is due now: 20 tasks (due today, overdue, later, undated; 2 by email) and 10 events."""
    rnd = random.Random(6)
    u_rows, i_rows, t_rows, e_rows = [], [], [], []
    for n in range(users):
        uid, tz_name = uuid.uuid4(), ZONES[n % len(ZONES)]
        tz = ZoneInfo(tz_name)
        local = now.astimezone(tz)
        today = local.date()
        at = (local - dt.timedelta(minutes=2)).time().replace(second=0, microsecond=0)
        u_rows.append((uid, f"user{n}", tz_name, at, now - dt.timedelta(minutes=1), now - dt.timedelta(days=30)))
        i_rows.append((uuid.uuid4(), uid, "telegram", str(1000 + n), str(1000 + n), now - dt.timedelta(days=30), now))
        for k in range(20):
            due = (today if k < 4 else today - dt.timedelta(days=k) if k < 8
                   else today + dt.timedelta(days=k) if k < 16 else None)
            by_mail = k in (5, 12)  # arrived since the last digest
            source = "email" if by_mail else "chat"
            created = now - (dt.timedelta(hours=3) if by_mail else dt.timedelta(days=3))
            title = f"{rnd.choice(WORDS).capitalize()} {rnd.choice(WORDS)} #{k}"
            t_rows.append((uuid.uuid4(), uid, title, "medium", "open", due, source, created, created))
        for k in range(10):
            if k < 3:
                start = dt.datetime.combine(today, dt.time(9 + 4 * k), tz)
            else:
                start = dt.datetime.combine(today + dt.timedelta(days=rnd.choice([-9, -4, -2, 1, 2, 5, 8])),
                                            dt.time(rnd.randint(8, 18)), tz)
            rule = "FREQ=WEEKLY" if k == 9 else None
            if rule:
                start = dt.datetime.combine(today - dt.timedelta(days=21), dt.time(8), tz)
            e_rows.append((uuid.uuid4(), uid, f"Meeting {k}", start, start + dt.timedelta(hours=1), False, tz_name,
                           rule, "confirmed", "chat", now - dt.timedelta(days=5), now - dt.timedelta(days=5)))
    return {
        "users": (["id", "name", "tz", "digest_time", "next_digest_at", "created_at"], u_rows),
        "identities": (["id", "user_id", "platform", "platform_user_id", "chat_id", "created_at", "last_seen_at"],
                       i_rows),
        "tasks": (["id", "user_id", "title", "priority", "status", "due_date", "source", "created_at", "updated_at"],
                  t_rows),
        "events": (["id", "user_id", "title", "start_at", "end_at", "all_day", "tz", "recurrence", "status",
                    "source", "created_at", "updated_at"], e_rows),
    }


async def main(args: argparse.Namespace) -> None:
    engine, url = await fresh_engine(args.database_url)
    sessions = make_sessionmaker(engine)
    now = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    data = rows(args.users, now)
    await copy(url, data)
    load = time.perf_counter() - t0
    counts = {t: len(r[1]) for t, r in data.items()}
    print(f"loaded {counts} in {load:.1f} s ({sum(counts.values()) / load:,.0f} rows/s incl. generation)")

    async def queued() -> int:
        async with sessions() as s:
            return int(await s.scalar(select(func.count()).select_from(Notification)
                                      .where(Notification.kind == "digest")) or 0)

    async with private_redis_db() as redis, FakeChatPlatform() as fake:
        start = time.perf_counter()
        procs = spawn_workers(args.workers, url, redis.database, fake.url, "--burst", "--step-batch",
                              str(args.step_batch))
        composed_at: float | None = None

        async def delivered() -> bool:
            nonlocal composed_at
            if composed_at is None and await queued() >= args.users:
                composed_at = time.perf_counter() - start
            return len(fake.messages) >= args.users

        ok = await wait_for(delivered, args.limit, every=0.25)
        total = time.perf_counter() - start
        for p in procs:
            p.terminate() if p.poll() is None else None
        for p in procs:
            p.wait(30)
        sample = fake.messages[0].text if fake.messages else ""
        print(f"\n{args.users} digests, {args.workers} worker processes (start-up included):")
        print(f"  all composed and queued: {composed_at if composed_at is not None else float('nan'):.1f} s")
        print(f"  all delivered to the fake platform: {total:.1f} s{'' if ok else ' (LIMIT HIT)'}"
              f" → {len(fake.messages) / total:,.0f} digests/s;"
              f" {len(fake.posts) - len(fake.messages)} duplicate posts")
        print(f"  target ≤ 60 s: {'met' if ok and total <= 60 else 'NOT met'}")
        print(f"\nsample digest ({len(sample)} chars):\n{sample[:600]}")
    await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--step-batch", type=int, default=25)
    parser.add_argument("--limit", type=float, default=240.0, help="give up after this many seconds")
    parser.add_argument("--database-url")
    asyncio.run(main(parser.parse_args()))
