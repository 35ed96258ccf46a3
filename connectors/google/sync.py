"""The incremental sync of one Google account into Pixie's own calendar (Home Assistant's coordinator role).

Per selected calendar: a first sync pages through everything and keeps `nextSyncToken` from the
last page; later syncs send only that token. Each page is written in its own transaction through the
`apply_remote_events` tool (core/synced.py), and the token is saved with the last page, so a sync
cut short between pages starts over and its upserts land on the same rows. A 410 (or a token made
by older sync code) means a full sync again, quietly: what the complete listing no longer holds is
pruned only once the listing is complete, so no error ever leaves the calendar emptied, and a
listing that came back empty never deletes what was there (vdirsyncer's guard).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.google.auth import GoogleApp, Grant
from connectors.google.client import GoogleCalendar
from connectors.google.push import PushReport, push_account
from core import accounts, clock
from core import synced as _synced  # noqa: F401  (registers the sync's tools)
from core.memory import Memory
from core.sources import AuthExpired, CursorExpired, RemovedEvent, SourceFailed
from core.tools import ToolContext, run_tool
from core.vault import Vault
from db.models import Calendar, Event, User

log = logging.getLogger(__name__)

PROVIDER = "google"
LIST_EVERY = dt.timedelta(hours=24)  # how often the account's list of calendars is read again
Progress = Callable[[str, int], None]  # (calendar name, changes applied so far)


@dataclass
class SyncReport:
    """What one sync of an account did."""

    calendars: int = 0
    requests: int = 0
    written: int = 0
    removed: int = 0
    full: list[str] = field(default_factory=list)  # calendars synced from scratch (first sync, 410, new version)
    first: bool = False  # some calendar had never been synced before
    pushed: PushReport = field(default_factory=PushReport)  # what the user's chat changes did in Google


async def connect(sessions: async_sessionmaker, vault: Vault, app: GoogleApp, user_id: uuid.UUID, grant: Grant,
                  now: dt.datetime) -> tuple[accounts.Account, list[Calendar]]:
    """Check the grant by listing the calendars, then store the account (token encrypted) and its calendars."""
    client = GoogleCalendar(app, grant)
    try:
        found = await client.calendars()
    finally:
        client.close()
    primary = next((c for c in found if c.primary), None)
    if primary is None:
        raise SourceFailed("the Google account has no primary calendar")
    async with sessions() as session, session.begin():
        account = await accounts.connect(session, vault, user_id=user_id, provider=PROVIDER, kind="calendar",
                                         remote_id=primary.remote_id, secret=client.grant.to_secret(), now=now)
        calendars = await accounts.save_calendars(session, account, found, now)
        await accounts.save_cursor(session, account.id, {"listed_at": now.isoformat()})
    return account, calendars


def _listed_long_ago(account: accounts.Account, now: dt.datetime) -> bool:
    listed = (account.cursor or {}).get("listed_at")
    return listed is None or now - dt.datetime.fromisoformat(listed) > LIST_EVERY


class _Syncer:
    """One sync of one account: the client, where it writes, and what it did."""

    def __init__(self, sessions: async_sessionmaker, memory: Memory, client: GoogleCalendar,
                 account: accounts.Account, now: dt.datetime, progress: Progress | None) -> None:
        self.sessions, self.memory, self.client, self.account = sessions, memory, client, account
        self.now, self.progress = now, progress
        self.report = SyncReport()

    async def _tool(self, session: AsyncSession, name: str, args: dict[str, Any]) -> dict[str, Any]:
        user = await session.get(User, self.account.user_id)
        assert user is not None
        ctx = ToolContext(session, user, self.now, clock.zone(user.tz), self.memory, source=PROVIDER)
        action = await run_tool(ctx, name, args)
        if not action.ok:
            raise SourceFailed(f"{name}: {action.result.get('error')}")
        return action.result

    async def calendar(self, cal: Calendar) -> None:
        """Sync one calendar: from its token, or from scratch when it has none (or Google dropped it)."""
        self.report.calendars += 1
        self.report.first |= cal.synced_at is None
        cursor = accounts.sync_cursor(cal)
        try:
            await self._pages(cal, cursor)
        except CursorExpired:
            if cursor is None:
                raise  # a full sync refused: not a token problem
            log.info("calendar %s: sync token expired; syncing it from scratch", cal.id)
            await self._pages(cal, None)

    async def _pages(self, cal: Calendar, cursor: str | None) -> None:
        full = cursor is None
        if full:
            self.report.full.append(cal.name)
        seen: set[str] = set()
        done = 0
        async for page in self.client.changes(cal.remote_id, cursor):
            if full:
                seen.update(c.external_id for c in page.changes
                            if not (isinstance(c, RemovedEvent) and c.series_id is None))
            last = page.cursor is not None
            if not page.changes and not (last and full):
                continue  # nothing to write; on an incremental sync the stored token still holds
            async with self.sessions() as session, session.begin():
                if page.changes:
                    result = await self._tool(session, "apply_remote_events",
                                              {"calendar_id": str(cal.id), "changes": list(page.changes)})
                    self.report.written += int(result["written"])
                    self.report.removed += int(result["removed"])
                if last and full and not await self._prune(session, cal, seen):
                    continue  # the token is not kept: the next sync looks at everything again
                if last:
                    await accounts.save_sync_token(session, cal.id, page.cursor, self.now)
            done += len(page.changes)
            if self.progress is not None:
                self.progress(cal.name, done)

    async def _prune(self, session: AsyncSession, cal: Calendar, seen: set[str]) -> bool:
        """Drop what a complete listing no longer holds; False when the listing was suspiciously empty."""
        if not seen:
            held = await session.scalar(
                select(func.count()).select_from(Event).where(Event.calendar_id == cal.id))
            if held:
                log.warning("calendar %s: Google listed no events where Pixie holds %d; keeping them", cal.id, held)
                return False
        result = await self._tool(session, "prune_remote_events", {"calendar_id": str(cal.id), "keep": sorted(seen)})
        self.report.removed += int(result["removed"])
        return True


async def sync_account(sessions: async_sessionmaker, vault: Vault, memory: Memory, app: GoogleApp,
                       account: accounts.Account, now: dt.datetime, progress: Progress | None = None) -> SyncReport:
    """One sync of every selected calendar of a Google account; raises core.sources errors."""
    async with sessions() as session:
        secret = await accounts.read_secret(session, vault, account.id)
    if secret is None:
        raise AuthExpired("no Google token is stored for this account")
    grant = Grant.from_secret(secret)
    client = GoogleCalendar(app, grant)
    syncer = _Syncer(sessions, memory, client, account, now, progress)
    try:
        # What the user changed in chat goes first (so nothing waits on a lost enqueue), then what changed there.
        syncer.report.pushed = await push_account(sessions, memory, client, account, now)
        if _listed_long_ago(account, now):
            found = await client.calendars()
            async with sessions() as session, session.begin():
                await accounts.save_calendars(session, account, found, now)
                await accounts.save_cursor(session, account.id, {**(account.cursor or {}),
                                                                 "listed_at": now.isoformat()})
        async with sessions() as session:
            chosen = list(await session.scalars(select(Calendar).where(
                Calendar.account_id == account.id, Calendar.selected).order_by(Calendar.created_at)))
        for cal in chosen:
            await syncer.calendar(cal)
    finally:
        syncer.report.requests = client.requests
        if client.grant != grant:  # a refreshed access token: keep it, so the next sync need not refresh
            async with sessions() as session, session.begin():
                await accounts.store_secret(session, vault, account.id, client.grant.to_secret())
        client.close()
    return syncer.report
