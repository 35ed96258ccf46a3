"""The Google Calendar API as a `core.sources.CalendarSource`: the real client, its errors mapped, off the event loop.

google-api-python-client is synchronous (httplib2), so every call runs in `asyncio.to_thread`, one
at a time per client. Its own retries (exponential backoff with jitter on 429, 5xx, rate-limit
403s and dropped connections) are used; what still fails is split as core.sources says:
410 → `CursorExpired`, 412 → `EtagMismatch`, 401 or a refused refresh token → `AuthExpired`,
429/5xx/network → `NotReady`, anything else → `SourceFailed`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from functools import cache
from typing import Any

import httplib2
from google.auth.exceptions import RefreshError, TransportError
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build_from_document
from googleapiclient.discovery_cache import get_static_doc
from googleapiclient.errors import HttpError

from connectors.google import wire
from connectors.google.auth import GoogleApp, Grant, credentials, grant_of
from core.sources import (
    AuthExpired,
    CursorExpired,
    EtagMismatch,
    EventPage,
    NotReady,
    RemoteCalendar,
    RemoteEvent,
    SourceFailed,
)

log = logging.getLogger(__name__)

RATE_LIMITS = ("rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded")


@cache
def _discovery() -> dict[str, Any]:
    """Calendar v3's discovery document, shipped with the client (read once per process)."""
    doc = get_static_doc("calendar", "v3")
    assert doc is not None, "google-api-python-client ships calendar v3"
    return json.loads(doc)  # type: ignore[no-any-return]


class Refused(SourceFailed):
    """Google refused a call in a way retrying will not fix (404, 409, 400, …); `status` says which."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"Google answered {status} {reason}".rstrip())
        self.status = status


def _reason(error: HttpError) -> str:
    details = error.error_details
    if isinstance(details, list) and details and isinstance(details[0], dict):
        return str(details[0].get("reason", ""))
    return ""


def mapped(error: Exception) -> Exception:
    """What a failure of the Google client means to Pixie (never quoting a token)."""
    if isinstance(error, HttpError):
        status, reason = error.status_code, _reason(error)
        if status == 410:
            return CursorExpired("sync token expired (410 fullSyncRequired)")
        if status == 412:
            return EtagMismatch("the event changed in Google since it was read (412)")
        if status == 401:
            return AuthExpired("Google refused the access token (401)")
        if status == 429 or status >= 500 or (status == 403 and reason in RATE_LIMITS):
            after = error.resp.get("retry-after") if error.resp is not None else None
            return NotReady(f"Google answered {status} {reason}".rstrip(),
                            float(after) if after and after.isdigit() else None)
        return Refused(status, reason)
    if isinstance(error, RefreshError):
        text = str(error)
        if "invalid_grant" in text:
            return AuthExpired("Google refused the refresh token (invalid_grant)")
        if getattr(error, "retryable", False):
            return NotReady("Google's token endpoint is not ready")
        return SourceFailed("Google refused the OAuth client (check GOOGLE_CLIENT_ID/SECRET)"
                            if "invalid_client" in text else "refreshing the Google token failed")
    if isinstance(error, TransportError | httplib2.HttpLib2Error | OSError | socket.timeout):
        return NotReady(f"Google unreachable ({type(error).__name__})")
    return error


class GoogleCalendar:
    """One Google account's calendars through the real client (a `CalendarSource`)."""

    def __init__(self, app: GoogleApp, grant: Grant, *, timeout: float = 30.0) -> None:
        self._grant = grant
        self._creds = credentials(app, grant)
        self._http = AuthorizedHttp(self._creds, http=httplib2.Http(timeout=timeout))
        self._service = build_from_document(_discovery(), http=self._http,
                                            client_options={"api_endpoint": app.api_url})
        self.retries, self.page_size = app.retries, app.page_size
        self.requests = 0  # API calls made (not counting token refreshes): for tests and the benchmark

    @property
    def grant(self) -> Grant:
        """The grant as it stands now (the access token may have been refreshed)."""
        return grant_of(self._creds, self._grant)

    def close(self) -> None:
        """Close the client's sockets."""
        self._service.close()

    def _execute(self, request: Any) -> Any:
        self.requests += 1
        try:
            return request.execute(num_retries=self.retries)
        except Exception as exc:
            raise mapped(exc) from exc

    async def _call(self, request: Any) -> Any:
        return await asyncio.to_thread(self._execute, request)

    async def whoami(self) -> str:
        """The account's address: the id of its primary calendar."""
        found = await self.calendars()
        primary = next((c for c in found if c.primary), None)
        if primary is None:
            raise SourceFailed("the Google account has no primary calendar")
        return primary.remote_id

    async def calendars(self) -> list[RemoteCalendar]:
        """Every calendar on the account's list."""
        found: list[RemoteCalendar] = []
        api = self._service.calendarList()
        request = api.list(maxResults=250)
        while request is not None:
            response = await self._call(request)
            found += [wire.calendar(item) for item in response.get("items", [])]
            request = api.list_next(request, response)
        return found

    async def changes(self, calendar_id: str, cursor: str | None) -> AsyncIterator[EventPage]:
        """Pages of changes since `cursor` (None: everything); the last page carries the next sync token.

        Series come as masters and exceptions (singleEvents is never set: expanded instances explode
        with sync tokens). An incremental sync sends only the token besides the page size.
        """
        api = self._service.events()
        params: dict[str, Any] = {"calendarId": calendar_id, "maxResults": self.page_size}
        if cursor is not None:
            params["syncToken"] = cursor
        request = api.list(**params)
        while request is not None:
            response = await self._call(request)
            zone = response.get("timeZone")
            changes = tuple(wire.event(item, zone) for item in response.get("items", []))
            following = api.list_next(request, response)  # an empty page with a next-page token is not the end
            yield EventPage(changes, response.get("nextSyncToken") if following is None else None)
            request = following

    async def get_event(self, calendar_id: str, external_id: str) -> RemoteEvent | None:
        """The event as Google holds it now, or None when it is gone."""
        try:
            item = await self._call(self._service.events().get(calendarId=calendar_id, eventId=external_id))
        except Refused as exc:
            if exc.status == 404:
                return None
            raise
        found = wire.event(item)
        return found if isinstance(found, RemoteEvent) else None

    async def create_event(self, calendar_id: str, event: RemoteEvent) -> RemoteEvent:
        """Insert under the id Pixie chose, inviting no one; a retried insert finds the first one (409)."""
        request = self._service.events().insert(calendarId=calendar_id, body=wire.body(event), sendUpdates="none")
        try:
            item = await self._call(request)
        except Refused as exc:
            if exc.status != 409:
                raise
            existing = await self.get_event(calendar_id, event.external_id)
            if existing is None:
                raise
            return existing
        made = wire.event(item)
        assert isinstance(made, RemoteEvent)
        return made

    async def update_event(self, calendar_id: str, event: RemoteEvent) -> RemoteEvent:
        """Change the event only if Google still has `event.etag` (If-Match), else `EtagMismatch`.

        A patch, not a replace: what Pixie does not hold (a description, reminders, colours) stays as it is.
        """
        body = {"location": None, **wire.body(event)}  # null clears a place the user took away
        request = self._service.events().patch(calendarId=calendar_id, eventId=event.external_id,
                                               body=body, sendUpdates="none")
        if event.etag:
            request.headers["If-Match"] = event.etag  # the client does not take it from the body
        made = wire.event(await self._call(request))
        assert isinstance(made, RemoteEvent)
        return made

    async def delete_event(self, calendar_id: str, external_id: str, etag: str | None) -> None:
        """Delete the event (If-Match `etag` when given); one already gone is fine."""
        request = self._service.events().delete(calendarId=calendar_id, eventId=external_id, sendUpdates="none")
        if etag:
            request.headers["If-Match"] = etag
        try:
            await self._call(request)
        except CursorExpired:
            pass  # 410 Gone: deleted already
        except Refused as exc:
            if exc.status != 404:
                raise
