"""Write what the user changed in chat to Google: the other half of two-way sync (core/twoway.py decides).

Every event of the account marked `push` is sent on its own: a create under the id Pixie chose
(a retry after a crash gets 409 and finds the first one: no double), an update or a delete with
`If-Match` its etag, `sendUpdates=none` always. A 412 means someone edited it in Google since: the
current version is fetched and merged (never trampling a newer edit), and the merge is pushed
again if it still owes Google something. What Google answered is recorded through the
`settle_pushed_event` tool, in its own transaction per event.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from connectors.google.client import GoogleCalendar
from core import accounts, clock
from core.memory import Memory
from core.sources import EtagMismatch, RemoteEvent, SourceFailed
from core.tools import ToolContext, run_tool
from core.twoway import remote_of
from db.models import Calendar, Event, User

log = logging.getLogger(__name__)

ROUNDS = 3  # fetch-merge-retry rounds for one event before it waits for the next sync


@dataclass
class PushReport:
    """What one push of an account did."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    conflicts: int = 0


async def _settle(sessions: async_sessionmaker, memory: Memory, account: accounts.Account, now: dt.datetime,
                  event_id: uuid.UUID, pushed_at: dt.datetime, remote: RemoteEvent | None,
                  conflict: bool = False) -> None:
    async with sessions() as session, session.begin():
        user = await session.get(User, account.user_id)
        assert user is not None
        ctx = ToolContext(session, user, now, clock.zone(user.tz), memory, source=account.provider)
        done = await run_tool(ctx, "settle_pushed_event", {"event_id": str(event_id), "pushed_at": pushed_at,
                                                           "remote": remote, "conflict": conflict})
        if not done.ok:
            raise SourceFailed(f"settle_pushed_event: {done.result.get('error')}")


async def _owed(sessions: async_sessionmaker, account_id: uuid.UUID,
                event_id: uuid.UUID | None = None) -> list[tuple[Event, str]]:
    async with sessions() as session:
        query = (select(Event, Calendar.remote_id).join(Calendar, Calendar.id == Event.calendar_id)
                 .where(Calendar.account_id == account_id, Event.push.is_not(None)).order_by(Event.updated_at))
        if event_id is not None:
            query = query.where(Event.id == event_id)
        return [(ev, cal) for ev, cal in await session.execute(query)]


async def push_account(sessions: async_sessionmaker, memory: Memory, client: GoogleCalendar,
                       account: accounts.Account, now: dt.datetime) -> PushReport:
    """Send every change the account's events owe Google; raises core.sources errors (AuthExpired, NotReady)."""
    report = PushReport()
    for ev, calendar_id in await _owed(sessions, account.id):
        for _ in range(ROUNDS):
            try:
                if ev.series_id and not ev.etag:  # one occurrence changed here: Google's version of it first,
                    # so the write carries its etag (If-Match) and a change made there meanwhile is merged
                    current = await client.get_event(calendar_id, ev.external_id or "")
                    await _settle(sessions, memory, account, now, ev.id, ev.updated_at, current, conflict=True)
                elif ev.push == "delete":
                    await client.delete_event(calendar_id, ev.external_id or "", ev.etag)
                    await _settle(sessions, memory, account, now, ev.id, ev.updated_at, None)
                    report.deleted += 1
                elif ev.push == "create":
                    made = await client.create_event(calendar_id, remote_of(ev))
                    await _settle(sessions, memory, account, now, ev.id, ev.updated_at, made)
                    report.created += 1
                else:
                    made = await client.update_event(calendar_id, remote_of(ev))
                    await _settle(sessions, memory, account, now, ev.id, ev.updated_at, made)
                    report.updated += 1
            except EtagMismatch:  # edited in Google since Pixie last saw it: merge with that version
                report.conflicts += 1
                current = await client.get_event(calendar_id, ev.external_id or "")
                await _settle(sessions, memory, account, now, ev.id, ev.updated_at, current, conflict=True)
            again = await _owed(sessions, account.id, ev.id)
            if not again:
                break
            ev = again[0][0]
        else:
            log.info("event %s: still changing in Google after %d rounds; the next sync tries again", ev.id, ROUNDS)
    return report
