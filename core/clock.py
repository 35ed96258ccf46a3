"""Aware datetimes: reading ISO values in a user's zone, and saying them back to the user."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.UTC


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone `name`, or the machine's own zone when none is given."""
    if name:
        return ZoneInfo(name)
    return machine_zone()


def machine_zone() -> ZoneInfo:
    """The machine's IANA zone (UTC when it cannot be told)."""
    try:
        import tzlocal

        return ZoneInfo(tzlocal.get_localzone_name() or "UTC")
    except (ZoneInfoNotFoundError, ValueError, ImportError):
        return ZoneInfo("UTC")


def is_zone(name: str) -> bool:
    """Whether `name` is a known IANA time zone."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def localize(naive: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """Attach `tz` to a wall-clock time; a time skipped by a DST jump moves forward by the gap."""
    aware = naive.replace(tzinfo=tz)
    back = aware.astimezone(UTC).astimezone(tz)
    if back.replace(tzinfo=None) != naive:  # nonexistent local time (spring forward)
        return back
    return aware


def parse_when(value: str, tz: ZoneInfo) -> dt.datetime | dt.date:
    """An ISO date (``YYYY-MM-DD``) or datetime; a datetime without an offset is read in `tz`."""
    s = value.strip()
    if len(s) == 10:
        return dt.date.fromisoformat(s)
    d = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    if d.tzinfo is None:
        d = localize(d, tz)
    return d


def start_of_day(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """Local midnight that starts `day`, as an aware datetime."""
    return localize(dt.datetime.combine(day, dt.time()), tz)


def as_instant(value: dt.datetime | dt.date, tz: ZoneInfo) -> dt.datetime:
    """A datetime as is, a date as its local midnight."""
    return value if isinstance(value, dt.datetime) else start_of_day(value, tz)


def iso_local(value: dt.datetime, tz: ZoneInfo) -> str:
    """ISO 8601 in the user's zone with its offset, to the second."""
    return value.astimezone(tz).replace(microsecond=0).isoformat()


def fmt_day(day: dt.date, today: dt.date | None = None) -> str:
    """'Fri 16 Jan' (with the year when it is not this year's)."""
    text = f"{day:%a} {day.day} {day:%b}"
    if today is not None and day.year != today.year:
        text += f" {day.year}"
    return text


def fmt_time(value: dt.datetime, tz: ZoneInfo) -> str:
    """'15:00' in the user's zone."""
    return f"{value.astimezone(tz):%H:%M}"


def fmt_when(value: dt.datetime | dt.date, tz: ZoneInfo, today: dt.date | None = None) -> str:
    """'Fri 16 Jan 15:00' for a datetime, 'Fri 16 Jan' for a date."""
    if isinstance(value, dt.datetime):
        local = value.astimezone(tz)
        return f"{fmt_day(local.date(), today)} {local:%H:%M}"
    return fmt_day(value, today)
