"""Time expressions in chat text: where they are, and which day, moment or window they mean.

Everything here is pure: a text and an aware ``now`` (in the user's zone) in, values out.
A hand-written grammar of regular expressions finds the expressions (dateparser's
``search_dates`` costs tens of milliseconds and its import a quarter of a second, far too
much for one chat turn); dateutil does the calendar arithmetic and RRULE expansion.
Local wall-clock times are turned into aware datetimes for *their own* date, so an
offset is always right across DST changes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from dateutil.relativedelta import relativedelta

from core.clock import FIRST_YEAR, LAST_YEAR

UTC = dt.UTC

# ---------------------------------------------------------------- vocabulary

_WEEKDAYS = {
    0: "monday mon mondy monady",
    1: "tuesday tues tue tuesdy teusday tuseday tusday",
    2: "wednesday weds wed wednsday wensday wendsday wedensday wedesday wednesdy",
    3: "thursday thurs thur thu thrusday thurday thursdy thurdsay",
    4: "friday fri firday fridy frday",
    5: "saturday sat saturady satuday saterday",
    6: "sunday sun sundy",
}
WEEKDAY = {w: n for n, words in _WEEKDAYS.items() for w in words.split()}
_MONTHS = {
    1: "january jan janurary januray", 2: "february feb febuary feburary", 3: "march mar",
    4: "april apr", 5: "may", 6: "june jun", 7: "july jul", 8: "august aug",
    9: "september sept sep septmber", 10: "october oct", 11: "november nov", 12: "december dec",
}
MONTH = {w: n for n, words in _MONTHS.items() for w in words.split()}
DAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "thirty": 30, "forty-five": 45, "fortyfive": 45, "forty five": 45, "ninety": 90, "couple": 2,
    "a couple": 2, "a couple of": 2, "couple of": 2, "few": 3, "a few": 3, "several": 3,
}
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
             "last": -1, "final": -1}
_UNITS = {"min": "minutes", "mins": "minutes", "minute": "minutes", "minutes": "minutes",
          "h": "hours", "hr": "hours", "hrs": "hours", "hour": "hours", "hours": "hours",
          "day": "days", "days": "days", "week": "weeks", "weeks": "weeks", "wk": "weeks", "wks": "weeks",
          "month": "months", "months": "months", "year": "years", "years": "years", "yr": "years",
          "yrs": "years"}
PERIOD_SPAN = {"morning": (8, 12), "afternoon": (12, 18), "evening": (17, 23), "night": (18, 24)}
PERIOD_POINT = {"morning": 9, "afternoon": 14, "evening": 19, "night": 20}
_EVENING_HINT = re.compile(r"\b(?:dinner|drinks|party|tonight|evening|night|concert|movie|bar|pub|gig|show|club|theatre"
                           r"|theater|opera|ballet|bbq|barbecue|date)\b")
# Zones whose people write 3/12 for March 12.
_MONTH_FIRST = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
                "America/Phoenix", "America/Anchorage", "America/Detroit", "America/Boise",
                "America/Toronto", "America/Vancouver", "America/Edmonton", "America/Winnipeg",
                "America/Halifax", "America/Indiana", "America/Kentucky", "America/Juneau",
                "Pacific/Honolulu", "US/")


def _alt(words: Iterable[object]) -> str:
    return "|".join(sorted((re.escape(str(w)) for w in words), key=len, reverse=True))


WD = rf"(?:{_alt(WEEKDAY)})"
WDS = r"(?:mondays|tuesdays|wednesdays|thursdays|fridays|saturdays|sundays)"
MON = rf"(?:{_alt(MONTH)})"
TMR = r"(?:tomorrow|tmrw|tmr|tmrow|tomorow|tommorow|tommorrow|tomorrrow|2moro|2morrow|2mrw|tomoz|tmw)"
NUM_WORDS = _alt(_NUMBER_WORDS)
#: an amount: digits (a space is optional before the unit) or a word (a space is needed)
NUM = rf"(?:(?P<n>\d+(?:\.\d+)?)\s*|(?P<nw>{NUM_WORDS})\s+)"
UNIT = rf"(?P<u>{_alt(_UNITS)})"
_CLOCK = r"(?P<h{i}>\d{{1,2}})(?:[:.](?P<m{i}>[0-5]\d))?\s*(?P<ap{i}>[ap]\.?m\.?|[ap](?![a-z]))?"
_PREP = re.compile(
    r"(?:(?<![\w'])(?P<p>due(?:\s+(?:on|by|in|at|for))?|deadline(?:\s+(?:is|on|of))?|by|on|at|for|from|until|till|til|before|after|"
    r"around|about|starting|since|sometime|no\s+later\s+than|as\s+of|@)\s+)$")


def _prep_before(text: str, pos: int) -> re.Match[str] | None:
    """The preposition that ends just before `pos` ("by", "due on", "at"...), if any."""
    return _PREP.search(text, max(0, pos - 24), pos)


def amount(n: str | None, nw: str | None) -> float:
    """The number an amount group says: digits or words ("a", "two", "a couple of")."""
    if n:
        return float(n)
    return float(_NUMBER_WORDS.get(re.sub(r"\s+", " ", (nw or "").strip()), 1))


def unit_name(u: str) -> str:
    """The relativedelta keyword for a unit as written ("hrs" -> "hours")."""
    return _UNITS[u.lower()]  # patterns match case-insensitively: "3 H" is 3 hours


# ---------------------------------------------------------------- wall clock

def at(day: dt.date, clock: dt.time, tz: dt.tzinfo | None) -> dt.datetime:
    """The aware moment of `clock` on `day` in `tz` (a time skipped by DST moves forward)."""
    aware = dt.datetime.combine(day, clock).replace(tzinfo=tz)
    return aware.astimezone(UTC).astimezone(tz)


def day_start(day: dt.date, tz: dt.tzinfo | None) -> dt.datetime:
    """Local midnight that starts `day`."""
    return at(day, dt.time(0, 0), tz)


def iso(value: dt.date | dt.datetime) -> str:
    """ISO 8601: ``YYYY-MM-DD`` for a date, with the offset for a datetime."""
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0).isoformat()
    return value.isoformat()


def _clock(h: str, m: str | None, ap: str | None, evening: bool = False) -> tuple[dt.time, bool] | None:
    """A time of day and whether it was given without am/pm (so may mean 12 hours later)."""
    hour, minute = int(h), int(m or 0)
    if hour > 24 or minute > 59:
        return None
    if ap:
        if hour > 12 or hour == 0:
            return None
        if ap[0] == "p":
            hour = hour % 12 + 12
        else:
            hour = hour % 12
        return dt.time(hour, minute), False
    if hour == 24:
        return dt.time(0, minute), False
    if hour == 0 or hour >= 12 or h.startswith("0"):
        return dt.time(hour, minute), False
    if hour <= 6 or evening:  # "at 3" means 15:00; "dinner at 8" 20:00
        return dt.time(hour + 12, minute), True
    return dt.time(hour, minute), True


def _later(t: dt.time, hours: int = 12) -> dt.time | None:
    return dt.time(t.hour + hours, t.minute) if t.hour + hours < 24 else None


# ---------------------------------------------------------------- mentions

@dataclass(frozen=True)
class Mention:
    """One time expression in a text: its span, the preposition before it, and what it says."""

    start: int
    end: int
    # date | window | days (a stretch of whole days said) | moment | time | range | period | duration | recur
    # | invalid (a day that does not exist) | outside (a date before 1900 or after 2200)
    kind: str
    prep: str = ""
    day: dt.date | None = None
    time: dt.time | None = None
    until: dt.time | None = None
    flex: bool = False  # an hour without am/pm
    length: dt.timedelta | None = None
    moment: dt.datetime | None = None
    window: tuple[dt.date, dt.date] | None = None  # [first day, day after the last)
    period: str | None = None
    rrule: str | None = None
    shift: dict[str, float] | None = None  # "in two weeks" as an amount


@dataclass
class _Ctx:
    text: str
    now: dt.datetime
    today: dt.date
    tz: dt.tzinfo | None
    evening: bool
    month_first: bool
    taken: list[tuple[int, int]] = field(default_factory=list)


_Handler = Callable[[re.Match[str], _Ctx], Mention | None]
_RULES: list[tuple[re.Pattern[str], _Handler]] = []


def _rule(pattern: str) -> Callable[[_Handler], _Handler]:
    def register(fn: _Handler) -> _Handler:
        _RULES.append((re.compile(pattern), fn))
        return fn
    return register


def _m(m: re.Match[str], kind: str, **kw: object) -> Mention:
    return Mention(m.start(), m.end(), kind, **kw)  # type: ignore[arg-type]


def _next_weekday(today: dt.date, wd: int, allow_today: bool = False) -> dt.date:
    delta = (wd - today.weekday()) % 7
    if delta == 0 and not allow_today:
        delta = 7
    return today + dt.timedelta(days=delta)


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _month_end(day: dt.date) -> dt.date:
    return day + relativedelta(day=31)


def _on_or_after(today: dt.date, month: int, day: int, year: str | None) -> dt.date | None:
    """The date month/day in `year`, or its next occurrence on or after today."""
    if year:
        y = int(year)
        try:
            return dt.date(y + 2000 if y < 100 else y, month, day)
        except ValueError:
            return None
    for y in range(today.year, today.year + 5):  # Feb 29 waits for a leap year
        try:
            found = dt.date(y, month, day)
        except ValueError:
            continue
        if found >= today:
            return found
    return None


# --- stretches of days (first of all: "May 3 to 7" is one span, not a date and a 7 o'clock)

_TO = r"\s*(?:-|–|—|to|until|till|til|through|thru|(?P<and>and))\s*"
_DNUM = r"(?:the\s+)?(?P<d{i}>\d{{1,2}})(?:st|nd|rd|th)?"
_NOT_CLOCK = r"(?![\d:]|\s*(?:[ap]\.?m\b|[ap]\b|h\b|hrs?\b|hours?\b|o'?clock|minutes?\b|mins?\b))"
_YEAR = r"(?:,?\s+(?P<y>\d{4})\b)?"
_SPAN_LEAD = r"\b(?P<lead>from\s+|between\s+)?"


def _span(m: re.Match[str], first: dt.date | None, last: dt.date | None) -> Mention | None:
    """Days first..last (inclusive) as one "days" mention; "and" only joins them after "between"."""
    if first is None or last is None or (m["and"] and not (m["lead"] or "").startswith("between")):
        return None
    if not first < last <= first + dt.timedelta(days=92):  # "May 7 to May 3" is no 11-month trip
        return None
    return _m(m, "days", day=first, window=(first, last + dt.timedelta(days=1)))


def _last_of(first: dt.date | None, month: int, day: int) -> dt.date | None:
    """The first month/day on or after `first` ("Dec 28 to Jan 3" ends next year)."""
    return _on_or_after(first, month, day, None) if first else None


@_rule(_SPAN_LEAD + rf"(?:{WD},?\s+)?(?P<mon>{MON})\.?\s+{_DNUM.format(i=1)}{_TO}"
       rf"(?:(?:{WD},?\s+)?(?P<mon2>{MON})\.?\s+)?{_DNUM.format(i=2)}\b{_NOT_CLOCK}{_YEAR}")
def _month_day_span(m: re.Match[str], c: _Ctx) -> Mention | None:
    """ "May 3 to 7", "from May 3 to May 7", "Dec 28 - Jan 3 2027"."""
    first = _on_or_after(c.today, MONTH[m["mon"]], int(m["d1"]), m["y"] if not m["mon2"] else None)
    return _span(m, first, _last_of(first, MONTH[m["mon2"] or m["mon"]], int(m["d2"])))


@_rule(_SPAN_LEAD + rf"{_DNUM.format(i=1)}(?:\s+(?:of\s+)?(?P<mon>{MON})\b\.?)?{_TO}"
       rf"{_DNUM.format(i=2)}\s+(?:of\s+)?(?P<mon2>{MON})\b\.?{_YEAR}")
def _day_month_span(m: re.Match[str], c: _Ctx) -> Mention | None:
    """ "3-7 May", "3rd to the 7th of May", "28 December to 3 January"."""
    month = MONTH[m["mon"] or m["mon2"]]
    first = _on_or_after(c.today, month, int(m["d1"]), m["y"] if not m["mon"] else None)
    return _span(m, first, _last_of(first, MONTH[m["mon2"]], int(m["d2"])))


@_rule(_SPAN_LEAD + r"(?:the\s+)?(?P<d1>\d{1,2})(?:st|nd|rd|th)" + _TO + r"(?:the\s+)?(?P<d2>\d{1,2})(?:st|nd|rd|th)\b"
       rf"(?!\s+(?:of\s+)?(?:{MON})\b)")
def _ordinal_span(m: re.Match[str], c: _Ctx) -> Mention | None:
    """ "from the 14th to the 16th", "21st-23rd": the next such days of a month (this one's while ahead)."""
    first = _day_of_month(c.today, int(m["d1"]))
    return _span(m, first, _day_of_month(first + dt.timedelta(days=1), int(m["d2"])) if first else None)


@_rule(_SPAN_LEAD + r"(?P<y1>\d{4})-(?P<m1>\d{1,2})-(?P<d1>\d{1,2})" + _TO
       + r"(?P<y2>\d{4})-(?P<m2>\d{1,2})-(?P<d2>\d{1,2})\b")
def _iso_span(m: re.Match[str], c: _Ctx) -> Mention | None:
    """ "2026-05-03 to 2026-05-07"."""
    first, last = (dt.date(int(m[f"y{i}"]), int(m[f"m{i}"]), int(m[f"d{i}"])) for i in (1, 2))
    return _span(m, first, last)


@_rule(_SPAN_LEAD + rf"(?<!every\s)(?<!each\s)(?P<next>next\s+)?(?P<wd1>{WD})\b\.?{_TO}(?P<wd2>{WD})\b\.?"
       r"(?:\s+(?P<nw>next|this)\s+week\b)?(?!\s*(?:nights?|evenings?)\b)")
def _weekday_span(m: re.Match[str], c: _Ctx) -> Mention | None:
    """ "Monday to Friday", "from Wed through Sun", "Mon-Fri next week": the coming such days (this
    week's while still ahead)."""
    wd = WEEKDAY[m["wd1"]]
    if m["next"] or m["nw"] == "next":
        first = _monday(c.today) + dt.timedelta(days=7 + wd)
    else:
        first = _next_weekday(c.today, wd, allow_today=True)
    return _span(m, first, _next_weekday(first, WEEKDAY[m["wd2"]]))


# --- recurrences (first: "the first Monday of each month" is not a plain Monday)

@_rule(rf"\b(?:on\s+)?(?:the\s+)?(?:every\s+|each\s+)?(?P<ord>first|1st|second|2nd|third|3rd|fourth|4th|last|final)"
       rf"\s+(?P<wd>{WD})\s+(?:of\s+)?(?:each|every|the|a)\s+month\b")
def _monthly_weekday(m: re.Match[str], c: _Ctx) -> Mention:
    code = f"{_ORDINALS[m['ord']]}{DAY_CODES[WEEKDAY[m['wd']]]}"
    return _m(m, "recur", rrule=f"FREQ=MONTHLY;BYDAY={code}")


@_rule(r"\b(?:(?:on\s+)?the\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+of\s+(?:each|every|the)\s+month"
       r"|(?:every|each)\s+month\s+on\s+the\s+(?P<d2>\d{1,2})(?:st|nd|rd|th)?"
       r"|monthly\s+on\s+the\s+(?P<d3>\d{1,2})(?:st|nd|rd|th)?)\b")
def _monthly_day(m: re.Match[str], c: _Ctx) -> Mention | None:
    d = int(m["d"] or m["d2"] or m["d3"])
    return _m(m, "recur", rrule=f"FREQ=MONTHLY;BYMONTHDAY={d}") if 1 <= d <= 31 else None


@_rule(r"\b(?:(?:every|each)\s+(?:week\s*day|work\s*day|business\s+day)s?|(?:on\s+)?weekdays"
       r"|(?:every\s+day\s+)?monday\s+(?:to|through|thru|-)\s+friday)\b")
def _weekdays(m: re.Match[str], c: _Ctx) -> Mention:
    return _m(m, "recur", rrule="FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR")


def _days_rule(days: str, interval: str = "") -> str:
    codes = []
    for word in re.findall(r"[a-z]+", days):
        word = word[:-1] if word.endswith("s") and word[:-1] in WEEKDAY and len(word) > 4 else word
        if word in WEEKDAY and DAY_CODES[WEEKDAY[word]] not in codes:
            codes.append(DAY_CODES[WEEKDAY[word]])
    codes.sort(key=DAY_CODES.index)
    return f"FREQ=WEEKLY{interval};BYDAY={','.join(codes)}"


_PER = r"(?:\s+(?P<per>morning|afternoon|evening|night)s?)?"


@_rule(rf"\b(?:every|each)\s+(?P<other>other\s+)?(?P<days>{WD}(?:\s*(?:,\s*and|,|and|&|/)\s*{WD})*)\b{_PER}")
def _every_weekday(m: re.Match[str], c: _Ctx) -> Mention:
    return _m(m, "recur", rrule=_days_rule(m["days"], ";INTERVAL=2" if m["other"] else ""), period=m["per"])


# "on Sunday evenings", "Friday afternoons": that part of every such day
@_rule(rf"\b(?:on\s+)?(?P<days>{WD})\s+(?P<per>morning|afternoon|evening|night)s\b")
def _weekday_periods(m: re.Match[str], c: _Ctx) -> Mention:
    return _m(m, "recur", rrule=_days_rule(m["days"]), period=m["per"])


@_rule(rf"\b(?:on\s+)?(?P<days>{WDS}(?:\s*(?:,\s*and|,|and|&|/)\s*{WDS})*)\b{_PER}")
def _plural_weekdays(m: re.Match[str], c: _Ctx) -> Mention:
    return _m(m, "recur", rrule=_days_rule(m["days"]), period=m["per"])


# "gym mon wed fri 7am", "tennis tues & thurs", "mon/wed/fri": weekdays listed without "and" are a weekly habit
# ("off monday and tuesday" stays two days; "next mon, tue" is that week's)
@_rule(rf"(?<!next\s)(?<!this\s)(?<!last\s)\b(?P<days>{WD}\.?(?:\s*(?:,|&|/|\+|\s)\s*{WD}\b\.?)+)(?!\s*(?:-|–|to\b|and\b))"
       rf"{_PER}")
def _listed_weekdays(m: re.Match[str], c: _Ctx) -> Mention:
    return _m(m, "recur", rrule=_days_rule(m["days"]), period=m["per"])


@_rule(r"\b(?:(?:every|each)\s+(?:single\s+)?(?P<per>day|morning|afternoon|evening|night)|daily|nightly)\b")
def _daily(m: re.Match[str], c: _Ctx) -> Mention:
    per = m["per"] if m["per"] in PERIOD_SPAN else ("night" if m[0] == "nightly" else None)
    return _m(m, "recur", rrule="FREQ=DAILY", period=per)


@_rule(rf"\b(?:every|each)\s+(?:(?P<other>other)|{NUM})\s*(?P<u>days?|weeks?|months?|years?)\b")
def _every_n(m: re.Match[str], c: _Ctx) -> Mention | None:
    n = 2 if m["other"] else int(amount(m["n"], m["nw"]))
    freq = {"d": "DAILY", "w": "WEEKLY", "m": "MONTHLY", "y": "YEARLY"}[m["u"][0]]
    return _m(m, "recur", rrule=f"FREQ={freq}" + (f";INTERVAL={n}" if n > 1 else "")) if n >= 1 else None


@_rule(r"\b(?:(?:every|each)\s+(?P<u>week|month|year)|(?P<adj>weekly|monthly|yearly|annually|fortnightly|"
       r"bi-?weekly|bi-?monthly))\b")
def _every_unit(m: re.Match[str], c: _Ctx) -> Mention:
    word = m["u"] or m["adj"]
    rule = {"week": "FREQ=WEEKLY", "weekly": "FREQ=WEEKLY", "month": "FREQ=MONTHLY", "monthly": "FREQ=MONTHLY",
            "year": "FREQ=YEARLY", "yearly": "FREQ=YEARLY", "annually": "FREQ=YEARLY"}.get(word)
    if rule is None:
        rule = "FREQ=MONTHLY;INTERVAL=2" if "month" in word else "FREQ=WEEKLY;INTERVAL=2"
    return _m(m, "recur", rrule=rule)


# --- calendar dates

@_rule(r"\b(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})\b")
def _iso_date(m: re.Match[str], c: _Ctx) -> Mention | None:
    try:
        return _m(m, "date", day=dt.date(int(m["y"]), int(m["mo"]), int(m["d"])))
    except ValueError:
        return None


@_rule(r"(?<![\w/.-])(?P<a>\d{1,2})/(?P<b>\d{1,2})(?:/(?P<y>\d{4}|\d{2}))?(?![\w/])")
def _slash_date(m: re.Match[str], c: _Ctx) -> Mention | None:
    a, b = int(m["a"]), int(m["b"])
    month, day = (a, b) if c.month_first else (b, a)
    if month > 12 and day <= 12:
        month, day = day, month
    found = _on_or_after(c.today, month, day, m["y"]) if 1 <= month <= 12 and 1 <= day <= 31 else None
    return _m(m, "date", day=found) if found else None


def _month_day(m: re.Match[str], c: _Ctx) -> Mention | None:
    found = _on_or_after(c.today, MONTH[m["mon"]], int(m["d"]), m["y"])
    return _m(m, "date", day=found) if found else _m(m, "invalid")  # "February 30"


_rule(rf"\b(?:(?:{WD}),?\s+)?(?:the\s+)?(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mon>{MON})\b"
      rf"(?!\s+(?:be|not|have|need)\b)\.?"
      rf"(?:,?\s+(?P<y>\d{{4}})\b)?")(_month_day)
_rule(rf"\b(?:(?:{WD}),?\s+)?(?P<mon>{MON})\.?\s+(?:the\s+)?(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b"
      rf"(?!:\d|\s*(?:am|pm|[ap]\b|hours?|hrs?|h\b|min))(?:,?\s+(?P<y>\d{{4}})\b)?")(_month_day)


@_rule(r"\b(?P<the>the\s+)?(?P<d>\d{1,2})(?:st|nd|rd|th)\b(?!\s+(?:floor|place|time|row|grade|century|"
       r"anniversary|birthday|edition|round|option|one|item|attempt|try|person|street|avenue|st\b|ave\b))")
def _ordinal_day(m: re.Match[str], c: _Ctx) -> Mention | None:
    if not m["the"] and not _prep_before(c.text, m.start()) and not _CLOCK_AFTER.match(c.text, m.end()):
        return None  # "parents evening 17th 7pm" is a day; "tom's 5th" alone is no date
    found = _day_of_month(c.today, int(m["d"]))
    return _m(m, "date", day=found) if found else None


_CLOCK_AFTER = re.compile(r"\s*,?\s+(?:at\s+|@\s*)?\d{1,2}(?::[0-5]\d)?\s*(?:[ap]\.?m\.?\b|-|–)"
                          r"|\s+(?:at\s+)?\d{1,2}:[0-5]\d\b")  # a clock time right after: "17th 7pm", "10th 18:30"


def _day_of_month(today: dt.date, d: int) -> dt.date | None:
    """The next date (from `today` on) that is the `d`th of its month."""
    if not 1 <= d <= 31:
        return None
    day = today
    for _ in range(13):  # the next month that has that day, from this one
        try:
            found = day.replace(day=d)
        except ValueError:
            found = None
        if found and found >= today:
            return found
        day = (day.replace(day=1) + relativedelta(months=1))
    return None


# --- relative amounts: "in 2 hours", "in two weeks", "three days from now"

_AND_A_HALF = r"(?:(?P<midhalf>and\s+a\s+half)\s+)?"  # "in 2 and a half hours", as "in 2 hours and a half"

def _relative(m: re.Match[str], c: _Ctx) -> Mention | None:
    if m["half"]:
        n, unit = 0.5, "hours"
    else:
        n, unit = amount(m["n"], m["nw"]), unit_name(m["u"])
    if m["andhalf"] or m["midhalf"]:
        n += 0.5
    if unit in ("minutes", "hours"):
        moment = (c.now.astimezone(UTC) + dt.timedelta(**{unit: n})).astimezone(c.tz)
        return _m(m, "moment", moment=moment.replace(second=0, microsecond=0), shift={unit: n})
    if unit == "months" or unit == "years":
        if n != int(n):
            return None
        day = c.today + (relativedelta(months=int(n)) if unit == "months" else relativedelta(years=int(n)))
    else:
        day = c.today + dt.timedelta(**{unit: n})
    return _m(m, "date", day=day, shift={unit: n})


_rule(rf"\b(?:in|within)\s+(?:(?P<half>half\s+an?\s+hour)|{NUM}{_AND_A_HALF}{UNIT})(?P<andhalf>\s+and\s+a\s+half)?(?:'s)?(?:\s+time)?\b")(
    _relative)
_rule(rf"\b(?:(?P<half>half\s+an?\s+hour)|{NUM}{_AND_A_HALF}{UNIT})(?P<andhalf>\s+and\s+a\s+half)?\s+from\s+(?:now|today)\b")(
    _relative)


# --- weekdays and named days

@_rule(rf"\b(?:(?P<nw1>next\s+week\s+(?:on\s+)?)|(?P<mod>this\s+coming|this|next|coming|following)\s+)?"
       rf"(?P<wd>{WD})\b\.?(?:\s+(?P<per>morning|afternoon|evening|night))?(?:\s+(?P<nw>next|this)\s+week\b)?")
def _weekday(m: re.Match[str], c: _Ctx) -> Mention | None:
    word, mod = m["wd"], m["mod"] or ""
    if word in ("sat", "sun", "mon", "wed") and not mod and not m["nw"] and not m["nw1"]:
        after = c.text[m.end(): m.end() + 12]
        if not _prep_before(c.text, m.start()) and not re.match(r"\s*(?:at\s+)?\d", after) and not m["per"]:
            return None
    wd = WEEKDAY[word]
    if m["nw1"] or m["nw"] == "next" or mod == "next":
        day = _monday(c.today) + dt.timedelta(days=7 + wd)
    elif m["nw"] == "this" or mod == "this":
        day = _next_weekday(c.today, wd, allow_today=True)
    else:
        day = _next_weekday(c.today, wd)
    return _m(m, "date", day=day, period=m["per"])


@_rule(rf"\b(?P<w>today|tonight|tonite|(?:the\s+)?day\s+after\s+{TMR}|{TMR}|yesterday)(?:'s)?\b"
       r"(?:\s+(?P<per>morning|afternoon|evening|night))?")
def _named_day(m: re.Match[str], c: _Ctx) -> Mention:
    w = m["w"]
    if w.startswith(("today", "toni")):
        offset = 0
    elif w == "yesterday":
        offset = -1
    elif "after" in w:
        offset = 2
    else:
        offset = 1
    per = m["per"] or ("night" if w.startswith("toni") else None)
    return _m(m, "date", day=c.today + dt.timedelta(days=offset), period=per)


# --- windows: weeks, weekends, months

@_rule(r"\b(?:(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?(?P<next>next\s+)?(?P<u>day|week|month|year|quarter)"
       r"|(?P<abbr>eod|eow|eom|eoy|cob|close\s+of\s+business))\b")
def _end_of(m: re.Match[str], c: _Ctx) -> Mention:
    unit = m["u"] or {"eod": "day", "cob": "day", "eow": "week", "eom": "month", "eoy": "year"}.get(
        m["abbr"] or "", "day")
    t = c.today
    if unit == "day":
        return _m(m, "date", day=t)
    if unit == "week":
        mon = _monday(t) + dt.timedelta(days=7 if m["next"] else 0)
        fri = mon + dt.timedelta(days=4)
        return _m(m, "window", day=fri if fri >= t else mon + dt.timedelta(days=6),
                  window=(mon, mon + dt.timedelta(days=7)))
    if unit == "month":
        first = t.replace(day=1) + relativedelta(months=1 if m["next"] else 0)
        return _m(m, "window", day=_month_end(first), window=(max(t, first), _month_end(first) +
                                                              dt.timedelta(days=1)))
    if unit == "quarter":
        q_end = dt.date(t.year, (t.month - 1) // 3 * 3 + 3, 1) + relativedelta(day=31)
        return _m(m, "window", day=q_end, window=(t, q_end + dt.timedelta(days=1)))
    year = t.year + (1 if m["next"] else 0)
    return _m(m, "window", day=dt.date(year, 12, 31), window=(t, dt.date(year + 1, 1, 1)))


# a verb said as a request or after "to" ("plan", "to review", "and close"), right before "the week/month/…"
_OBJECT_OF = re.compile(r"(?:^|\b(?:to|and|then|please|pls|me|us)\s+|[,;:.!]\s*)(?!(?:at|on|in|over|during|for|by"
                        r"|across|through|throughout|within|all|until|till|before|after|from|of|is|was|be|every"
                        r"|each|around|about|since|into)\s)[a-z]+\s+$")


@_rule(r"\b(?P<mod>this\s+coming|the\s+coming|the\s+following|later\s+this|this|next|the|coming|following|over\s+the"
       r"|my)"
       r"\s+(?P<u>weekend|week|month|year)\b")
def _this_next(m: re.Match[str], c: _Ctx) -> Mention | None:
    mod, unit, t = re.sub(r"\s+", " ", m["mod"]), m["u"], c.today
    if mod == "the" and _OBJECT_OF.search(c.text, 0, m.start()):
        return None  # "plan the week", "to review the month": what is done, not when
    ahead = 1 if mod in ("next", "the following", "following", "this coming", "the coming", "coming") else 0
    if unit == "weekend":
        sat = t - dt.timedelta(days=1) if t.weekday() == 6 else t + dt.timedelta(days=5 - t.weekday())
        if mod in ("next", "the following", "following"):
            sat += dt.timedelta(days=7)
        return _m(m, "window", day=max(sat, t), window=(sat, sat + dt.timedelta(days=2)))
    if unit == "week":
        mon = _monday(t) + dt.timedelta(days=7 * ahead)
        if ahead:
            point = mon
        else:
            fri = mon + dt.timedelta(days=4)
            point = fri if fri >= t else mon + dt.timedelta(days=6)
        return _m(m, "window", day=point, window=(mon, mon + dt.timedelta(days=7)))
    if unit == "month":
        first = t.replace(day=1) + relativedelta(months=ahead)
        return _m(m, "window", day=first if ahead else _month_end(t),
                  window=(first, first + relativedelta(months=1)))
    first_day = dt.date(t.year + ahead, 1, 1)
    return _m(m, "window", day=first_day if ahead else dt.date(t.year, 12, 31),
              window=(first_day, dt.date(t.year + ahead + 1, 1, 1)))


_MONTH_WORDS = "|".join(sorted(MONTH, key=len, reverse=True))


@_rule(r"\b(?P<lead>(?:the\s+)?(?:end|beginning|start)\s+of|in|by|before|during|until|till|through)\s+"
       rf"(?:the\s+month\s+of\s+)?(?P<mon>{_MONTH_WORDS})\.?(?:\s+(?P<y>\d{{4}}))?\b(?!\s*\d|\s*(?:st|nd|rd|th)\b)")
def _named_month(m: re.Match[str], c: _Ctx) -> Mention:
    """A month said by name without a day ("before june", "by the end of january", "in march"): its next
    occurrence (this month counts); the day a deadline falls on: the end of the month, its first day for
    "by" and "the beginning of", the day before it for "before"."""
    t, month = c.today, MONTH[m["mon"]]
    year = int(m["y"]) if m["y"] else t.year + (1 if month < t.month else 0)
    first = dt.date(year, month, 1)
    lead = re.sub(r"\s+", " ", m["lead"]).removeprefix("the ")
    if lead in ("by", "beginning of", "start of"):
        day = first
    elif lead == "before":
        day = first - dt.timedelta(days=1)
    else:
        day = _month_end(first)
    return _m(m, "window", day=max(day, t), window=(max(first, t), _month_end(first) + dt.timedelta(days=1)))


@_rule(rf"\b(?:the\s+)?(?:next|coming|following)\s+(?:{NUM}|(?P<few>few|couple(?:\s+of)?)\s+)days\b")
def _next_days(m: re.Match[str], c: _Ctx) -> Mention:
    n = 3 if m["few"] and "few" in m["few"] else 2 if m["few"] else int(amount(m["n"], m["nw"]))
    return _m(m, "window", day=c.today + dt.timedelta(days=n), window=(c.today, c.today + dt.timedelta(days=n + 1)))


# --- parts of a day

@_rule(r"\b(?:this|in\s+the|during\s+the|early\s+in\s+the|late\s+in\s+the|later\s+this|at)\s+"
       r"(?P<per>morning|afternoon|evening|night)\b")
def _period(m: re.Match[str], c: _Ctx) -> Mention | None:
    if m[0].startswith("at") and m["per"] != "night":
        return None
    this = m[0].startswith(("this", "later"))
    return _m(m, "period", period=m["per"], day=c.today if this else None)


# --- clock times and ranges

_CLOCK1, _CLOCK2 = _CLOCK.format(i=1), _CLOCK.format(i=2)


@_rule(rf"\b(?P<between>between\s+)?(?:from\s+)?{_CLOCK1}\s*(?:-|–|—|to|until|till|til|and|through|thru)\s*"
       rf"{_CLOCK2}(?![\w:])")
def _range(m: re.Match[str], c: _Ctx) -> Mention | None:
    if " and" in m[0] and not m["between"]:
        return None
    before = c.text[max(0, m.start() - 12): m.start()]
    framed = m[0].startswith(("from", "between")) or bool(re.search(r"\b(?:from|between|at)\s+$", before)) \
        or any(0 <= m.start() - e <= 2 or 0 <= s - m.end() <= 2 for s, e in c.taken)
    if not (framed or m["ap1"] or m["ap2"] or m["m1"] or m["m2"]):
        return None
    if re.compile(r"\s*(?:days?|weeks?|months?|people|persons|%|x\b)").match(c.text, m.end()):
        return None
    ap1, ap2 = m["ap1"], m["ap2"]
    if ap2 and not ap1:  # "4-5pm", "11-1pm": the start shares the end's half of the day if it can
        first = _clock(m["h1"], m["m1"], ap2)
        second = _clock(m["h2"], m["m2"], ap2)
        if first and second and first[0] > second[0]:
            first = _clock(m["h1"], m["m1"], "am" if ap2[0] == "p" else "pm")
    else:  # "12:30-1:30", "9am to 5": the end is the first such time after the start
        first = _clock(m["h1"], m["m1"], ap1, c.evening)
        second = _clock(m["h2"], m["m2"], ap2)
        if first and second and not ap2 and second[0] <= first[0]:
            later = _later(second[0])
            second = (later, False) if later and later > first[0] else second
    if not first or not second:
        return None
    flex = first[1] and not ap1 and not ap2
    return _m(m, "range", time=first[0], until=second[0], flex=flex)


@_rule(r"\b(?:(?:for|lasting|takes?|taking|(?:it'?ll|it\s+will|will|should|it\s+should)\s+take)\s+"
       r"(?:about\s+|around\s+|roughly\s+|like\s+)?)?"
       r"(?:(?:(?P<n>\d+(?:\.\d+)?)\s*|(?P<nw>an?|one|two|three|four|five|six|fifteen|twenty|thirty|forty-?five|"
       r"ninety)\s+)(?:(?P<midhalf>and\s+a\s+half)\s+)?(?P<u>minutes?|mins?|hours?|hrs?|h)(?P<half>\s+and\s+a\s+half)?"
       r"|(?P<halfhour>half\s+an?\s+hour))\b")
def _duration(m: re.Match[str], c: _Ctx) -> Mention | None:
    if m["halfhour"]:
        return _m(m, "duration", length=dt.timedelta(minutes=30))
    n = amount(m["n"], m["nw"]) + (0.5 if m["half"] or m["midhalf"] else 0)
    unit = unit_name(m["u"])
    if unit == "hours" and m["u"] == "h" and not m["n"]:
        return None
    length = dt.timedelta(**{unit: n})
    return _m(m, "duration", length=length) if dt.timedelta(0) < length <= dt.timedelta(days=2) else None


@_rule(r"\b(?P<h>\d{1,2})(?:[:.](?P<m>[0-5]\d))?\s*(?P<ap>[ap]\.?m\.?|[ap](?![a-z]))(?![\w])")
def _meridiem_time(m: re.Match[str], c: _Ctx) -> Mention | None:
    got = _clock(m["h"], m["m"], m["ap"])
    return _m(m, "time", time=got[0]) if got else None


@_rule(r"\b(?P<h>\d{1,2})(?:[:h](?P<m>[0-5]\d)|\s*o'?clock)(?![\w:])")
def _colon_time(m: re.Match[str], c: _Ctx) -> Mention | None:
    got = _clock(m["h"], m["m"], None, c.evening)
    return _m(m, "time", time=got[0], flex=got[1]) if got else None


# a move whose new value is a bare hour: "push the 1:1 to 3" is 3 o'clock
_MOVED_TO = re.compile(r"\b(?:move|moved|push|pushed|shift|shifted|bring|brought|reschedule|rescheduled|postpone"
                       r"|postponed|delay|delayed)\b[^.!?]*?\bto\s+$", re.I)


@_rule(r"\b(?P<h>\d{1,2})\b(?![:.,]?\d|\s*(?:%|st\b|nd\b|rd\b|th\b|people|persons|guests|items|of\b|x\b|-|/|days?\b"
       r"|weeks?\b|months?\b|years?\b|hours?\b|hrs?\b|mins?\b|minutes?\b|h\b|times\b|euros?|dollars?|pounds?|bucks))")
def _bare_hour(m: re.Match[str], c: _Ctx) -> Mention | None:
    prep = _prep_before(c.text, m.start())
    moved = _MOVED_TO.search(c.text, max(0, m.start() - 80), m.start())  # "move drinks with Jo to 7"
    if not moved and (not prep or prep["p"] not in ("at", "@", "around", "about", "by", "before", "after", "until",
                                                    "till", "from")):
        return None
    got = _clock(m["h"], None, None, c.evening)
    return _m(m, "time", time=got[0], flex=got[1]) if got else None


@_rule(r"\b(?:12\s*)?(?P<w>noon|midday|midnight|lunch\s*time)\b")
def _noon(m: re.Match[str], c: _Ctx) -> Mention:
    return _m(m, "time", time=dt.time(0, 0) if m["w"] == "midnight" else dt.time(12, 0))


_HOUR_WORDS = {w: n for w, n in _NUMBER_WORDS.items() if w.isalpha() and 1 <= n <= 12 and w not in ("a", "an")}
_HOUR_WORD = rf"(?:{_alt(_HOUR_WORDS)})"
_MINUTE_WORDS = {"fifteen": 15, "thirty": 30, "forty-five": 45, "fortyfive": 45, "forty five": 45, "o'clock": 0,
                 "oclock": 0}


def _hour(h: str) -> str:
    return str(_HOUR_WORDS.get(h, h))


@_rule(rf"\b(?P<h>{_HOUR_WORD})(?:\s+(?P<mw>{_alt(_MINUTE_WORDS)}))?(?:\s*(?P<ap>[ap]\.?m\.?)(?![a-z]))?"
       rf"(?![\w-])")
def _word_time(m: re.Match[str], c: _Ctx) -> Mention | None:
    """ "at seven", "seven thirty pm", "nine o'clock": an hour said in words."""
    prep = _prep_before(c.text, m.start())
    said_as_time = m["ap"] or m["mw"] in ("o'clock", "oclock")
    if not said_as_time and (not prep or prep["p"] not in ("at", "@", "around", "about", "by", "until", "till")):
        return None
    if m["h"] == "one" and not (m["ap"] or m["mw"]):
        return None  # "at one point"
    if not (m["ap"] or m["mw"]) and re.match(r"\s+(?:[a-z]+s|of|more|other|another|day|week|month|year|hour|minute"
                                              r"|time|person|dollar|euro|pound)\b", c.text[m.end():]):
        return None  # "by three days", "at five euros": a count, not a time
    minute = _MINUTE_WORDS.get(m["mw"] or "o'clock", 0)
    got = _clock(_hour(m["h"]), str(minute), m["ap"], c.evening)
    return _m(m, "time", time=got[0], flex=got[1]) if got else None


@_rule(rf"\b(?P<q>half|quarter)\s+(?P<dir>past|after|to)\s+(?P<h>\d{{1,2}}|{_HOUR_WORD})\b")
def _half_past(m: re.Match[str], c: _Ctx) -> Mention | None:
    got = _clock(_hour(m["h"]), None, None, c.evening)
    if not got:
        return None
    base = dt.datetime.combine(c.today, got[0])
    minutes = 30 if m["q"] == "half" else 15
    moved = base + dt.timedelta(minutes=-minutes if m["dir"] == "to" else minutes)
    return _m(m, "time", time=moved.time(), flex=got[1])


@_rule(rf"\b(?:at|by|around|about|from|until|till|@)\s+half\s+(?P<h>\d{{1,2}}|{_HOUR_WORD})\b"
       r"(?!\s*(?:[:.]\d|hours?\b|days?\b|of\b|an?\b))")
def _british_half(m: re.Match[str], c: _Ctx) -> Mention | None:
    """ "at half 3" (British): half past three."""
    got = _clock(_hour(m["h"]), "30", None, c.evening)
    return _m(m, "time", time=got[0], flex=got[1]) if got else None


# ---------------------------------------------------------------- scanning

_SANE_YEARS = (FIRST_YEAR, LAST_YEAR)


def lower(text: str) -> str:
    """Lower case, keeping every character at its index."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)


def scan(text: str, now: dt.datetime) -> list[Mention]:
    """Every time expression in `text`, in order; earlier grammar rules win overlaps."""
    low = lower(text)
    tz = now.tzinfo
    key = str(getattr(tz, "key", "") or "")
    ctx = _Ctx(low, now, now.date(), tz, bool(_EVENING_HINT.search(low)), key.startswith(_MONTH_FIRST))
    taken = ctx.taken
    found: list[Mention] = []
    for pattern, handler in _RULES:
        for m in pattern.finditer(low):
            s, e = m.span()
            if s == e or any(s < te and ts < e for ts, te in taken):
                continue
            try:
                mention = handler(m, ctx)
            except OverflowError:  # "in 99999999 days": further than the calendar goes
                mention = _m(m, "outside")
            except ValueError as exc:  # a date the calendar cannot hold
                mention = _m(m, "outside") if "year" in str(exc) else None
            if mention is None:
                continue
            if any(v is not None and not _SANE_YEARS[0] <= v.year <= _SANE_YEARS[1]
                   for v in (mention.day, mention.moment)):
                mention = replace(mention, kind="outside", day=None, moment=None, window=None)
            prep = _prep_before(low, mention.start)
            if prep:
                mention = replace(mention, start=prep.start(), prep=re.sub(r"\s+", " ", prep["p"]))
            taken.append((s, e))
            found.append(mention)
    found.sort(key=lambda x: x.start)
    return found


# ---------------------------------------------------------------- mentions read together

_DATEISH = {"date", "window", "days"}
_TIMEISH = {"time", "range"}


@dataclass(frozen=True)
class When:
    """Adjacent mentions read together ("on friday at 3pm for an hour"), relative to `now`.

    Build one with :meth:`of`; its fields are what the mentions say together.
    """

    now: dt.datetime
    mentions: tuple[Mention, ...]
    start: int  # the span in the text, preposition included
    end: int
    prep: str  # the preposition before the first mention ("by", "on", "due", "" ...)
    day: dt.date | None = None
    time: dt.time | None = None  # a clock time said (not one a part of the day suggests)
    until: dt.time | None = None  # the end of a range ("2 to 3:30pm")
    flex: bool = False  # the hour had no am/pm
    length: dt.timedelta | None = None
    moment: dt.datetime | None = None  # "in 2 hours"
    window: tuple[dt.date, dt.date] | None = None  # "this week": [first day, day after the last)
    period: str | None = None  # morning / afternoon / evening / night
    rrule: str | None = None

    @classmethod
    def of(cls, now: dt.datetime, mentions: Iterable[Mention]) -> When:
        """The mentions, in the order given, read as one time."""
        ms = tuple(mentions)
        timed = [x for x in ms if x.kind in _TIMEISH]
        return cls(
            now, ms, min(x.start for x in ms), max(x.end for x in ms), ms[0].prep,
            day=next((x.day for x in ms if x.day is not None), None),
            time=timed[0].time if timed else None,
            until=next((x.until for x in ms if x.until is not None), None),
            flex=any(x.flex for x in timed),
            length=next((x.length for x in ms if x.length is not None), None),
            moment=next((x.moment for x in ms if x.moment is not None), None),
            window=next((x.window for x in ms if x.window is not None), None),
            period=next((x.period for x in ms if x.period is not None), None),
            rrule=next((x.rrule for x in ms if x.rrule is not None), None),
        )

    @property
    def spans(self) -> list[tuple[int, int]]:
        """Each mention's span in the text."""
        return [(x.start, x.end) for x in self.mentions]

    @property
    def kinds(self) -> set[str]:
        """The kinds of mention read together."""
        return {x.kind for x in self.mentions}

    @property
    def has_day(self) -> bool:
        """Whether a day was said (a date, a window, "in 2 hours", "this morning")."""
        return any(x.kind in _DATEISH or (x.kind == "period" and x.day) for x in self.mentions) or \
            self.moment is not None

    @property
    def has_time(self) -> bool:
        """Whether a time of day was said."""
        return self.time is not None or self.moment is not None

    # --- resolved against now
    @property
    def tz(self) -> dt.tzinfo | None:
        """The user's zone."""
        return self.now.tzinfo

    def clock(self) -> dt.time | None:
        """The time of day: the one given, else one a part of the day suggests."""
        t = self.time
        per = self.period
        if t is not None and per and self.flex:
            if per == "morning" and t.hour >= 12:
                t = dt.time(t.hour - 12, t.minute)
            elif per != "morning" and t.hour < 12:
                t = _later(t) or t
        if t is None and per:
            t = dt.time(PERIOD_POINT[per], 0)
        return t

    def point(self) -> dt.date | dt.datetime | None:
        """The one day or moment meant: a date when no time of day was said."""
        if self.moment is not None:
            return self.moment
        day, t, now = self.day, self.clock(), self.now
        if t is None:
            return day
        explicit = day is not None
        day = day or now.date()
        moment = at(day, t, self.tz)
        if moment <= now and day == now.date():
            # a bare hour already past means its pm twin, unless a part of the day was said ("7 in the morning")
            later = _later(t) if self.flex and self.time is not None and not self.period else None
            if later and at(day, later, self.tz) > now:
                return at(day, later, self.tz)
            if not explicit:
                return at(day + dt.timedelta(days=1), t, self.tz)
        return moment

    def range(self, default: dt.timedelta | None = dt.timedelta(hours=1)) -> tuple[dt.datetime, dt.datetime] | None:
        """The stretch of time meant: a timed span, a part of a day, a window, or whole days."""
        tz, now = self.tz, self.now
        if self.moment is not None:
            return self.moment, self.moment + (self.length or default or dt.timedelta(hours=1))
        if self.time is not None:
            start = self.point()
            assert isinstance(start, dt.datetime)
            if self.until is not None:
                end_day = start.date() if self.until > start.time() else start.date() + dt.timedelta(days=1)
                return start, at(end_day, self.until, tz)
            length = self.length or default or dt.timedelta(hours=1)
            return start, start + length
        day = self.day
        if self.period:
            day = day or now.date()
            lo, hi = PERIOD_SPAN[self.period]
            return at(day, dt.time(lo), tz), at(day + dt.timedelta(days=hi // 24), dt.time(hi % 24), tz)
        if self.window is not None:
            lo_d, hi_d = self.window
            return day_start(lo_d, tz), day_start(hi_d, tz)
        if day is not None:
            return day_start(day, tz), day_start(day + dt.timedelta(days=1), tz)
        return None

    def first(self) -> dt.date | dt.datetime | None:
        """The first occurrence on or after now of a recurring rule (a date when untimed)."""
        rule = self.rrule
        if not rule:
            return self.point()
        from dateutil.rrule import rrulestr

        t = self.clock()
        today = self.now.date()
        base = self.day if self.day and self.day > today else today
        naive_now = self.now.replace(tzinfo=None)
        start = dt.datetime.combine(base, t or dt.time(0, 0))
        after = max(naive_now, start) if t is not None else dt.datetime.combine(base, dt.time(0, 0))
        found = rrulestr(rule, dtstart=start).after(after, inc=True)  # type: ignore[union-attr]
        if found is None:
            return None
        return at(found.date(), found.time(), self.tz) if t is not None else found.date()


_GAP = re.compile(r"[\s,]*(?:-\s*)?")


def _fits(group: list[Mention], m: Mention) -> bool:
    kinds = [x.kind for x in group]
    if m.kind in ("invalid", "outside") or {"invalid", "outside"} & set(kinds):
        return False
    if m.kind in _DATEISH and any(k in _DATEISH for k in kinds):
        return False
    if m.kind in _TIMEISH and any(k in _TIMEISH for k in kinds):
        return False
    if m.kind == "moment" or "moment" in kinds:
        return m.kind == "duration"
    if m.kind in kinds and m.kind in ("duration", "recur", "period"):
        return False
    if m.kind == "period" and any(x.period for x in group):
        return False
    if m.kind in _DATEISH and m.period and any(x.period for x in group):
        return False
    return True


def group(text: str, mentions: list[Mention], now: dt.datetime) -> list[When]:
    """Mentions that touch (only spaces or a comma between) and fit together, as one When each."""
    runs: list[list[Mention]] = []
    for m in mentions:
        if runs and _GAP.fullmatch(text, runs[-1][-1].end, m.start) and _fits(runs[-1], m):
            runs[-1].append(m)
        else:
            runs.append([m])
    return [When.of(now, run) for run in runs]


def find(text: str, now: dt.datetime) -> list[When]:
    """The time expressions of `text` read against `now`, grouped."""
    return group(text, scan(text, now), now)
