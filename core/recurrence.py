"""Recurring events: RFC 5545 RRULEs expanded on the wall clock of the event's zone (DST-safe).

A series made in chat is one RRULE. A synced one may carry several lines, as Google sends them
(`RRULE:…`, `EXDATE;TZID=…:…`, `RDATE;VALUE=DATE:…`), stored newline-separated: every line is read
on the series' own wall clock, so an EXDATE given in UTC or another zone still hits its instance.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rruleset, rrulestr

from core.clock import UTC, localize

MAX_COUNT = 5000


def _rule(text: str, start: dt.datetime, tz: ZoneInfo) -> rrule | rruleset:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) > 1:
        return _ruleset(lines, start, tz)
    body = lines[0] if lines else ""
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    parsed = rrulestr(body, dtstart=start.astimezone(tz).replace(tzinfo=None))
    if not isinstance(parsed, rrule):
        raise ValueError("only a single RRULE is supported")
    return parsed


def _wall_times(line: str, tz: ZoneInfo, at: dt.time) -> list[dt.datetime]:
    """The values of an EXDATE/RDATE line as naive wall-clock times of `tz` (a bare date: that day at `at`)."""
    head, _, values = line.partition(":")
    params = dict(p.split("=", 1) for p in head.split(";")[1:] if "=" in p)
    source = ZoneInfo(params["TZID"]) if "TZID" in params else None
    out = []
    for value in values.split(","):
        value = value.strip()
        if len(value) == 8:
            out.append(dt.datetime.combine(dt.datetime.strptime(value, "%Y%m%d").date(), at))
            continue
        moment = dt.datetime.strptime(value.rstrip("Z"), "%Y%m%dT%H%M%S")
        if value.endswith("Z"):
            moment = moment.replace(tzinfo=UTC).astimezone(tz).replace(tzinfo=None)
        elif source is not None:
            moment = moment.replace(tzinfo=source).astimezone(tz).replace(tzinfo=None)
        out.append(moment)
    return out


def _ruleset(lines: list[str], start: dt.datetime, tz: ZoneInfo) -> rruleset:
    local = start.astimezone(tz).replace(tzinfo=None)
    found = rruleset()
    for line in lines:
        name = line.split(":", 1)[0].split(";", 1)[0].upper()
        if name == "RRULE":
            found.rrule(_rule(line, start, tz))  # type: ignore[arg-type]
        elif name in ("EXDATE", "RDATE"):
            for wall in _wall_times(line, tz, local.time()):
                (found.exdate if name == "EXDATE" else found.rdate)(wall)
        else:
            raise ValueError(f"unsupported recurrence line: {line!r}")
    return found


def _main_rule(rule: rrule | rruleset) -> rrule | None:
    """The RRULE of a rule or set (RDATEs only extend a series; its end is judged by the RRULE)."""
    if isinstance(rule, rrule):
        return rule
    rules = rule._rrule  # type: ignore[attr-defined]
    return rules[0] if rules else None


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
    main = _main_rule(rule)
    if main is not None and main._count and main._count > MAX_COUNT:  # type: ignore[attr-defined]
        raise ValueError(f"a series may have at most {MAX_COUNT} occurrences")
    return body.upper()


def series_end(text: str | None, start: dt.datetime, end: dt.datetime, tz: ZoneInfo) -> dt.datetime | None:
    """When the last occurrence ends (UTC), or None for a series without end."""
    if not text:
        return end.astimezone(UTC)
    rule = _rule(text, start, tz)
    main = _main_rule(rule)
    if main is not None and main._count is None and main._until is None:  # type: ignore[attr-defined]
        return None
    every = list(rule)  # bounded by COUNT or UNTIL (or only RDATEs)
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
