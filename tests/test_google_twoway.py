"""Two-way Google Calendar stories: what Ada makes, moves or cancels in chat reaches Google (off the turn),
under Pixie's id, inviting no one, with If-Match; edits on both sides merge and the newer one wins."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bots.app import Runtime
from connectors.google.auth import GoogleApp, Grant
from connectors.google.client import GoogleCalendar
from core import accounts
from core.twoway import remote_of
from core.vault import Vault
from db.models import Event
from tests.fakes.google_calendar import CLIENT_ID, CLIENT_SECRET, FakeGoogleCalendar
from tests.test_google_sync import ADA, BERLIN, NOW, Pixie

FRIDAY_1230 = dt.datetime(2025, 3, 7, 12, 30, tzinfo=BERLIN)


class Clock:
    """Google's clock, moved by the story."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def google_clock() -> Clock:
    return Clock()


@pytest.fixture
def google(google_clock: Clock) -> Iterator[FakeGoogleCalendar]:
    with FakeGoogleCalendar(clock=google_clock) as fake:
        yield fake


@pytest.fixture
def pixie(rt: Runtime, google: FakeGoogleCalendar, tmp_path: Path) -> Pixie:
    return Pixie(rt, GoogleApp(CLIENT_ID, CLIENT_SECRET, google.api_url, google.token_url), Vault(None, tmp_path))


async def lunch(rt: Runtime) -> Event:
    async with rt.sessions() as session:
        found = list(await session.scalars(select(Event).where(Event.title.ilike("%priya%"))))
    assert len(found) == 1, [e.title for e in found]
    return found[0]


async def made_lunch(pixie: Pixie, google: FakeGoogleCalendar) -> Event:
    await pixie.connect(google.add_account(ADA))
    await pixie.sync()
    said = await pixie.says("lunch with Priya friday 12:30")
    assert "12:30" in said, said
    ev = await lunch(pixie.rt)
    assert ev.push == "create" and ev.source == "google"  # owed to Google; the turn itself called no one
    assert google.calls("events.insert") == []
    return ev


async def test_lunch_made_in_chat_lands_in_google_under_pixies_id_inviting_no_one(
        google: FakeGoogleCalendar, pixie: Pixie) -> None:
    ev = await made_lunch(pixie, google)
    report = await pixie.sync()
    assert report.pushed.created == 1
    [insert] = google.calls("events.insert")
    assert insert.query.get("sendUpdates") == "none"
    remote = google.event(ADA, ev.external_id or "")
    assert remote is not None and remote["summary"].lower() == "lunch with priya"
    assert "attendees" not in remote
    assert dt.datetime.fromisoformat(remote["start"]["dateTime"]) == FRIDAY_1230
    settled = await lunch(pixie.rt)
    assert settled.push is None and settled.etag == remote["etag"]
    # The next sync brings it back as the same one event, not a second.
    await pixie.sync()
    assert len([e for e in google.events(ADA)]) == 1
    async with pixie.rt.sessions() as session:
        assert len(list(await session.scalars(select(Event)))) == 1


async def test_moving_and_cancelling_in_chat_patch_and_delete_with_if_match(
        google: FakeGoogleCalendar, pixie: Pixie) -> None:
    ev = await made_lunch(pixie, google)
    await pixie.sync()
    etag = (await lunch(pixie.rt)).etag
    said = await pixie.says("move lunch with Priya to friday 13:30")
    assert "13:30" in said, said
    assert (await lunch(pixie.rt)).push == "update"
    await pixie.sync()
    [patch] = google.calls("events.patch")
    assert patch.headers.get("If-Match") == etag and patch.query.get("sendUpdates") == "none"
    remote = google.event(ADA, ev.external_id or "")
    assert remote is not None
    assert dt.datetime.fromisoformat(remote["start"]["dateTime"]) == FRIDAY_1230 + dt.timedelta(hours=1)

    said = await pixie.says("cancel lunch with Priya")
    assert "cancel" in said.lower(), said
    await pixie.sync()
    [delete] = google.calls("events.delete")
    assert delete.headers.get("If-Match") == remote["etag"]
    assert (google.event(ADA, ev.external_id or "") or {}).get("status") == "cancelled"
    async with pixie.rt.sessions() as session:
        assert list(await session.scalars(select(Event))) == []


async def test_a_colleagues_newer_edit_wins_and_adas_move_is_kept_in_history(
        google: FakeGoogleCalendar, google_clock: Clock, pixie: Pixie) -> None:
    ev = await made_lunch(pixie, google)
    await pixie.sync()
    # Ada moves it to 13:30 at 20:05; at 20:10 a colleague moves it to 14:00 in Google, before any sync.
    await pixie.says("move lunch with Priya to friday 13:30", now=NOW + dt.timedelta(minutes=5))
    google_clock.now = NOW + dt.timedelta(minutes=10)
    two = FRIDAY_1230 + dt.timedelta(hours=1, minutes=30)
    google.colleague_modifies(ADA, ev.external_id or "", start=two, end=two + dt.timedelta(hours=1))
    report = await pixie.sync(NOW + dt.timedelta(minutes=15))
    assert report.pushed.conflicts == 1  # 412, fetched, and the newer edit was the colleague's
    remote = google.event(ADA, ev.external_id or "")
    assert remote is not None and dt.datetime.fromisoformat(remote["start"]["dateTime"]) == two
    now = await lunch(pixie.rt)
    assert now.start_at == two and now.push is None
    [kept] = now.history or []
    assert kept["lost"] == "local" and dt.datetime.fromisoformat(kept["start_at"]) == FRIDAY_1230 + dt.timedelta(
        hours=1)
    assert "14:00" in await pixie.says("what's on friday?", now=NOW + dt.timedelta(minutes=16))


async def test_adas_newer_move_wins_over_an_older_remote_edit_and_a_rename_is_merged(
        google: FakeGoogleCalendar, google_clock: Clock, pixie: Pixie) -> None:
    ev = await made_lunch(pixie, google)
    await pixie.sync()
    google_clock.now = NOW + dt.timedelta(minutes=1)  # the colleague first: renames it and moves it to 14:00
    two = FRIDAY_1230 + dt.timedelta(hours=1, minutes=30)
    google.colleague_modifies(ADA, ev.external_id or "", summary="Lunch with Priya and Sam", start=two,
                              end=two + dt.timedelta(hours=1))
    await pixie.says("move lunch with Priya to friday 13:30", now=NOW + dt.timedelta(minutes=5))
    # The sync pulls the colleague's edit first time round here? No: the push goes first and meets a 412.
    await pixie.sync(NOW + dt.timedelta(minutes=6))
    remote = google.event(ADA, ev.external_id or "")
    assert remote is not None
    assert dt.datetime.fromisoformat(remote["start"]["dateTime"]) == FRIDAY_1230 + dt.timedelta(hours=1)
    assert remote["summary"] == "Lunch with Priya and Sam"  # a different field: both edits kept
    now = await lunch(pixie.rt)
    assert now.title == "Lunch with Priya and Sam" and now.push is None and now.etag == remote["etag"]
    [kept] = now.history or []
    assert kept["lost"] == "remote" and dt.datetime.fromisoformat(kept["start_at"]) == two


async def test_a_retry_after_a_crash_mid_push_makes_no_second_event(
        google: FakeGoogleCalendar, pixie: Pixie) -> None:
    ev = await made_lunch(pixie, google)
    # The first push reached Google, then the worker died before recording it.
    assert pixie.account is not None
    async with pixie.rt.sessions() as session:
        secret = await accounts.read_secret(session, pixie.vault, pixie.account.id)
    client = GoogleCalendar(pixie.app, Grant.from_secret(secret or ""))
    try:
        await client.create_event(ADA, remote_of(ev))
    finally:
        client.close()
    await pixie.sync()
    assert [c.status for c in google.calls("events.insert")] == [200, 409]
    assert len(google.events(ADA)) == 1
    assert (await lunch(pixie.rt)).push is None


async def test_without_a_connected_account_an_event_stays_local(pixie: Pixie) -> None:
    await pixie.says("lunch with Priya friday 12:30")
    ev = await lunch(pixie.rt)
    assert ev.source == "chat" and ev.calendar_id is None and ev.push is None and ev.external_id is None


async def test_the_turn_asks_for_a_push_of_the_account_it_changed(google: FakeGoogleCalendar, pixie: Pixie) -> None:
    asked: list[str] = []

    async def push(account_id: str) -> None:
        asked.append(account_id)

    pixie.rt.assistant.push = push
    await made_lunch(pixie, google)
    assert pixie.account is not None and asked == [str(pixie.account.id)]
    await pixie.says("what's on friday?")
    assert asked == [str(pixie.account.id)]  # a read owes nothing
    assert uuid.UUID(asked[0])


async def test_the_app_enqueues_the_accounts_sync_job_once(redis) -> None:  # type: ignore[no-untyped-def]
    from arq.connections import create_pool

    from bots.app import CalendarPush
    from core.config import Settings

    url = f"redis://{redis.host}:{redis.port}/{redis.database}"
    pusher = CalendarPush(Settings(redis_url=url))
    account = str(uuid.uuid4())
    try:
        await pusher(account)
        await pusher(account)  # a second turn before the worker ran: still one job
    finally:
        await pusher.aclose()
    pool = await create_pool(redis)
    try:
        jobs = await pool.queued_jobs()
        assert [(j.function, j.args, j.job_id) for j in jobs] == [("sync_account", (account,), f"sync:{account}")]
    finally:
        await pool.aclose()


TUESDAY_930 = dt.datetime(2025, 3, 4, 9, 30, tzinfo=BERLIN)
WEDNESDAY_14 = dt.datetime(2025, 3, 5, 14, 0, tzinfo=BERLIN)
MONDAY_8 = dt.datetime(2025, 3, 3, 8, 0, tzinfo=BERLIN)


async def test_one_occurrence_cancelled_or_moved_in_chat_becomes_an_exception_in_google_and_the_series_stays(
        google: FakeGoogleCalendar, pixie: Pixie) -> None:
    from tests.fakes.google_calendar import instance_id

    await pixie.connect(google.add_account(ADA))
    standup = google.colleague_adds(ADA, "standup", TUESDAY_930, TUESDAY_930 + dt.timedelta(minutes=15),
                                    recurrence=["RRULE:FREQ=WEEKLY"])
    one_on_one = google.colleague_adds(ADA, "1:1 with Sam", WEDNESDAY_14, WEDNESDAY_14 + dt.timedelta(hours=1),
                                       recurrence=["RRULE:FREQ=WEEKLY"])
    await pixie.sync()
    masters = {m["id"]: google.event(ADA, m["id"]) for m in (standup, one_on_one)}

    said = await pixie.says("cancel next tuesday's standup")
    assert "standup" in said.lower() and "cancel" in said.lower(), said
    said = await pixie.says("move this week's 1:1 to 3pm", now=MONDAY_8)
    assert "15:00" in said, said
    assert await pixie.agenda("2025-03-04") == []
    assert await pixie.agenda("2025-03-05") == [("15:00", "1:1 with Sam")]
    assert await pixie.agenda("2025-03-11") == [("09:30", "standup")]  # the series goes on, here too

    google.clear_requests()
    report = await pixie.sync(now=MONDAY_8)
    assert report.pushed.deleted == 1 and report.pushed.updated == 1 and report.pushed.conflicts == 0
    writes = [r for r in google.requests if r.api in ("events.patch", "events.delete", "events.update")]
    cancelled, moved = instance_id(standup["id"], TUESDAY_930), instance_id(one_on_one["id"], WEDNESDAY_14)
    assert sorted((r.api, r.path.rsplit("/", 1)[-1]) for r in writes) == sorted(
        [("events.delete", cancelled), ("events.patch", moved)])
    assert all(r.headers.get("If-Match") for r in writes) and all(r.query.get("sendUpdates") == "none"
                                                                  for r in writes)
    assert google.event(ADA, cancelled)["status"] == "cancelled"  # type: ignore[index]
    instance = google.event(ADA, moved)
    assert instance is not None and instance["recurringEventId"] == one_on_one["id"]
    assert dt.datetime.fromisoformat(instance["start"]["dateTime"]) == WEDNESDAY_14 + dt.timedelta(hours=1)
    for master_id, before in masters.items():  # the series themselves are untouched
        assert google.event(ADA, master_id) == before

    await pixie.sync(now=MONDAY_8)  # Google's listing of the two exceptions lands on the same rows
    assert await pixie.agenda("2025-03-04") == []
    assert await pixie.agenda("2025-03-05") == [("15:00", "1:1 with Sam")]
    assert await pixie.agenda("2025-03-12") == [("14:00", "1:1 with Sam")]
    async with pixie.rt.sessions() as session:
        owed = await session.scalar(select(func.count()).select_from(Event).where(Event.push.is_not(None)))
        rows = await session.scalar(select(func.count()).select_from(Event))
    assert owed == 0 and rows == 4  # two series, two exceptions: nothing doubled


async def test_an_occurrence_edited_in_google_meanwhile_is_merged_not_trampled(
        google: FakeGoogleCalendar, google_clock: Clock, pixie: Pixie) -> None:
    from tests.fakes.google_calendar import instance_id

    await pixie.connect(google.add_account(ADA))
    standup = google.colleague_adds(ADA, "standup", TUESDAY_930, TUESDAY_930 + dt.timedelta(minutes=15),
                                    recurrence=["RRULE:FREQ=WEEKLY"])
    await pixie.sync()
    said = await pixie.says("move tuesday's standup to 11am")
    assert "11:00" in said, said
    google_clock.now = NOW + dt.timedelta(minutes=5)  # later, a colleague renames that occurrence in Google
    google.colleague_modifies(ADA, instance_id(standup["id"], TUESDAY_930), summary="standup (demo day)")
    await pixie.sync(now=NOW + dt.timedelta(minutes=1))
    instance = google.event(ADA, instance_id(standup["id"], TUESDAY_930))
    assert instance is not None and instance["summary"] == "standup (demo day)"  # their rename stays
    moved = dt.datetime.fromisoformat(instance["start"]["dateTime"])
    assert moved == TUESDAY_930.replace(hour=11, minute=0)  # our move too
    assert await pixie.agenda("2025-03-04") == [("11:00", "standup (demo day)")]


async def test_a_local_series_loses_one_occurrence_only(pixie: Pixie) -> None:
    from db.models import Identity

    await pixie.says("hello")
    async with pixie.rt.sessions() as session:
        pixie.user_id = await session.scalar(select(Identity.user_id).where(Identity.platform_user_id == "ada"))
    said = await pixie.says("yoga class every tuesday at 7pm")
    assert "19:00" in said, said
    await pixie.says("cancel next tuesday's yoga class")
    assert await pixie.agenda("2025-03-04") == []
    assert await pixie.agenda("2025-03-11") == [("19:00", "Yoga class")]
    asked = await pixie.says("cancel the yoga class on march 5")
    assert "no occurrence" in asked
    assert await pixie.agenda("2025-03-18") == [("19:00", "Yoga class")]
