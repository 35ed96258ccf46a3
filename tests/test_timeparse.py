"""Time expressions: which day, moment or window a phrase means, relative to the user's clock."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from core import timeparse as tp

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
TUESDAY = dt.datetime(2026, 1, 13, 9, 0, tzinfo=BERLIN)  # a Tuesday


def one(text: str, now: dt.datetime = TUESDAY) -> tp.When:
    found = tp.find(text, now)
    assert len(found) == 1, [text[w.start:w.end] for w in found]
    return found[0]


def point(text: str, now: dt.datetime = TUESDAY) -> str:
    value = one(text, now).point()
    assert value is not None
    return tp.iso(value)


@pytest.mark.parametrize(("text", "expected"), [
    ("by friday", "2026-01-16"),
    ("on tuesday", "2026-01-20"),  # a weekday is the next one after today
    ("this tuesday", "2026-01-13"),
    ("next thursday", "2026-01-22"),  # in next week
    ("by wed", "2026-01-14"),
    ("thurs", "2026-01-15"),
    ("tmrw", "2026-01-14"),
    ("tommorow", "2026-01-14"),
    ("the day after tomorrow", "2026-01-15"),
    ("today", "2026-01-13"),
    ("by the 20th", "2026-01-20"),
    ("on the 3rd", "2026-02-03"),  # already past this month
    ("end of the month", "2026-01-31"),
    ("by the end of next month", "2026-02-28"),
    ("in two weeks", "2026-01-27"),
    ("in 3 days", "2026-01-16"),
    ("next month", "2026-02-01"),
    ("March 3", "2026-03-03"),
    ("3 December", "2026-12-03"),
    ("the 3rd of march", "2026-03-03"),
    ("dec 1", "2026-12-01"),
    ("sept 24", "2026-09-24"),
    ("jan 2", "2027-01-02"),  # rolled over: Jan 2 has passed
    ("2026-05-04", "2026-05-04"),
    ("2/3", "2026-03-02"),  # day first in Berlin
    ("this weekend", "2026-01-17"),
])
def test_days(text: str, expected: str) -> None:
    assert point(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("tomorrow at 3pm", "2026-01-14T15:00:00+01:00"),
    ("friday 12:00", "2026-01-16T12:00:00+01:00"),
    ("monday 10am", "2026-01-19T10:00:00+01:00"),
    ("at 17:30 today", "2026-01-13T17:30:00+01:00"),
    ("at noon", "2026-01-13T12:00:00+01:00"),
    ("tonight", "2026-01-13T20:00:00+01:00"),
    ("at 7:15am", "2026-01-14T07:15:00+01:00"),  # already past today: tomorrow
    ("at 8", "2026-01-13T20:00:00+01:00"),  # 8am has passed, 8pm has not
    ("at 3", "2026-01-13T15:00:00+01:00"),
    ("in 2 hours", "2026-01-13T11:00:00+01:00"),
    ("in half an hour", "2026-01-13T09:30:00+01:00"),
    ("tomorrow morning", "2026-01-14T09:00:00+01:00"),
    ("at half past 4", "2026-01-13T16:30:00+01:00"),
    ("at half 3", "2026-01-13T15:30:00+01:00"),  # British: half past three
    ("by half seven tomorrow", "2026-01-14T07:30:00+01:00"),
    ("17th 7pm", "2026-01-17T19:00:00+01:00"),  # a bare day of the month with a time after it
    ("20th at 18:30", "2026-01-20T18:30:00+01:00"),
])
def test_moments(text: str, expected: str) -> None:
    assert point(text) == expected


def test_the_offset_is_the_target_days_own_across_dst() -> None:
    now = dt.datetime(2026, 10, 31, 12, 0, tzinfo=NEW_YORK)
    assert point("tomorrow at 9am", now) == "2026-11-01T09:00:00-05:00"
    spring = dt.datetime(2026, 3, 28, 9, 0, tzinfo=BERLIN)
    assert point("tomorrow at 9am", spring) == "2026-03-29T09:00:00+02:00"
    assert point("tomorrow at 2:30am", spring) == "2026-03-29T03:30:00+02:00"  # skipped by the clock change


def test_hours_ahead_count_real_time_across_dst() -> None:
    now = dt.datetime(2026, 11, 1, 0, 30, tzinfo=NEW_YORK)
    assert point("in 2 hours", now) == "2026-11-01T01:30:00-05:00"


def test_sydney_spring_forward() -> None:
    now = dt.datetime(2026, 10, 2, 16, 30, tzinfo=SYDNEY)
    assert point("by monday 10am", now) == "2026-10-05T10:00:00+11:00"


def test_year_rolls_over() -> None:
    now = dt.datetime(2026, 12, 30, 22, 0, tzinfo=NEW_YORK)
    assert point("January 15", now) == "2027-01-15"
    assert point("on the 1st", now) == "2027-01-01"
    assert point("12/31", now) == "2026-12-31"  # month first in New York


@pytest.mark.parametrize(("text", "start", "end"), [
    ("from 2 to 3:30pm", "14:00", "15:30"),
    ("12:30-1:30", "12:30", "13:30"),
    ("4-5pm", "16:00", "17:00"),
    ("11am-12", "11:00", "12:00"),
    ("from 10 to 11am", "10:00", "11:00"),
    ("from 9am to 5pm", "09:00", "17:00"),
    ("12-1pm", "12:00", "13:00"),
    ("tomorrow 10-11", "10:00", "11:00"),
])
def test_ranges(text: str, start: str, end: str) -> None:
    span = one(text).range()
    assert span is not None
    assert (f"{span[0]:%H:%M}", f"{span[1]:%H:%M}") == (start, end)


@pytest.mark.parametrize(("text", "minutes"), [
    ("for 30 minutes", 30), ("2 hours", 120), ("90 mins", 90), ("for an hour", 60),
    ("it'll take 90 mins", 90), ("for an hour and a half", 90), ("half an hour", 30),
])
def test_durations(text: str, minutes: int) -> None:
    assert one(text).length == dt.timedelta(minutes=minutes)


@pytest.mark.parametrize(("text", "start", "end"), [
    ("this week", "2026-01-12T00:00:00+01:00", "2026-01-19T00:00:00+01:00"),
    ("next week", "2026-01-19T00:00:00+01:00", "2026-01-26T00:00:00+01:00"),
    ("the weekend", "2026-01-17T00:00:00+01:00", "2026-01-19T00:00:00+01:00"),
    ("tomorrow", "2026-01-14T00:00:00+01:00", "2026-01-15T00:00:00+01:00"),
    ("friday afternoon", "2026-01-16T12:00:00+01:00", "2026-01-16T18:00:00+01:00"),
    ("monday morning", "2026-01-19T08:00:00+01:00", "2026-01-19T12:00:00+01:00"),
    ("on jan 2 in the evening", "2027-01-02T17:00:00+01:00", "2027-01-02T23:00:00+01:00"),
])
def test_windows(text: str, start: str, end: str) -> None:
    span = one(text).range()
    assert span is not None
    assert (tp.iso(span[0]), tp.iso(span[1])) == (start, end)


@pytest.mark.parametrize(("text", "rule", "first"), [
    ("every Monday at 9:30", "FREQ=WEEKLY;BYDAY=MO", "2026-01-19T09:30:00+01:00"),
    ("every day at 7am", "FREQ=DAILY", "2026-01-14T07:00:00+01:00"),
    ("every tuesday and thursday at 6:30am", "FREQ=WEEKLY;BYDAY=TU,TH", "2026-01-15T06:30:00+01:00"),
    ("on the first Monday of each month at 7pm", "FREQ=MONTHLY;BYDAY=1MO", "2026-02-02T19:00:00+01:00"),
    ("every weekday at 9:15", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "2026-01-13T09:15:00+01:00"),
    ("every other friday at 4pm", "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR", "2026-01-16T16:00:00+01:00"),
    ("on mondays and wednesdays at 6pm", "FREQ=WEEKLY;BYDAY=MO,WE", "2026-01-14T18:00:00+01:00"),
    ("every wednesday", "FREQ=WEEKLY;BYDAY=WE", "2026-01-14"),
    ("on the 15th of every month", "FREQ=MONTHLY;BYMONTHDAY=15", "2026-01-15"),
])
def test_recurrences_start_at_the_first_occurrence_from_now(text: str, rule: str, first: str) -> None:
    when = one(text)
    assert when.rrule == rule
    value = when.first()
    assert value is not None and tp.iso(value) == first


@pytest.mark.parametrize("text", [
    "my bike lock combination is 5-9-2",
    "the front desk number is 030 555 0199",
    "file the 1099 forms",
    "the Q4 numbers",
    "in room 4B",
    "I sat down with the team",
    "level 3, spot 41",
])
def test_numbers_that_are_not_times(text: str) -> None:
    assert tp.find(text, TUESDAY) == []


def test_spans_cover_the_preposition() -> None:
    text = "pay the electricity bill on March 3"
    when = one(text)
    assert text[when.start:when.end] == "on March 3"
    assert when.prep == "on"


@pytest.mark.parametrize(("text", "expected"), [
    ("at seven tomorrow", "2026-01-14T07:00:00+01:00"),
    ("tomorrow at half past seven", "2026-01-14T07:30:00+01:00"),
    ("on friday at seven thirty pm", "2026-01-16T19:30:00+01:00"),
    ("at nine o'clock tomorrow", "2026-01-14T09:00:00+01:00"),
    ("at 7 in the morning", "2026-01-14T07:00:00+01:00"),  # 7am has passed: tomorrow's, not 19:00 today
])
def test_hours_in_words_and_a_part_of_the_day(text: str, expected: str) -> None:
    assert point(text) == expected


@pytest.mark.parametrize("text", ["push it back by three days", "at one point", "at five euros each"])
def test_counts_in_words_are_no_time(text: str) -> None:
    assert not any(w.has_time for w in tp.find(text, TUESDAY))
