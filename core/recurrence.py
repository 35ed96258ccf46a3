"""Recurring events: RFC 5545 RRULEs expanded on the wall clock of the event's zone (DST-safe)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from core.clock import UTC, localize

MAX_COUNT = 5000


def _rule(text: str, start: dt.datetime, tz: ZoneInfo) -> rrule:
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    parsed = rrulestr(body, dtstart=start.astimezone(tz).replace(tzinfo=None))
    if not isinstance(parsed, rrule):
        raise ValueError("only a single RRULE is supported")
    return parsed


def normalise_rrule(text: str, start: dt.datetime, tz: ZoneInfo) -> str:
    """Check an RRULE and return it without the 'RRULE:' prefix; ValueError when it is not one."""
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    if not body.upper().startswith("FREQ=") and ";FREQ=" not in body.upper():
        raise ValueError(f"not an RRULE: {text!r}")
    try:
        rule = _rule(body, start, tz)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a valid RRULE: {text!r}") from exc
    if rule._count and rule._count > MAX_COUNT:  # type: ignore[attr-defined]
        raise ValueError(f"a series may have at most {MAX_COUNT} occurrences")
    return body.upper()


def series_end(text: str | None, start: dt.datetime, end: dt.datetime, tz: ZoneInfo) -> dt.datetime | None:
    """When the last occurrence ends (UTC), or None for a series without end."""
    if not text:
        return end.astimezone(UTC)
    rule = _rule(text, start, tz)
    if rule._count is None and rule._until is None:  # type: ignore[attr-defined]
        return None
    every = list(rule)  # bounded by COUNT or UNTIL
    if not every:
        return end.astimezone(UTC)
    return (localize(every[-1], tz) + (end - start)).astimezone(UTC)


def occurrences(
    start: dt.datetime, end: dt.datetime, tz: ZoneInfo, recurrence: str | None,
    window_start: dt.datetime, window_end: dt.datetime,
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Every (start, end) of the event that overlaps [window_start, window_end)."""
    duration = end - start
    if not recurrence:
        return [(start, end)] if start < window_end and end > window_start else []
    rule = _rule(recurrence, start, tz)
    lo = (window_start - duration).astimezone(tz).replace(tzinfo=None) - dt.timedelta(hours=3)
    hi = window_end.astimezone(tz).replace(tzinfo=None) + dt.timedelta(hours=3)
    found = []
    for wall in rule.between(lo, hi, inc=True):
        s = localize(wall, tz)
        e = s + duration
        if s < window_end and e > window_start:
            found.append((s, e))
    return found
