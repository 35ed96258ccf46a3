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
from sqlalchemy.orm.attributes import flag_modified

from core import clock
from core import twoway as tw
from core.recurrence import series_end
from core.replies import Speaker
from core.sources import RemoteEvent, RemovedEvent, When
from core.tools import Args, Tool, ToolContext, ToolError, memory_text_for_event, register
from db.models import Calendar, Event, MemoryItem

log = logging.getLogger(__name__)

CHUNK = 500  # rows per INSERT: ~20 columns each stays far below Postgres' 32,767 parameters
_UPDATED = ("title", "start_at", "end_at", "all_day", "tz", "location", "attendees", "recurrence", "series_end_at",
            "status", "calendar_id", "etag", "series_id", "original_start_at", "updated_at", "base")


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
    row = {"user_id": ctx.user.id, "source": ctx.source, "external_id": ev.external_id, "calendar_id": cal.id,
            "etag": ev.etag, "title": ev.title or "(no title)", "start_at": start, "end_at": end,
            "all_day": ev.all_day, "tz": tz.key, "location": ev.location, "attendees": list(ev.attendees) or None,
            "recurrence": rule, "series_end_at": last, "status": "confirmed", "series_id": ev.series_id,
            "original_start_at": original, "created_at": ctx.now, "updated_at": ctx.now}
    return row | {"base": tw.snapshot(row)}  # what a later local edit is measured against


def _hiding(ctx: ToolContext, cal: Calendar, zone: ZoneInfo, gone: RemovedEvent) -> dict[str, Any]:
    """A cancelled instance of a series, kept (cancelled) so that it hides its occurrence."""
    assert gone.original_start is not None
    at = _instant(gone.original_start, zone)
    return {"user_id": ctx.user.id, "source": ctx.source, "external_id": gone.external_id, "calendar_id": cal.id,
            "etag": None, "title": "(cancelled occurrence)", "start_at": at, "end_at": at,
            "all_day": not isinstance(gone.original_start, dt.datetime), "tz": zone.key, "location": None,
            "attendees": None, "recurrence": None, "series_end_at": at, "status": "cancelled",
            "series_id": gone.series_id, "original_start_at": at, "created_at": ctx.now, "updated_at": ctx.now,
            "base": None}


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


async def delete_synced(ctx: ToolContext, event_ids: list[uuid.UUID]) -> None:
    """Delete these events of the user with what memory derived from them."""
    for i in range(0, len(event_ids), CHUNK * 10):
        chunk = event_ids[i:i + CHUNK * 10]
        await ctx.session.execute(delete(MemoryItem).where(MemoryItem.user_id == ctx.user.id,
                                                           MemoryItem.source_id.in_(chunk)))
        await ctx.session.execute(delete(Event).where(Event.user_id == ctx.user.id, Event.id.in_(chunk)))


def _set_fields(ev: Event, fields: dict[str, Any]) -> None:
    for key, value in tw.restore(fields).items():
        if key in tw.FIELDS or key == "tz":
            setattr(ev, key, value)
    try:
        ev.series_end_at = series_end(ev.recurrence, ev.start_at, ev.end_at, clock.zone(ev.tz))
    except (ValueError, TypeError):
        ev.series_end_at = ev.end_at if not ev.recurrence else None


async def absorb(ctx: ToolContext, ev: Event, row: dict[str, Any], remote_at: dt.datetime | None) -> None:
    """A remote version of an event that still owes its calendar a local change: merge them (core/twoway.py)."""
    remote, local_at = row["base"], ev.updated_at
    local_newer = tw.newer(local_at, remote_at)
    if ev.push == "delete":  # cancelled here; the remote side edited it meanwhile?
        edited = ev.base is None or any(remote[f] != ev.base.get(f) for f in tw.FIELDS)
        if edited and not local_newer:  # the newer remote edit brings it back; the cancellation is history
            ev.history = tw.kept(ev.history, tw.history_entry("local", tw.snapshot(ev), local_at, ctx.now,
                                                              "cancelled"))
            _set_fields(ev, remote)
            ev.status, ev.push, ev.updated_at = "confirmed", None, ctx.now
            await ctx.memory.add(ctx.session, ctx.user.id, "event", memory_text_for_event(ev, ctx.tz), ev.id, ctx.now)
        elif edited:
            ev.history = tw.kept(ev.history, tw.history_entry("remote", remote, remote_at, ctx.now))
    else:
        merge = tw.reconcile(ev.base, tw.snapshot(ev), remote, local_newer)
        if merge.lost == "local":
            ev.history = tw.kept(ev.history, tw.history_entry("local", tw.snapshot(ev), local_at, ctx.now))
        elif merge.lost == "remote":
            ev.history = tw.kept(ev.history, tw.history_entry("remote", remote, remote_at, ctx.now))
        _set_fields(ev, merge.fields)
        ev.push = "update" if merge.differs_from(remote) else None
        if ev.push is None:
            ev.updated_at = ctx.now
        await ctx.memory.reindex_source(ctx.session, ctx.user.id, "event", ev.id, memory_text_for_event(ev, ctx.tz))
    ev.etag, ev.base = row["etag"], remote
    if ev.push is not None:  # still the time of the local edit, which the next clash is judged by
        ev.updated_at = local_at
        flag_modified(ev, "updated_at")


async def _owing(ctx: ToolContext, external_ids: list[str]) -> dict[str, Event]:
    """The synced events among these that still owe their calendar a local change."""
    if not external_ids:
        return {}
    rows = await ctx.session.scalars(select(Event).where(
        Event.user_id == ctx.user.id, Event.source == ctx.source, Event.external_id.in_(external_ids),
        Event.push.is_not(None)))
    return {ev.external_id: ev for ev in rows if ev.external_id is not None}


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
    updated = {c.external_id: c.updated for c in a.changes if isinstance(c, RemoteEvent)}
    for ext, ev in (await _owing(ctx, list(latest))).items():  # edited on both sides: merge, never trample
        if latest[ext]["status"] != "cancelled":
            await absorb(ctx, ev, latest.pop(ext), updated.get(ext))
    rows = list(latest.values())
    ids = await _upsert(ctx, rows) if rows else {}
    await _remember(ctx, rows, ids)
    gone: list[uuid.UUID] = []
    if removed:  # the event, and for a series its exceptions
        gone = list(await ctx.session.scalars(select(Event.id).where(
            Event.user_id == ctx.user.id, Event.source == ctx.source,
            or_(Event.external_id.in_(removed), (Event.calendar_id == cal.id) & Event.series_id.in_(removed)))))
        await delete_synced(ctx, gone)
    return {"calendar_id": str(cal.id), "written": len(rows), "new": sum(1 for _, new in ids.values() if new),
            "removed": len(gone)}


async def prune_remote_events(ctx: ToolContext, a: PruneRemote) -> dict[str, Any]:
    """After a complete listing: drop the calendar's rows that it no longer holds."""
    cal = await _calendar(ctx, a.calendar_id)
    keep = set(a.keep)
    stale = [eid for eid, ext in await ctx.session.execute(
        select(Event.id, Event.external_id).where(Event.user_id == ctx.user.id, Event.calendar_id == cal.id,
                                                  Event.push.is_distinct_from("create")))  # not pushed yet
        if ext not in keep]
    await delete_synced(ctx, stale)
    return {"calendar_id": str(cal.id), "removed": len(stale)}


class Settle(Args):
    """What the calendar answered to a pushed change: the event as it now holds it, or None (deleted or gone)."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    event_id: str
    pushed_at: dt.datetime  # the local edit time the push was made from
    remote: RemoteEvent | None = None
    conflict: bool = False  # True: the calendar refused (412); `remote` is its newer version


async def _owed_event(ctx: ToolContext, event_id: str) -> tuple[Event, Calendar] | None:
    ev = await ctx.session.get(Event, uuid.UUID(event_id), with_for_update=True, populate_existing=True)
    if ev is None or ev.user_id != ctx.user.id or ev.calendar_id is None:
        return None  # gone meanwhile (disconnected, deleted by a sync): nothing left to settle
    return ev, await _calendar(ctx, str(ev.calendar_id))


async def settle_pushed_event(ctx: ToolContext, a: Settle) -> dict[str, Any]:
    """Record what a push did; on a 412, merge with the calendar's newer version (core/twoway.py)."""
    found = await _owed_event(ctx, a.event_id)
    if found is None:
        return {"event_id": a.event_id, "push": None}
    ev, cal = found
    if a.remote is None and ev.series_id is not None:  # one occurrence gone: kept, cancelled, hiding it
        ev.status, ev.push, ev.etag = "cancelled", None, None
        await ctx.memory.forget_source(ctx.session, ctx.user.id, ev.id)
        return {"event_id": a.event_id, "push": None, "cancelled": True}
    if a.remote is None:  # deleted here and there, or deleted there while edited here: the deletion stands
        await delete_synced(ctx, [ev.id])
        return {"event_id": a.event_id, "push": None, "deleted": True}
    row = _row(ctx, cal, clock.zone(cal.tz or ctx.user.tz), a.remote)
    if a.conflict:
        await absorb(ctx, ev, row, a.remote.updated)
    elif ev.updated_at == a.pushed_at:  # nothing changed here since: in step with the calendar
        ev.etag, ev.base, ev.push = row["etag"], row["base"], None
        ev.updated_at = ev.updated_at
        flag_modified(ev, "updated_at")
    else:  # edited again while the push was under way: that edit is still owed, from the new version
        ev.etag, ev.base = row["etag"], row["base"]
        ev.push = "delete" if ev.push == "delete" else "update"
        flag_modified(ev, "updated_at")
    return {"event_id": a.event_id, "push": ev.push}


def _quiet(speaker: Speaker, args: dict[str, Any], result: dict[str, Any]) -> str:
    return ""  # never part of a conversation


register(
    Tool("apply_remote_events", ApplyRemote, apply_remote_events, "Store a synced calendar's changes.", _quiet,
         changes=True, offered=False),
    Tool("prune_remote_events", PruneRemote, prune_remote_events, "Drop what a synced calendar no longer has.",
         _quiet, changes=True, offered=False),
    Tool("settle_pushed_event", Settle, settle_pushed_event, "Record what a calendar did with a pushed change.",
         _quiet, changes=True, offered=False),
)
