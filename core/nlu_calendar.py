"""Understanding a new calendar event: its time, title, place and people."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from core import timeparse as tp
from core.intents import Intent
from core.nlu_text import _cap, _clean, _iso, _Msg, _piece, _primary

_EVENT_LEAD = re.compile(
    r"^(?:(?:please|pls)\s+)?(?:(?:can|could|would)\s+you\s+)?(?:(?:add|put|schedule|set\s+up|create|arrange|"
    r"organi[sz]e|pencil\s+in|block(?:\s+(?:out|off))?|plan|enter|host|throw|new\s+event|event)\b"
    r"|(?:have|grab|get)(?=\s+(?:a\s+|an\s+|some\s+)?(?:call|lunch|dinner|breakfast|brunch|coffee|drinks|meeting"
    r"|chat|catch-?up|bite|beer)\b)"
    r"|book(?=\s+(?:a|an|the|my|in|me|dinner|lunch|breakfast|brunch|drinks|coffee)\b))"
    r"\s*(?:me\s+)?(?:in\s+)?(?:an?\s+event\s+(?:for|called|:)?\s*)?:?\s*", re.I)
_CAL_PHRASE = re.compile(r"\s*\b(?:to|in|on|into|onto)\s+(?:my|the|our)\s+(?:calendar|diary|agenda|schedule)\b\s*:?"
                         r"|^(?:to\s+)?(?:my\s+)?(?:calendar|diary)\s*:\s*|\bfor\s+me\b", re.I)
_MEETING = re.compile(r"^(?i:i'?m|i\s+am|we'?re|we\s+are)\s+(?i:meeting|seeing|meeting\s+up\s+with)\s+"
                      r"(?P<who>[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?)(?:\s+(?:for|at)\s+(?P<what>.+))?$")
_HAVE_LEAD = re.compile(r"^(?:i\s+have|i'?ve\s+got|i\s+got|i'?m\s+having|we'?re\s+having|we\s+have|there'?s|there\s+is"
                        r"|i'?m\s+going\s+to|i'?m\s+going|going\s+to|i'?ll\s+be\s+at|i\s+need|remember\s+i\s+have"
                        r"|i\s+have\s+to\s+go\s+to|i'?ve\s+booked)\s+(?:a\s+|an\s+|the\s+|my\s+)?", re.I)
_WANTS = re.compile(r"^(?P<who>[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)?|(?i:my|our)\s+[a-z]+)"
                    r"(?:\s+from\s+[\w-]+(?:\s+[\w-]+)?)?\s+(?:wants|would\s+like|needs|asked|asks|is\s+asking|has\s+asked|invited\s+me)\s+(?:me\s+)?to\s+(?P<vp>.+?)"
                    r"(?:\s+with\s+(?:me|us))?$")
_LOCATION = re.compile(r"\b(?P<prep>at|in)\s+(?P<loc>(?:(?:the|their|his|her|my|our|a|an)\s+)?[^\x00,;!?()]{1,80}?)"
                       r"\s*(?=$|\x00|[,;!?()]|\s+(?:with|for|to|from|about|on|and\s+then|because|re|regarding"
                       r"|(?:in|into|on|onto|to)\s+(?:my|the)\s+(?:calendar|diary|agenda|schedule))\b)")
_NOT_LOCATION = re.compile(r"^(?:(?:my|the|our)\s+(?:calendar|diary|agenda|schedule)|person|advance|total|time|"
                           r"(?:the\s+)?(?:morning|afternoon|evening|night)|least|all|once|some\s+point|the\s+moment|"
                           r"(?:a|an)\s+(?:hour|minute|bit|sec|while)|my\s+calender|\w+\s+project|mind|case|"
                           r"the\s+(?:end|start|beginning)|that|this|it|general|full|person)\b", re.I)



def _create_event(m: _Msg, lo: int, hi: int) -> Intent | None:
    """A new event from text[lo:hi], or None when it names no time it could start at."""
    args: dict[str, Any] = {}
    whens = m.whens
    rule_when = max((w for w in whens if w.rrule), key=lambda w: len(w.rrule or ""), default=None)
    when = _primary(m)
    if rule_when is not None:
        joined = list(rule_when.mentions)
        if not rule_when.has_time and when is not None and when is not rule_when and when.has_time:
            joined += [x for x in when.mentions if x.kind in ("time", "range", "duration")]
        when = tp.When.of(m.now, joined)
    length = next((x.length for w in whens for x in w.mentions if x.length), None)
    for w in whens:  # every time phrase, duration and repeat is said by the fields, not the title
        if w.rrule or w is when or (when is not None and set(w.spans) & set(when.spans)) \
                or w.kinds <= {"duration"} or (when is not None and (w.has_day or w.has_time)):
            m.cut.extend(w.spans)
    if when is None:
        return None  # no time after all: the caller makes it a task
    if when.rrule:
        first = when.first()
        args["recurrence"] = when.rrule
    else:
        first = when.point()
    if first is None:
        return None  # no time after all: the caller makes it a task
    if isinstance(first, dt.datetime) and when.time is None and when.moment is None and when.period \
            and not when.rrule:  # "block out friday afternoon": the whole part of the day
        span = when.range()
        assert span is not None
        args["start"], args["end"] = _iso(span[0]), _iso(span[1])
    elif isinstance(first, dt.datetime):
        args["start"] = _iso(first)
        span = when.range(default=length or dt.timedelta(hours=1))
        end = first + (span[1] - span[0]) if span else first + dt.timedelta(hours=1)
        if length and when.until is None:
            end = first + length
        args["end"] = _iso(end)
    else:
        args["start"] = _iso(first)
        if "days" in when.kinds and when.window and not when.rrule:  # "in Rome from May 3 to 7": every day of it
            args["end"] = _iso(when.window[1] - dt.timedelta(days=1))
    title, location, attendees = _event_title(m, lo, hi)
    result = {"title": title or "Event", **args}
    if location:
        result["location"] = location
    if attendees:
        result["attendees"] = attendees
    return Intent("create_event", result)


def _event_title(m: _Msg, lo: int, hi: int) -> tuple[str, str | None, list[str]]:
    masked = list(m.text)
    for s, e in m.cut:
        for i in range(s, min(e, len(masked))):
            masked[i] = "\x00"
    masked_text = "".join(masked)
    location = None
    for hit in _LOCATION.finditer(masked_text, lo, hi):
        loc = hit["loc"].strip()
        if _NOT_LOCATION.match(loc) or "\x00" in loc or not loc:
            continue
        if hit["prep"].lower() == "in" and not re.match(r"(?:the\s|[A-Z0-9])", loc) and not re.search(
                r"\b(?:room|suite|office|building|hall|floor|cafe|café|restaurant|studio|library|lobby|kitchen"
                r"|park|center|centre|clinic)\b", loc, re.I):
            continue
        location = _clean(loc) or None
        m.cut.append(hit.span())
        break
    raw = _piece(m, lo, hi)
    attendees: list[str] = []
    wants = _WANTS.match(_clean(raw))
    meeting = _MEETING.match(_clean(raw))
    if wants:
        vp = re.sub(r"^(?:have|grab|get|do|go\s+for)\s+(?:a\s+|an\s+|some\s+)?", "", wants["vp"], flags=re.I)
        raw = f"{vp} with {wants['who']}"
        if wants["who"][0].isupper() and wants["who"].split()[0].lower() not in ("my", "our"):
            attendees.append(wants["who"])
    elif meeting:
        raw = f"{meeting['what']} with {meeting['who']}" if meeting["what"] else f"Meeting with {meeting['who']}"
        attendees.append(meeting["who"])
    raw = _HAVE_LEAD.sub("", _clean(raw))
    raw = _CAL_PHRASE.sub(" ", raw)
    raw = _EVENT_LEAD.sub("", _clean(raw))
    raw = _CAL_PHRASE.sub(" ", raw)
    raw = re.sub(r"^(?:to|for|an?\s+event)\s+", "", _clean(raw), flags=re.I)
    raw = re.sub(r"^(?:a|an|the|my|our)\s+(?=[a-z])", "", _clean(raw))
    for who in re.finditer(r"\b(?:with|meet|meeting|see|and)\s+(?:the\s+)?(?P<name>[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?)"
                           r"(?![\w'-])(?!\s+(?!from\b|at\b|on\b|in\b|to\b|for\b|about\b|and\b|re\b)[a-z])", raw):
        name = who["name"]
        if name not in attendees and name.split()[0] not in ("I", "Me", "My", "The", "Zoom", "Teams"):
            attendees.append(name)
    return _cap(_clean(raw)), location, attendees
