"""The neutral shapes connectors hand the core: all-day dates stay dates, instants aware, mail out of logs."""

from __future__ import annotations

import datetime as dt

import pytest

from core.sources import MailCursor, RawMail, RemoteEvent
from tests.conftest import at


def test_an_all_day_event_keeps_its_dates_and_a_timed_one_must_be_aware() -> None:
    holiday = RemoteEvent("h1", "Easter Monday", dt.date(2026, 4, 6), dt.date(2026, 4, 7))
    assert holiday.all_day and holiday.start == dt.date(2026, 4, 6)
    standup = RemoteEvent("s1", "Standup", at("2026-04-07T09:00:00+02:00"), at("2026-04-07T09:15:00+02:00"),
                          series_id="weekly", original_start=at("2026-04-07T07:00:00+00:00"))
    assert not standup.all_day
    with pytest.raises(ValueError, match="naive"):
        RemoteEvent("n1", "Naive", dt.datetime(2026, 4, 7, 9), dt.datetime(2026, 4, 7, 10))
    with pytest.raises(ValueError, match="both"):
        RemoteEvent("m1", "Mixed", dt.date(2026, 4, 7), at("2026-04-07T10:00:00+02:00"))
    with pytest.raises(ValueError, match="before"):
        RemoteEvent("b1", "Backwards", dt.date(2026, 4, 7), dt.date(2026, 4, 6))


def test_a_mail_cursor_round_trips_and_a_raw_mail_keeps_its_content_out_of_logs() -> None:
    cursor = MailCursor(uidvalidity=1711, last_uid=42)
    assert MailCursor.from_json(cursor.as_json()) == cursor and MailCursor.from_json(None) is None
    mail = RawMail(43, 1711, b"Subject: wire $5000\r\n\r\npassword: hunter2")
    assert "hunter2" not in repr(mail) and "43" in repr(mail)
