"""The tools: the one schema every brain calls, and the only code that changes user data."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import and_, or_, select
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from core import clock
from core.memory import Memory, TooMany
from core.recurrence import normalise_rrule, occurrences, series_end
from core.replies import Speaker
from core.timeparse import DAY_CODES
from core.twoway import default_calendar, instance_id, new_remote_id, snapshot
from core.types import Action
from core.undo import NOT_RECORDED, UNDOABLE_SOURCES
from db.models import Calendar, Event, Reminder, Task, User

Priority = Literal["low", "medium", "high"]
PROPOSING = frozenset({"email"})  # sources whose events are proposals, not commitments
MAX_TEXT = 2000


class ToolError(Exception):
    """A tool call that cannot be done; the message is said to the user as is."""

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.detail = detail


class Ambiguous(ToolError):
    """Several items fit the words the user used; the assistant asks which one."""

    def __init__(self, noun: str, ref: str, candidates: list[dict[str, Any]]) -> None:
        super().__init__(f"More than one {noun} fits “{ref}”.", candidates=candidates)
        self.noun = noun
        self.candidates = candidates


@dataclass
class ToolContext:
    """What a tool runs against: one user's rows, at one moment, in one zone."""

    session: AsyncSession
    user: User
    now: dt.datetime
    tz: ZoneInfo
    memory: Memory
    # Where the change comes from (chat, button, email, calendar sync, cli): stored with what it makes,
    # never part of the schema a model sees.
    source: str = "chat"
    # The turn's change: what its tools write is recorded under this id so that it can be undone (core/undo.py).
    change: uuid.UUID = field(default_factory=uuid.uuid4)
    # Grants of accounts this turn disconnected, (provider, sealed secret): the caller has each revoked at
    # its provider once the turn is committed (no network inside a transaction). Never stored or shown.
    forgotten: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def today(self) -> dt.date:
        return self.now.astimezone(self.tz).date()


# ---------------------------------------------------------------- argument models

class Args(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _text(limit: int) -> Any:
    return Field(default=None, max_length=limit)


class TaskFields(Args):
    due: str | None = None
    priority: Priority | None = None
    project: str | None = _text(200)
    notes: str | None = _text(MAX_TEXT)
    remind_at: str | None = None


class CreateTask(TaskFields):
    title: str = Field(min_length=1, max_length=500)
    recurrence: str | None = _text(500)  # an RRULE: the reminder (or due time) repeats on the user's clock
    before_event: str | None = _text(500)  # remind this long before an event (its words or id); moves with it
    before_minutes: int | None = Field(default=None, ge=0, le=366 * 24 * 60)


class TaskRef(Args):
    task_id: str | None = None
    task_ref: str | None = _text(500)


class UpdateTask(TaskFields, TaskRef):
    title: str | None = Field(default=None, min_length=1, max_length=500)
    status: Literal["open", "done"] | None = None
    shift: dict[str, int] | None = None  # move the due date by a relative amount (days=7, weeks=1…)
    more_notes: str | None = _text(MAX_TEXT)  # "add a note to the report task: …": kept after the notes it has

    @field_validator("shift")
    @classmethod
    def _shift_keys(cls, v: dict[str, int] | None) -> dict[str, int] | None:
        if v and not set(v) <= {"days", "weeks", "months", "years", "hours", "minutes"}:
            raise ValueError("shift takes days, weeks, months, years, hours or minutes")
        return v


class ListTasks(Args):
    status: Literal["open", "done", "all"] = "open"
    due_before: str | None = None
    due_after: str | None = None
    done_after: str | None = None  # completed in a window ("what did I do last week")
    done_before: str | None = None
    project: str | None = _text(200)
    query: str | None = _text(500)


class EventFields(Args):
    end: str | None = None
    location: str | None = _text(500)
    attendees: list[str] | None = None
    recurrence: str | None = _text(500)


class CreateEvent(EventFields):
    title: str = Field(min_length=1, max_length=500)
    start: str


class Window(Args):
    start: str
    end: str


class EventRef(Args):
    event_id: str | None = None
    event_ref: str | None = _text(500)
    # One occurrence of a repeating event (the rest of the series unchanged): its day, YYYY-MM-DD, or a
    # window of days, YYYY-MM-DD/YYYY-MM-DD ("this week's"), which must hold exactly one occurrence.
    occurrence: str | None = Field(default=None, max_length=40)
    # An event named by its time ("my 3pm", "thursday's pilates"): a day (YYYY-MM-DD), a moment
    # (YYYY-MM-DDTHH:MM), or a time of day (HH:MM: the next one at that time, from today on).
    event_at: str | None = Field(default=None, max_length=40)


class UpdateEvent(EventFields, EventRef):
    title: str | None = Field(default=None, min_length=1, max_length=500)
    start: str | None = None
    shift_minutes: int | None = Field(default=None, ge=-366 * 24 * 60, le=366 * 24 * 60)  # "push back an hour"
    new_date: str | None = Field(default=None, max_length=10)  # YYYY-MM-DD: that day, at the same time
    new_time: str | None = Field(default=None, max_length=5)  # HH:MM: that time, on the same day
    either_half: bool = False  # new_time was said without am/pm: its half of the day nearer the event's time


class Remember(Args):
    text: str = Field(min_length=1, max_length=MAX_TEXT)


class SearchMemory(Args):
    query: str = Field(min_length=1, max_length=MAX_TEXT)
    k: int = Field(default=5, ge=1, le=50)


class Forget(Args):
    query: str | None = _text(MAX_TEXT)  # what to forget, in words
    memory_id: str | None = None  # or exactly one memory (an id from search_memory)


class SetDigest(Args):
    time: str | None = Field(default=None, max_length=20)  # "HH:MM" local; "off" (or an explicit null) stops it
    platform: str | None = Field(default=None, max_length=32)  # a platform the user has written from
    channel: str | None = _text(200)  # e.g. a Slack channel: "#general" or "C0123ABCD"

    @field_validator("platform")
    @classmethod
    def _platform_name(cls, v: str | None) -> str | None:
        return v.strip().lower() or None if v else None


class Snooze(TaskRef):
    minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)


class Undo(Args):
    change: str | None = Field(default=None, max_length=64,
                               description="a change id (an Undo button); none: the user's last change")


class SetTimezone(Args):
    zone: str = Field(min_length=1, max_length=100)  # an IANA zone, a city, or a UTC offset ("UTC+2")


# ---------------------------------------------------------------- shared helpers

def _when(ctx: ToolContext, value: str, name: str) -> dt.datetime | dt.date:
    try:
        return clock.read_when(value, ctx.tz)
    except clock.OutOfRange as exc:
        raise ToolError(f"{exc} “{value}” is outside them.") from None
    except ValueError:
        raise ToolError(f"I couldn't read the {name} “{value}” as a date or time.") from None


def _instant(ctx: ToolContext, value: str, name: str) -> dt.datetime:
    return clock.as_instant(_when(ctx, value, name), ctx.tz)


def _window(ctx: ToolContext, a: Window) -> tuple[dt.datetime, dt.datetime]:
    """A window's instants; a date-only end is its last day, so "the 29th to the 29th" is that day."""
    end = _when(ctx, a.end, "end")
    if not isinstance(end, dt.datetime):
        end = end + dt.timedelta(days=1)
    return _instant(ctx, a.start, "start"), clock.as_instant(end, ctx.tz)


def task_due(task: Task, tz: ZoneInfo) -> str | None:
    """The due value as the tool schema speaks it: an ISO date, or a datetime with offset."""
    if task.due_at is not None:
        return clock.iso_local(task.due_at, tz)
    return task.due_date.isoformat() if task.due_date else None


def task_dict(task: Task, tz: ZoneInfo) -> dict[str, Any]:
    """A task row as tools, listings and `--json` show it."""
    return {
        "id": str(task.id), "title": task.title, "due": task_due(task, tz), "priority": task.priority,
        "project": task.project, "notes": task.notes,
        "remind_at": clock.iso_local(task.remind_at, tz) if task.remind_at else None,
        "status": task.status, "created_at": clock.iso_local(task.created_at, tz),
        **({"recurrence": task.recurrence} if task.recurrence else {}),
        **({"completed_at": clock.iso_local(task.completed_at, tz)} if task.completed_at else {}),
    }


def all_day_dates(ev: Event, start: dt.datetime | None = None,
                  end: dt.datetime | None = None) -> tuple[dt.date, dt.date]:
    """An all-day event's first and last day, in the zone it was made in (wherever the user is now);
    it is stored as the midnight it starts and the midnight after its last day."""
    own = clock.zone(ev.tz)
    last = (end or ev.end_at).astimezone(own) - dt.timedelta(days=1)
    return (start or ev.start_at).astimezone(own).date(), last.date()


def event_dict(ev: Event, tz: ZoneInfo, start: dt.datetime | None = None,
               end: dt.datetime | None = None) -> dict[str, Any]:
    """An event (or one occurrence of a series) as tools, listings and `--json` show it."""
    s, e = start or ev.start_at, end or ev.end_at
    first, last = all_day_dates(ev, s, e)
    return {
        "id": str(ev.id), "title": ev.title,
        "start": first.isoformat() if ev.all_day else clock.iso_local(s, tz),
        "end": last.isoformat() if ev.all_day else clock.iso_local(e, tz),
        "all_day": ev.all_day, "location": ev.location, "attendees": ev.attendees or [],
        "recurrence": ev.recurrence, "status": ev.status, "source": ev.source,
        "created_at": clock.iso_local(ev.created_at, tz),
    }


def _set_due(task: Task, due: dt.datetime | dt.date | None, tz: ZoneInfo) -> None:
    if due is None:
        task.due_date, task.due_at = None, None
    elif isinstance(due, dt.datetime):
        task.due_at, task.due_date = due.astimezone(clock.UTC), due.astimezone(tz).date()
    else:
        task.due_date, task.due_at = due, None


def memory_text_for_task(task: Task, tz: ZoneInfo) -> str:
    """How a task reads in memory."""
    parts = [f"Task: {task.title}"]
    if task.project:
        parts.append(f"project {task.project}")
    if task.due_at or task.due_date:
        parts.append("due " + clock.fmt_when(task.due_at or task.due_date, tz))  # type: ignore[arg-type]
    if task.notes:
        parts.append(task.notes)
    return ", ".join(parts)


def memory_text_for_event(ev: Event, tz: ZoneInfo) -> str:
    """How an event reads in memory."""
    first, last = all_day_dates(ev)
    when = (clock.fmt_day(first) + (f" to {clock.fmt_day(last)}" if last > first else "") if ev.all_day
            else clock.fmt_when(ev.start_at, tz))
    text = f"Event: {ev.title}, {when}"
    if ev.location:
        text += f" at {ev.location}"
    if ev.attendees:
        text += " with " + ", ".join(ev.attendees)
    return text


async def _set_reminder(ctx: ToolContext, task: Task, when: dt.datetime | None) -> None:
    old = await ctx.session.scalars(
        select(Reminder).where(Reminder.task_id == task.id, Reminder.status == "pending"))
    for r in old:
        r.status = "cancelled"
    task.remind_at = when.astimezone(clock.UTC) if when else None
    if when is not None:
        ctx.session.add(Reminder(user_id=ctx.user.id, task_id=task.id, remind_at=task.remind_at,
                                 text=task.title, created_at=ctx.now))


def _remind_instant(ctx: ToolContext, value: str) -> dt.datetime:
    when = _when(ctx, value, "reminder time")
    if not isinstance(when, dt.datetime):  # a day alone: remind in the morning
        when = clock.localize(dt.datetime.combine(when, dt.time(9, 0)), ctx.tz)
    return when


WORD = re.compile(r"[a-z0-9]+")
_IGNORED = {"the", "a", "an", "my", "task", "tasks", "todo", "one", "item", "to", "for", "of", "on", "in",
            "it", "that", "this", "with", "about", "and", "event", "meeting", "thing"}


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s", "e"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _words(text: str) -> set[str]:
    return {_stem(w) for w in WORD.findall(text.lower()) if w not in _IGNORED}


# Words that say what kind of thing is meant, not which one: "the X call" must match X, not any call.
_GENERIC = {_stem(w) for w in ("call", "calls", "appointment", "appt", "session", "class", "lesson", "reminder",
                               "note", "list", "todo", "thing", "stuff", "plan", "slot", "booking")}


def best_matches(ref: str, candidates: list[tuple[Any, str]]) -> list[Any]:
    """The candidates whose text shares the most words with `ref` (all tied ones), or none.

    A candidate must hold at least half of the words that set the ref apart (all but generic nouns like
    "call"): an edit of something Pixie cannot find asks, rather than changing whatever shares a word.
    """
    wanted = _words(ref)
    if not wanted:
        return []
    telling = wanted - _GENERIC or wanted
    scored = []
    for item, text in candidates:
        have = _words(text)
        found = {w for w in wanted if w in have or any(h.startswith(w) or w.startswith(h)
                                                        for h in have if min(len(h), len(w)) >= 4)}
        hits = len(found)
        if hits and 2 * len(found & telling) >= len(telling):
            scored.append((hits / len(wanted), hits / max(1, len(have)), item))
    if not scored:
        return []
    top = max(s[:2] for s in scored)
    return [s[2] for s in scored if s[:2] == top]


async def resolve_task(ctx: ToolContext, args: TaskRef, include_done: bool = False) -> Task:
    """The task named by id or by words; Ambiguous when several fit equally well."""
    mine = Task.user_id == ctx.user.id
    if args.task_id:
        try:
            task_id = uuid.UUID(args.task_id)
        except ValueError:
            raise ToolError(f"There is no task with id {args.task_id}.") from None
        task = await ctx.session.scalar(select(Task).where(mine, Task.id == task_id))
        if task is None:
            raise ToolError(f"There is no task with id {args.task_id}.")
        return task
    if not args.task_ref:
        raise ToolError("Which task do you mean?")
    statuses = ("open", "done") if include_done else ("open",)
    rows = list(await ctx.session.scalars(select(Task).where(mine, Task.status.in_(statuses))))
    found = best_matches(args.task_ref, [(t, f"{t.title} {t.project or ''}") for t in rows])
    if not found and not include_done:
        rows = list(await ctx.session.scalars(select(Task).where(mine, Task.status == "done")))
        found = best_matches(args.task_ref, [(t, f"{t.title} {t.project or ''}") for t in rows])
    if not found:
        raise ToolError(f"I couldn't find a task matching “{args.task_ref}”.", missing="task")
    if len(found) > 1:
        raise Ambiguous("task", args.task_ref, [task_dict(t, ctx.tz) for t in found[:10]])
    return found[0]


async def resolve_event(ctx: ToolContext, args: EventRef) -> Event:
    """The event named by id or by words (upcoming ones first)."""
    mine = (Event.user_id == ctx.user.id, Event.status != "cancelled")
    if args.event_id:
        try:
            event_id = uuid.UUID(args.event_id)
        except ValueError:
            raise ToolError(f"There is no event with id {args.event_id}.") from None
        ev = await ctx.session.scalar(select(Event).where(*mine, Event.id == event_id))
        if ev is None:
            raise ToolError(f"There is no event with id {args.event_id}.")
        return ev
    if args.event_at:
        return await _event_at(ctx, args)
    if not args.event_ref:
        raise ToolError("Which event do you mean?")
    live = or_(Event.end_at >= ctx.now, Event.series_end_at.is_(None), Event.series_end_at >= ctx.now)
    rows = list(await ctx.session.scalars(select(Event).where(*mine, live)))
    found = best_matches(args.event_ref, [(e, f"{e.title} {e.location or ''}") for e in rows])
    series = {k for e in found if e.recurrence for k in (e.external_id, str(e.id)) if k}
    found = [e for e in found if e.series_id not in series]  # a changed occurrence is part of its series
    if not found:
        raise ToolError(f"I couldn't find an event matching “{args.event_ref}”.")
    if len(found) > 1 and args.occurrence:  # "thursday's pilates": the one on that day, or a series
        lo, hi = _occurrence_window(ctx, args.occurrence)
        found = [e for e in found if e.recurrence or (e.start_at < hi and e.end_at > lo)] or found
    if len(found) > 1:
        raise Ambiguous("event", args.event_ref, [event_dict(e, ctx.tz) for e in found[:10]])
    return found[0]


async def _event_at(ctx: ToolContext, args: EventRef) -> Event:
    """The event named by its time (and its words, if any): on a day, at a moment, or next at a time of day."""
    said = (args.event_at or "").strip()
    clock_only = re.fullmatch(r"(\d{1,2}):(\d{2})", said)
    if clock_only:
        at = dt.time(int(clock_only[1]), int(clock_only[2])) if int(clock_only[1]) < 24 else None
        if at is None:
            raise ToolError(f"I couldn't read the time “{said}”.")
        start = clock.start_of_day(ctx.today, ctx.tz)
        end = start + dt.timedelta(days=8)
    else:
        value = _when(ctx, said, "event time")
        if isinstance(value, dt.datetime):
            at, start, end = value.astimezone(ctx.tz).time(), value, value + dt.timedelta(minutes=1)
        else:
            at, start = None, clock.start_of_day(value, ctx.tz)
            end = clock.start_of_day(value + dt.timedelta(days=1), ctx.tz)
    found = [e for e in await events_between(ctx, start, end)
             if at is None or not e["all_day"] and e["start"][11:16] == at.strftime("%H:%M")]  # local ISO start
    if args.event_ref and found:
        found = best_matches(args.event_ref, [(e, f"{e['title']} {e.get('location') or ''}") for e in found])
    if clock_only and found:  # the next one at that time: the first day that has one
        first = found[0]["start"][:10]
        found = [e for e in found if e["start"][:10] == first]
    what = f"“{args.event_ref}” " if args.event_ref else ""
    if not found:
        raise ToolError(f"I couldn't find an event {what}at {said.replace('T', ' ')}.")
    if len({e["id"] for e in found}) > 1:
        raise Ambiguous("event", args.event_ref or said, found[:10])
    ev = await ctx.session.get(Event, uuid.UUID(found[0]["id"]))
    assert ev is not None
    return ev


# A synced series' exception may move its instance up to this far; a cancelled or moved instance is looked
# for this far before a window (a longer event is rare enough to show twice rather than cost a wider scan).
EXCEPTION_REACH = dt.timedelta(days=31)
Hidden = set[tuple[uuid.UUID, str, str, dt.datetime]]


async def hidden_instances(session: AsyncSession, user_ids: list[uuid.UUID], start: dt.datetime,
                           end: dt.datetime) -> Hidden:
    """Instances of synced series that an exception replaces or cancels: (user, source, series id, original start).

    An instance is keyed by its original start as an instant, so an exception stated in another zone
    (or moved across a DST change) still hides exactly the occurrence it replaces.
    """
    rows = await session.execute(select(Event.user_id, Event.source, Event.series_id, Event.original_start_at).where(
        Event.user_id.in_(user_ids), Event.series_id.is_not(None),
        Event.original_start_at >= start - EXCEPTION_REACH, Event.original_start_at < end))
    return {(u, src, sid, at) for u, src, sid, at in rows if sid is not None and at is not None}


def expand(ev: Event, start: dt.datetime, end: dt.datetime,
           hidden: Hidden | None = None) -> list[tuple[dt.datetime, dt.datetime]]:
    """The event's occurrences overlapping [start, end), without those its series' exceptions replace."""
    found = occurrences(ev.start_at, ev.end_at, clock.zone(ev.tz), ev.recurrence, start, end)
    if hidden and ev.recurrence:
        found = [(s, e) for s, e in found if (ev.user_id, ev.source, series_key(ev), s) not in hidden]
    return found


def series_key(ev: Event) -> str:
    """What the exceptions of a series name it by: its remote id when synced, else its own id."""
    return ev.external_id or str(ev.id)


async def events_between(ctx: ToolContext, start: dt.datetime, end: dt.datetime,
                         exclude: uuid.UUID | None = None) -> list[dict[str, Any]]:
    """Every occurrence of the user's events overlapping [start, end), in time order."""
    overlaps = and_(Event.start_at < end, or_(
        and_(Event.recurrence.is_(None), Event.end_at > start),
        and_(Event.recurrence.is_not(None), or_(Event.series_end_at.is_(None), Event.series_end_at > start))))
    query = select(Event).where(Event.user_id == ctx.user.id, Event.status != "cancelled", overlaps)
    if exclude is not None:
        query = query.where(Event.id != exclude)
    rows = list(await ctx.session.scalars(query))
    hidden = (await hidden_instances(ctx.session, [ctx.user.id], start, end)
              if any(ev.recurrence for ev in rows) else None)
    found = []
    for ev in rows:
        for s, e in expand(ev, start, end, hidden):
            found.append((s, ev.title, event_dict(ev, ctx.tz, s, e)))
    found.sort(key=lambda x: (x[0], x[1]))
    return [f[2] for f in found]


# ---------------------------------------------------------------- the tools

async def create_task(ctx: ToolContext, a: CreateTask) -> dict[str, Any]:
    task = Task(id=uuid.uuid4(), user_id=ctx.user.id, title=a.title, notes=a.notes, project=a.project,
                priority=a.priority or "medium", status="open", source=ctx.source, created_at=ctx.now,
                updated_at=ctx.now)
    _set_due(task, _when(ctx, a.due, "due date") if a.due else None, ctx.tz)
    ctx.session.add(task)
    anchor = None
    if a.before_event:
        anchor = await _anchor(ctx, task, a.before_event, a.before_minutes or 0)
    elif a.remind_at:
        await _set_reminder(ctx, task, _remind_instant(ctx, a.remind_at))
    if a.recurrence:
        _task_recurrence(ctx, task, a.recurrence)
    await ctx.memory.add(ctx.session, ctx.user.id, "task", memory_text_for_task(task, ctx.tz), task.id, ctx.now)
    return {"task_id": str(task.id), "task": task_dict(task, ctx.tz)} | ({"anchor": anchor} if anchor else {})


async def _anchor(ctx: ToolContext, task: Task, event: str, minutes: int) -> str:
    """Remind `minutes` before an event's start, and keep the reminder there when the event moves."""
    by_id = re.fullmatch(r"[0-9a-f-]{36}", event.strip().lower())
    ev = await resolve_event(ctx, EventRef(event_id=event) if by_id else EventRef(event_ref=event))
    when = ev.start_at - dt.timedelta(minutes=minutes)
    if when <= ctx.now:
        raise ToolError(f"{clock.fmt_when(when, ctx.tz)} — that's already past for “{ev.title}” "
                        f"({clock.fmt_when(ev.start_at, ctx.tz)}).")
    task.anchor_event_id, task.anchor_minutes = ev.id, minutes
    await ctx.session.flush()  # the task exists before its reminder points at it
    await _set_reminder(ctx, task, when)
    return f"{_before(minutes)} {ev.title}"


def _before(minutes: int) -> str:
    """"2 days before", "an hour before", "30 minutes before"."""
    for size, unit in ((7 * 1440, "week"), (1440, "day"), (60, "hour"), (1, "minute")):
        if minutes and minutes % size == 0:
            n = minutes // size
            article = "an" if unit == "hour" else "a"
            return f"{article if n == 1 else n} {unit}{'s' if n > 1 else ''} before"
    return "at the start of"


async def follow_event(ctx: ToolContext, ev: Event) -> int:
    """Move the reminders anchored to an event with it (or drop them when it is cancelled); how many moved."""
    moved = 0
    for task in await ctx.session.scalars(select(Task).where(Task.user_id == ctx.user.id,
                                                             Task.anchor_event_id == ev.id, Task.status == "open")):
        when = ev.start_at - dt.timedelta(minutes=task.anchor_minutes or 0)
        await _set_reminder(ctx, task, when if ev.status != "cancelled" and when > ctx.now else None)
        moved += 1
    return moved


def _task_recurrence(ctx: ToolContext, task: Task, rule: str) -> None:
    """A repeating task: its rule read from its first reminder (or due time, or now)."""
    first = task.remind_at or task.due_at or ctx.now
    try:
        task.recurrence = normalise_rrule(rule, first, ctx.tz)
    except ValueError as exc:
        raise ToolError(f"I couldn't use that repeat rule: {exc}") from None


def next_time(task: Task, tz: ZoneInfo, after: dt.datetime) -> dt.datetime | None:
    """A repeating task's next moment after `after` (its rule read from its reminder or due time)."""
    first = task.remind_at or task.due_at
    if not task.recurrence or first is None:
        return None
    found = occurrences(first, first + dt.timedelta(minutes=1), tz, task.recurrence, after + dt.timedelta(seconds=1),
                        after + dt.timedelta(days=400))
    return next((s for s, _ in found if s > after), None)


async def tasks_due_between(ctx: ToolContext, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    """Open tasks due in [start, end): at a time inside it, or on a day it covers."""
    first, last = start.astimezone(ctx.tz).date(), (end - dt.timedelta(microseconds=1)).astimezone(ctx.tz).date()
    rows = await ctx.session.scalars(select(Task).where(
        Task.user_id == ctx.user.id, Task.status == "open",
        or_(and_(Task.due_at.is_not(None), Task.due_at >= start, Task.due_at < end),
            and_(Task.due_at.is_(None), Task.due_date >= first, Task.due_date <= last))))
    found = sorted(rows, key=lambda t: (t.due_date, t.due_at or start))
    return [task_dict(t, ctx.tz) for t in found]


async def list_tasks(ctx: ToolContext, a: ListTasks) -> dict[str, Any]:
    query = select(Task).where(Task.user_id == ctx.user.id)
    if a.status != "all":
        query = query.where(Task.status == a.status)
    if a.project:
        query = query.where(Task.project.ilike(a.project))
    if a.due_before:
        before = _when(ctx, a.due_before, "date")
        if isinstance(before, dt.datetime):
            query = query.where(or_(Task.due_at < before, and_(
                Task.due_at.is_(None), Task.due_date < before.astimezone(ctx.tz).date())))
        else:
            query = query.where(Task.due_date <= before)
    if a.due_after:
        after = _when(ctx, a.due_after, "date")
        day = after.astimezone(ctx.tz).date() if isinstance(after, dt.datetime) else after
        query = query.where(Task.due_date >= day)
    if a.done_after or a.done_before:
        query = query.where(Task.completed_at.is_not(None))
        if a.done_after:
            query = query.where(Task.completed_at >= clock.as_instant(_when(ctx, a.done_after, "date"), ctx.tz))
        if a.done_before:
            query = query.where(Task.completed_at < clock.as_instant(_when(ctx, a.done_before, "date"), ctx.tz))
    rows = list(await ctx.session.scalars(query))
    if a.query:
        hits = best_matches(a.query, [(t, f"{t.title} {t.project or ''} {t.notes or ''}") for t in rows])
        rows = hits
    far = dt.date.max
    rows.sort(key=lambda t: (t.due_date or far, t.due_at or dt.datetime.max.replace(tzinfo=clock.UTC),
                             {"high": 0, "medium": 1, "low": 2}.get(t.priority, 1), t.created_at))
    return {"tasks": [task_dict(t, ctx.tz) for t in rows]}


async def update_task(ctx: ToolContext, a: UpdateTask) -> dict[str, Any]:
    task = await resolve_task(ctx, a, include_done=True)
    if a.title:
        task.title = a.title
    if a.project is not None:
        task.project = a.project or None
    if a.notes is not None:
        task.notes = a.notes or None
    if a.more_notes:
        task.notes = f"{task.notes}\n{a.more_notes}" if task.notes else a.more_notes
    if a.priority:
        task.priority = a.priority
    if a.due:
        _set_due(task, _when(ctx, a.due, "due date"), ctx.tz)
    elif a.shift:
        current: dt.datetime | dt.date | None = task.due_at.astimezone(ctx.tz) if task.due_at else task.due_date
        if current is None:
            raise ToolError(f"“{task.title}” has no due date to move; tell me the new date.")
        shifted = current + relativedelta(**a.shift)  # type: ignore[arg-type]
        if isinstance(shifted, dt.datetime):
            shifted = clock.localize(shifted.replace(tzinfo=None), ctx.tz)
        _set_due(task, shifted, ctx.tz)
    if a.remind_at:
        await _set_reminder(ctx, task, _remind_instant(ctx, a.remind_at))
    if a.status and a.status != task.status:
        task.status = a.status
        task.completed_at = ctx.now if a.status == "done" else None
        if a.status == "done":
            await _set_reminder(ctx, task, None)
    task.updated_at = ctx.now
    await ctx.memory.reindex_source(ctx.session, ctx.user.id, "task", task.id, memory_text_for_task(task, ctx.tz))
    return {"task_id": str(task.id), "task": task_dict(task, ctx.tz)}


async def complete_task(ctx: ToolContext, a: TaskRef) -> dict[str, Any]:
    task = await resolve_task(ctx, a)
    already = task.status == "done"
    following = next_time(task, ctx.tz, max(ctx.now, task.remind_at or task.due_at or ctx.now))
    if following is not None and not already:  # a repeating task: done this time, on again next time
        shift = following - (task.remind_at or task.due_at or following)
        if task.due_at is not None:
            _set_due(task, task.due_at + shift, ctx.tz)
        if task.remind_at is not None:
            await _set_reminder(ctx, task, task.remind_at + shift)
        task.completed_at, task.updated_at = ctx.now, ctx.now
        return {"task_id": str(task.id), "task": task_dict(task, ctx.tz), "already_done": False,
                "next": clock.iso_local(following, ctx.tz)}
    task.status, task.completed_at, task.updated_at = "done", task.completed_at or ctx.now, ctx.now
    await _set_reminder(ctx, task, None)
    return {"task_id": str(task.id), "task": task_dict(task, ctx.tz), "already_done": already}


async def delete_task(ctx: ToolContext, a: TaskRef) -> dict[str, Any]:
    task = await resolve_task(ctx, a, include_done=True)
    gone = task_dict(task, ctx.tz)
    await ctx.memory.forget_source(ctx.session, ctx.user.id, task.id)
    await ctx.session.delete(task)
    return {"task_id": gone["id"], "task": gone, "deleted": True}


def _event_times(ctx: ToolContext, start_s: str, end_s: str | None) -> tuple[dt.datetime, dt.datetime, bool]:
    start = _when(ctx, start_s, "start")
    all_day = not isinstance(start, dt.datetime)
    begin = clock.as_instant(start, ctx.tz)
    if end_s:
        end_v = _when(ctx, end_s, "end")
        if all_day and not isinstance(end_v, dt.datetime):
            end_v = end_v + dt.timedelta(days=1)  # a date-only end is the last day, as people say it
        finish = clock.as_instant(end_v, ctx.tz)
    else:
        finish = clock.start_of_day(start + dt.timedelta(days=1), ctx.tz) if all_day else begin + dt.timedelta(hours=1)
    if finish <= begin:
        raise ToolError("An event has to end after it starts.")
    return begin, finish, all_day


async def create_event(ctx: ToolContext, a: CreateEvent) -> dict[str, Any]:
    start, end, all_day = _event_times(ctx, a.start, a.end)
    ev = Event(id=uuid.uuid4(), user_id=ctx.user.id, title=a.title, start_at=start, end_at=end, all_day=all_day,
               tz=ctx.tz.key, location=a.location, attendees=a.attendees or None, source=ctx.source,
               # what outside data (a mail) asks for is only proposed until the user takes it
               status="proposed" if ctx.source in PROPOSING else "confirmed", created_at=ctx.now,
               updated_at=ctx.now)
    _set_recurrence(ctx, ev, a.recurrence)
    conflicts = await _conflicts(ctx, ev)
    # The user's calendar for new events takes it (core/twoway.py); a proposal stays local until taken.
    synced = await default_calendar(ctx.session, ctx.user.id) if ev.status == "confirmed" else None
    if synced is not None:
        ev.calendar_id, ev.source, ev.external_id, ev.push = synced[0].id, synced[1], new_remote_id(), "create"
    ctx.session.add(ev)
    await ctx.memory.add(ctx.session, ctx.user.id, "event", memory_text_for_event(ev, ctx.tz), ev.id, ctx.now)
    out = {"event_id": str(ev.id), "event": event_dict(ev, ctx.tz), "conflicts": conflicts}
    return out | ({"calendar": synced[0].name, "push_account": str(synced[0].account_id)} if synced else {})


async def _owe(ctx: ToolContext, ev: Event, push: str) -> dict[str, Any]:
    """Mark a synced event's change for its calendar (a job writes it); what the result adds about it."""
    if ev.calendar_id is None or ev.external_id is None:
        return {}
    cal = await ctx.session.get(Calendar, ev.calendar_id)
    if cal is None or not cal.writable:
        raise ToolError(f"“{ev.title}” is on {cal.name if cal else 'a calendar'}, which I can only read.")
    ev.push = "create" if ev.push == "create" and push == "update" else push
    # The edit's own time, which a clash with a remote edit is judged by; flagged, because a flush in
    # between would otherwise let the column's onupdate stamp the wall clock over it.
    ev.updated_at = ctx.now
    flag_modified(ev, "updated_at")
    return {"push_account": str(cal.account_id)}


def _set_recurrence(ctx: ToolContext, ev: Event, rule: str | None) -> None:
    if rule:
        try:
            ev.recurrence = normalise_rrule(rule, ev.start_at, ctx.tz)
        except ValueError as exc:
            raise ToolError(f"I couldn't use that repeat rule: {exc}") from None
    ev.series_end_at = series_end(ev.recurrence, ev.start_at, ev.end_at, clock.zone(ev.tz))


async def _conflicts(ctx: ToolContext, ev: Event) -> list[dict[str, Any]]:
    # For a series, look at its next few weeks: that is where a clash matters to the user.
    horizon = ev.end_at if not ev.recurrence else ev.start_at + dt.timedelta(days=28)
    mine = occurrences(ev.start_at, ev.end_at, clock.zone(ev.tz), ev.recurrence, ev.start_at, horizon)
    if not mine:
        return []
    others = await events_between(ctx, mine[0][0], mine[-1][1], exclude=ev.id)
    clash = []
    for other in others:
        o_start, o_end = clock.parse_when(other["start"], ctx.tz), clock.parse_when(other["end"], ctx.tz)
        o_s, o_e = clock.as_instant(o_start, ctx.tz), clock.as_instant(o_end, ctx.tz)
        if any(s < o_e and o_s < e for s, e in mine):
            clash.append(other)
    return clash


async def list_events(ctx: ToolContext, a: Window) -> dict[str, Any]:
    start, end = _window(ctx, a)
    if end <= start:
        raise ToolError("The end of that window comes before its start.")
    due = await tasks_due_between(ctx, start, end)
    return {"events": await events_between(ctx, start, end), "start": clock.iso_local(start, ctx.tz),
            "end": clock.iso_local(end, ctx.tz), "tasks": due}


async def update_event(ctx: ToolContext, a: UpdateEvent) -> dict[str, Any]:
    ev = await resolve_event(ctx, a)
    a = _as_named(ctx, ev, a)
    if a.occurrence:
        if a.recurrence is not None:
            raise ToolError("One occurrence cannot repeat; change the whole series instead.")
        ev = await one_occurrence(ctx, ev, a.occurrence)
        if a.start and re.fullmatch(r"\d{1,2}:\d{2}", a.start.strip()):  # "to 3pm": that day, at 15:00
            day = ev.start_at.astimezone(ctx.tz).date().isoformat()
            a = a.model_copy(update={"start": f"{day}T{a.start.strip():0>5}",
                                     "end": f"{day}T{a.end.strip():0>5}" if a.end and ":" in a.end else a.end})
    if a.title:
        ev.title = a.title
    if a.location is not None:
        ev.location = a.location or None
    if a.attendees is not None:
        ev.attendees = a.attendees or None
    if (a.new_date or a.new_time) and not a.start:
        a = a.model_copy(update={"start": _keeping(ctx, ev, a.new_date, a.new_time, a.either_half)})
    if a.start or a.end:
        length = ev.end_at - ev.start_at
        shown = event_dict(ev, ctx.tz)  # an all-day event's dates, so a new end alone keeps it all-day
        start_s = a.start or shown["start"]
        end_s = a.end or (None if a.start else shown["end"])
        start, end, all_day = _event_times(ctx, start_s, end_s)
        if a.start and not a.end and all_day:  # the same number of days, midnight to midnight across DST
            days = round(length / dt.timedelta(days=1)) or 1
            end = clock.start_of_day(start.astimezone(ctx.tz).date() + dt.timedelta(days=days), ctx.tz)
        elif a.start and not a.end:
            end = start + length
        ev.start_at, ev.end_at, ev.all_day = start, end, all_day
    elif a.shift_minutes:
        if ev.all_day:
            raise ToolError(f"“{ev.title}” is all day — tell me the new day instead.")
        ev.start_at += dt.timedelta(minutes=a.shift_minutes)
        ev.end_at += dt.timedelta(minutes=a.shift_minutes)
    if a.recurrence is not None:
        if a.recurrence and not (a.start or a.new_date or a.shift_minutes):  # "move yoga to tuesdays"
            _onto_its_days(ctx, ev, a.recurrence)
        ev.recurrence = None
        _set_recurrence(ctx, ev, a.recurrence or None)
    else:
        _set_recurrence(ctx, ev, None)
    ev.updated_at = ctx.now
    owed = await _owe(ctx, ev, "update")
    await follow_event(ctx, ev)
    conflicts = await _conflicts(ctx, ev)
    await ctx.memory.reindex_source(ctx.session, ctx.user.id, "event", ev.id, memory_text_for_event(ev, ctx.tz))
    return {"event_id": str(ev.id), "event": event_dict(ev, ctx.tz), "conflicts": conflicts, **owed}


def _onto_its_days(ctx: ToolContext, ev: Event, rule: str) -> None:
    """A series given weekly days its start is not on ("every Saturday" for a Sunday call) starts on the
    first of them in the week of its start (from today on), at the same time of day."""
    days = re.search(r"(?i)\bBYDAY=([A-Z,]+)", rule)
    if ev.all_day or not days or not re.search(r"(?i)\bFREQ=WEEKLY\b", rule):
        return
    wanted = {DAY_CODES.index(d[-2:].upper()) for d in days[1].split(",") if d[-2:].upper() in DAY_CODES}
    local = ev.start_at.astimezone(ctx.tz)
    if not wanted or local.weekday() in wanted:
        return
    day = max(local.date() - dt.timedelta(days=6), ctx.today)  # that week's day, never one already past
    while day.weekday() not in wanted:
        day += dt.timedelta(days=1)
    length = ev.end_at - ev.start_at
    ev.start_at = clock.localize(dt.datetime.combine(day, local.time().replace(tzinfo=None)), ctx.tz)
    ev.end_at = ev.start_at + length


async def with_new_start(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    """update_event's arguments with a new day or time of day said as the start it means for the one event
    they name (so a question about the move shows, and a yes does, exactly that); as they were otherwise."""
    if args.get("start") or args.get("occurrence") or not (args.get("new_date") or args.get("new_time")):
        return args
    try:
        ev = await resolve_event(ctx, EventRef.model_validate({k: v for k, v in args.items()
                                                                 if k in EventRef.model_fields}))
        start = _keeping(ctx, ev, args.get("new_date"), args.get("new_time"), bool(args.get("either_half")))
    except (ToolError, ValidationError):  # none or several: the question stays as said
        return args
    said = {k: v for k, v in args.items() if k not in ("new_date", "new_time", "either_half")}
    return {**said, "event_id": str(ev.id), "start": start}


def _keeping(ctx: ToolContext, ev: Event, day_s: str | None, time_s: str | None, either_half: bool = False) -> str:
    """The event's start with a new day and/or time of day (the rest kept), as an ISO value; a time said
    without am/pm (`either_half`) is the one nearer the event's own time."""
    try:
        day = dt.date.fromisoformat(day_s) if day_s else None
        at = dt.time.fromisoformat(time_s) if time_s else None
    except ValueError:
        raise ToolError("I couldn't read that new day or time.") from None
    local = ev.start_at.astimezone(ctx.tz)
    if at is not None and either_half and not ev.all_day:
        at = clock.nearer_half(at, local.time())
    if ev.all_day and at is None:
        return (day or local.date()).isoformat()
    moment = clock.localize(dt.datetime.combine(day or local.date(), at or local.time()), ctx.tz)
    return clock.iso_local(moment, ctx.tz)


async def cancel_event(ctx: ToolContext, a: EventRef) -> dict[str, Any]:
    ev = await resolve_event(ctx, a)
    a = _as_named(ctx, ev, a)
    if a.occurrence:
        ev = await one_occurrence(ctx, ev, a.occurrence)
    elif ev.recurrence:  # the whole series: its changed occurrences go with it (a calendar does the same)
        for other in await ctx.session.scalars(select(Event).where(
                Event.user_id == ctx.user.id, Event.source == ev.source, Event.series_id == series_key(ev),
                Event.status != "cancelled")):
            other.status, other.push = "cancelled", None
            await ctx.memory.forget_source(ctx.session, ctx.user.id, other.id)
    ev.status, ev.updated_at = "cancelled", ctx.now
    owed = await _owe(ctx, ev, "delete")
    await follow_event(ctx, ev)
    await ctx.memory.forget_source(ctx.session, ctx.user.id, ev.id)
    return {"event_id": str(ev.id), "event": event_dict(ev, ctx.tz), "cancelled": True, **owed}


A = TypeVar("A", bound=EventRef)


def _as_named(ctx: ToolContext, ev: Event, a: A) -> A:
    """An event of a series named by its time ("my 6pm on sunday", "tomorrow's 9:30") is that one occurrence:
    a change or a cancel by its time never reaches the rest of the series."""
    if not a.event_at or a.occurrence or not ev.recurrence:
        return a
    said = a.event_at.strip()
    if re.fullmatch(r"\d{1,2}:\d{2}", said):  # the next one at that time
        start = clock.start_of_day(ctx.today, ctx.tz)
        at = dt.time.fromisoformat(f"{said:0>5}")
        day = next((s.astimezone(ctx.tz).date() for s, _ in expand(ev, start, start + dt.timedelta(days=8))
                    if s.astimezone(ctx.tz).time() == at), None)
    else:
        try:
            day = dt.date.fromisoformat(said[:10])
        except ValueError:
            day = None
    return a.model_copy(update={"occurrence": day.isoformat()}) if day else a


def _occurrence_window(ctx: ToolContext, value: str) -> tuple[dt.datetime, dt.datetime]:
    first, _, last = value.partition("/")
    try:
        lo, hi = dt.date.fromisoformat(first.strip()[:10]), dt.date.fromisoformat((last or first).strip()[:10])
    except ValueError:
        raise ToolError(f"I couldn't read the occurrence “{value}” as a day.") from None
    if hi < lo:
        raise ToolError("The end of that window comes before its start.")
    return clock.start_of_day(lo, ctx.tz), clock.start_of_day(hi + dt.timedelta(days=1), ctx.tz)


def _days(ctx: ToolContext, starts: list[dt.datetime]) -> str:
    return ", ".join(f"{s.astimezone(ctx.tz):%a %-d %b %H:%M}" for s in sorted(starts))


async def one_occurrence(ctx: ToolContext, ev: Event, value: str) -> Event:
    """The row standing for one occurrence of `ev` in the days `value` names: an exception of its series.

    An occurrence changed before is its exception row; one never changed gets a new exception row,
    keyed by (series, original start) like the calendar's own (a synced one under the instance id
    Google gives it, so writing it changes that occurrence only). A window with no occurrence or
    several is a question back, never a guess.
    """
    lo, hi = _occurrence_window(ctx, value)
    if not ev.recurrence:
        if ev.start_at < hi and ev.end_at > lo:
            return ev
        raise ToolError(f"“{ev.title}” does not repeat; it is on {_days(ctx, [ev.start_at])}.")
    changed = list(await ctx.session.scalars(select(Event).where(
        Event.user_id == ctx.user.id, Event.source == ev.source, Event.series_id == series_key(ev),
        Event.status != "cancelled", or_(and_(Event.start_at >= lo, Event.start_at < hi),
                                         and_(Event.original_start_at >= lo, Event.original_start_at < hi)))))
    hidden = await hidden_instances(ctx.session, [ctx.user.id], lo, hi)
    plain = expand(ev, lo, hi, hidden)
    if len(changed) + len(plain) != 1:
        if not changed and not plain:
            raise ToolError(f"“{ev.title}” has no occurrence then.")
        starts = [c.start_at for c in changed] + [s for s, _ in plain]
        raise ToolError(f"“{ev.title}” happens more than once then ({_days(ctx, starts)}): which day?")
    if changed:
        return changed[0]
    start, end = plain[0]
    one = Event(id=uuid.uuid4(), user_id=ctx.user.id, title=ev.title, start_at=start, end_at=end, all_day=ev.all_day,
                tz=ev.tz, location=ev.location, attendees=ev.attendees, source=ev.source, status="confirmed",
                calendar_id=ev.calendar_id, series_id=series_key(ev), original_start_at=start, series_end_at=end,
                created_at=ctx.now, updated_at=ctx.now)
    if ev.external_id and ev.calendar_id:
        one.external_id = instance_id(ev.external_id, start, clock.zone(ev.tz) if ev.all_day else None)
        one.base = snapshot(one)  # the occurrence as the series has it: what the edit is measured from
    ctx.session.add(one)
    await ctx.session.flush()
    return one


async def check_availability(ctx: ToolContext, a: Window) -> dict[str, Any]:
    start, end = _window(ctx, a)
    if end <= start:
        raise ToolError("The end of that window comes before its start.")
    conflicts = await events_between(ctx, start, end)
    return {"free": not conflicts, "conflicts": conflicts, "start": clock.iso_local(start, ctx.tz),
            "end": clock.iso_local(end, ctx.tz)}


async def remember(ctx: ToolContext, a: Remember) -> dict[str, Any]:
    same = await ctx.memory.find_same(ctx.session, ctx.user.id, a.text)
    if same is not None:
        return {"memory_id": str(same.id), "text": same.text, "duplicate": True}
    item = await ctx.memory.add(ctx.session, ctx.user.id, "note", a.text, at=ctx.now)
    await ctx.session.flush()
    return {"memory_id": str(item.id), "text": item.text, "duplicate": False}


async def search_memory(ctx: ToolContext, a: SearchMemory) -> dict[str, Any]:
    hits = await ctx.memory.search(ctx.session, ctx.user.id, a.query, a.k)
    found: dict[str, Any] = {"hits": [h.as_dict(ctx.tz) for h in hits]}
    onward = _onward(a.query, hits[0].text) if hits and hits[0].kind == "note" else None
    if onward:  # "when is Orion?" → "Orion is the code name for the Berlin launch" → what about the Berlin launch
        seen = {h.id for h in hits[:3]}
        more = await ctx.memory.search(ctx.session, ctx.user.id, onward, 3)
        found["followed"] = [h.as_dict(ctx.tz) for h in more[:1] if h.id not in seen and h.kind != "message"]
    return found


_QUIET = {"is", "are", "was", "the", "a", "an", "of", "for", "to", "on", "in", "at", "and", "our", "my", "its",
          "it", "that", "this", "what", "we", "call", "called", "name", "code", "codename", "known", "as", "also",
          "when", "where", "who", "which", "how", "me", "i", "do", "does", "did", "s", "whens", "wheres", "whats"}


def _onward(query: str, text: str) -> str | None:
    """A note that names what was asked about in other words (an alias): those other words, to look up next.

    Only when the note contains every word of the question and says little else: a definition
    ("Orion is the code name for the Berlin launch"), not a note that already answers.
    """
    asked = {w for w in WORD.findall(query.lower()) if w not in _QUIET}
    said = [w for w in WORD.findall(text.lower()) if w not in _QUIET]
    rest = [w for w in said if w not in asked]
    if not asked or not asked <= set(said) or not 2 <= len(rest) <= 6 or any(c.isdigit() for w in rest for c in w):
        return None  # a note that already answers ("the wifi password is kaffeebohne77") is not followed
    return " ".join(rest)


async def forget(ctx: ToolContext, a: Forget) -> dict[str, Any]:
    """Delete notes and remarks by words (all of them must match) or one memory by id."""
    memory_id = None
    if a.memory_id:
        try:
            memory_id = uuid.UUID(a.memory_id)
        except ValueError:
            raise ToolError(f"There is no memory with id {a.memory_id}.") from None
    elif not a.query:
        raise ToolError("What should I forget?")
    try:
        gone = await ctx.memory.forget(ctx.session, ctx.user.id, a.query, memory_id)
    except TooMany as exc:
        raise ToolError(f"That matches {exc.count} things I remember — tell me more exactly what to forget.") from None
    if not gone and memory_id is not None:
        raise ToolError(f"There is no note or remark with id {a.memory_id} (tasks and events are deleted "
                        "as tasks and events).")
    # Ids and kinds only: this result is kept in the conversation log, which must not quote what was forgotten.
    return {"forgotten": [{"id": str(i.id), "kind": i.kind} for i in gone], "count": len(gone), "query": a.query}


_CLOCK = re.compile(r"^(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?$", re.I)


def digest_clock(value: str) -> dt.time:
    """'8', '08:00', '8:30pm', '20.15' → a time of day; ToolError otherwise."""
    m = _CLOCK.match(value.strip())
    hour, minute = (int(m.group(1)), int(m.group(2) or 0)) if m else (99, 0)
    if m and m.group(3):  # 12-hour clock: 12am is midnight, 12pm noon
        hour = 99 if not 1 <= hour <= 12 else hour % 12 + (12 if m.group(3).lower().startswith("p") else 0)
    if hour > 23 or minute > 59:
        raise ToolError(f"I couldn't read “{value}” as a time of day; try 08:00 or 7:30am.")
    return dt.time(hour, minute)


async def set_digest(ctx: ToolContext, a: SetDigest) -> dict[str, Any]:
    """Choose when (or whether) the daily digest comes, and on which platform or channel."""
    from core.scheduler import digest_slot_after  # the scheduler imports this module
    from db.models import Identity

    off = (a.time or "").strip().lower() in ("off", "none", "never") or ("time" in a.model_fields_set
                                                                       and a.time is None)
    user = ctx.user
    if a.platform:
        reachable = await ctx.session.scalar(select(Identity.id).where(
            Identity.user_id == user.id, Identity.platform == a.platform).limit(1))
        if reachable is None:
            raise ToolError(f"I can't reach you on {a.platform.capitalize()} yet — send me a message there "
                            "first, then ask again.")
        user.digest_platform, user.digest_channel = a.platform, a.channel or None
    elif a.channel:
        raise ToolError("Which platform is that channel on? Say, for example, “post my digest in #general on Slack”.")
    if off:
        user.digest_time = None
    elif a.time:
        user.digest_time = digest_clock(a.time)
    elif user.digest_time is None:  # "send my digest on Slack" while it was off: turn it back on
        user.digest_time = dt.time(7, 30)
    user.next_digest_at = digest_slot_after(ctx.now, user.digest_time, user.tz)
    return {"digest_time": user.digest_time.strftime("%H:%M") if user.digest_time else None,
            "platform": user.digest_platform, "channel": user.digest_channel,
            "next_digest": clock.iso_local(user.next_digest_at, ctx.tz) if user.next_digest_at else None}


async def snooze_task(ctx: ToolContext, a: Snooze) -> dict[str, Any]:
    """Remind again `minutes` after now (the Snooze button): pressing twice lands on the same minute."""
    task = await resolve_task(ctx, a, include_done=True)
    if task.status == "done":
        raise ToolError(f"“{task.title}” is already done — nothing to snooze.")
    later = (ctx.now + dt.timedelta(minutes=a.minutes)).astimezone(ctx.tz).replace(second=0, microsecond=0)
    await _set_reminder(ctx, task, later)
    task.updated_at = ctx.now
    return {"task_id": str(task.id), "task": task_dict(task, ctx.tz)}


async def set_timezone(ctx: ToolContext, a: SetTimezone) -> dict[str, Any]:
    """Set the user's time zone: reminders, the digest and every time said follow it from now on."""
    from core.scheduler import digest_slot_after  # the scheduler imports this module

    key = clock.find_zone(a.zone)
    if key is None:
        raise ToolError(f"I couldn't tell which time zone “{a.zone}” is — name a city (“Lisbon”) or a zone "
                        "like Europe/Berlin.")
    user = ctx.user
    previous, user.tz = user.tz, key
    user.next_digest_at = digest_slot_after(ctx.now, user.digest_time, key)
    zone = clock.zone(key)
    return {"tz": key, "previous": previous, "local_time": clock.iso_local(ctx.now, zone),
            "next_digest": clock.iso_local(user.next_digest_at, zone) if user.next_digest_at else None}


async def undo(ctx: ToolContext, a: Undo) -> dict[str, Any]:
    """Put back what one of the user's changes did (their last one, or the one a button names), once."""
    from core import undo as undoing

    if a.change:
        try:
            change: uuid.UUID | None = uuid.UUID(a.change)
        except ValueError as exc:
            raise ToolError("That undo button is not one of mine.") from exc
    else:
        change = await undoing.latest(ctx.session, ctx.user.id)
    if change is None:
        raise ToolError("There's nothing of yours for me to undo.")
    try:
        done = await undoing.undo(ctx.session, ctx.user.id, change, ctx.now)
    except undoing.NothingToUndo as exc:
        raise ToolError("That's already undone." if str(exc) == "already" else
                        "There's nothing of yours for me to undo.") from exc
    except undoing.ChangedSince as exc:
        raise ToolError(f"I can't undo that: the {exc.what} was changed again since, and undoing would lose "
                        "that change. Tell me what it should be instead.") from exc
    await ctx.session.refresh(ctx.user)
    if done.settings:  # the digest's next slot follows the time zone and time put back
        from core.scheduler import digest_slot_after  # the scheduler imports this module
        ctx.user.next_digest_at = digest_slot_after(ctx.now, ctx.user.digest_time, ctx.user.tz)
    # "tz": the zone the user is in after the undo, so a terminal that carries the zone along follows it back
    return {"change": str(change), "removed": done.removed, "restored": done.restored, "settings": done.settings,
            "tz": ctx.user.tz}


ToolFn = Callable[[ToolContext, Any], Awaitable[dict[str, Any]]]
SayFn = Callable[[Speaker, dict[str, Any], dict[str, Any]], str]


async def _one(ctx: ToolContext, a: Any) -> int:
    return 1


async def _forget_count(ctx: ToolContext, a: Forget) -> int:
    if a.memory_id:
        return 1
    try:
        found = await ctx.memory.forget(ctx.session, ctx.user.id, a.query, None, dry_run=True)
    except TooMany as exc:  # the tool refuses these itself; still more than one
        return exc.count
    # The notes are what the user counts; remarks that quoted them go with them.
    return sum(1 for i in found if i.kind == "note") or min(1, len(found))


@dataclass(frozen=True)
class Tool:
    """One tool, registered once: its arguments, what it does, how it is described and how its result is said."""

    name: str
    args: type[Args]
    run: ToolFn
    description: str  # the one line a model sees
    say: SayFn  # the reply composed from its result (core/replies.py)
    changes: bool = False  # writes user data: runs in a savepoint
    destroys: bool = False  # deletes or cancels: asked about when a turn would touch more than one item
    touches: Callable[[ToolContext, Any], Awaitable[int]] = _one  # how many items a destructive call would touch
    offered: bool = True  # shown to models; False for tools only buttons use
    asks: bool = False  # always shown and asked about first, whatever it would touch (a bulk change)
    preview: Callable[[ToolContext, Any], Awaitable[list[str]]] | None = None  # what it would touch, one line each


TOOLS: dict[str, Tool] = {}


def register(*tools: Tool) -> None:
    """Add tools to the registry (their order is the order models see them in)."""
    for t in tools:
        if t.name in TOOLS:
            raise ValueError(f"tool {t.name} is registered twice")
        TOOLS[t.name] = t


register(
    Tool("create_task", CreateTask, create_task, "Add a to-do.", Speaker.create_task, changes=True),
    Tool("list_tasks", ListTasks, list_tasks, "List tasks (open by default).", Speaker.list_tasks),
    Tool("update_task", UpdateTask, update_task, "Change a task.", Speaker.update_task, changes=True),
    Tool("complete_task", TaskRef, complete_task, "Mark a task done.", Speaker.complete_task, changes=True),
    Tool("delete_task", TaskRef, delete_task, "Delete a task for good.", Speaker.delete_task, changes=True,
         destroys=True),
    Tool("create_event", CreateEvent, create_event,
         "Add a calendar event (default 1 hour; all-day: dates, end = last day).", Speaker.create_event,
         changes=True),
    Tool("list_events", Window, list_events, "List events overlapping a window.", Speaker.list_events),
    Tool("update_event", UpdateEvent, update_event, "Move or change an event.", Speaker.update_event, changes=True),
    Tool("cancel_event", EventRef, cancel_event, "Cancel an event.", Speaker.cancel_event, changes=True,
         destroys=True),
    Tool("check_availability", Window, check_availability, "Free in a window? What clashes.",
         Speaker.check_availability),
    Tool("remember", Remember, remember, "Store a fact the user wants kept.", Speaker.remember, changes=True),
    Tool("search_memory", SearchMemory, search_memory, "Look up what the user told you before.",
         Speaker.search_memory),
    Tool("forget", Forget, forget, "Delete notes by words (all must match) or by memory_id.", Speaker.forget,
         changes=True, destroys=True, touches=_forget_count),
    Tool("set_digest", SetDigest, set_digest, "When/where the daily digest comes; time \"off\" stops it.",
         Speaker.set_digest, changes=True),
    Tool("set_timezone", SetTimezone, set_timezone, "The user's time zone: IANA name or city.",
         Speaker.set_timezone, changes=True),
    # "undo" is read before any brain (core/safety.py undo_request): models need not spend prompt on it.
    Tool("undo", Undo, undo, "Undo the user's last change (or the change an Undo button names).", Speaker.undo,
         changes=True, offered=False),
    Tool("snooze_task", Snooze, snooze_task, "Remind about a task again later.", Speaker.snooze_task,
         changes=True, offered=False),
)


def offered_tools() -> list[Tool]:
    """The tools models may call, in registry order."""
    return [t for t in TOOLS.values() if t.offered]


def say(speaker: Speaker, action: Action) -> str:
    """What the user is told about one tool call."""
    if not action.ok:
        return speaker.failure(action)
    return TOOLS[action.tool].say(speaker, action.args, action.result)


async def items_touched(ctx: ToolContext, calls: list[tuple[str, dict[str, Any]]]) -> int:
    """How many items these calls would delete or cancel (a call whose arguments don't validate touches none)."""
    total = 0
    for name, raw in calls:
        tool = TOOLS.get(name)
        if tool is None or not tool.destroys:
            continue
        try:
            args = tool.args.model_validate(raw)
        except ValidationError:
            continue
        try:
            total += await tool.touches(ctx, args)
        except ToolError:
            continue
    return total


async def preview(ctx: ToolContext, calls: list[tuple[str, dict[str, Any]]]) -> tuple[bool, list[str]]:
    """Whether these calls must be asked about whatever they touch, and the items they would touch, one a line."""
    must, lines = False, []
    for name, raw in calls:
        tool = TOOLS.get(name)
        if tool is None or not (tool.asks or tool.preview):
            continue
        must = must or tool.asks
        try:
            lines += await tool.preview(ctx, tool.args.model_validate(raw)) if tool.preview else []
        except (ValidationError, ToolError):
            continue
    return must, lines


def validation_message(exc: ValidationError) -> str:
    """One short sentence out of pydantic's errors."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "input"
    return f"I couldn't use that request ({where}: {first.get('msg', 'invalid')})."


async def run_tool(ctx: ToolContext, name: str, raw_args: dict[str, Any]) -> Action:
    """Validate and run one tool call; a failure changes nothing and says why."""
    tool = TOOLS.get(name)
    if tool is None:
        return Action(name, raw_args, False, {"error": f"There is no tool called {name}."})
    try:
        args = tool.args.model_validate(raw_args)
    except ValidationError as exc:
        return Action(name, raw_args, False, {"error": validation_message(exc)})
    shown = args.model_dump(exclude_none=True)
    try:
        if tool.changes:  # a savepoint, so a write that fails half-way leaves nothing behind
            recorded = name not in NOT_RECORDED and ctx.source in UNDOABLE_SOURCES
            if recorded:  # what the tool writes is logged under the turn's change (migration 0014)
                await ctx.session.execute(sql("SELECT set_config('pixie.change', :c, true), "
                                               "set_config('pixie.source', :s, true)"),
                                          {"c": str(ctx.change), "s": ctx.source})
            try:
                async with ctx.session.begin_nested():  # leaving it flushes: every write is logged by now
                    result = await tool.run(ctx, args)
            finally:
                if recorded:
                    await ctx.session.execute(sql("SELECT set_config('pixie.change', '', true)"))
        else:  # a read has nothing to undo: spare the two round trips
            result = await tool.run(ctx, args)
    except ToolError as exc:
        return Action(name, shown, False, {"error": str(exc), **exc.detail})
    for key in ("task_id", "event_id"):  # a task named by words: show which one it was
        if key in result and key not in shown and name not in ("create_task", "create_event"):
            shown[key] = result[key]
    if "shift" in shown and "task" in result:  # a relative move: show the due date it came to
        shown["due"] = result["task"]["due"]
    moved = ("new_date", "new_time", "shift_minutes")
    if any(k in shown for k in moved) and "start" not in shown and isinstance(result.get("event"), dict):
        shown["start"] = result["event"]["start"]  # an event moved to a day or time of day: where it came to
    return Action(name, shown, True, result)


import core.tools_day  # noqa: E402,F401  (registers the everyday tools: bulk cancel, corrections, about me)
