"""Google Calendar's JSON to the neutral shapes of core.sources and back; nothing else crosses the edge.

A start or end is `{"date"}` for an all-day event (kept a date) or `{"dateTime", "timeZone"?}`. A
dateTime with an offset stays that instant, and its zone is only what Google named (a bare offset
is never turned into a guessed zone); one without an offset is read in the named zone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.sources import RemoteCalendar, RemoteEvent, RemovedEvent, When


def _zone(name: str | None) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def when(value: dict[str, Any], fallback: str | None = None) -> When:
    """A wire start/end as a date or an aware datetime."""
    if "date" in value:
        return dt.date.fromisoformat(value["date"])
    moment = dt.datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00"))
    if moment.tzinfo is None:
        zone = _zone(value.get("timeZone") or fallback)
        if zone is None:
            raise ValueError(f"a time without offset or zone: {value['dateTime']!r}")
        moment = moment.replace(tzinfo=zone)
    return moment


def to_when(value: When, tz: str | None = None) -> dict[str, str]:
    """A date or aware datetime as Google's start/end object."""
    if not isinstance(value, dt.datetime):
        return {"date": value.isoformat()}
    out = {"dateTime": value.isoformat()}
    if tz:
        out["timeZone"] = tz
    return out


def calendar(item: dict[str, Any]) -> RemoteCalendar:
    """One calendarList entry."""
    return RemoteCalendar(remote_id=item["id"], name=item.get("summaryOverride") or item.get("summary") or item["id"],
                          tz=item.get("timeZone"), primary=bool(item.get("primary")),
                          writable=item.get("accessRole") in ("owner", "writer"))


def event(item: dict[str, Any], calendar_zone: str | None = None) -> RemoteEvent | RemovedEvent:
    """One item of events.list: a live event, or a deletion (a cancelled instance names its series)."""
    series = item.get("recurringEventId")
    original = when(item["originalStartTime"], calendar_zone) if "originalStartTime" in item else None
    if item.get("status") == "cancelled":
        return RemovedEvent(item["id"], series, original)
    start, end = when(item["start"], calendar_zone), when(item.get("end") or item["start"], calendar_zone)
    if isinstance(start, dt.datetime) and end < start:  # Google tolerates it in old events; Pixie does not
        end = start
    updated = dt.datetime.fromisoformat(item["updated"].replace("Z", "+00:00")) if item.get("updated") else None
    return RemoteEvent(
        external_id=item["id"], title=item.get("summary") or "", start=start, end=end, etag=item.get("etag"),
        tz=item["start"].get("timeZone") if "dateTime" in item["start"] else None,
        location=item.get("location"), description=item.get("description"),
        attendees=tuple(a["email"] for a in item.get("attendees", ()) if a.get("email") and not a.get("self")),
        recurrence=tuple(item.get("recurrence", ())), series_id=series, original_start=original,
        status="tentative" if item.get("status") == "tentative" else "confirmed", updated=updated)


def body(ev: RemoteEvent) -> dict[str, Any]:
    """An event as the body of events.insert/update (attendees only when the user named them)."""
    out: dict[str, Any] = {"id": ev.external_id, "summary": ev.title, "start": to_when(ev.start, ev.tz),
                           "end": to_when(ev.end, ev.tz), "status": ev.status}
    if ev.location:
        out["location"] = ev.location
    if ev.description:
        out["description"] = ev.description
    if ev.attendees:
        out["attendees"] = [{"email": a} for a in ev.attendees]
    if ev.recurrence:
        out["recurrence"] = list(ev.recurrence)
    if ev.series_id and ev.original_start is not None:
        out["recurringEventId"] = ev.series_id
        out["originalStartTime"] = to_when(ev.original_start, ev.tz)
    return out
