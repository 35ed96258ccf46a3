"""`pixie calendar …` against the fake Google, as DESIGN.md has it: connect (headless and by a pasted link),
list, sync, disconnect; settings GOOGLE_CLIENT_ID/SECRET and PIXIE_GOOGLE_API_URL/TOKEN_URL."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from sqlalchemy import func, select
from typer.testing import CliRunner

from bots.app import Runtime
from core.config import get_settings
from db.models import Account, Event, MemoryItem
from tests.fakes.google_calendar import CLIENT_ID, CLIENT_SECRET, FakeGoogleCalendar

ADA = "ada@example.com"
MONDAY_9 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))


@pytest.fixture
def google(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGoogleCalendar]:
    with FakeGoogleCalendar() as fake:
        monkeypatch.setenv("PIXIE_DATA_DIR", str(rt.settings.data_dir))
        if rt.settings.database_url:
            monkeypatch.setenv("PIXIE_DATABASE_URL", rt.settings.database_url)
        for name, value in (("GOOGLE_CLIENT_ID", CLIENT_ID), ("GOOGLE_CLIENT_SECRET", CLIENT_SECRET),
                            ("PIXIE_GOOGLE_API_URL", fake.api_url), ("PIXIE_GOOGLE_TOKEN_URL", fake.token_url),
                            ("PIXIE_LLM", "offline"), ("PIXIE_EMBEDDINGS", "hash")):
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        yield fake
        get_settings.cache_clear()


async def pixie(*args: str, stdin: str | None = None) -> Any:
    """Run `pixie …` (it runs its own event loop: give it a thread)."""
    from bots.cli import app

    return await asyncio.to_thread(CliRunner().invoke, app, list(args), input=stdin)


async def count(rt: Runtime, model: Any) -> int:
    async with rt.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_connect_headless_list_sync_and_disconnect(google: FakeGoogleCalendar, rt: Runtime) -> None:
    token = google.add_account(ADA)
    google.colleague_adds(ADA, "weekly sync", MONDAY_9, MONDAY_9 + dt.timedelta(minutes=30),
                          recurrence=["RRULE:FREQ=WEEKLY"])
    out = await pixie("calendar", "connect", "google", "--refresh-token", token, "--user", "ada")
    assert out.exit_code == 0, out.output
    assert f"Connected Google Calendar {ADA}" in out.stdout and "new events go here" in out.stdout

    listed = json.loads((await pixie("calendar", "list", "--user", "ada", "--json")).stdout)
    assert [(a["provider"], a["account"], a["status"], a["last_synced_at"]) for a in listed] == [
        ("google", ADA, "active", None)]
    assert [(c["name"], c["selected"], c["default"]) for c in listed[0]["calendars"]] == [(ADA, True, True)]

    out = await pixie("calendar", "sync", "--user", "ada")
    assert out.exit_code == 0, out.output
    assert f"{ADA}: 1 calendar(s), 1 changes stored" in out.stdout
    shown = json.loads((await pixie("events", "--user", "ada", "--from", "2025-03-03", "--to", "2025-03-18",
                                    "--json")).stdout)
    berlin = [dt.datetime.fromisoformat(e["start"]).astimezone(MONDAY_9.tzinfo).isoformat()[:16] for e in shown]
    assert list(zip(berlin, [e["title"] for e in shown], [e["source"] for e in shown], strict=True)) == [
        ("2025-03-03T09:00", "weekly sync", "google"), ("2025-03-10T09:00", "weekly sync", "google"),
        ("2025-03-17T09:00", "weekly sync", "google")]

    out = await pixie("calendar", "disconnect", ADA, "--user", "ada")
    assert out.exit_code == 0, out.output
    assert "1 synced event(s) removed" in out.stdout
    assert await count(rt, Account) == 0 and await count(rt, Event) == 0
    async with rt.sessions() as session:
        assert not await session.scalar(select(func.count()).select_from(MemoryItem).where(MemoryItem.kind == "event"))
    creds = Credentials(None, refresh_token=token, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                        token_uri=google.token_url)
    with pytest.raises(RefreshError):  # revoked at Google too
        from google.auth.transport.requests import Request
        await asyncio.to_thread(creds.refresh, Request())


async def test_connect_by_pasting_the_address_the_browser_ended_on(google: FakeGoogleCalendar, rt: Runtime) -> None:
    google.add_account(ADA)
    code = google.issue_auth_code(ADA)
    out = await pixie("calendar", "connect", "google", "--user", "ada",
                      stdin=f"http://127.0.0.1:8976/?code={code}&scope=https://www.googleapis.com/auth/calendar\n")
    assert out.exit_code == 0, out.output
    assert "accounts.google.com" in out.stdout and "code_challenge" in out.stdout
    assert f"Connected Google Calendar {ADA}" in out.stdout

    out = await pixie("calendar", "connect", "google", "--user", "ada", stdin=f"http://127.0.0.1:8976/?code={code}\n")
    assert out.exit_code == 1 and "refused" in out.output  # a code works once


async def test_a_revoked_token_makes_sync_say_reconnect(google: FakeGoogleCalendar, rt: Runtime) -> None:
    token = google.add_account(ADA)
    assert (await pixie("calendar", "connect", "google", "--refresh-token", token, "--user", "ada")).exit_code == 0
    google.revoke(token)
    google.expire_access_tokens()
    out = await pixie("calendar", "sync", "--user", "ada")
    assert out.exit_code == 1 and "reconnect" in out.stdout and token not in out.output
    listed = json.loads((await pixie("calendar", "list", "--user", "ada", "--json")).stdout)
    assert listed[0]["status"] == "auth_expired"


async def test_connect_without_an_oauth_client_says_what_to_set(google: FakeGoogleCalendar,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_CLIENT_ID")
    get_settings.cache_clear()
    out = await pixie("calendar", "connect", "google", "--user", "ada")
    assert out.exit_code == 1 and "GOOGLE_CLIENT_ID" in out.output


async def test_calendar_use_chooses_where_new_events_go_and_list_shows_it(google: FakeGoogleCalendar,
                                                                          rt: Runtime) -> None:
    out = await pixie("calendar", "use", "Work", "--user", "ada")  # nothing connected yet: says how, for a terminal
    assert out.exit_code == 1 and "pixie calendar connect google" in out.output, out.output
    token = google.add_account(ADA)
    work = google.add_calendar(ADA, "Work")
    assert (await pixie("calendar", "connect", "google", "--refresh-token", token, "--user", "ada")).exit_code == 0
    out = await pixie("calendar", "use", "Work", "--user", "ada")
    assert out.exit_code == 0, out.output
    assert "New events go to Work from now on" in out.stdout and "synced from the next sync" in out.stdout
    listed = json.loads((await pixie("calendar", "list", "--user", "ada", "--json")).stdout)
    assert sorted((c["name"], c["selected"], c["default"]) for c in listed[0]["calendars"]) == [
        ("Work", True, True), (ADA, True, False)]
    assert "Work (synced, new events go here)" in (await pixie("calendar", "list", "--user", "ada")).stdout

    out = await pixie("calendar", "use", "Holidays", "--user", "ada")
    assert out.exit_code == 1 and "no calendar called “Holidays”" in out.output
    listed = json.loads((await pixie("calendar", "list", "--user", "ada", "--json")).stdout)
    assert [c["name"] for c in listed[0]["calendars"] if c["default"]] == ["Work"]  # a bad name changes nothing
    assert (await pixie("calendar", "sync", "--user", "ada")).exit_code == 0
    assert google.calls("events.list", work)  # the chosen calendar is synced now
