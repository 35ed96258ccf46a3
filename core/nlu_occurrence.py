"""One occurrence of a repeating event, said in chat: "cancel next tuesday's standup", "move this week's 1:1 to 3pm".

Pure: the words become `cancel_event` / `update_event` with `occurrence` (the day, or a window of days that
must hold exactly one occurrence: the tool asks back otherwise), so only that occurrence changes and the
series stays as it is. Anything not clearly of this shape is left to the other rules.
"""

from __future__ import annotations

import datetime as dt
import re

from core import timeparse as tp
from core.intents import Intent
from core.nlu_words import _EVENT_REF

_VERB = re.compile(r"^(?:(?:please|pls|can\s+you|could\s+you)\s+)*(?P<verb>cancel|skip|call\s+off|scrap|move|push|"
                   r"shift|reschedule)\s+(?P<rest>.+?)[.!?]*$", re.I)
_POSSESSIVE = re.compile(r"^(?:the\s+)?(?P<when>[\w\s/-]+?)['’]s\s+(?P<ref>.+)$", re.I)
_DAYS = r"(?:today|tonight|tomorrow|this\s+week|next\s+week|(?:this\s+|next\s+|on\s+)?(?:mon|tues|wednes|thurs|fri" \
        r"|satur|sun)day|on\s+(?:the\s+)?\w+\s+\w+)"
_TRAILING = re.compile(rf"^(?:the\s+|my\s+)?(?P<ref>.+?)\s+(?P<when>{_DAYS})$", re.I)
_PRONOUNS = {"it", "that", "this", "them", "one"}


def _days(phrase: str, now: dt.datetime) -> str | None:
    """The occurrence a day phrase names: "2025-03-04", or a window "2025-03-03/2025-03-09"; None if unclear."""
    found = tp.scan(phrase, now)
    if len(found) != 1:
        return None
    said = found[0]
    if said.kind == "date" and said.day is not None:
        return said.day.isoformat()
    if said.kind == "window" and said.window is not None:
        first, after = max(said.window[0], now.date()), said.window[1]
        if first >= after:
            return None
        return f"{first.isoformat()}/{(after - dt.timedelta(days=1)).isoformat()}"
    return None


def _target(part: str, now: dt.datetime, skip: bool = False) -> tuple[str, str] | None:
    for shape in (_POSSESSIVE, _TRAILING):
        hit = shape.match(part.strip())
        if hit is None:
            continue
        ref = re.sub(r"^(?:the|my)\s+", "", hit["ref"].strip(), flags=re.I)
        if shape is _TRAILING and not skip and not _EVENT_REF.search(ref.lower()):
            continue  # "cancel the newspaper on friday" is a thing to do; "tuesday's newspaper" would be one occurrence
        occurrence = _days(hit["when"], now)
        if occurrence and ref and ref.lower() not in _PRONOUNS:
            return ref, occurrence
    return None


def _new_start(part: str, now: dt.datetime) -> dict[str, str] | None:
    """`start` (and `end`) for "to 3pm" / "to 3-4pm" / "to wednesday 10am": a time alone stays on the day."""
    found = tp.scan(part, now)
    times = [m for m in found if m.kind in ("time", "range") and m.time is not None]
    days = [m for m in found if m.kind == "date" and m.day is not None]
    if len(times) != 1 or len(days) > 1 or len(found) != len(times) + len(days):
        return None
    t = times[0]
    assert t.time is not None
    clock = f"{t.time:%H:%M}"
    out = {"start": f"{days[0].day}T{clock}" if days else clock}
    if t.until is not None:
        out["end"] = f"{days[0].day}T{t.until:%H:%M}" if days else f"{t.until:%H:%M}"
    return out


def occurrence_intent(text: str, now: dt.datetime) -> Intent | None:
    """`cancel_event` or `update_event` of one occurrence, when the message is clearly about one; else None."""
    hit = _VERB.match(text.strip())
    if hit is None:
        return None
    verb, rest = hit["verb"].lower(), hit["rest"]
    if verb in ("cancel", "skip", "call off", "scrap"):
        found = _target(rest, now, skip=verb == "skip")
        if found is None:
            return None
        return Intent("cancel_event", {"event_ref": found[0], "occurrence": found[1]})
    cut = [m.start() for m in re.finditer(r"\s+to\s+", rest, re.I)]
    if not cut:
        return None
    found, start = _target(rest[:cut[-1]], now), _new_start(rest[cut[-1]:].strip()[3:], now)
    if found is None or start is None:
        return None
    return Intent("update_event", {"event_ref": found[0], "occurrence": found[1], **start})
