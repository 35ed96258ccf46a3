"""A fake Google Calendar API v3 and OAuth token endpoint on 127.0.0.1, so google-api-python-client runs as is.

It keeps real state per calendar (events with etags, `updated`, cancelled tombstones, recurring masters and
their exceptions) and speaks the real wire format, errors included: paging, sync tokens that expire (410
`fullSyncRequired`), `If-Match` (412 `conditionNotMet`), chosen ids (409 `duplicate`), injected 429/5xx,
refresh tokens that can be revoked (400 `invalid_grant`) and access tokens checked on every call (401).

The real clients are synchronous (httplib2), so the server runs its own event loop on its own thread: a
test may call the client directly or through `asyncio.to_thread`. The test-side methods take a lock, so
"a colleague edits in Google" is safe while the server answers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from dateutil import rrule

from tests.fakes.server import close, serve

UTC = dt.UTC
CLIENT_ID = "pixie-test.apps.googleusercontent.com"
CLIENT_SECRET = "pixie-test-secret"
SCOPE = "https://www.googleapis.com/auth/calendar"
ID_RE = re.compile(r"^[a-v0-9]{5,1024}$")  # what Google accepts as a client-chosen event id (base32hex)
MESSAGES = {400: "Bad Request", 401: "Invalid Credentials", 403: "Forbidden", 404: "Not Found",
            409: "The requested identifier already exists.", 410: "Resource has been deleted",
            412: "Precondition Failed", 429: "Rate Limit Exceeded", 500: "Backend Error",
            503: "The service is currently unavailable."}
REASONS = {429: "rateLimitExceeded", 403: "rateLimitExceeded", 500: "backendError", 502: "backendError",
           503: "backendError"}
FORBIDDEN_WITH_SYNC = ("iCalUID", "orderBy", "privateExtendedProperty", "q", "sharedExtendedProperty",
                       "timeMin", "timeMax", "updatedMin")


class ApiError(Exception):
    """An answer in Google's error format: `{"error": {"errors": [{reason, message}], "code", "message"}}`."""

    def __init__(self, status: int, reason: str, message: str = "", **where: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message or MESSAGES.get(status, reason)
        self.where = where

    def response(self) -> web.Response:
        """The HTTP response Google would send."""
        error = {"domain": "global", "reason": self.reason, "message": self.message, **self.where}
        body = {"error": {"errors": [error], "code": self.status, "message": self.message}}
        return web.json_response(body, status=self.status)


@dataclass
class Recorded:
    """One request the fake received, for tests that count or inspect calls."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    api: str  # "events.list", "token", ... ("" when no route matched)
    calendar_id: str | None = None
    status: int = 0


@dataclass
class _Calendar:
    id: str
    account: str
    summary: str
    zone: str
    primary: bool
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # never mutated in place: copy on write
    seqs: dict[str, int] = field(default_factory=dict)  # event id -> the write that last changed it
    seq: int = 0
    epoch: int = 0  # bumped to expire every sync token handed out before


@dataclass
class _Listing:
    """One list as of a moment: its pages are slices of `items`, so a retried page answers the same."""

    items: list[dict[str, Any]]
    seq: int
    epoch: int


@dataclass
class _Failure:
    left: int
    status: int
    reason: str
    only: str | None


def when(value: dt.date | dt.datetime, zone: str | None = None) -> dict[str, str]:
    """The wire form of a start or end: `{"date": …}` for a date, `{"dateTime": …, "timeZone": …}` otherwise."""
    if not isinstance(value, dt.datetime):
        return {"date": value.isoformat()}
    if value.tzinfo is None:
        raise ValueError("a naive datetime is ambiguous; give it a tzinfo")
    out = {"dateTime": value.isoformat()}
    zone = zone or getattr(value.tzinfo, "key", None)
    if zone:
        out["timeZone"] = zone
    return out


def instance_id(master_id: str, original_start: dt.date | dt.datetime) -> str:
    """The id Google gives one instance of a series: the master's id and the original start (UTC, or a date)."""
    if isinstance(original_start, dt.datetime):
        return f"{master_id}_{original_start.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return f"{master_id}_{original_start:%Y%m%d}"


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _instant(w: dict[str, Any], zone: str) -> dt.datetime:
    """When a start/end begins, as an aware datetime (a date starts at midnight in the calendar's zone)."""
    if "date" in w:
        return dt.datetime.combine(dt.date.fromisoformat(w["date"]), dt.time(), ZoneInfo(zone))
    return dt.datetime.fromisoformat(w["dateTime"])


def _ts(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as e:
        raise ApiError(400, "invalid", f"Invalid value: {value}") from e
    if moment.tzinfo is None:
        raise ApiError(400, "invalid", f"Bad Request: {value} has no offset")
    return moment


class FakeGoogleCalendar:
    """The fake Google: serve it, give it accounts and events, then point the real client at it."""

    def __init__(self, clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(UTC)) -> None:
        self.clock = clock
        self.port = 0
        self.requests: list[Recorded] = []
        self.calendars: dict[str, _Calendar] = {}
        self._lock = threading.RLock()
        self._refresh: dict[str, str] = {}  # refresh token -> account
        self._codes: dict[str, str] = {}  # authorization code -> account (each works once)
        self._access: dict[str, tuple[str, str | None]] = {}  # access token -> (account, its refresh token)
        self._listings: OrderedDict[str, _Listing] = OrderedDict()
        self._pages: dict[str, tuple[str, int]] = {}  # page token -> (listing, offset)
        self._sync: dict[str, tuple[str, int, int]] = {}  # sync token -> (calendar id, seq, epoch)
        self._failures: list[_Failure] = []
        self._empty_pages = 0
        self._etags = itertools.count(3_400_000_000_000_000)
        self._last_updated = dt.datetime.min.replace(tzinfo=UTC)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------ serving

    @property
    def api_url(self) -> str:
        """What to pass as `client_options={"api_endpoint": …}` (it keeps the real `/calendar/v3/` path)."""
        return f"http://127.0.0.1:{self.port}/calendar/v3/"

    @property
    def token_url(self) -> str:
        """The OAuth token endpoint, for `Credentials(token_uri=…)`."""
        return f"http://127.0.0.1:{self.port}/token"

    def start(self) -> FakeGoogleCalendar:
        """Serve on a free port of 127.0.0.1 from a thread of its own."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-google", daemon=True)
        self._thread.start()
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post("/token", self._token)
        app.router.add_post("/revoke", self._revoke)
        app.router.add_route("*", "/calendar/v3/{rest:.*}", self._api)
        self._runner, self.port = asyncio.run_coroutine_threadsafe(serve(app), self._loop).result(10)
        return self

    def stop(self) -> None:
        """Stop serving and end the thread."""
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(close(self._runner), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> FakeGoogleCalendar:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ accounts and tokens

    def add_account(self, email: str = "ada@example.com", zone: str = "Europe/Berlin") -> str:
        """A Google account with its primary calendar (id = the email); returns a refresh token for it."""
        with self._lock:
            self.calendars[email] = _Calendar(email, email, email, zone, primary=True)
            return self.issue_refresh_token(email)

    def add_calendar(self, account: str, summary: str, zone: str | None = None, calendar_id: str | None = None) -> str:
        """Another calendar of `account`; returns its id."""
        with self._lock:
            cid = calendar_id or f"{secrets.token_hex(12)}@group.calendar.google.com"
            self.calendars[cid] = _Calendar(cid, account, summary, zone or self.calendars[account].zone, False)
            return cid

    def issue_refresh_token(self, account: str) -> str:
        """A refresh token for `account`, as the consent screen would give."""
        token = "1//fake-" + secrets.token_urlsafe(24)
        with self._lock:
            self._refresh[token] = account
        return token

    def issue_auth_code(self, account: str) -> str:
        """The code Google's consent screen puts in the final redirect (exchanged once for tokens)."""
        code = "4/fake-" + secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = account
        return code

    def issue_access_token(self, account: str, refresh_token: str | None = None) -> str:
        """An access token for `account` (for `Credentials(token=…)` without a refresh)."""
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self._lock:
            self._access[token] = (account, refresh_token)
        return token

    def revoke(self, refresh_token: str) -> None:
        """The user revoked access (or a Testing-mode token aged out): the token and its access tokens die."""
        with self._lock:
            self._refresh.pop(refresh_token, None)
            self._access = {a: v for a, v in self._access.items() if v[1] != refresh_token}

    def expire_access_tokens(self) -> None:
        """Every access token handed out stops working (401): clients must refresh."""
        with self._lock:
            self._access.clear()

    # ------------------------------------------------------------ what a colleague does in Google

    def colleague_adds(self, calendar_id: str, summary: str, start: dt.date | dt.datetime,
                       end: dt.date | dt.datetime, **fields: Any) -> dict[str, Any]:
        """Create an event as someone would in Google's UI; `fields` are raw wire fields (id, recurrence, …)."""
        body = {"summary": summary, "start": when(start), "end": when(end), **fields}
        with self._lock:
            return _copy(self._insert(self._calendar(calendar_id), body, by="colleague@example.com"))

    def colleague_modifies(self, calendar_id: str, event_id: str, **changes: Any) -> dict[str, Any]:
        """Change fields of an event (or of one instance, by `instance_id`); start/end may be date/datetime."""
        for key in ("start", "end", "originalStartTime"):
            if isinstance(changes.get(key), dt.date):
                changes[key] = when(changes[key])
        with self._lock:
            return _copy(self._patch(self._calendar(calendar_id), event_id, changes, if_match=None))

    def colleague_deletes(self, calendar_id: str, event_id: str) -> None:
        """Delete an event (a whole series for a master; one occurrence for an `instance_id`)."""
        with self._lock:
            self._delete(self._calendar(calendar_id), event_id, if_match=None)

    def event(self, calendar_id: str, event_id: str) -> dict[str, Any] | None:
        """The event as Google holds it now (cancelled ones included), or None."""
        with self._lock:
            found = self._calendar(calendar_id).events.get(event_id)
            return _copy(found) if found else None

    def events(self, calendar_id: str, include_cancelled: bool = False) -> list[dict[str, Any]]:
        """Every event of a calendar as Google holds it now."""
        with self._lock:
            items = list(self._calendar(calendar_id).events.values())
        return [_copy(e) for e in items if include_cancelled or e["status"] != "cancelled"]

    # ------------------------------------------------------------ trouble on command

    def expire_sync_tokens(self, calendar_id: str | None = None) -> None:
        """Sync tokens handed out so far (for one calendar or all) now answer 410 `fullSyncRequired`."""
        with self._lock:
            for cal in self.calendars.values():
                if calendar_id in (None, cal.id):
                    cal.epoch += 1

    def fail_next(self, n: int = 1, status: int = 429, reason: str | None = None, only: str | None = None) -> None:
        """The next `n` API calls (or calls of `only`, e.g. "events.list" or "token") fail with `status`."""
        with self._lock:
            self._failures.append(_Failure(n, status, reason or REASONS.get(status, "backendError"), only))

    def empty_pages(self, n: int = 1) -> None:
        """The next `n` pages of any events list come back empty but with a `nextPageToken` (Google does this)."""
        with self._lock:
            self._empty_pages += n

    def calls(self, api: str | None = None, calendar_id: str | None = None) -> list[Recorded]:
        """Recorded requests, optionally only of one API method and/or one calendar."""
        with self._lock:
            return [r for r in self.requests
                    if (api is None or r.api == api) and (calendar_id is None or r.calendar_id == calendar_id)]

    def clear_requests(self) -> None:
        """Forget the recorded requests (count from here)."""
        with self._lock:
            self.requests.clear()

    # ------------------------------------------------------------ state changes (lock held)

    def _calendar(self, calendar_id: str, account: str | None = None) -> _Calendar:
        if calendar_id == "primary" and account:
            calendar_id = account
        cal = self.calendars.get(calendar_id)
        if cal is None or (account is not None and cal.account != account):
            raise ApiError(404, "notFound")
        return cal

    def _stamp(self) -> str:
        moment = self.clock()
        # Every write is later than the one before, even when the clock does not move (a fixed test clock).
        self._last_updated = max(moment, self._last_updated + dt.timedelta(milliseconds=1))
        return _rfc3339(self._last_updated)

    def _store(self, cal: _Calendar, event: dict[str, Any]) -> dict[str, Any]:
        cal.seq += 1
        event["etag"] = f'"{next(self._etags)}"'
        event["updated"] = self._stamp()
        cal.events[event["id"]] = event
        cal.seqs[event["id"]] = cal.seq
        return event

    def _normalise(self, cal: _Calendar, w: Any, name: str, recurring: bool) -> dict[str, Any]:
        """A start/end as Google stores it: dates stay dates; a dateTime is rendered in the calendar's zone."""
        if not isinstance(w, dict) or not ("date" in w or "dateTime" in w):
            raise ApiError(400, "required", f"Missing {name} time.")
        if "date" in w:
            dt.date.fromisoformat(w["date"])
            return {"date": w["date"]}
        zone = w.get("timeZone")
        if recurring and not zone:
            raise ApiError(400, "invalid", f"Missing time zone definition for {name} time.")
        moment = dt.datetime.fromisoformat(w["dateTime"])
        if moment.tzinfo is None:
            if not zone:
                raise ApiError(400, "invalid", f"Missing time zone definition for {name} time.")
            moment = moment.replace(tzinfo=ZoneInfo(zone))
        out = {"dateTime": moment.astimezone(ZoneInfo(cal.zone)).isoformat(timespec="seconds")}
        if zone:
            out["timeZone"] = zone
        return out

    def _validate(self, cal: _Calendar, event: dict[str, Any]) -> dict[str, Any]:
        if event.get("status") == "cancelled":
            return event
        recurring = bool(event.get("recurrence"))
        event["start"] = self._normalise(cal, event.get("start"), "start", recurring)
        event["end"] = self._normalise(cal, event.get("end"), "end", recurring)
        if ("date" in event["start"]) != ("date" in event["end"]):
            raise ApiError(400, "invalid", "Start and end times must either both be date or both be dateTime.")
        if recurring:
            self._rules(event)
        if _instant(event["end"], cal.zone) <= _instant(event["start"], cal.zone):
            raise ApiError(400, "timeRangeEmpty", "The specified time range is empty.", location="end.dateTime",
                           locationType="parameter")
        return event

    def _insert(self, cal: _Calendar, body: dict[str, Any], by: str) -> dict[str, Any]:
        event_id = body.get("id")
        if event_id is None:
            event_id = "".join(secrets.choice("abcdefghijklmnopqrstuv0123456789") for _ in range(26))
        elif not ID_RE.match(event_id):
            raise ApiError(400, "invalid", "Invalid resource id value.")
        if event_id in cal.events:  # a cancelled event keeps its id too
            raise ApiError(409, "duplicate")
        now = self._stamp()
        event = {"kind": "calendar#event", **body, "id": event_id, "status": body.get("status", "confirmed"),
                 "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}", "created": now,
                 "creator": {"email": by}, "organizer": {"email": cal.id, "displayName": cal.summary, "self": True},
                 "iCalUID": body.get("iCalUID", f"{event_id}@google.com"), "sequence": 0,
                 "reminders": body.get("reminders", {"useDefault": True}), "eventType": "default"}
        return self._store(cal, self._validate(cal, event))

    def _existing(self, cal: _Calendar, event_id: str) -> dict[str, Any]:
        """An event by id; an instance of a series that has no exception yet is made up from its master."""
        if event_id in cal.events:
            return cal.events[event_id]
        master_id, _, stamp = event_id.rpartition("_")
        master = cal.events.get(master_id)
        if not master or not master.get("recurrence") or master["status"] == "cancelled":
            raise ApiError(404, "notFound")
        all_day = "date" in master["start"]
        try:
            original = (dt.datetime.strptime(stamp, "%Y%m%d").date() if all_day
                        else dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC))
        except ValueError as e:
            raise ApiError(404, "notFound") from e
        if not self._occurs(master, original):
            raise ApiError(404, "notFound")
        start = _instant(master["start"], cal.zone)
        length = _instant(master["end"], cal.zone) - start
        if isinstance(original, dt.datetime):
            zone = master["start"]["timeZone"]
            orig_w = {"dateTime": original.astimezone(ZoneInfo(cal.zone)).isoformat(), "timeZone": zone}
            new_start, new_end = when(original, zone), when(original + length, zone)
        else:
            orig_w = {"date": original.isoformat()}
            new_start, new_end = when(original), when(original + length)
        instance = {k: v for k, v in master.items() if k != "recurrence"}
        instance.update(id=event_id, recurringEventId=master_id, originalStartTime=orig_w,
                        start=self._normalise(cal, new_start, "start", False),
                        end=self._normalise(cal, new_end, "end", False))
        return instance

    @staticmethod
    def _rules(master: dict[str, Any]) -> rrule.rruleset:
        """The series as dateutil sees it: expanded in wall-clock time of the master's own zone."""
        lines = [line for line in master["recurrence"] if line.split(":")[0].split(";")[0] in ("RRULE", "EXDATE")]
        if "date" in master["start"]:
            first = dt.datetime.combine(dt.date.fromisoformat(master["start"]["date"]), dt.time())
        else:
            zone = ZoneInfo(master["start"]["timeZone"])
            first = dt.datetime.fromisoformat(master["start"]["dateTime"]).astimezone(zone)
        try:
            rules = rrule.rrulestr("\n".join(lines), dtstart=first, forceset=True, tzids=ZoneInfo)
            next(iter(rules), None)
        except (ValueError, TypeError, KeyError) as e:
            raise ApiError(400, "invalid", "Invalid recurrence rule.") from e
        return rules

    def _occurs(self, master: dict[str, Any], original: dt.date | dt.datetime) -> bool:
        """Does the series have an occurrence starting at `original`?"""
        at = original if isinstance(original, dt.datetime) else dt.datetime.combine(original, dt.time())
        return bool(self._rules(master).between(at, at, inc=True))

    def _replace(self, cal: _Calendar, event_id: str, body: dict[str, Any], if_match: str | None,
                 merge: bool) -> dict[str, Any]:
        old = self._existing(cal, event_id)
        if if_match not in (None, "*", old.get("etag")):
            raise ApiError(412, "conditionNotMet", "Precondition Failed", locationType="header", location="If-Match")
        fixed = ("kind", "id", "htmlLink", "created", "creator", "organizer", "iCalUID", "recurringEventId",
                 "originalStartTime", "eventType")  # what a write cannot change
        kept: dict[str, Any] = {k: old[k] for k in fixed if k in old}
        base: dict[str, Any] = old if merge else {"status": "confirmed"}  # PUT replaces; PATCH merges
        event: dict[str, Any] = {**base, **body, **kept}
        moved = any(event.get(k) != old.get(k) for k in ("start", "end", "recurrence"))
        event["sequence"] = old.get("sequence", 0) + (1 if moved else 0)
        return self._store(cal, self._validate(cal, event))

    def _patch(self, cal: _Calendar, event_id: str, body: dict[str, Any], if_match: str | None) -> dict[str, Any]:
        return self._replace(cal, event_id, body, if_match, merge=True)

    def _delete(self, cal: _Calendar, event_id: str, if_match: str | None) -> None:
        old = self._existing(cal, event_id)
        if old["status"] == "cancelled":
            raise ApiError(410, "deleted")
        self._replace(cal, event_id, {"status": "cancelled"}, if_match, merge=True)
        if old.get("recurrence"):  # the series goes, and its exceptions with it
            for other in list(cal.events.values()):
                if other.get("recurringEventId") == event_id and other["status"] != "cancelled":
                    self._store(cal, {**other, "status": "cancelled"})

    # ------------------------------------------------------------ listing

    def _list(self, cal: _Calendar, q: dict[str, str]) -> dict[str, Any]:
        if q.get("singleEvents") == "true":
            raise ApiError(400, "invalid", "singleEvents=true is not implemented by this fake")
        size = int(q.get("maxResults", "250"))
        if size < 1:
            raise ApiError(400, "invalid", "Invalid value for: maxResults")
        size = min(size, 2500)
        if "pageToken" in q:
            key, offset = self._pages.get(q["pageToken"], ("", 0))
            if key not in self._listings:  # unknown, or from a listing long gone
                raise ApiError(400, "invalid", "Invalid page token value.")
            listing = self._listings[key]
        else:
            key, offset, listing = secrets.token_urlsafe(12), 0, self._listing(cal, q)
            self._listings[key] = listing
            while len(self._listings) > 64:  # old listings go: a benchmark lists 10,000 events many times
                self._listings.popitem(last=False)
        if listing.epoch != cal.epoch and "syncToken" in q:
            raise self._gone()
        out: dict[str, Any] = {"kind": "calendar#events", "etag": f'"{next(self._etags)}"', "summary": cal.summary,
                               "updated": _rfc3339(self._last_updated if cal.seq else self.clock()),
                               "timeZone": cal.zone, "accessRole": "owner",
                               "defaultReminders": [{"method": "popup", "minutes": 10}]}
        injected = self._empty_pages > 0
        if injected:  # an injected empty page points on, to the same place, even when nothing is left
            self._empty_pages -= 1
            page, nxt = [], offset
        else:
            page, nxt = listing.items[offset:offset + size], offset + size
        token = secrets.token_urlsafe(24)
        if injected or nxt < len(listing.items):
            self._pages[token] = (key, nxt)
            out["nextPageToken"] = token
        else:
            self._sync[token] = (cal.id, listing.seq, listing.epoch)
            out["nextSyncToken"] = token
        out["items"] = page
        return out

    def _gone(self) -> ApiError:
        return ApiError(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.",
                        locationType="parameter", location="syncToken")

    def _listing(self, cal: _Calendar, q: dict[str, str]) -> _Listing:
        since = -1
        if "syncToken" in q:
            if bad := [p for p in FORBIDDEN_WITH_SYNC if p in q]:
                raise ApiError(400, "invalid", f"Sync token cannot be used with {', '.join(bad)}.")
            if q["syncToken"] not in self._sync:
                raise ApiError(400, "invalid", "Invalid sync token value.")
            cid, since, epoch = self._sync[q["syncToken"]]
            if cid != cal.id or epoch != cal.epoch:
                raise self._gone()
        show_deleted = since >= 0 or q.get("showDeleted") == "true"
        lo = _ts(q["timeMin"]) if "timeMin" in q else None
        hi = _ts(q["timeMax"]) if "timeMax" in q else None
        updated_min = _ts(q["updatedMin"]) if "updatedMin" in q else None
        text = q.get("q", "").lower()
        items = []
        for event_id, event in cal.events.items():
            if cal.seqs[event_id] <= since:
                continue
            cancelled = event["status"] == "cancelled"
            if updated_min is not None:
                if dt.datetime.fromisoformat(event["updated"]) < updated_min:
                    continue
            elif cancelled and not show_deleted and "recurringEventId" not in event:
                continue  # Google lists cancelled instances anyway when showDeleted and singleEvents are false
            if lo is not None and _instant(event["end"], cal.zone) <= lo and not event.get("recurrence"):
                continue
            if hi is not None and _instant(event["start"], cal.zone) >= hi:
                continue  # a series is kept when it starts before timeMax: it may reach into the window
            if text and not any(text in str(event.get(k, "")).lower() for k in ("summary", "description", "location")):
                continue
            if "iCalUID" in q and event.get("iCalUID") != q["iCalUID"]:
                continue
            items.append(_tombstone(event) if cancelled else event)
        if q.get("orderBy") == "updated":
            items.sort(key=lambda e: e["updated"])
        elif q.get("orderBy") == "startTime":
            raise ApiError(400, "invalid", "The requested ordering is not available for the particular query.")
        return _Listing(items, cal.seq, cal.epoch)

    # ------------------------------------------------------------ HTTP

    def _record(self, request: web.Request, body: Any, api: str, calendar_id: str | None = None) -> Recorded:
        rec = Recorded(request.method, request.path, dict(request.query), dict(request.headers), body, api,
                       calendar_id)
        self.requests.append(rec)
        return rec

    def _failure(self, api: str) -> _Failure | None:
        for f in self._failures:
            if f.left > 0 and (f.only == api or f.only is None and api != "token"):
                f.left -= 1
                return f
        return None

    async def _api(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body = json.loads(raw) if raw else None
        parts = [p for p in request.match_info["rest"].split("/") if p]
        with self._lock:
            api, cid, eid = _route(request.method, parts)
            rec = self._record(request, body, api, cid)
            try:
                response = self._answer(request, rec, api, cid, eid, body)
            except ApiError as e:
                response = e.response()
            rec.status = response.status
            return response

    def _answer(self, request: web.Request, rec: Recorded, api: str, cid: str | None, eid: str | None,
                body: Any) -> web.Response:
        auth = request.headers.get("Authorization", "")
        owner = self._access.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
        if owner is None:
            error = ApiError(401, "authError", "Request had invalid authentication credentials.",
                             locationType="header", location="Authorization").response()
            error.headers["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
            return error
        account = owner[0]
        if failure := self._failure(api):
            raise ApiError(failure.status, failure.reason)
        if api == "calendarList.list":
            return web.json_response(self._calendar_list(account, request.query))
        if not api or cid is None:
            raise ApiError(404, "notFound")
        cal = self._calendar(cid, account)
        rec.calendar_id = cal.id
        q, if_match = request.query, request.headers.get("If-Match")
        if api == "calendars.get":
            return web.json_response({"kind": "calendar#calendar", "etag": f'"{cal.epoch}"', "id": cal.id,
                                      "summary": cal.summary, "timeZone": cal.zone})
        if api == "events.list":
            return web.json_response(self._list(cal, dict(q)))
        if api == "events.insert":
            return web.json_response(self._insert(cal, body or {}, by=account))
        assert eid is not None
        if api == "events.get":
            return web.json_response(self._existing(cal, eid))
        if api in ("events.update", "events.patch"):
            return web.json_response(self._replace(cal, eid, body or {}, if_match, merge=api == "events.patch"))
        if api == "events.delete":
            self._delete(cal, eid, if_match)
            return web.Response(status=204)
        raise ApiError(404, "notFound")

    def _calendar_list(self, account: str, q: Any) -> dict[str, Any]:
        mine = [c for c in self.calendars.values() if c.account == account]
        size, offset = min(int(q.get("maxResults", "100")), 250), int(q.get("pageToken", "0"))
        items = [{"kind": "calendar#calendarListEntry", "etag": f'"{c.epoch}"', "id": c.id, "summary": c.summary,
                  "timeZone": c.zone, "accessRole": "owner", "selected": True, "backgroundColor": "#9fe1e7",
                  "defaultReminders": [{"method": "popup", "minutes": 10}], **({"primary": True} if c.primary else {})}
                 for c in mine[offset:offset + size]]
        out: dict[str, Any] = {"kind": "calendar#calendarList", "etag": '"p1"', "items": items}
        if offset + size < len(mine):
            out["nextPageToken"] = str(offset + size)
        else:
            out["nextSyncToken"] = "calendar-list-" + secrets.token_urlsafe(8)
        return out

    async def _token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        with self._lock:
            rec = self._record(request, form, "token")
            response = self._grant(form)
            rec.status = response.status
            return response

    def _grant(self, form: dict[str, Any]) -> web.Response:
        if failure := self._failure("token"):
            return web.json_response({"error": "internal_failure"}, status=failure.status)
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return web.json_response({"error": "invalid_client", "error_description": "Unauthorized"}, status=401)
        scope = str(form.get("scope") or SCOPE)
        if form.get("grant_type") == "authorization_code":
            account = self._codes.pop(str(form.get("code", "")), None)
            if account is None:
                return web.json_response({"error": "invalid_grant", "error_description": "Malformed auth code."},
                                         status=400)
            refresh = self.issue_refresh_token(account)
            return web.json_response({"access_token": self.issue_access_token(account, refresh), "expires_in": 3599,
                                      "refresh_token": refresh, "scope": scope, "token_type": "Bearer"})
        if form.get("grant_type") != "refresh_token":
            return web.json_response({"error": "unsupported_grant_type",
                                      "error_description": "Invalid grant_type"}, status=400)
        refresh = str(form.get("refresh_token", ""))
        if refresh not in self._refresh:
            return web.json_response({"error": "invalid_grant", "error_description": "Token has been expired or "
                                      "revoked."}, status=400)
        access = self.issue_access_token(self._refresh[refresh], refresh)
        return web.json_response({"access_token": access, "expires_in": 3599, "token_type": "Bearer",
                                  "scope": scope})

    async def _revoke(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        token = str(form.get("token") or request.query.get("token", ""))
        with self._lock:
            rec = self._record(request, form, "revoke")
            known = token in self._refresh or token in self._access
            self.revoke(token)
            self._access.pop(token, None)
            rec.status = 200 if known else 400
        if not known:
            return web.json_response({"error": "invalid_token", "error_description": "Token expired or revoked"},
                                     status=400)
        return web.json_response({})


def _copy(event: dict[str, Any]) -> dict[str, Any]:
    """A copy the caller may change without changing what Google holds."""
    return json.loads(json.dumps(event))  # type: ignore[no-any-return]


def _tombstone(event: dict[str, Any]) -> dict[str, Any]:
    """What a list says of a cancelled event: its id and status (and, for an instance, which one it was)."""
    keep = ("kind", "etag", "id", "status", "recurringEventId", "originalStartTime")
    return {k: event[k] for k in keep if k in event}


def _route(method: str, parts: list[str]) -> tuple[str, str | None, str | None]:
    """The API method a request calls, with its calendar and event ids (ids come URL-decoded)."""
    match method, parts:
        case "GET", ["users", "me", "calendarList"]:
            return "calendarList.list", None, None
        case "GET", ["calendars", cid]:
            return "calendars.get", cid, None
        case "GET", ["calendars", cid, "events"]:
            return "events.list", cid, None
        case "POST", ["calendars", cid, "events"]:
            return "events.insert", cid, None
        case ("GET" | "PUT" | "PATCH" | "DELETE"), ["calendars", cid, "events", eid]:
            name = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]
            return f"events.{name}", cid, eid
    return "", None, None
