"""Google Calendar stories, against the fake Google through the real google-api-python-client and Postgres:
connect, a colleague moves the weekly sync, Pixie follows; nothing changed costs one request; 410; reconnect."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from arq.connections import RedisSettings
from sqlalchemy import func, select, update

from bots.app import Runtime
from connectors.google.auth import GoogleApp, Grant
from connectors.google.sync import SyncReport, connect, sync_account
from core import accounts
from core.sources import AuthExpired, NotReady
from core.tools import ToolContext, run_tool
from core.types import IncomingMessage
from core.vault import Vault
from db.models import Account, Calendar, Event, Identity, MemoryItem, User
from jobs import connectors
from jobs.calendars import register_calendars
from tests.fakes.chat_platform import FakeChatPlatform
from tests.fakes.google_calendar import CLIENT_ID, CLIENT_SECRET, FakeGoogleCalendar, instance_id
from tests.jobs_support import Clock, burst, job_context, platform_user

BERLIN = ZoneInfo("Europe/Berlin")
ADA = "ada@example.com"
NOW = dt.datetime(2025, 3, 2, 20, 0, tzinfo=BERLIN)  # a Sunday evening
MONDAY_9 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=BERLIN)


@pytest.fixture
def google() -> Iterator[FakeGoogleCalendar]:
    with FakeGoogleCalendar() as fake:
        yield fake


@pytest.fixture
def app(google: FakeGoogleCalendar) -> GoogleApp:
    return GoogleApp(CLIENT_ID, CLIENT_SECRET, google.api_url, google.token_url)


class Pixie:
    """Ada, talking to Pixie in the terminal, with her Google account connected."""

    def __init__(self, rt: Runtime, app: GoogleApp, vault: Vault) -> None:
        self.rt, self.app, self.vault = rt, app, vault
        self.user_id: uuid.UUID | None = None
        self.account: accounts.Account | None = None

    async def says(self, text: str, now: dt.datetime = NOW) -> str:
        reply = await self.rt.assistant.handle(IncomingMessage("terminal", "ada", text, ts=now, display_name="ada"),
                                               tz="Europe/Berlin")
        return reply.text

    async def connect(self, refresh_token: str) -> None:
        await self.says("hello")
        async with self.rt.sessions() as session:
            self.user_id = await session.scalar(select(Identity.user_id).where(Identity.platform_user_id == "ada"))
        assert self.user_id is not None
        self.account, _ = await connect(self.rt.sessions, self.vault, self.app, self.user_id,
                                        Grant(refresh_token), NOW)

    async def sync(self, now: dt.datetime = NOW) -> SyncReport:
        assert self.account is not None
        async with self.rt.sessions() as session:
            account = await accounts.get(session, self.account.id)
        assert account is not None
        return await sync_account(self.rt.sessions, self.vault, self.rt.memory, self.app, account, now)

    async def tool(self, name: str, args: dict[str, Any], now: dt.datetime = NOW) -> dict[str, Any]:
        async with self.rt.sessions() as session:
            user = await session.get(User, self.user_id)
            assert user is not None
            action = await run_tool(ToolContext(session, user, now, BERLIN, self.rt.memory), name, args)
        assert action.ok, action.result
        return action.result

    async def agenda(self, day: str) -> list[tuple[str, str]]:
        found = await self.tool("list_events", {"start": day, "end": day})
        return [(e["start"][11:16] if not e["all_day"] else e["start"], e["title"]) for e in found["events"]]


@pytest.fixture
def pixie(rt: Runtime, app: GoogleApp, tmp_path: Path) -> Pixie:
    return Pixie(rt, app, Vault(None, tmp_path))


async def rows(rt: Runtime, model: Any = Event) -> int:
    async with rt.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_colleague_moves_the_weekly_sync_and_pixie_says_ada_is_busy_at_10(
        google: FakeGoogleCalendar, pixie: Pixie) -> None:
    await pixie.connect(google.add_account(ADA))
    weekly = google.colleague_adds(ADA, "weekly sync", MONDAY_9, MONDAY_9 + dt.timedelta(minutes=30),
                                   recurrence=["RRULE:FREQ=WEEKLY"])
    google.colleague_adds(ADA, "offsite", dt.date(2025, 3, 5), dt.date(2025, 3, 7))
    first = await pixie.sync()
    assert first.full == [ADA] and first.written == 2
    assert await pixie.agenda("2025-03-03") == [("09:00", "weekly sync")]
    assert await pixie.agenda("2025-03-06") == [("2025-03-05", "offsite")]  # all-day stays its dates
    assert "free" in (await pixie.says("am I free at 10 tomorrow?")).lower()

    # In Google, a colleague moves tomorrow's weekly sync to 10:00 and cancels the one a week later.
    google.colleague_modifies(ADA, instance_id(weekly["id"], MONDAY_9), start=MONDAY_9 + dt.timedelta(hours=1),
                              end=MONDAY_9 + dt.timedelta(hours=1, minutes=30))
    google.colleague_deletes(ADA, instance_id(weekly["id"], MONDAY_9 + dt.timedelta(weeks=1)))
    second = await pixie.sync()
    assert second.full == [] and second.written == 2

    assert await pixie.agenda("2025-03-03") == [("10:00", "weekly sync")]  # moved, not doubled
    assert await pixie.agenda("2025-03-10") == []  # cancelled
    assert await pixie.agenda("2025-03-17") == [("09:00", "weekly sync")]  # the series goes on
    busy = await pixie.tool("check_availability", {"start": "2025-03-03T10:00", "end": "2025-03-03T10:30"})
    assert not busy["free"] and busy["conflicts"][0]["source"] == "google"
    reply = await pixie.says("am I free at 10 tomorrow?")
    assert "weekly sync" in reply and "free" not in reply.lower().replace("not free", "")


async def test_a_second_sync_with_nothing_changed_makes_one_request_per_calendar_and_writes_nothing(
        google: FakeGoogleCalendar, pixie: Pixie, rt: Runtime) -> None:
    refresh_token = google.add_account(ADA)
    team = google.add_calendar(ADA, "Team")
    await pixie.connect(refresh_token)
    async with rt.sessions() as session, session.begin():  # Ada picks her team calendar too
        await session.execute(update(Calendar).values(selected=True))
    google.colleague_adds(ADA, "1:1", MONDAY_9, MONDAY_9 + dt.timedelta(hours=1))
    google.colleague_adds(team, "retro", MONDAY_9 + dt.timedelta(hours=3), MONDAY_9 + dt.timedelta(hours=4))
    await pixie.sync()
    assert await pixie.agenda("2025-03-03") == [("09:00", "1:1"), ("12:00", "retro")]

    async with rt.sessions() as session:
        before = [(e.id, e.updated_at) for e in await session.scalars(select(Event).order_by(Event.id))]
    memories = await rows(rt, MemoryItem)
    google.clear_requests()
    report = await pixie.sync()
    assert [(r.api, r.calendar_id) for r in google.requests] == [("events.list", ADA), ("events.list", team)]
    assert report.requests == 2 and report.written == 0
    async with rt.sessions() as session:
        assert [(e.id, e.updated_at) for e in await session.scalars(select(Event).order_by(Event.id))] == before
    assert await rows(rt, MemoryItem) == memories


async def test_an_expired_sync_token_resyncs_quietly_and_drops_only_what_google_no_longer_has(
        google: FakeGoogleCalendar, pixie: Pixie, rt: Runtime) -> None:
    await pixie.connect(google.add_account(ADA))
    keep = google.colleague_adds(ADA, "dentist", MONDAY_9, MONDAY_9 + dt.timedelta(hours=1))
    gone = google.colleague_adds(ADA, "gym", MONDAY_9 + dt.timedelta(hours=2), MONDAY_9 + dt.timedelta(hours=3))
    await pixie.sync()
    google.expire_sync_tokens(ADA)
    google.colleague_deletes(ADA, gone["id"])
    google.colleague_modifies(ADA, keep["id"], summary="dentist (Dr. Mo)")

    report = await pixie.sync()
    assert report.full == [ADA]
    assert [r.status for r in google.calls("events.list")][-2:] == [410, 200]
    assert await pixie.agenda("2025-03-03") == [("09:00", "dentist (Dr. Mo)")]
    assert await rows(rt) == 1
    google.clear_requests()
    await pixie.sync()  # the new token works
    assert [r.status for r in google.requests] == [200]


async def test_a_sync_cut_short_between_pages_loses_nothing_and_its_retry_doubles_nothing(
        google: FakeGoogleCalendar, rt: Runtime, tmp_path: Path) -> None:
    small = Pixie(rt, GoogleApp(CLIENT_ID, CLIENT_SECRET, google.api_url, google.token_url, retries=0, page_size=2),
                  Vault(None, tmp_path))
    await small.connect(google.add_account(ADA))
    for i in range(5):
        start = MONDAY_9 + dt.timedelta(hours=i)
        google.colleague_adds(ADA, f"talk {i}", start, start + dt.timedelta(minutes=30))
    assert small.account is not None

    def crash(calendar: str, done: int) -> None:
        raise KeyboardInterrupt  # the process dies after the first page was stored

    async with rt.sessions() as session:
        account = await accounts.get(session, small.account.id)
    assert account is not None
    with pytest.raises(KeyboardInterrupt):
        await sync_account(rt.sessions, small.vault, rt.memory, small.app, account, NOW, crash)
    assert await rows(rt) == 2
    await small.sync()
    assert await rows(rt) == 5 and len(await small.agenda("2025-03-03")) == 5

    # New sync code: every token stops counting. Google has a bad moment (503), then starts with an empty
    # page that points on. Nothing local goes meanwhile, and the empty page is not taken for the end.
    async with rt.sessions() as session, session.begin():
        await session.execute(update(Calendar).values(token_version=0))
    google.fail_next(1, 503, only="events.list")
    with pytest.raises(NotReady):
        await small.sync()
    assert len(await small.agenda("2025-03-03")) == 5
    google.empty_pages(1)
    report = await small.sync()
    assert report.full == [ADA] and report.removed == 0 and await rows(rt) == 5


async def test_a_calendar_that_suddenly_lists_empty_keeps_what_pixie_holds(
        google: FakeGoogleCalendar, pixie: Pixie, rt: Runtime) -> None:
    await pixie.connect(google.add_account(ADA))
    event = google.colleague_adds(ADA, "board meeting", MONDAY_9, MONDAY_9 + dt.timedelta(hours=2))
    await pixie.sync()
    with google._lock:  # Google loses the calendar's contents (no deletions were ever announced)
        google.calendars[ADA].events.clear()
    google.expire_sync_tokens(ADA)
    await pixie.sync()
    assert await pixie.agenda("2025-03-03") == [("09:00", "board meeting")]
    assert event["id"]


async def test_a_revoked_grant_asks_to_reconnect_and_deleted_events_leave_pixie(
        google: FakeGoogleCalendar, pixie: Pixie, rt: Runtime) -> None:
    token = google.add_account(ADA)
    await pixie.connect(token)
    lunch = google.colleague_adds(ADA, "lunch with Bo", MONDAY_9 + dt.timedelta(hours=3),
                                  MONDAY_9 + dt.timedelta(hours=4), location="Café Kranzler")
    await pixie.sync()
    assert "lunch with Bo" in await pixie.says("what did I plan with Bo?")
    google.colleague_deletes(ADA, lunch["id"])
    await pixie.sync()
    assert await pixie.agenda("2025-03-03") == [] and await rows(rt) == 0
    async with rt.sessions() as session:
        assert not await session.scalar(select(func.count()).select_from(MemoryItem).where(
            MemoryItem.kind == "event"))

    google.revoke(token)
    google.expire_access_tokens()
    with pytest.raises(AuthExpired):
        await pixie.sync()


async def test_tokens_are_stored_encrypted_and_a_refreshed_access_token_is_reused(
        google: FakeGoogleCalendar, pixie: Pixie, rt: Runtime) -> None:
    token = google.add_account(ADA)
    await pixie.connect(token)
    async with rt.sessions() as session:
        sealed = await session.scalar(select(Account.secret))
    assert sealed is not None and token.encode() not in sealed
    google.clear_requests()
    await pixie.sync()
    await pixie.sync()
    assert [r.api for r in google.requests] == ["events.list", "events.list"]  # no token request: it was kept


async def test_the_worker_syncs_says_so_once_and_asks_once_to_reconnect_when_the_grant_is_revoked(
        google: FakeGoogleCalendar, app: GoogleApp, rt: Runtime, redis: RedisSettings, fake: FakeChatPlatform,
        tmp_path: Path) -> None:
    clock = Clock(NOW)
    ada = await platform_user(rt, "ada", "Europe/Berlin", clock(), digest=False)
    vault = Vault(None, tmp_path)
    token = google.add_account(ADA)
    await connect(rt.sessions, vault, app, ada.id, Grant(token), clock())
    google.colleague_adds(ADA, "weekly sync", MONDAY_9, MONDAY_9 + dt.timedelta(minutes=30),
                          recurrence=["RRULE:FREQ=WEEKLY"])
    register_calendars(app)
    try:
        await burst(job_context(rt, fake.url, clock, vault=vault), redis)
        assert fake.texts() == ["📅 Your Google Calendar is synced: 1 events from 1 calendar(s). "
                                "I'll keep it up to date every few minutes."]
        google.revoke(token)
        google.expire_access_tokens()
        for minutes in (5, 10, 15):  # three cron rounds: the user hears it once
            clock.value = NOW + dt.timedelta(minutes=minutes)
            await burst(job_context(rt, fake.url, clock, vault=vault), redis)
    finally:
        connectors.unregister_source("google")
    told = fake.texts()[1:]
    assert len(told) == 1 and "Reconnect it with /connect google" in told[0] and token not in told[0]
    async with rt.sessions() as session:
        assert await session.scalar(select(Account.status)) == "auth_expired"
    assert await rows(rt) == 1  # what was synced stays until the user disconnects


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_edits_in_google_then_sync_leave_pixie_equal_to_google(
        google: FakeGoogleCalendar, rt: Runtime, tmp_path: Path, seed: int) -> None:
    """A seeded random walk (vdirsyncer-style): colleagues add, change, delete, move and cancel occurrences,
    tokens expire and pages come back empty; after every sync Pixie holds exactly what Google holds."""
    import random

    rnd = random.Random(seed)
    small = Pixie(rt, GoogleApp(CLIENT_ID, CLIENT_SECRET, google.api_url, google.token_url, retries=0, page_size=3),
                  Vault(None, tmp_path))
    await small.connect(google.add_account(ADA))
    series: dict[str, dt.datetime] = {}
    for step in range(30):
        live = [e for e in google.events(ADA) if "recurringEventId" not in e]
        move = rnd.random()
        if move < 0.3 or not live:
            start = MONDAY_9 + dt.timedelta(days=rnd.randrange(14), hours=rnd.randrange(8))
            weekly = rnd.random() < 0.3
            made = google.colleague_adds(ADA, f"e{step}", start, start + dt.timedelta(minutes=30),
                                         **({"recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"]} if weekly else {}))
            if weekly:
                series[made["id"]] = start
        elif move < 0.45:
            google.colleague_modifies(ADA, rnd.choice(live)["id"], summary=f"renamed {step}")
        elif move < 0.55:
            gone = rnd.choice(live)["id"]
            google.colleague_deletes(ADA, gone)
            series.pop(gone, None)
        elif move < 0.75 and series:
            master, first = rnd.choice(sorted(series.items()))
            at = first + dt.timedelta(weeks=rnd.randrange(4))
            if google.event(ADA, instance_id(master, at)) is None or rnd.random() < 0.5:
                if rnd.random() < 0.5:
                    google.colleague_deletes(ADA, instance_id(master, at))
                else:
                    google.colleague_modifies(ADA, instance_id(master, at), start=at + dt.timedelta(hours=1),
                                              end=at + dt.timedelta(hours=1, minutes=30))
        elif move < 0.85:
            google.expire_sync_tokens(ADA)
        else:
            google.empty_pages(rnd.randrange(1, 3))
        if rnd.random() < 0.5:
            continue
        await small.sync()
        await assert_same(small, google, series)
    await small.sync()
    await assert_same(small, google, series)


async def assert_same(pixie: Pixie, google: FakeGoogleCalendar, series: dict[str, dt.datetime]) -> None:
    """Pixie's rows mirror Google's events, and its agenda shows each occurrence once, where Google has it."""
    async with pixie.rt.sessions() as session:
        mine = {e.external_id: (e.title, e.start_at) for e in await session.scalars(
            select(Event).where(Event.status != "cancelled"))}
    everything = {e["id"]: e for e in google.events(ADA, include_cancelled=True)}
    theirs = {eid: e for eid, e in everything.items() if e["status"] != "cancelled"}
    assert mine == {eid: (e["summary"], dt.datetime.fromisoformat(e["start"]["dateTime"])) for eid, e in theirs.items()}
    expected = []
    for e in theirs.values():
        start = dt.datetime.fromisoformat(e["start"]["dateTime"]).astimezone(BERLIN)
        if e.get("recurrence"):
            for week in range(4):
                at = start + dt.timedelta(weeks=week)  # on Berlin's wall clock, across the DST change
                if instance_id(e["id"], at) not in everything:
                    expected.append((at, e["summary"]))
        else:
            expected.append((start, e["summary"]))
    shown = await pixie.tool("list_events", {"start": "2025-03-01", "end": "2025-05-01"})
    got = sorted((dt.datetime.fromisoformat(e["start"]), e["title"]) for e in shown["events"])
    assert got == sorted(expected)
