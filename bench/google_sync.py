"""Google Calendar sync: the first sync of a 10,000-event calendar (200 weekly series, each with a moved and a
cancelled instance) and an incremental sync of one change, through the real google-api-python-client against
the fake Google on 127.0.0.1, into Postgres through the sync's tools (events and memory rows).

Run: uv run python bench/google_sync.py [--events 10000] [--series 200] [--database-url URL]
Without --database-url a fresh embedded Postgres is started in a temporary dir. Memory uses the bundled local
model as a deployment does (its vectors are made later by the worker, so the sync only stores the text).
Targets: first sync ≤ 30 s; an incremental sync of one change ≤ 200 ms and 1 request.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import tempfile
import time
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from jobs_common import fresh_engine  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bots.app import make_embedder  # noqa: E402
from connectors.google.auth import GoogleApp, Grant  # noqa: E402
from connectors.google.sync import connect, sync_account  # noqa: E402
from core import accounts  # noqa: E402
from core.config import Settings  # noqa: E402
from core.memory import Memory  # noqa: E402
from core.vault import Vault  # noqa: E402
from db.engine import make_sessionmaker  # noqa: E402
from db.models import Event, MemoryItem, User  # noqa: E402
from tests.fakes.google_calendar import CLIENT_ID, CLIENT_SECRET, FakeGoogleCalendar, instance_id  # noqa: E402

BERLIN = ZoneInfo("Europe/Berlin")
ADA = "ada@example.com"
START = dt.datetime(2025, 3, 3, 9, 0, tzinfo=BERLIN)


def fill(google: FakeGoogleCalendar, events: int, series: int) -> str:
    """The calendar: `series` weekly series with one moved and one cancelled instance each, then single events."""
    for i in range(series):
        first = START + dt.timedelta(minutes=i)
        master = google.colleague_adds(ADA, f"series {i}", first, first + dt.timedelta(minutes=30),
                                       recurrence=["RRULE:FREQ=WEEKLY"])
        moved = first + dt.timedelta(weeks=1)
        google.colleague_modifies(ADA, instance_id(master["id"], moved), start=moved + dt.timedelta(hours=2),
                                  end=moved + dt.timedelta(hours=2, minutes=30), summary=f"series {i} (moved)")
        google.colleague_deletes(ADA, instance_id(master["id"], first + dt.timedelta(weeks=2)))
    last = ""
    for i in range(events - 3 * series):
        at = START + dt.timedelta(hours=i)
        last = google.colleague_adds(ADA, f"event {i}", at, at + dt.timedelta(minutes=45),
                                     location="Room 4" if i % 3 else None)["id"]
    return last


async def main(args: argparse.Namespace) -> None:
    engine, _ = await fresh_engine(args.database_url)
    sessions = make_sessionmaker(engine)
    memory = Memory(make_embedder(Settings(PIXIE_EMBEDDINGS="auto")))
    vault = Vault(None, Path(tempfile.mkdtemp(prefix="pixie-bench-vault-")))
    now = dt.datetime.now(dt.UTC)
    with FakeGoogleCalendar() as google:
        token = google.add_account(ADA)
        last = fill(google, args.events, args.series)
        app = GoogleApp(CLIENT_ID, CLIENT_SECRET, google.api_url, google.token_url)
        async with sessions() as session, session.begin():
            user = User(id=uuid.uuid4(), name="ada", tz="Europe/Berlin", created_at=now)
            session.add(user)
        account, _ = await connect(sessions, vault, app, user.id, Grant(token), now)
        async with sessions() as session:
            fresh = await accounts.get(session, account.id)
        assert fresh is not None

        google.clear_requests()
        began = time.perf_counter()
        first = await sync_account(sessions, vault, memory, app, fresh, now)
        took = time.perf_counter() - began
        async with sessions() as session:
            stored = await session.scalar(select(func.count()).select_from(Event))
            remembered = await session.scalar(select(func.count()).select_from(MemoryItem))
        print(f"first sync: {len(google.calls('events.list'))} events.list requests, {first.written:,} changes "
              f"stored ({stored:,} rows, {remembered:,} memories) in {took:.1f} s (embedder {memory.embedder.name})")

        timings = []
        for n in range(args.repeat):
            google.colleague_modifies(ADA, last, summary=f"renamed {n}")
            google.clear_requests()
            began = time.perf_counter()
            report = await sync_account(sessions, vault, memory, app, fresh, now)
            timings.append(time.perf_counter() - began)
            assert report.written == 1 and len(google.requests) == 1, (report, google.requests)
        timings.sort()
        print(f"incremental sync of one change: 1 request, median {timings[len(timings) // 2] * 1000:.0f} ms, "
              f"max {timings[-1] * 1000:.0f} ms over {args.repeat} runs")

        google.clear_requests()
        began = time.perf_counter()
        report = await sync_account(sessions, vault, memory, app, fresh, now)
        print(f"nothing changed: {len(google.requests)} request, {report.written} written, "
              f"{(time.perf_counter() - began) * 1000:.0f} ms")
    await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--database-url")
    asyncio.run(main(parser.parse_args()))
