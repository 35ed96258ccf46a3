"""The everyday tools a secretary is asked for beyond single edits: clearing a stretch of the calendar
(always shown first and asked about), correcting the thing just made, and what Pixie knows about you.

Registered into core.tools.TOOLS like every other tool, so the model brain is offered them too.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from pydantic import Field
from sqlalchemy import func, select

from core import clock
from core.replies import Speaker
from core.tools import (
    Args,
    Tool,
    ToolContext,
    ToolError,
    UpdateEvent,
    UpdateTask,
    Window,
    _window,
    events_between,
    register,
    update_event,
    update_task,
)
from db.models import Event, MemoryItem, Message, Task

# ---------------------------------------------------------------- clearing a stretch of the calendar


class ClearWindow(Window):
    query: str | None = Field(default=None, max_length=200)  # only events whose words fit ("all my meetings")


_GENERIC = {"meeting", "meetings", "event", "events", "call", "calls", "thing", "things", "everything", "all",
            "appointment", "appointments", "stuff", "plans", "plan"}


async def _in_window(ctx: ToolContext, a: ClearWindow) -> tuple[list[dict[str, Any]], int]:
    """The single events a clear would cancel, and how many repeating ones it leaves alone."""
    start, end = _window(ctx, a)
    if end <= start:
        raise ToolError("The end of that window comes before its start.")
    found = [e for e in await events_between(ctx, start, end)
             if clock.as_instant(clock.parse_when(e["start"], ctx.tz), ctx.tz) >= start or e["all_day"]]
    words = [w for w in re.findall(r"[a-z0-9]+", (a.query or "").lower()) if w not in _GENERIC]
    if words:
        found = [e for e in found if any(w in e["title"].lower() for w in words)]
    single = [e for e in found if not e.get("recurrence")]
    return single, len(found) - len(single)


async def cancel_events(ctx: ToolContext, a: ClearWindow) -> dict[str, Any]:
    """Cancel every single event in a window (a repeating series is left alone, and said so)."""
    single, series = await _in_window(ctx, a)
    from core.tools import EventRef, cancel_event

    gone = []
    for e in single:
        done = await cancel_event(ctx, EventRef(event_id=e["id"]))
        gone.append(done["event"])
    start, end = _window(ctx, a)
    return {"cancelled": gone, "series_left": series, "start": clock.iso_local(start, ctx.tz),
            "end": clock.iso_local(end, ctx.tz)}


async def _clear_count(ctx: ToolContext, a: ClearWindow) -> int:
    return len((await _in_window(ctx, a))[0])


async def clear_preview(ctx: ToolContext, a: ClearWindow) -> list[str]:
    """What a clear would cancel, one line each, for the question asked before it runs."""
    speaker = Speaker(ctx.tz, ctx.now)
    return [speaker.event_line(e, with_day=True) for e in (await _in_window(ctx, a))[0]]


def _say_cancel_events(speaker: Speaker, args: dict[str, Any], r: dict[str, Any]) -> str:
    window = speaker._window(r)
    if not r["cancelled"]:
        text = f"There was nothing to cancel {window}."
    else:
        text = "\n".join([f"Cancelled {len(r['cancelled'])} {'event' if len(r['cancelled']) == 1 else 'events'}:"]
                         + [f"• {speaker.event_line(e, with_day=True)}" for e in r["cancelled"]])
    if r["series_left"]:
        text += f"\nI left {r['series_left']} repeating event(s) alone — cancel those by name."
    return text


# ---------------------------------------------------------------- correcting the last thing said


class Correction(Args):
    date: str | None = Field(default=None, max_length=20)  # the new day, YYYY-MM-DD (keeps the time)
    time: str | None = Field(default=None, max_length=10)  # the new time of day, HH:MM (keeps the day)
    # The time was a bare hour ("make it 2"): that hour or twelve hours later, whichever is nearer the old time.
    either_half: bool = False


EDITS = ("create_task", "update_task", "create_event", "update_event", "correct_last")
RECENT = dt.timedelta(hours=2)  # "no wait, 5pm" is about what was just said, not last week's item


async def last_change(ctx: ToolContext) -> tuple[str, str] | None:
    """The item the user's last change made or edited through Pixie, as ("task" | "event", id)."""
    rows = await ctx.session.scalars(
        select(Message).where(Message.user_id == ctx.user.id, Message.role == "assistant",
                              Message.actions.is_not(None), Message.created_at >= ctx.now - RECENT)
        .order_by(Message.created_at.desc()).limit(10))
    for row in rows:
        for action in reversed(row.actions or []):
            if action.get("tool") in EDITS and action.get("ok"):
                result = action.get("result") or {}
                if result.get("task_id"):
                    return "task", str(result["task_id"])
                if result.get("event_id"):
                    return "event", str(result["event_id"])
    return None


def _changed(current: dt.datetime | dt.date | None, a: Correction, tz: Any) -> dt.datetime | dt.date:
    """The current moment with the day and/or time said in the correction."""
    day = dt.date.fromisoformat(a.date) if a.date else None
    at = dt.time.fromisoformat(a.time) if a.time else None
    if isinstance(current, dt.datetime):
        local = current.astimezone(tz)
        if at is not None and a.either_half:  # 2 → 14:00 beside a 13:00 lunch, 02:00 beside 01:00
            at = clock.nearer_half(at, local.time())
        return clock.localize(dt.datetime.combine(day or local.date(), at or local.time().replace(tzinfo=None)), tz)
    base = day or current or dt.datetime.now(tz).date()
    return clock.localize(dt.datetime.combine(base, at), tz) if at else base


async def correct_last(ctx: ToolContext, a: Correction) -> dict[str, Any]:
    """Change the day or time of the item just made or edited — never make a new one."""
    if not a.date and not a.time:
        raise ToolError("What should I change it to? Tell me the new day or time.")
    try:
        dt.date.fromisoformat(a.date) if a.date else None
        dt.time.fromisoformat(a.time) if a.time else None
    except ValueError:
        raise ToolError("I couldn't read that day or time.") from None
    last = await last_change(ctx)
    if last is None:
        raise ToolError("I haven't just made or changed anything to correct — tell me which task or event.")
    kind, item_id = last
    if kind == "event":
        ev = await ctx.session.scalar(select(Event).where(Event.user_id == ctx.user.id, Event.id == uuid.UUID(item_id),
                                                          Event.status != "cancelled"))
        if ev is None:
            raise ToolError("The event you just made is gone, so there's nothing to correct.")
        new = _changed(ev.start_at if not ev.all_day else ev.start_at.astimezone(clock.zone(ev.tz)).date(), a, ctx.tz)
        iso = clock.iso_local(new, ctx.tz) if isinstance(new, dt.datetime) else new.isoformat()
        done = await update_event(ctx, UpdateEvent(event_id=item_id, start=iso))
        return {"kind": "event", **done}
    task = await ctx.session.scalar(select(Task).where(Task.user_id == ctx.user.id, Task.id == uuid.UUID(item_id)))
    if task is None:
        raise ToolError("The task you just made is gone, so there's nothing to correct.")
    changes: dict[str, Any] = {"task_id": item_id}
    due: dt.datetime | dt.date | None = task.due_at or task.due_date
    if due is not None or not task.remind_at:
        new_due = _changed(due, a, ctx.tz)
        changes["due"] = clock.iso_local(new_due, ctx.tz) if isinstance(new_due, dt.datetime) else new_due.isoformat()
    if task.remind_at is not None:
        new_remind = _changed(task.remind_at, a, ctx.tz)
        assert isinstance(new_remind, dt.datetime)
        changes["remind_at"] = clock.iso_local(new_remind, ctx.tz)
    done = await update_task(ctx, UpdateTask(**changes))
    return {"kind": "task", **done}


def _say_correct_last(speaker: Speaker, args: dict[str, Any], r: dict[str, Any]) -> str:
    if r["kind"] == "event":
        return f"Changed: {speaker.event_line(r['event'], with_day=True)}."
    text = f"Changed: {speaker.task_line(r['task'])}."
    if r["task"].get("remind_at"):
        text += f" I'll remind you {speaker.when(r['task']['remind_at'])}."
    return text


# ---------------------------------------------------------------- what Pixie knows about you


class AboutMe(Args):
    pass


NOTES_SHOWN = 20


async def about_me(ctx: ToolContext, a: AboutMe) -> dict[str, Any]:
    """A summary of the user's memory: their notes (newest first), and how many tasks and events Pixie keeps."""
    notes = list(await ctx.session.scalars(
        select(MemoryItem.text).where(MemoryItem.user_id == ctx.user.id, MemoryItem.kind == "note")
        .order_by(MemoryItem.created_at.desc()).limit(NOTES_SHOWN)))
    total = await ctx.session.scalar(select(func.count()).select_from(MemoryItem).where(
        MemoryItem.user_id == ctx.user.id, MemoryItem.kind == "note"))
    open_tasks = await ctx.session.scalar(select(func.count()).select_from(Task).where(
        Task.user_id == ctx.user.id, Task.status == "open"))
    upcoming = await ctx.session.scalar(select(func.count()).select_from(Event).where(
        Event.user_id == ctx.user.id, Event.status != "cancelled", Event.end_at >= ctx.now))
    digest = ctx.user.digest_time.strftime("%H:%M") if ctx.user.digest_time else "off"
    return {"notes": notes, "notes_total": total or 0, "open_tasks": open_tasks or 0,
            "upcoming_events": upcoming or 0, "tz": ctx.user.tz, "name": ctx.user.name, "digest": digest}


def _say_about_me(speaker: Speaker, args: dict[str, Any], r: dict[str, Any]) -> str:
    digest = r.get("digest")
    when = "" if digest is None else "; your daily digest is off" if digest == "off" else \
        f"; your daily digest comes at {digest}"
    lines = [f"Here's what I know about you (your time zone is {r['tz']}{when}):"]
    if r["notes"]:
        lines += [f"• {n}" for n in r["notes"]]
        if r["notes_total"] > len(r["notes"]):
            lines.append(f"…and {r['notes_total'] - len(r['notes'])} more notes (ask me about any of them).")
    else:
        lines.append("• no notes yet — say “remember that …” and I'll keep it.")
    lines.append(f"I also keep {r['open_tasks']} open task(s) and {r['upcoming_events']} upcoming event(s) for you.")
    lines.append("Say “forget …” to have me drop a note.")
    return "\n".join(lines)


register(
    Tool("cancel_events", ClearWindow, cancel_events,
         "Cancel all events in a window (the user is asked first).",
         _say_cancel_events, changes=True, destroys=True, touches=_clear_count, asks=True, preview=clear_preview,
         offered=False),
    Tool("correct_last", Correction, correct_last,
         "New date and/or time (HH:MM) for the item just made or changed.",
         _say_correct_last, changes=True, offered=False),
    Tool("about_me", AboutMe, about_me, "What you keep about the user.", _say_about_me, offered=False),
)
