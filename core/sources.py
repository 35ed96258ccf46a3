"""The seams outside data plugs into: a calendar source, a mailbox, what they return and how they fail.

Connectors (`connectors/google/`, `connectors/outlook/`, `connectors/imap/`) implement these
Protocols with their SDKs and convert at the edge: nothing here names an SDK, and no SDK object
crosses into the core. Failures are split three ways, as Home Assistant's integrations do:

* `AuthExpired` — the grant was revoked or the password changed: the user must reconnect; the
  worker marks the account and tells them once.
* `NotReady` — quota, 5xx, network: try again later (after `retry_after` seconds if the service said).
* `SourceFailed` (or any other exception) — a bug or a refusal worth a human's look: it fails
  loudly and `pixie doctor` shows it.

Two more are part of the protocol rather than failures: `CursorExpired` (the sync token is no
longer valid: sync that calendar from scratch) and `EtagMismatch` (the event changed remotely
since it was read: fetch, re-apply, never overwrite). Messages of these errors reach logs and
`pixie doctor`: they must never carry a token, a password or a mail's content.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

__all__ = [
    "AuthExpired", "CalendarSource", "CursorExpired", "EtagMismatch", "EventPage", "MailBatch", "MailCursor",
    "Mailbox", "NotReady", "RawMail", "RemoteCalendar", "RemoteEvent", "RemovedEvent", "SourceError",
    "SourceFailed", "When",
]

When = dt.date | dt.datetime  # a date for an all-day event; an aware datetime otherwise


# ---------------------------------------------------------------- errors

class SourceError(Exception):
    """Base of what a calendar source or a mailbox raises."""


class AuthExpired(SourceError):
    """The account's access is gone (refresh token refused, password changed): the user must reconnect."""


class NotReady(SourceError):
    """The service cannot answer now (quota, 5xx, network); try again after `retry_after` seconds if given."""

    def __init__(self, message: str = "not ready", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SourceFailed(SourceError):
    """The service refused in a way retrying will not fix; shown by `pixie doctor`."""


class CursorExpired(SourceError):
    """The sync cursor is no longer accepted (Google's 410 fullSyncRequired): sync that calendar afresh."""


class EtagMismatch(SourceError):
    """The event changed remotely since its etag was read (HTTP 412): fetch it and re-apply the change."""


# ---------------------------------------------------------------- calendars

def _check_when(name: str, value: When) -> None:
    if isinstance(value, dt.datetime) and value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime or a date, not a naive datetime")


@dataclass(frozen=True)
class RemoteCalendar:
    """One calendar of a connected account, as its service lists it."""

    remote_id: str
    name: str
    tz: str | None = None  # the calendar's IANA zone, when the service says
    primary: bool = False
    writable: bool = True


@dataclass(frozen=True)
class RemoteEvent:
    """An event as a calendar service holds it, in neutral terms.

    All-day events keep dates (`start`/`end` are `date`s, `end` exclusive as both Google and
    Graph give it) and are never converted through UTC; timed events carry aware datetimes and
    `tz` only when the service named a zone (a bare offset is never turned into a guessed zone).
    A recurring series is its master (`recurrence` holds its RRULE/EXDATE/RDATE lines) plus
    exceptions: an exception names its series (`series_id`, the master's `external_id`) and the
    instance it replaces (`original_start`, an instant, or a date for an all-day series).
    """

    external_id: str  # the service's id; for an event Pixie creates, the id Pixie chose
    title: str
    start: When
    end: When
    etag: str | None = None
    tz: str | None = None
    location: str | None = None
    description: str | None = None
    attendees: tuple[str, ...] = ()
    recurrence: tuple[str, ...] = ()
    series_id: str | None = None
    original_start: When | None = None
    status: Literal["confirmed", "tentative"] = "confirmed"
    updated: dt.datetime | None = None  # the service's last-modified time: the newer edit wins

    def __post_init__(self) -> None:
        if isinstance(self.start, dt.datetime) != isinstance(self.end, dt.datetime):
            raise ValueError("start and end must both be dates (all day) or both datetimes")
        _check_when("start", self.start)
        _check_when("end", self.end)
        if self.original_start is not None:
            _check_when("original_start", self.original_start)
        if self.end < self.start:  # both dates or both datetimes, checked above
            raise ValueError("an event cannot end before it starts")

    @property
    def all_day(self) -> bool:
        """Whether the event spans whole days (dates) rather than instants."""
        return not isinstance(self.start, dt.datetime)


@dataclass(frozen=True)
class RemovedEvent:
    """An event deleted remotely, or one cancelled instance of a series (which then hides that instance)."""

    external_id: str
    series_id: str | None = None
    original_start: When | None = None


@dataclass(frozen=True)
class EventPage:
    """One page of changes. The last page of a sync carries `cursor`: where the next incremental sync starts."""

    changes: tuple[RemoteEvent | RemovedEvent, ...]
    cursor: str | None = None


class CalendarSource(Protocol):
    """One connected calendar account (Google, Outlook/Graph), already authenticated."""

    async def calendars(self) -> list[RemoteCalendar]:
        """Every calendar the account can see."""
        ...

    def changes(self, calendar_id: str, cursor: str | None) -> AsyncIterator[EventPage]:
        """The events changed since `cursor` (None: every event, a full sync), page by page.

        The source follows the service's paging itself (an empty page with a next-page token is
        not the end) and gives the new cursor on the last page. Raises `CursorExpired` when the
        service no longer accepts `cursor`.
        """
        ...

    async def create_event(self, calendar_id: str, event: RemoteEvent) -> RemoteEvent:
        """Create `event` under the id Pixie chose (`event.external_id`), so a retry never doubles it.

        Invites no one: the service is told not to send updates. Returns the event as stored, with its etag.
        """
        ...

    async def update_event(self, calendar_id: str, event: RemoteEvent) -> RemoteEvent:
        """Replace the event, only if it still has `event.etag` (If-Match); else raise `EtagMismatch`."""
        ...

    async def delete_event(self, calendar_id: str, external_id: str, etag: str | None) -> None:
        """Delete the event (If-Match `etag` when given; `EtagMismatch` if it changed); gone already is fine."""
        ...


# ---------------------------------------------------------------- mail

@dataclass(frozen=True)
class MailCursor:
    """Where a mailbox was read up to: every UID up to `last_uid` under `uidvalidity` is handled or seen."""

    uidvalidity: int
    last_uid: int

    def as_json(self) -> dict[str, int]:
        """The cursor as an account's `cursor` column stores it."""
        return {"uidvalidity": self.uidvalidity, "last_uid": self.last_uid}

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> MailCursor | None:
        """A cursor read back from the `cursor` column (None when the mailbox was never read)."""
        if not value or "uidvalidity" not in value or "last_uid" not in value:
            return None
        return cls(int(value["uidvalidity"]), int(value["last_uid"]))


@dataclass(frozen=True)
class RawMail:
    """One message as fetched (without setting \\Seen): its UID under its UIDVALIDITY and its bytes.

    A message the server says is over the size limit is not downloaded: `data` holds only its
    headers, `whole` is False and `size` is what the server reported (RFC822.SIZE).
    """

    uid: int
    uidvalidity: int
    data: bytes
    received_at: dt.datetime | None = None  # the server's INTERNALDATE, aware
    size: int | None = None  # the server's RFC822.SIZE, when it was asked
    whole: bool = True  # False: only the headers were fetched (the message is over the size limit)

    def __repr__(self) -> str:  # a mail's content stays out of logs and tracebacks
        part = "" if self.whole else f" of {self.size} (headers only)"
        return f"RawMail(uid={self.uid}, uidvalidity={self.uidvalidity}, {len(self.data)} bytes{part})"


@dataclass(frozen=True)
class MailBatch:
    """New messages, oldest first, and the cursor to store once all of them are handled."""

    messages: tuple[RawMail, ...]
    cursor: MailCursor


class Mailbox(Protocol):
    """A mailbox Pixie reads (IMAP), already logged in."""

    async def fetch_new(self, after: MailCursor | None, limit: int = 50) -> MailBatch:
        """Messages after `after`, at most `limit`, without marking them read.

        When the server's UIDVALIDITY differs from `after.uidvalidity`, UIDs start over: the
        mailbox returns what is still in the inbox under the new UIDVALIDITY (handled mail was
        moved out, so nothing handled is seen again).
        """
        ...

    async def mark_handled(self, mails: Sequence[RawMail], folder: str) -> None:
        """Move stored messages out of the inbox into `folder` ("Pixie/Done", "Pixie/Rejected"), made if missing."""
        ...
