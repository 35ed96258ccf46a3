"""The fake Google Calendar behaves like Google, as seen through the real google-api-python-client."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from tests.fakes.google_calendar import CLIENT_ID, CLIENT_SECRET, FakeGoogleCalendar, instance_id

BERLIN = ZoneInfo("Europe/Berlin")
ADA = "ada@example.com"
MONDAY_9 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=BERLIN)
Client = Callable[[str], Any]  # a refresh token in, the real calendar client out


@pytest.fixture
def google() -> Iterator[FakeGoogleCalendar]:
    with FakeGoogleCalendar() as fake:
        yield fake


@pytest.fixture
def client(google: FakeGoogleCalendar) -> Iterator[Client]:
    """Builds the real client, refreshing its access token at the fake's token endpoint; closes it after."""
    made: list[Any] = []

    def build_client(refresh_token: str) -> Any:
        creds = Credentials(token=None, refresh_token=refresh_token, client_id=CLIENT_ID,
                            client_secret=CLIENT_SECRET, token_uri=google.token_url)
        made.append(build("calendar", "v3", credentials=creds, static_discovery=True, cache_discovery=False,
                          client_options={"api_endpoint": google.api_url}))
        return made[-1]

    yield build_client
    for service in made:
        service.close()  # httplib2 keeps its sockets open otherwise


def sync(service: Any, calendar_id: str = "primary", **params: Any) -> tuple[list[dict[str, Any]], str]:
    """Page through events.list as a syncer does: every item, and the sync token from the last page."""
    items: list[dict[str, Any]] = []
    request = service.events().list(calendarId=calendar_id, **params)
    while request is not None:
        response = request.execute()
        items += response.get("items", [])
        token = response.get("nextSyncToken")
        request = service.events().list_next(request, response)
    assert token, "the last page carries nextSyncToken"
    return items, token


def reason(error: HttpError) -> str:
    return str(error.error_details[0]["reason"])


def test_full_sync_pages_then_incremental_sync_sends_only_what_changed(
        google: FakeGoogleCalendar, client: Client) -> None:
    service = client(google.add_account(ADA))
    ids = [google.colleague_adds(ADA, f"meeting {i}", MONDAY_9 + dt.timedelta(days=i),
                                 MONDAY_9 + dt.timedelta(days=i, hours=1))["id"] for i in range(7)]

    items, token = sync(service, maxResults=3)
    assert sorted(e["id"] for e in items) == sorted(ids)
    assert [r.query.get("pageToken") is None for r in google.calls("events.list")] == [True, False, False]

    moved = google.colleague_modifies(ADA, ids[2], start=MONDAY_9 + dt.timedelta(hours=3),
                                      end=MONDAY_9 + dt.timedelta(hours=4))
    added = google.colleague_adds(ADA, "lunch", dt.date(2025, 3, 4), dt.date(2025, 3, 5))
    changed, token2 = sync(service, syncToken=token)
    assert {e["id"]: e["etag"] for e in changed} == {moved["id"]: moved["etag"], added["id"]: added["etag"]}
    assert next(e for e in changed if e["id"] == moved["id"])["start"] == {"dateTime": "2025-03-03T12:00:00+01:00",
                                                                          "timeZone": "Europe/Berlin"}
    assert next(e for e in changed if e["id"] == added["id"])["start"] == {"date": "2025-03-04"}

    google.clear_requests()
    nothing, _ = sync(service, syncToken=token2)
    assert nothing == []
    assert len(google.calls("events.list", calendar_id=ADA)) == 1


def test_an_empty_page_with_a_next_page_token_is_not_the_end(google: FakeGoogleCalendar, client: Client) -> None:
    service = client(google.add_account(ADA))
    google.colleague_adds(ADA, "standup", MONDAY_9, MONDAY_9 + dt.timedelta(minutes=15))
    google.empty_pages(2)

    first = service.events().list(calendarId="primary").execute()
    assert first["items"] == [] and "nextPageToken" in first and "nextSyncToken" not in first
    rest, _ = sync(service, pageToken=first["nextPageToken"])
    assert [e["summary"] for e in rest] == ["standup"]


def test_a_deleted_event_comes_back_cancelled_and_leaves_the_full_list(
        google: FakeGoogleCalendar, client: Client) -> None:
    service = client(google.add_account(ADA))
    gone = google.colleague_adds(ADA, "dentist", MONDAY_9, MONDAY_9 + dt.timedelta(hours=1))
    google.colleague_adds(ADA, "gym", MONDAY_9 + dt.timedelta(hours=2), MONDAY_9 + dt.timedelta(hours=3))
    _, token = sync(service)

    google.colleague_deletes(ADA, gone["id"])
    changed, _ = sync(service, syncToken=token)
    assert [(e["id"], e["status"]) for e in changed] == [(gone["id"], "cancelled")]
    assert "summary" not in changed[0]
    everything, _ = sync(service)
    assert [e["summary"] for e in everything] == ["gym"]


def test_an_expired_sync_token_answers_410_full_sync_required(google: FakeGoogleCalendar, client: Client) -> None:
    service = client(google.add_account(ADA))
    google.colleague_adds(ADA, "review", MONDAY_9, MONDAY_9 + dt.timedelta(hours=1))
    _, token = sync(service)
    google.expire_sync_tokens(ADA)

    with pytest.raises(HttpError) as raised:
        service.events().list(calendarId="primary", syncToken=token).execute()
    assert raised.value.status_code == 410 and reason(raised.value) == "fullSyncRequired"
    items, fresh = sync(service)  # a full sync starts over and hands out a token that works
    assert [e["summary"] for e in items] == ["review"]
    assert sync(service, syncToken=fresh)[0] == []


def test_a_write_with_a_stale_etag_is_refused_with_412(google: FakeGoogleCalendar, client: Client) -> None:
    service = client(google.add_account(ADA))
    event = service.events().insert(calendarId="primary", body={
        "summary": "1:1", "start": {"dateTime": "2025-03-03T10:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2025-03-03T10:30:00", "timeZone": "Europe/Berlin"}}).execute()
    newer = google.colleague_modifies(ADA, event["id"], summary="1:1 (moved room)")
    assert newer["etag"] != event["etag"]

    request = service.events().patch(calendarId="primary", eventId=event["id"], body={"summary": "mine"})
    request.headers["If-Match"] = event["etag"]
    with pytest.raises(HttpError) as raised:
        request.execute()
    assert raised.value.status_code == 412 and reason(raised.value) == "conditionNotMet"
    assert google.event(ADA, event["id"])["summary"] == "1:1 (moved room)"  # type: ignore[index]

    request = service.events().patch(calendarId="primary", eventId=event["id"], body={"summary": "mine"})
    request.headers["If-Match"] = newer["etag"]
    assert request.execute()["summary"] == "mine"
    stale = service.events().delete(calendarId="primary", eventId=event["id"])
    stale.headers["If-Match"] = newer["etag"]
    with pytest.raises(HttpError) as raised:
        stale.execute()
    assert raised.value.status_code == 412


def test_refresh_gets_a_token_and_a_revoked_refresh_token_raises_refresh_error(
        google: FakeGoogleCalendar, client: Client) -> None:
    refresh_token = google.add_account(ADA)
    service = client(refresh_token)
    assert service.calendarList().list().execute()["items"][0]["primary"] is True
    google.expire_access_tokens()  # the hour is up: the client gets a 401, refreshes and tries again
    assert service.calendarList().list().execute()["items"][0]["id"] == ADA
    assert [(r.api, r.status) for r in google.requests] == [
        ("token", 200), ("calendarList.list", 200), ("calendarList.list", 401), ("token", 200),
        ("calendarList.list", 200)]

    google.revoke(refresh_token)
    with pytest.raises(RefreshError) as raised:
        service.calendarList().list().execute()
    assert "invalid_grant" in str(raised.value)


def post_form(url: str, **form: str) -> tuple[int, dict[str, Any]]:
    """A form POST as an OAuth client sends it (no Google library exchanges an authorization code)."""
    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        with e:
            return e.code, json.loads(e.read())


def test_a_pasted_code_is_exchanged_once_and_revoking_disconnects(
        google: FakeGoogleCalendar, client: Client) -> None:
    google.add_account(ADA)
    code = google.issue_auth_code(ADA)
    exchange = {"grant_type": "authorization_code", "code": code, "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET, "redirect_uri": "http://127.0.0.1:1/"}
    status, tokens = post_form(google.token_url, **exchange)
    assert status == 200 and tokens["refresh_token"] and tokens["access_token"]
    assert post_form(google.token_url, **exchange) == (400, {"error": "invalid_grant",
                                                             "error_description": "Malformed auth code."})
    service = client(tokens["refresh_token"])
    assert service.calendarList().list().execute()["items"][0]["id"] == ADA

    assert post_form(google.token_url.replace("/token", "/revoke"), token=tokens["refresh_token"])[0] == 200
    with pytest.raises(RefreshError):
        service.calendarList().list().execute()


def test_inserting_a_chosen_id_twice_answers_409_and_records_send_updates(
        google: FakeGoogleCalendar, client: Client) -> None:
    service = client(google.add_account(ADA))
    with pytest.raises(HttpError) as raised:  # ids are base32hex: lowercase a-v and digits, 5 to 1024 of them
        service.events().insert(calendarId="primary", body={"id": "pixie-1", "summary": "x"}).execute()
    assert raised.value.status_code == 400
    body = {"id": "ca11m0m20250305", "summary": "call mom", "start": {"date": "2025-03-05"},
            "end": {"date": "2025-03-06"}}
    made = service.events().insert(calendarId="primary", body=body, sendUpdates="none").execute()
    assert made["id"] == "ca11m0m20250305" and made["start"] == {"date": "2025-03-05"}

    with pytest.raises(HttpError) as raised:
        service.events().insert(calendarId="primary", body=body, sendUpdates="none").execute()
    assert raised.value.status_code == 409 and reason(raised.value) == "duplicate"
    assert [r.query.get("sendUpdates") for r in google.calls("events.insert")] == [None, "none", "none"]
    assert len(google.events(ADA)) == 1


def test_a_series_and_its_exceptions_are_separate_items(google: FakeGoogleCalendar, client: Client) -> None:
    service = client(google.add_account(ADA))
    weekly = google.colleague_adds(ADA, "weekly sync", MONDAY_9, MONDAY_9 + dt.timedelta(hours=1),
                                   recurrence=["RRULE:FREQ=WEEKLY;COUNT=10"])
    second, third = MONDAY_9 + dt.timedelta(weeks=1), MONDAY_9 + dt.timedelta(weeks=2)
    google.colleague_modifies(ADA, instance_id(weekly["id"], second), start=second + dt.timedelta(hours=1),
                              end=second + dt.timedelta(hours=2))
    google.colleague_deletes(ADA, instance_id(weekly["id"], third))
    with pytest.raises(HttpError) as raised:  # no occurrence on a Tuesday
        service.events().get(calendarId="primary", eventId=instance_id(weekly["id"], second + dt.timedelta(days=1))
                             ).execute()
    assert raised.value.status_code == 404

    items, _ = sync(service, singleEvents=False)
    by_id = {e["id"]: e for e in items}
    assert by_id[weekly["id"]]["recurrence"] == ["RRULE:FREQ=WEEKLY;COUNT=10"]
    moved = by_id[f"{weekly['id']}_20250310T080000Z"]
    assert moved["recurringEventId"] == weekly["id"] and moved["status"] == "confirmed"
    assert moved["originalStartTime"]["dateTime"] == "2025-03-10T09:00:00+01:00"
    assert moved["start"]["dateTime"] == "2025-03-10T10:00:00+01:00"
    cancelled = by_id[f"{weekly['id']}_20250317T080000Z"]
    assert cancelled["status"] == "cancelled" and cancelled["recurringEventId"] == weekly["id"]
    assert len(items) == 3

    fourth = instance_id(weekly["id"], MONDAY_9 + dt.timedelta(weeks=3))  # Pixie moves one occurrence itself
    service.events().patch(calendarId="primary", eventId=fourth, sendUpdates="none", body={
        "start": {"dateTime": "2025-03-24T15:00:00+01:00"}, "end": {"dateTime": "2025-03-24T16:00:00+01:00"}}
    ).execute()
    exception = google.event(ADA, fourth)
    assert exception and exception["recurringEventId"] == weekly["id"] and "recurrence" not in exception
    assert google.event(ADA, weekly["id"])["start"]["dateTime"] == "2025-03-03T09:00:00+01:00"  # type: ignore[index]


def test_injected_rate_limits_and_server_errors_last_n_requests(google: FakeGoogleCalendar, client: Client) -> None:
    service = client(google.add_account(ADA))
    service.calendarList().list().execute()  # the refresh is not an API call, so it is not failed
    google.fail_next(1, 429)
    google.fail_next(1, 503, only="events.list")
    with pytest.raises(HttpError) as raised:
        service.calendarList().list().execute()
    assert raised.value.status_code == 429 and reason(raised.value) == "rateLimitExceeded"
    with pytest.raises(HttpError) as raised:
        service.events().list(calendarId="primary").execute()
    assert raised.value.status_code == 503
    assert service.events().list(calendarId="primary").execute()["items"] == []


def test_another_account_cannot_see_my_calendar(google: FakeGoogleCalendar, client: Client) -> None:
    google.add_account(ADA)
    work = google.add_calendar(ADA, "Work")
    bob = client(google.add_account("bob@example.com"))
    with pytest.raises(HttpError) as raised:
        bob.events().list(calendarId=work).execute()
    assert raised.value.status_code == 404
    assert [c["id"] for c in bob.calendarList().list().execute()["items"]] == ["bob@example.com"]


async def test_the_real_client_works_from_a_thread_of_an_async_test(google: FakeGoogleCalendar, client: Client) -> None:
    service = client(google.add_account(ADA))
    google.colleague_adds(ADA, "standup", MONDAY_9, MONDAY_9 + dt.timedelta(minutes=15))
    items, _ = await asyncio.to_thread(sync, service)
    assert [e["summary"] for e in items] == ["standup"]


def test_a_ten_thousand_event_calendar_syncs_in_seconds(google: FakeGoogleCalendar, client: Client) -> None:
    service = client(google.add_account(ADA))
    for i in range(200):
        series = google.colleague_adds(ADA, f"series {i}", MONDAY_9 + dt.timedelta(minutes=i),
                                       MONDAY_9 + dt.timedelta(minutes=i + 30), recurrence=["RRULE:FREQ=WEEKLY"])
        google.colleague_modifies(ADA, instance_id(series["id"], MONDAY_9 + dt.timedelta(weeks=1, minutes=i)),
                                  summary=f"series {i} (moved)")
    for i in range(10_000 - 400):
        at = MONDAY_9 + dt.timedelta(hours=i)
        google.colleague_adds(ADA, f"event {i}", at, at + dt.timedelta(minutes=45))

    started = time.perf_counter()
    items, token = sync(service, maxResults=2500)
    assert len(items) == 10_000 and time.perf_counter() - started < 30
    started = time.perf_counter()
    google.colleague_modifies(ADA, items[-1]["id"], summary="renamed")
    changed, _ = sync(service, syncToken=token)
    assert [e["summary"] for e in changed] == ["renamed"] and time.perf_counter() - started < 1
