"""Aware datetimes: reading ISO values in a user's zone, and saying them back to the user."""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

T = TypeVar("T", bound=dt.date)  # a date or a datetime

UTC = dt.UTC
# The years a person means: anything outside is a typo or a probe, and far dates overflow the
# arithmetic of reminders and digests (Postgres would even store ±infinity).
FIRST_YEAR, LAST_YEAR = 1900, 2200
OUT_OF_RANGE = f"I can only work with dates between {FIRST_YEAR} and {LAST_YEAR}."


class OutOfRange(ValueError):
    """A date or time outside FIRST_YEAR..LAST_YEAR; its message is the reply."""

    def __init__(self) -> None:
        super().__init__(OUT_OF_RANGE)


def in_range(value: dt.datetime | dt.date) -> bool:
    """Whether `value` falls in the years Pixie works with (a datetime judged in UTC)."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        # Shifting to UTC may itself overflow at year 1 or 9999: that is out of range too.
        try:
            value = value.astimezone(UTC)
        except OverflowError:
            return False
    return FIRST_YEAR <= value.year <= LAST_YEAR


def check_range(value: T) -> T:
    """`value` itself when it is in range; OutOfRange otherwise."""
    if not in_range(value):
        raise OutOfRange()
    return value


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


def read_when(value: str, tz: ZoneInfo) -> dt.datetime | dt.date:
    """parse_when for what a person or a tool call gives: OutOfRange outside 1900–2200.

    Both errors are ValueErrors; OutOfRange's message is the reply.
    """
    s = value.strip()
    if len(s) != 10 and not in_range(dt.datetime.fromisoformat(s.replace("Z", "+00:00")).replace(tzinfo=None)):
        raise OutOfRange()  # before localize: year 1 or 9999 cannot even be shifted to UTC
    return check_range(parse_when(s, tz))


def start_of_day(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """Local midnight that starts `day`, as an aware datetime."""
    return localize(dt.datetime.combine(day, dt.time()), tz)


def as_instant(value: dt.datetime | dt.date, tz: ZoneInfo) -> dt.datetime:
    """A datetime as is, a date as its local midnight."""
    return value if isinstance(value, dt.datetime) else start_of_day(value, tz)


def iso_local(value: dt.datetime, tz: ZoneInfo) -> str:
    """ISO 8601 in the user's zone with its offset, to the second."""
    return value.astimezone(tz).replace(microsecond=0).isoformat()


def nearer_half(at: dt.time, beside: dt.time) -> dt.time:
    """A clock time said without am/pm, read as whichever half of the day lies nearer `beside`:
    "2" beside a 13:00 lunch is 14:00, "11:30" beside a 13:00 haircut is 11:30 (not 23:30)."""
    early = at.replace(hour=at.hour % 12)
    late = early.replace(hour=early.hour + 12)
    mark = beside.hour * 60 + beside.minute

    def gap(t: dt.time) -> int:
        d = abs(t.hour * 60 + t.minute - mark)
        return min(d, 24 * 60 - d)
    return late if gap(late) < gap(early) else early


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


# ---------------------------------------------------------------- naming a zone in words

# What people say instead of an IANA name: abbreviations, and places that are no zone's own name
# (a zone's city is found by itself: "Lisbon", "new york", "Sao Paulo"). Countries spanning several
# zones (the US, Canada, Russia, Brazil, Australia, Mexico) are left out: which city is asked back.
_SAID_ZONES = {
    "utc": "UTC", "gmt": "UTC", "z": "UTC", "zulu": "UTC", "universal": "UTC",
    "pst": "America/Los_Angeles", "pdt": "America/Los_Angeles", "pacific": "America/Los_Angeles",
    "mst": "America/Denver", "mdt": "America/Denver", "mountain": "America/Denver",
    "cst": "America/Chicago", "cdt": "America/Chicago", "central": "America/Chicago",
    "est": "America/New_York", "edt": "America/New_York", "eastern": "America/New_York",
    "akst": "America/Anchorage", "hst": "Pacific/Honolulu", "hawaii": "Pacific/Honolulu",
    "cet": "Europe/Berlin", "cest": "Europe/Berlin", "wet": "Europe/Lisbon", "west": "Europe/Lisbon",
    "eet": "Europe/Athens", "eest": "Europe/Athens", "bst": "Europe/London", "ist": "Asia/Kolkata",
    "jst": "Asia/Tokyo", "kst": "Asia/Seoul", "aest": "Australia/Sydney", "aedt": "Australia/Sydney",
    "nzst": "Pacific/Auckland", "nzdt": "Pacific/Auckland", "sgt": "Asia/Singapore", "hkt": "Asia/Hong_Kong",
    "nyc": "America/New_York", "new york city": "America/New_York", "boston": "America/New_York",
    "washington": "America/New_York", "washington dc": "America/New_York", "dc": "America/New_York",
    "miami": "America/New_York", "atlanta": "America/New_York", "philadelphia": "America/New_York",
    "san francisco": "America/Los_Angeles", "sf": "America/Los_Angeles", "seattle": "America/Los_Angeles",
    "portland": "America/Los_Angeles", "san diego": "America/Los_Angeles", "la": "America/Los_Angeles",
    "austin": "America/Chicago", "dallas": "America/Chicago", "houston": "America/Chicago",
    "montreal": "America/Toronto", "ottawa": "America/Toronto",
    "munich": "Europe/Berlin", "frankfurt": "Europe/Berlin", "hamburg": "Europe/Berlin", "cologne": "Europe/Berlin",
    "dusseldorf": "Europe/Berlin", "stuttgart": "Europe/Berlin", "barcelona": "Europe/Madrid",
    "milan": "Europe/Rome", "florence": "Europe/Rome", "naples": "Europe/Rome", "geneva": "Europe/Zurich",
    "manchester": "Europe/London", "edinburgh": "Europe/London", "rotterdam": "Europe/Amsterdam",
    "krakow": "Europe/Warsaw", "st petersburg": "Europe/Moscow", "saint petersburg": "Europe/Moscow",
    "tel aviv": "Asia/Jerusalem", "beijing": "Asia/Shanghai", "shenzhen": "Asia/Shanghai",
    "mumbai": "Asia/Kolkata", "delhi": "Asia/Kolkata", "new delhi": "Asia/Kolkata", "bangalore": "Asia/Kolkata",
    "bengaluru": "Asia/Kolkata", "chennai": "Asia/Kolkata", "hyderabad": "Asia/Kolkata",
    "osaka": "Asia/Tokyo", "kyoto": "Asia/Tokyo", "hanoi": "Asia/Ho_Chi_Minh", "saigon": "Asia/Ho_Chi_Minh",
    "rio": "America/Sao_Paulo", "rio de janeiro": "America/Sao_Paulo", "cape town": "Africa/Johannesburg",
    "uk": "Europe/London", "england": "Europe/London", "britain": "Europe/London", "scotland": "Europe/London",
    "ireland": "Europe/Dublin", "germany": "Europe/Berlin", "france": "Europe/Paris", "spain": "Europe/Madrid",
    "italy": "Europe/Rome", "netherlands": "Europe/Amsterdam", "holland": "Europe/Amsterdam",
    "belgium": "Europe/Brussels", "switzerland": "Europe/Zurich", "austria": "Europe/Vienna",
    "portugal": "Europe/Lisbon", "poland": "Europe/Warsaw", "czechia": "Europe/Prague",
    "czech republic": "Europe/Prague", "hungary": "Europe/Budapest", "sweden": "Europe/Stockholm",
    "norway": "Europe/Oslo", "denmark": "Europe/Copenhagen", "finland": "Europe/Helsinki",
    "greece": "Europe/Athens", "turkey": "Europe/Istanbul", "ukraine": "Europe/Kiev", "israel": "Asia/Jerusalem",
    "egypt": "Africa/Cairo", "kenya": "Africa/Nairobi", "nigeria": "Africa/Lagos",
    "south africa": "Africa/Johannesburg", "uae": "Asia/Dubai", "india": "Asia/Kolkata", "china": "Asia/Shanghai",
    "japan": "Asia/Tokyo", "korea": "Asia/Seoul", "south korea": "Asia/Seoul", "thailand": "Asia/Bangkok",
    "vietnam": "Asia/Ho_Chi_Minh", "philippines": "Asia/Manila", "new zealand": "Pacific/Auckland",
    "argentina": "America/Argentina/Buenos_Aires", "colombia": "America/Bogota", "peru": "America/Lima",
    "chile": "America/Santiago",
}
_NOT_CITIES = frozenset({"Indian/Christmas", "Pacific/Easter", "Pacific/Wake", "Europe/Jersey", "America/Nome"})
_OFFSET = re.compile(r"(?:utc|gmt)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?")
_FILLER = re.compile(r"\b(?:the|time\s*zone|timezone|tz|time|city|of|standard|daylight|zone)\b")


def _plain(text: str) -> str:
    """Lower case, no accents, words separated by single spaces ("São_Paulo" → "sao paulo")."""
    bare = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^a-z0-9+:/-]+", " ", bare.lower().replace("_", " ")).split())


@functools.cache
def _zone_names() -> dict[str, str]:
    """Every IANA zone by its full name and by its city ("america/new_york", "new york")."""
    names: dict[str, str] = {}
    for key in sorted(available_timezones(), key=lambda k: (k.count("/"), k)):
        if key.startswith(("Etc/", "SystemV/", "US/", "posix", "right")) or key in ("localtime", "Factory"):
            continue
        names.setdefault(_plain(key), key)
        # a city, except where it is a word said for something else ("easter", "christmas", "wake")
        if "/" in key and not key.startswith("Antarctica/") and key not in _NOT_CITIES:
            names.setdefault(_plain(key.rsplit("/", 1)[1]), key)
    return names


def find_zone(said: str) -> str | None:
    """The IANA zone someone means by `said` — a zone name, a city, a common abbreviation or place,
    or a whole-hour UTC offset — or None when it names none of those."""
    plain = _plain(said)
    if not plain:
        return None
    offset = _OFFSET.fullmatch(plain)
    if offset:
        sign, hours, minutes = offset.groups()
        if int(hours) > 14 or int(minutes or 0):
            return None  # half-hour offsets have no fixed-offset zone: a city says it better
        key = "UTC" if int(hours) == 0 else f"Etc/GMT{'-' if sign == '+' else '+'}{int(hours)}"
        return key if is_zone(key) else None  # UTC-13 and UTC-14 exist nowhere (UTC+14 does)
    for candidate in (plain, " ".join(_FILLER.sub(" ", plain).split())):
        found = _SAID_ZONES.get(candidate) or _zone_names().get(candidate)
        if found and is_zone(found):
            return found
    return None
