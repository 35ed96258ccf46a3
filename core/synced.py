"""Events synced from a connected calendar, written through tools like every other change of user data.

The tools here are never offered to a model: the calendar sync (connectors/google/sync.py) runs them
with `ToolContext(source="google")`. A page of changes is applied in one call: masters and single
events are upserted by (user, source, remote id); a cancelled instance of a series is kept as a
cancelled exception, which hides that instance (core.tools.expand); a deleted event goes, with its
exceptions and what memory derived from it. All-day events arrive as dates and become the midnights
of the calendar's own zone, read back in that same zone (never through UTC).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ConfigDict, field_validator
from sqlalchemy import delete, or_, select, text
from sqlalchemy.dialects.postgresql import insert

from core import clock
from core.recurrence import series_end
from core.replies import Speaker
from core.sources import RemoteEvent, RemovedEvent, When
from core.tools import Args, Tool, ToolContext, ToolError, memory_text_for_event, register
from db.models import Calendar, Event, MemoryItem

log = logging.getLogger(__name__)

CHUNK = 500  # rows per INSERT: ~20 columns each stays far below Postgres' 32,767 parameters
_UPDATED = ("title", "start_at", "end_at", "all_day", "tz", "location", "attendees", "recurrence", "series_end_at",
            "status", "calendar_id", "etag", "series_id", "original_start_at", "updated_at")


class ApplyRemote(Args):
    """A page of changes of one synced calendar."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    calendar_id: str
    changes: list[Any]

    @field_validator("changes")
    @classmethod
    def _neutral(cls, v: list[Any]) -> list[Any]:
        if not all(isinstance(c, RemoteEvent | RemovedEvent) for c in v):
            raise ValueError("changes are RemoteEvent or RemovedEvent")
        return v


class PruneRemote(Args):
    """What a complete listing of one calendar returned: every other synced row of it goes."""

    calendar_id: str
    keep: list[str]


async def _calendar(ctx: ToolContext, calendar_id: str) -> Calendar:
    try:
        cal = await ctx.session.get(Calendar, uuid.UUID(calendar_id))
    except ValueError:
        cal = None
    if cal is None or cal.user_id != ctx.user.id:
        raise ToolError(f"There is no calendar {calendar_id} of yours.")
    return cal


def _instant(value: When, zone: ZoneInfo) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else clock.start_of_day(value, zone)


def _recurrence(ev: RemoteEvent, start: dt.datetime, end: dt.datetime, zone: ZoneInfo
                ) -> tuple[str | None, dt.datetime | None]:
    """The series' rule lines and when it ends; a rule Pixie cannot read keeps only the first occurrence."""
    if not ev.recurrence:
        return None, end
    rule = "\n".join(ev.recurrence)
    try:
        return rule, series_end(rule, start, end, zone)
    except (ValueError, TypeError) as exc:
        log.warning("series %s: recurrence not understood (%s); only its first occurrence is shown",
                    ev.external_id, type(exc).__name__)
        return None, end


def _row(ctx: ToolContext, cal: Calendar, zone: ZoneInfo, ev: RemoteEvent) -> dict[str, Any]:
    start, end = _instant(ev.start, zone), _instant(ev.end, zone)
    tz = zone if ev.all_day or not ev.tz else clock.zone(ev.tz)
    rule, last = _recurrence(ev, start, end, tz)
    original = _instant(ev.original_start, zone) if ev.original_start is not None else None
    return {"user_id": ctx.user.id, "source": ctx.source, "external_id": ev.external_id, "calendar_id": cal.id,
            "etag": ev.etag, "title": ev.title or "(no title)", "start_at": start, "end_at": end,
            "all_day": ev.all_day, "tz": tz.key, "location": ev.location, "attendees": list(ev.attendees) or None,
            "recurrence": rule, "series_end_at": last, "status": "confirmed", "series_id": ev.series_id,
            "original_start_at": original, "created_at": ctx.now, "updated_at": ctx.now}


def _hiding(ctx: ToolContext, cal: Calendar, zone: ZoneInfo, gone: RemovedEvent) -> dict[str, Any]:
    """A cancelled instance of a series, kept (cancelled) so that it hides its occurrence."""
    assert gone.original_start is not None
    at = _instant(gone.original_start, zone)
    return {"user_id": ctx.user.id, "source": ctx.source, "external_id": gone.external_id, "calendar_id": cal.id,
            "etag": None, "title": "(cancelled occurrence)", "start_at": at, "end_at": at,
            "all_day": not isinstance(gone.original_start, dt.datetime), "tz": zone.key, "location": None,
            "attendees": None, "recurrence": None, "series_end_at": at, "status": "cancelled",
            "series_id": gone.series_id, "original_start_at": at, "created_at": ctx.now, "updated_at": ctx.now}


async def _upsert(ctx: ToolContext, rows: list[dict[str, Any]]) -> dict[str, tuple[uuid.UUID, bool]]:
    """Write rows by (user, source, external id); each one's id and whether it is new."""
    out: dict[str, tuple[uuid.UUID, bool]] = {}
    for i in range(0, len(rows), CHUNK):
        chunk = [{"id": uuid.uuid4(), **r} for r in rows[i:i + CHUNK]]
        stmt = insert(Event).values(chunk)
        stmt = stmt.on_conflict_do_update(
            index_elements=["user_id", "source", "external_id"], index_where=text("external_id IS NOT NULL"),
            set_={k: stmt.excluded[k] for k in _UPDATED})
        result = await ctx.session.execute(stmt.returning(Event.external_id, Event.id, text("xmax = 0")))
        out.update({ext: (eid, new) for ext, eid, new in result})
    return out


async def _remember(ctx: ToolContext, rows: list[dict[str, Any]], ids: dict[str, tuple[uuid.UUID, bool]]) -> None:
    """Keep memory saying what each synced event says (one read for the page, writes only for what changed)."""
    live = [r for r in rows if r["status"] != "cancelled"]
    known = {sid: (item_id, said) for sid, item_id, said in await ctx.session.execute(
        select(MemoryItem.source_id, MemoryItem.id, MemoryItem.text).where(
            MemoryItem.user_id == ctx.user.id, MemoryItem.kind == "event",
            MemoryItem.source_id.in_([ids[r["external_id"]][0] for r in live])))} if live else {}
    for r in live:
        event_id = ids[r["external_id"]][0]
        words = memory_text_for_event(Event(**r), ctx.tz)
        if event_id not in known:
            await ctx.memory.add(ctx.session, ctx.user.id, "event", words, event_id, ctx.now)
        elif known[event_id][1] != words:
            await ctx.memory.reindex_source(ctx.session, ctx.user.id, "event", event_id, words)
    hidden = [ids[r["external_id"]][0] for r in rows if r["status"] == "cancelled"]
    if hidden:
        await ctx.session.execute(delete(MemoryItem).where(MemoryItem.user_id == ctx.user.id,
                                                           MemoryItem.source_id.in_(hidden)))


async def _delete(ctx: ToolContext, event_ids: list[uuid.UUID]) -> None:
    for i in range(0, len(event_ids), CHUNK * 10):
        chunk = event_ids[i:i + CHUNK * 10]
        await ctx.session.execute(delete(MemoryItem).where(MemoryItem.user_id == ctx.user.id,
                                                           MemoryItem.source_id.in_(chunk)))
        await ctx.session.execute(delete(Event).where(Event.user_id == ctx.user.id, Event.id.in_(chunk)))


async def apply_remote_events(ctx: ToolContext, a: ApplyRemote) -> dict[str, Any]:
    """Store one page of a calendar's changes: upserts, cancelled instances, deletions."""
    cal = await _calendar(ctx, a.calendar_id)
    zone = clock.zone(cal.tz or ctx.user.tz)
    latest: dict[str, dict[str, Any]] = {}  # a page names an event once; if not, its last state wins
    removed: list[str] = []
    for change in a.changes:
        if isinstance(change, RemoteEvent):
            latest[change.external_id] = _row(ctx, cal, zone, change)
        elif change.series_id is not None and change.original_start is not None:
            latest[change.external_id] = _hiding(ctx, cal, zone, change)
        else:
            latest.pop(change.external_id, None)
            removed.append(change.external_id)
    rows = list(latest.values())
    ids = await _upsert(ctx, rows) if rows else {}
    await _remember(ctx, rows, ids)
    gone: list[uuid.UUID] = []
    if removed:  # the event, and for a series its exceptions
        gone = list(await ctx.session.scalars(select(Event.id).where(
            Event.user_id == ctx.user.id, Event.source == ctx.source,
            or_(Event.external_id.in_(removed), (Event.calendar_id == cal.id) & Event.series_id.in_(removed)))))
        await _delete(ctx, gone)
    return {"calendar_id": str(cal.id), "written": len(rows), "new": sum(1 for _, new in ids.values() if new),
            "removed": len(gone)}


async def prune_remote_events(ctx: ToolContext, a: PruneRemote) -> dict[str, Any]:
    """After a complete listing: drop the calendar's rows that it no longer holds."""
    cal = await _calendar(ctx, a.calendar_id)
    keep = set(a.keep)
    stale = [eid for eid, ext in await ctx.session.execute(
        select(Event.id, Event.external_id).where(Event.user_id == ctx.user.id, Event.calendar_id == cal.id))
        if ext not in keep]
    await _delete(ctx, stale)
    return {"calendar_id": str(cal.id), "removed": len(stale)}


def _quiet(speaker: Speaker, args: dict[str, Any], result: dict[str, Any]) -> str:
    return ""  # never part of a conversation


register(
    Tool("apply_remote_events", ApplyRemote, apply_remote_events, "Store a synced calendar's changes.", _quiet,
         changes=True, offered=False),
    Tool("prune_remote_events", PruneRemote, prune_remote_events, "Drop what a synced calendar no longer has.",
         _quiet, changes=True, offered=False),
)
