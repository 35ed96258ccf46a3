"""Two-way calendars: which calendar a new event goes to, what a local change owes its calendar, who wins a clash.

Decided here (pure, apart from reading the default calendar):

* A new event made in chat goes to the user's calendar for new events (`calendars.is_default`:
  the primary calendar of the first account they connected, until they pick another) when that
  calendar is synced and writable; with none, the event stays local, as it always did.
* A change made in chat on a synced event is marked `push` (create | update | delete) in the same
  transaction; a job writes it to the calendar later (never on the chat turn), under an id Pixie
  chose, so that a retried create finds the first one rather than doubling it.
* Both sides edited between syncs: edits are compared field group by field group (title, time,
  place, guests) against `base`, the event as the calendar last held it. Groups only one side
  changed are merged; where both changed the same group, the newer edit wins and the other whole
  version is appended to the event's `history`, never lost. A remote version without a
  modification time counts as the newer one (Google always sends one).
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.sources import RemoteEvent, When
from db.models import Account, Calendar, Event

Push = Literal["create", "update", "delete"]
GROUPS: dict[str, tuple[str, ...]] = {
    "title": ("title",),
    "time": ("start_at", "end_at", "all_day", "recurrence"),  # moved together: never half of a move
    "location": ("location",),
    "attendees": ("attendees",),
}
FIELDS = tuple(f for group in GROUPS.values() for f in group)
HISTORY_KEEP = 20  # versions kept per event: enough to get any recent edit back
_PROPERTIES = ("RRULE:", "EXRULE:", "RDATE", "EXDATE")


def new_remote_id() -> str:
    """An event id Pixie chooses: base32hex (Google's alphabet a–v, 0–9), 26 characters, unique."""
    return base64.b32hexencode(uuid.uuid4().bytes).decode().lower().rstrip("=")


def instance_id(series_id: str, original_start: dt.datetime, all_day_zone: ZoneInfo | None = None) -> str:
    """The id a calendar gives one occurrence of a series: the series' id and its original start (UTC, or a day)."""
    if all_day_zone is not None:
        return f"{series_id}_{original_start.astimezone(all_day_zone):%Y%m%d}"
    return f"{series_id}_{original_start.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"


def rule_lines(recurrence: str | None) -> tuple[str, ...]:
    """A stored recurrence as RFC 5545 property lines (chat stores a bare RRULE body)."""
    if not recurrence:
        return ()
    lines = [line.strip() for line in recurrence.splitlines() if line.strip()]
    return tuple(line if line.upper().startswith(_PROPERTIES) else f"RRULE:{line}" for line in lines)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, list | tuple):
        return sorted(str(v).lower() for v in value) or None
    return value


def snapshot(values: Mapping[str, Any] | Event) -> dict[str, Any]:
    """An event's compared fields as JSON (instants in UTC, guests sorted), from a row or a row's values."""
    get = values.get if isinstance(values, Mapping) else (lambda k: getattr(values, k))
    out = {f: _plain(get(f)) for f in FIELDS}
    out["recurrence"] = "\n".join(rule_lines(out["recurrence"])) or None
    out["tz"] = get("tz")
    return out


def restore(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A snapshot back as column values."""
    out = dict(fields)
    for key in ("start_at", "end_at"):
        out[key] = dt.datetime.fromisoformat(out[key])
    return out


@dataclass(frozen=True)
class Merge:
    """The outcome of two edits of one event: the fields to keep, and which side's version lost (if one did)."""

    fields: dict[str, Any]
    lost: Literal["local", "remote"] | None

    def differs_from(self, remote: Mapping[str, Any]) -> bool:
        """Whether the calendar still has to be told the merged version."""
        return any(self.fields[f] != remote[f] for f in FIELDS)


def _changed(base: Mapping[str, Any] | None, side: Mapping[str, Any]) -> set[str]:
    return {g for g, fs in GROUPS.items() if base is None or any(side[f] != base.get(f) for f in fs)}


def reconcile(base: Mapping[str, Any] | None, local: Mapping[str, Any], remote: Mapping[str, Any],
              local_newer: bool) -> Merge:
    """Merge a local and a remote edit of the same event, both measured from `base` (None: nothing in common)."""
    mine, theirs = _changed(base, local), _changed(base, remote)
    clash = {g for g in mine & theirs if any(local[f] != remote[f] for f in GROUPS[g])}
    take = mine if local_newer or not clash else mine - clash
    fields = dict(remote)
    for g in take:
        fields.update({f: local[f] for f in GROUPS[g]})
        if g == "time":
            fields["tz"] = local["tz"]
    lost: Literal["local", "remote"] | None = None
    if clash:
        lost = "remote" if local_newer else "local"
    return Merge(fields, lost)


def newer(local_at: dt.datetime, remote_at: dt.datetime | None) -> bool:
    """Whether the local edit at `local_at` is newer than the remote one (ties and unknowns go to the remote)."""
    return remote_at is not None and local_at > remote_at


def history_entry(side: str, fields: Mapping[str, Any], when: dt.datetime | None, now: dt.datetime,
                  status: str = "confirmed") -> dict[str, Any]:
    """One version kept because the other side's newer edit won."""
    return {"lost": side, "at": now.astimezone(dt.UTC).isoformat(),
            "edited_at": when.astimezone(dt.UTC).isoformat() if when else None, "status": status, **fields}


def kept(history: list[dict[str, Any]] | None, entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The history with `entry` appended (the oldest dropped past HISTORY_KEEP)."""
    return [*(history or []), entry][-HISTORY_KEEP:]


async def default_calendar(session: AsyncSession, user_id: uuid.UUID) -> tuple[Calendar, str] | None:
    """The calendar new chat events go to, with its account's provider; None when events stay local."""
    row = (await session.execute(
        select(Calendar, Account.provider).join(Account, Account.id == Calendar.account_id).where(
            Calendar.user_id == user_id, Calendar.is_default, Calendar.writable, Calendar.selected))).first()
    return (row[0], row[1]) if row is not None else None


def remote_of(ev: Event) -> RemoteEvent:
    """A stored event as the calendar is to hold it (the guests only when the user named them)."""
    start: When
    end: When
    if ev.all_day:
        own = clock.zone(ev.tz)
        start, end = ev.start_at.astimezone(own).date(), ev.end_at.astimezone(own).date()
    else:
        start, end = ev.start_at, ev.end_at
    assert ev.external_id is not None, "only an event with a remote id is pushed"
    original: When | None = ev.original_start_at if ev.series_id else None
    if original is not None and ev.all_day:  # an all-day occurrence is named by its day
        original = ev.original_start_at.astimezone(clock.zone(ev.tz)).date() if ev.original_start_at else None
    return RemoteEvent(external_id=ev.external_id, title=ev.title, start=start, end=end, etag=ev.etag,
                       tz=None if ev.all_day else ev.tz, location=ev.location,
                       # a name said in chat ("lunch with Priya") is no address: Google invites only addresses
                       attendees=tuple(a for a in ev.attendees or () if "@" in a), recurrence=rule_lines(ev.recurrence),
                       series_id=ev.series_id, original_start=original)
