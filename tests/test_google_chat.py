"""Google Calendar from chat, through the real python-telegram-bot against the fake Bot API and the real Google
client against the fake Google: `/connect google` (the link only in a DM; the pasted address never stored in
clear), the first sync and its one message, `/calendars`, choosing where new events go, `/disconnect google`."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import html
import re
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from arq import create_pool
from arq.connections import RedisSettings
from fakes.telegram import TOKEN, FakeTelegram
from sqlalchemy import func, select

from bots.app import Runtime, wire_calendars
from bots.telegram import TelegramBot
from connectors.google.auth import GoogleApp
from core.access import parse_owners
from core.inbox import Inbox
from core.notify import Router
from core.privacy import ANSWERED_IN_DM
from core.types import IncomingMessage
from core.vault import Vault
from db.models import Account, Calendar, Event, MemoryItem, Message
from jobs import connectors
from jobs.calendars import register_calendars
from jobs.connectors import job_id
from jobs.context import JobContext
from tests.fakes.google_calendar import CLIENT_ID, CLIENT_SECRET, FakeGoogleCalendar
from tests.jobs_support import Clock, burst

ADA, GROUP = 1001, -4242
ADA_MAIL = "ada@example.com"
MONDAY_9 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))


@pytest.fixture
def google() -> Iterator[FakeGoogleCalendar]:
    with FakeGoogleCalendar() as fake:
        yield fake


@pytest.fixture
def app(google: FakeGoogleCalendar) -> GoogleApp:
    return GoogleApp(CLIENT_ID, CLIENT_SECRET, google.api_url, google.token_url)


@contextlib.asynccontextmanager
async def pixie_on_telegram(rt: Runtime, telegram: FakeTelegram, app: GoogleApp, vault: Vault,
                            redis: RedisSettings) -> AsyncIterator[TelegramBot]:
    """Pixie wired as `pixie run` wires it: Telegram, `/connect google`, and pushes that enqueue a sync job."""
    rt.assistant.access.owners = parse_owners(f"telegram:{ADA}")
    wire_calendars(rt.assistant, rt.sessions, rt.settings, app, vault)
    pool = await create_pool(redis)

    async def push(account_id: str) -> None:
        await pool.enqueue_job("sync_account", account_id, _job_id=job_id(account_id))

    rt.assistant.push = push
    bot = TelegramBot(Inbox(rt.sessions, rt.assistant), TOKEN, telegram.base_url, poll_timeout=1)
    task = asyncio.create_task(bot.run())
    try:
        await telegram.wait_for(lambda: telegram.called("setMyCommands"))
        yield bot
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await pool.aclose()


async def says(telegram: FakeTelegram, text: str, chat_type: str = "private", chat: int = ADA) -> str:
    """Ada sends `text`; the next message Pixie sends her DM."""
    before = len(telegram.to(ADA))
    telegram.user_sends(ADA, text, chat_type=chat_type, chat_id=chat)
    await telegram.wait_for(lambda: len(telegram.to(ADA)) > before)
    return html.unescape(telegram.to(ADA)[-1].text)


def consent_link(text: str) -> dict[str, str]:
    url = re.search(r"https://accounts\.google\.com/\S+", text)
    assert url is not None, text
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url.group(0)).query))


async def stored_texts(rt: Runtime) -> list[str]:
    async with rt.sessions() as session:
        said = list(await session.scalars(select(Message.text)))
        remembered = list(await session.scalars(select(MemoryItem.text)))
    return said + remembered


async def test_connect_google_from_a_telegram_group_sends_the_link_by_dm_and_the_pasted_address_is_never_kept(
        rt: Runtime, telegram: FakeTelegram, google: FakeGoogleCalendar, app: GoogleApp, redis: RedisSettings,
        tmp_path: Path) -> None:
    vault = Vault(None, tmp_path)
    google.add_account(ADA_MAIL)
    google.add_calendar(ADA_MAIL, "Work")
    google.colleague_adds(ADA_MAIL, "weekly sync", MONDAY_9, MONDAY_9 + dt.timedelta(minutes=30),
                          recurrence=["RRULE:FREQ=WEEKLY"])
    async with pixie_on_telegram(rt, telegram, app, vault, redis) as bot:
        # Asked in a group: the group hears only that the answer is in the DM; the link goes to the DM.
        dm = await says(telegram, "/connect@PixieTestBot google", chat_type="supergroup", chat=GROUP)
        await telegram.wait_for(lambda: telegram.to(GROUP))
        assert [s.text for s in telegram.to(GROUP)] == [ANSWERED_IN_DM]
        link = consent_link(dm)
        assert link["client_id"] == CLIENT_ID and link["code_challenge_method"] == "S256"
        assert link["access_type"] == "offline" and "calendar" in link["scope"]

        # Ada consents in her browser; it ends on the loopback address, which she pastes back.
        code = google.issue_auth_code(ADA_MAIL)
        pasted = f"http://127.0.0.1:8976/?state={link['state']}&code={urllib.parse.quote(code)}&scope=x"
        done = await says(telegram, pasted)
        assert f"Connected Google Calendar {ADA_MAIL}" in done and "• Work" in done
        assert "new events go here" in done

        # The token endpoint got the code with the PKCE verifier whose hash the link carried.
        [exchange] = [r for r in google.calls("token") if r.body.get("grant_type") == "authorization_code"]
        verifier = exchange.body["code_verifier"]
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        assert challenge == link["code_challenge"] and exchange.body["code"] == code

        # The first sync runs on the worker, which tells Ada once, on Telegram, when it is done.
        register_calendars(app)
        try:
            jc = JobContext(rt.sessions, rt.memory, Router(rt.sessions, {"telegram": bot}), vault=vault,
                            now=Clock(dt.datetime.now(dt.UTC)))
            await burst(jc, redis)
            await burst(jc, redis)
        finally:
            connectors.unregister_source("google")
        await telegram.wait_for(lambda: "synced" in telegram.to(ADA)[-1].text)
        assert sum("Your Google Calendar is synced: 1 events" in s.text for s in telegram.to(ADA)) == 1

        listing = await says(telegram, "/calendars")
        assert f"Google Calendar {ADA_MAIL} (syncing)" in listing
        assert re.search(rf"• {re.escape(ADA_MAIL)} \(synced\) — new events go here", listing), listing
        assert "• Work" in listing and "Work (synced)" not in listing

    # Neither the code nor the address that carried it is kept anywhere a person or a model reads.
    kept = await stored_texts(rt)
    assert not [t for t in kept if code in t or urllib.parse.quote(code) in t]
    assert any("code=<redacted>" in t for t in kept)
    async with rt.sessions() as session:
        sealed = await session.scalar(select(Account.secret))
        assert sealed is not None and b"1//fake" not in sealed  # the refresh token is encrypted
        assert await session.scalar(select(func.count()).select_from(Event)) == 1


async def test_a_wrong_or_stale_paste_connects_nothing_and_says_why(
        rt: Runtime, telegram: FakeTelegram, google: FakeGoogleCalendar, app: GoogleApp, redis: RedisSettings,
        tmp_path: Path) -> None:
    google.add_account(ADA_MAIL)
    async with pixie_on_telegram(rt, telegram, app, Vault(None, tmp_path), redis):
        first = consent_link(await says(telegram, "/connect google"))
        second = consent_link(await says(telegram, "/connect google"))  # a new link: the first one's answer is stale
        code = google.issue_auth_code(ADA_MAIL)
        stale = await says(telegram, f"http://127.0.0.1:8976/?state={first['state']}&code={code}")
        assert "another attempt" in stale and "/connect google" in stale
        # That attempt is over; a fresh one with a code Google never gave is refused by Google.
        second = consent_link(await says(telegram, "/connect google"))
        refused = await says(telegram, f"http://127.0.0.1:8976/?state={second['state']}&code=4/not-a-code-at-all")
        assert "refused" in refused
    async with rt.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Account)) == 0
    assert not [t for t in await stored_texts(rt) if code in t or "4/not-a-code" in t]


async def chat(rt: Runtime, text: str) -> str:
    reply = await rt.assistant.handle(IncomingMessage("terminal", "ada", text, display_name="ada"),
                                      tz="Europe/Berlin")
    return reply.text


async def test_new_events_go_to_the_calendar_ada_chooses_and_disconnect_asks_first(
        rt: Runtime, google: FakeGoogleCalendar, app: GoogleApp, tmp_path: Path) -> None:
    from connectors.google.sync import connect, sync_account
    from core import accounts

    vault = Vault(None, tmp_path)
    wire_calendars(rt.assistant, rt.sessions, rt.settings, app, vault)
    token = google.add_account(ADA_MAIL)
    work = google.add_calendar(ADA_MAIL, "Work")
    google.colleague_adds(ADA_MAIL, "dentist", MONDAY_9, MONDAY_9 + dt.timedelta(hours=1))
    await chat(rt, "hello")
    async with rt.sessions() as session:
        from db.models import Identity

        ada = await session.scalar(select(Identity.user_id).where(Identity.platform_user_id == "ada"))
    assert ada is not None
    from connectors.google.auth import Grant

    account, _ = await connect(rt.sessions, vault, app, ada, Grant(token), dt.datetime.now(dt.UTC))

    async def sync() -> None:
        async with rt.sessions() as session:
            fresh = await accounts.get(session, account.id)
        assert fresh is not None
        await sync_account(rt.sessions, vault, rt.memory, app, fresh, dt.datetime.now(dt.UTC))

    await sync()
    chosen = await chat(rt, "put new events on Work")
    assert "New events go to “Work”" in chosen and "sync it" in chosen
    assert "• Work (synced) — new events go here" in await chat(rt, "/calendars")
    assert "no calendar called" in await chat(rt, "put new events on Holidays")

    said = await chat(rt, "team lunch friday 12:30")
    assert "12:30" in said, said
    await sync()
    assert [e["summary"].lower() for e in google.events(work)] == ["team lunch"]
    assert [e["summary"] for e in google.events(ADA_MAIL)] == ["dentist"]

    # A lunch made before disconnecting that never reached Google stays, as a local event.
    await chat(rt, "dinner with Sam saturday 19:00")
    question = await chat(rt, "/disconnect google")
    assert f"Disconnect Google Calendar {ADA_MAIL}?" in question and "(yes / no)" in question
    assert "Pixie forgets" in question
    await chat(rt, "no")
    async with rt.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Account)) == 1
    await chat(rt, "/disconnect google")
    gone = await chat(rt, "yes")
    assert f"Disconnected Google Calendar {ADA_MAIL}" in gone and "2 synced event(s) removed" in gone
    assert "1 event(s) you made here" in gone
    async with rt.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Account)) == 0
        assert await session.scalar(select(func.count()).select_from(Calendar)) == 0
        left = list(await session.scalars(select(Event)))
    assert [(e.title.lower(), e.source, e.calendar_id) for e in left] == [("dinner with sam", "chat", None)]
    assert "No calendar is connected" in await chat(rt, "/calendars")
    assert not await refreshes(google, token)  # and Google forgot the grant too


async def refreshes(google: FakeGoogleCalendar, refresh_token: str) -> bool:
    """Whether Google still gives an access token for this refresh token."""
    from google.auth.exceptions import RefreshError
    from google.auth.transport.requests import Request
    from google.oauth2.credentials import Credentials

    creds = Credentials(None, refresh_token=refresh_token, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                        token_uri=google.token_url)
    try:
        await asyncio.to_thread(creds.refresh, Request())
    except RefreshError:
        return False
    return True


async def test_disconnecting_with_the_yes_button_revokes_the_grant_at_google_once_committed(
        rt: Runtime, google: FakeGoogleCalendar, app: GoogleApp, tmp_path: Path) -> None:
    from connectors.google.auth import Grant
    from connectors.google.sync import connect
    from db.models import Identity

    vault = Vault(None, tmp_path)
    wire_calendars(rt.assistant, rt.sessions, rt.settings, app, vault)
    token = google.add_account(ADA_MAIL)
    await chat(rt, "hello")
    async with rt.sessions() as session:
        ada = await session.scalar(select(Identity.user_id).where(Identity.platform_user_id == "ada"))
    assert ada is not None
    await connect(rt.sessions, vault, app, ada, Grant(token), dt.datetime.now(dt.UTC))
    assert await refreshes(google, token)

    asked = await rt.assistant.handle(IncomingMessage("terminal", "ada", "/disconnect google", display_name="ada"))
    assert "revoke its access" in asked.text and [b.label for b in asked.buttons] == ["Yes", "No"]
    assert await refreshes(google, token)  # asking changes nothing, here or at Google
    done = await rt.assistant.press("terminal", "ada", "yes", asked.buttons[0].value)
    assert f"Disconnected Google Calendar {ADA_MAIL}" in done.text
    async with rt.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Account)) == 0
    assert not await refreshes(google, token)


async def test_an_address_pasted_in_slack_form_connects_and_is_kept_masked(
        rt: Runtime, google: FakeGoogleCalendar, app: GoogleApp, tmp_path: Path) -> None:
    wire_calendars(rt.assistant, rt.sessions, rt.settings, app, Vault(None, tmp_path))
    google.add_account(ADA_MAIL)
    link = consent_link(await chat(rt, "how do I connect my google calendar?"))  # in words, as /connect google
    code = google.issue_auth_code(ADA_MAIL)
    # Slack wraps a pasted link in <…|…> and sends & as &amp;
    pasted = f"<http://127.0.0.1:8976/?state={link['state']}&amp;code={code}&amp;scope=x|127.0.0.1:8976/?state=…>"
    assert f"Connected Google Calendar {ADA_MAIL}" in await chat(rt, pasted)
    assert not [t for t in await stored_texts(rt) if code in t]
    async with rt.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Account)) == 1
