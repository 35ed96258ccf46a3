"""Slot code for the everyday requests the classifier decides on (core/understand.py): reminders relative
to an event, repeating tasks, events named by their time, corrections, clearing a stretch of the calendar,
and what was done in a window. Pure: the message in, an intent's arguments out; the time grammar reads
every time said."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from core import timeparse as tp
from core.intents import Intent
from core.nlu_create import _content, _create_task
from core.nlu_questions import _list_events
from core.nlu_text import _cap, _iso, _Msg

_N = r"(?P<n>\d+|an?|one|two|three|four|five|six|seven|ten|fifteen|twenty|thirty|half\s+an?)"
_UNIT = r"(?P<unit>min(?:ute)?s?|hours?|hrs?|days?|weeks?)"
# how long before: "2 days before", "an hour before", "the day before"
_AHEAD = rf"\b(?:{_N}\s*{_UNIT}|the\s+(?P<part>day|night|evening|morning|week))\s+before"
_BEFORE = re.compile(
    _AHEAD + r"\s+"
    r"(?:the\s+|my\s+|our\s+|his\s+|her\s+)?(?!(?:it|that|this|then)\s*(?:[,.!?]|$))(?P<ev>[\w'’&-]+(?:\s+(?!to\b|and\b|so\b|for\b)[\w'’&-]+){0,3}?)"
    r"(?=\s+(?:to|and|so|for)\b|\s*[,.!?]|\s*$|\s+remind)", re.I)
_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "ten": 10,
          "fifteen": 15, "twenty": 20, "thirty": 30}
_MINUTES = {"min": 1, "hou": 60, "hrs": 60, "hr": 60, "day": 1440, "wee": 10080}


def _amount(n: str | None) -> float:
    if not n:
        return 1
    n = n.lower()
    if n.startswith("half"):
        return 0.5
    return float(n) if n.isdigit() else _WORDS.get(n, 1)


# "remind me an hour before" with nothing after "before": before what is not said
_BEFORE_WHAT = re.compile(_AHEAD + r"(?:\s+(?:it|that|this|then|hand))?\s*[.!?]*\s*$", re.I)


def before_what(m: _Msg) -> bool:
    """Whether the message asks for a reminder some time before something it does not name."""
    return _BEFORE_WHAT.search(m.text, m.b) is not None and _BEFORE.search(m.text, m.b) is None


def relative_reminder(m: _Msg, task: Intent | None) -> Intent | None:
    """ "remind me 2 days before the dentist (to …)": a task reminded that long before the event, anchored to it."""
    found = _BEFORE.search(m.text, m.b)
    if found is None:
        return None
    if found["part"]:
        minutes = 10080 if found["part"].lower() == "week" else 1440
    else:
        minutes = round(_amount(found["n"]) * _MINUTES[found["unit"].lower()[:3].rstrip("s")[:3]])
    event = found["ev"].strip(" '’")
    m.cut = [(found.start(), found.end())]
    try:
        lo, hi, context = _content(m)
        again = _create_task(m, lo, hi, context)
    finally:
        m.cut = []
    args: dict[str, Any] = dict((again or task or Intent("create_task", {})).args)
    for key in ("due", "remind_at"):
        args.pop(key, None)
    title = str(args.get("title") or "").strip()
    if not set(re.findall(r"\w+", title.lower())) - {"remind", "me", "task", "reminder", "a", "please", "pls"}:
        title = _cap(event)
    args.update(title=title, before_event=event, before_minutes=minutes)
    return Intent("create_task", args)


def recurring(m: _Msg, task: Intent) -> Intent:
    """A task said with a repeat ("every weekday at 8"): its rule, instead of a note that it repeats."""
    rule = next((w for w in m.whens if w.rrule), None)
    if rule is None or task.tool != "create_task":
        return task
    args = dict(task.args)
    args["recurrence"] = rule.rrule
    if str(args.get("notes", "")).startswith("Repeats "):
        args.pop("notes")
    if "remind_at" not in args and "due" not in args:
        first = rule.first()
        if first is not None:
            args["remind_at"] = _iso(first)
    return Intent("create_task", args)


def _hour(w: tp.When) -> dt.time | None:
    """The time of day said; an hour without am/pm before 8 is the afternoon ("at 4" → 16:00)."""
    t = w.clock()
    if t is not None and w.flex and not w.period and t.hour < 8:
        t = t.replace(hour=t.hour + 12)
    return t


_NOT = re.compile(r"(?:\bnot|\binstead\s+of|\brather\s+than|\bfrom)\s*$", re.I)


_BARE_HOUR = re.compile(r"\b(?:make|change|move|switch|put)\s+(?:it|that|this)\s+(?:to\s+|at\s+)?(?P<h>\d{1,2})"
                        r"(?::(?P<min>[0-5]\d))?(?!\s*(?:am|pm|a\.m|p\.m|st|nd|rd|th|%|min|hour|day|week|people|x)\b)"
                        r"(?![\d:.])")


def correction(m: _Msg) -> Intent | None:
    """ "no wait, 5pm not 4": the new day and/or time for what was just made (the one not negated)."""
    said = [w for w in m.whens if not _NOT.search(m.text[max(0, w.start - 14):w.start])]
    if not said:
        bare = _BARE_HOUR.search(m.body)  # "actually make it 2": the hour nearest the old time, 2am or 2pm
        if bare is None or not 1 <= int(bare["h"]) <= 12:
            return None
        return Intent("correct_last", {"time": f"{int(bare['h']) % 12:02d}:{bare['min'] or '00'}", "either_half": True})
    w = said[0]
    args: dict[str, Any] = {}
    day = w.day or (w.window[0] if w.window else None)
    if day is not None and (w.has_day or w.window):
        args["date"] = day.isoformat()
    t = _hour(w)
    if t is not None and w.has_time:
        args["time"] = t.strftime("%H:%M")
    return Intent("correct_last", args) if args else None


def clear(m: _Msg) -> Intent | None:
    """ "clear my afternoon", "cancel all my meetings friday": the window (today when none is said)."""
    window = _list_events(m).args
    if not m.whens and not re.search(r"\b(?:morning|afternoon|evening|tonight|today)\b", m.body):
        return None
    start, end = window["start"], window["end"]
    part = re.search(r"\b(morning|afternoon|evening|tonight)\b", m.body)
    if part and not any(w.period for w in m.whens):  # "clear my afternoon": this afternoon
        day = dt.datetime.fromisoformat(start).date()
        hours = {"morning": (6, 12), "afternoon": (12, 18), "evening": (18, 24), "tonight": (18, 24)}[part[1]]
        tz = m.now.tzinfo
        start = _iso(dt.datetime.combine(day, dt.time(hours[0]), tzinfo=tz))
        end = _iso(dt.datetime.combine(day, dt.time(0), tzinfo=tz) + dt.timedelta(hours=hours[1]))
    args: dict[str, Any] = {"start": start, "end": end}
    what = re.search(r"\b(?:all|every|any)\s+(?:of\s+)?(?:my\s+|the\s+|today's\s+)?(?P<q>[a-z][\w-]+)", m.body)
    if what and what["q"] not in ("of", "my", "the", "day", "stuff"):
        args["query"] = what["q"]
    return Intent("cancel_events", args)


# What names every event of a stretch rather than one: "everything", "all my meetings", "anything"
_BULK = re.compile(r"^(?:everything|anything|all|every\b.*|all\s+.*|any\s+.*)$", re.I)
_CLEARING = re.compile(r"^(?:please\s+)?(?:clear|wipe|empty|free\s+up)\b", re.I)
_MOVE_TO = re.compile(r"\b(?:to|till|until|for|instead|at)\b", re.I)
_SHIFT = re.compile(rf"\b(?:back|forward|later|earlier|by)\s+(?:by\s+)?{_N}\s*{_UNIT}"
                    rf"|\b(?:an?|\d+|half\s+an?)\s*(?:min(?:ute)?s?|hours?|hrs?|days?)\s+(?:later|earlier|back|forward)\b"
                    r"|\b(?:back|forward)\b", re.I)
_FILLER = re.compile(r"\b(?:my|the|our|a|an|on|at|from|this|o'?clock|one|meeting|event|appointment|appt|"
                     r"calendar|diary|can|we|you|please|pls|could|it|be|moved|needs|to|is|i|have)\b", re.I)


def event_by_time(m: _Msg, label: str) -> Intent | None:
    """An event named by its time or day ("my 3pm", "thursday's pilates"), moved, shifted or cancelled."""
    if not m.whens:
        return None
    ref = m.whens[0]
    if not (ref.has_time or ref.day) or ref.rrule:
        return None
    if re.search(r"\b(?:to|till|until|for|into)\b", m.text[m.b:ref.start], re.I):
        return None  # "move the dentist to friday": the time said is the new one, not the event's name
    at: str
    t = _hour(ref) if ref.has_time else None
    if ref.day is not None and ref.has_day and t is not None:
        at = dt.datetime.combine(ref.day, t).strftime("%Y-%m-%dT%H:%M")
    elif t is not None:
        at = t.strftime("%H:%M")
    else:
        at = ref.day.isoformat()  # type: ignore[union-attr]
    head = m.text[m.b:ref.start]
    head = re.sub(r"^\s*\S+(?:\s+(?:off|out|up|back|forward))?\s+", "", head + " ", count=1)  # the verb
    after = m.text[ref.end:]
    stop = re.search(rf"{_MOVE_TO.pattern}|{_SHIFT.pattern}|[,.!?]", after, re.I)
    tail = after[:stop.start()] if stop else after
    words = _FILLER.sub(" ", re.sub(r"^'s\b|^’s\b", "", tail.strip()) + " " + head)
    words = re.sub(r"[^\w' -]", " ", words)
    words = re.sub(r"\s+", " ", words).strip(" '")
    args: dict[str, Any] = {"event_at": at}
    if len(words) > 1:
        args["event_ref"] = words
    if label == "cancel_event":
        if _BULK.search(words) or _CLEARING.match(m.body):  # "cancel everything on the 15th": all of them, asked
            return clear(m)
        return Intent("cancel_event", args)
    shift = _SHIFT.search(m.text, ref.end)
    if shift and not any(w.start >= shift.end() and (w.has_time or w.has_day) for w in m.whens[1:]):
        size = re.search(rf"{_N}\s*{_UNIT}", shift.group(0), re.I)
        amount = _amount(size["n"]) * _MINUTES[size["unit"].lower()[:3].rstrip("s")[:3]] if size else 60
        sign = -1 if re.search(r"forward|earlier", shift.group(0), re.I) else 1
        args["shift_minutes"] = round(sign * amount)
        return Intent("update_event", args)
    new = next((w for w in m.whens[1:] if w.start >= ref.end), None)
    bare = re.search(r"\b(?:to|at|for)\s+(\d{1,2})(?:[:.](\d{2}))?\s*$", m.text[ref.end:].rstrip(" ?!."), re.I)
    if new is None and bare and int(bare[1]) < 24 and int(bare[2] or 0) < 60:  # "move tomorrow's standup to 10"
        args["new_time"] = f"{int(bare[1]):02d}:{int(bare[2] or 0):02d}"
        if _twelve_hour(bare[1]):  # "to 9": 9:00 or 21:00, whichever is nearer the event's own time
            either_half(args)
        return Intent("update_event", args)
    if new is None:
        return None
    nt = _hour(new) if new.has_time else None
    if new.day is not None and new.has_day:
        args["new_date"] = new.day.isoformat()
    if nt is not None:
        args["new_time"] = nt.strftime("%H:%M")
        if new.flex and not new.period:
            either_half(args)
    return Intent("update_event", args) if len(args) > 1 + ("event_ref" in args) else None


def either_half(args: dict[str, Any]) -> None:
    """Mark an event's new time of day as said without am/pm: the tool takes the half of the day nearer the
    event's own time (the clock's reading of "11:30" said at 8pm, 23:30, is no guide to the event's)."""
    hour, rest = str(args["new_time"]).split(":", 1)
    args["new_time"] = f"{int(hour) % 12:02d}:{rest}"
    args["either_half"] = True


def _twelve_hour(hour: str) -> bool:
    """Whether an hour said alone could be either half of the day ("9", not "09" or "21")."""
    return not hour.startswith("0") and 1 <= int(hour) <= 12


def _past(m: _Msg) -> tuple[dt.datetime, dt.datetime] | None:
    """ "last week", "this month", "yesterday" when the time grammar read no window (days start at midnight)."""
    said = re.search(r"\b(last|this|past)\s+(week|month)\b|\b(yesterday|today)\b", m.body)
    if said is None:
        return None
    today = m.now.date()
    if said[3]:
        first = today - dt.timedelta(days=1 if said[3] == "yesterday" else 0)
        last = first + dt.timedelta(days=1)
    elif said[2] == "week":
        monday = today - dt.timedelta(days=today.weekday())
        first = monday - dt.timedelta(days=7) if said[1] == "last" else monday
        last = first + dt.timedelta(days=7)
        if said[1] == "past":
            first, last = today - dt.timedelta(days=7), today + dt.timedelta(days=1)
    else:
        start = today.replace(day=1)
        first = (start - dt.timedelta(days=1)).replace(day=1) if said[1] == "last" else start
        last = start if said[1] == "last" else today + dt.timedelta(days=1)
    tz = m.now.tzinfo
    return (dt.datetime.combine(first, dt.time(), tzinfo=tz), dt.datetime.combine(last, dt.time(), tzinfo=tz))


def when_is(m: _Msg, found: Intent) -> Intent:
    """ "when's my dentist appointment?" with no time said: look the event up by its words, however far off."""
    if found.tool != "list_events" or m.whens:
        return found
    asked = re.match(r"\s*(?:so\s+)?when(?:'s|’s|\s+is|\s+are|\s+was|s)\s+(?P<what>.+?)[\s?!.]*$", m.body)
    if asked is None:
        return found
    return Intent("search_memory", {"query": asked["what"]})


def done_window(m: _Msg, found: Intent) -> Intent:
    """ "what did I do last week": the tasks completed in the window said."""
    if found.tool != "list_tasks" or found.args.get("status") != "done":
        return found
    span = m.whens[0].range() if m.whens else _past(m)
    if span is None:
        return found
    args = {k: v for k, v in found.args.items() if k not in ("due_before", "due_after")}
    args.update(done_after=_iso(span[0]), done_before=_iso(span[1]))
    return Intent("list_tasks", args)
