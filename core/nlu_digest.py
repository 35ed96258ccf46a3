"""Understanding changes to the daily digest: when it comes, whether it comes, and where."""

from __future__ import annotations

import re

from core.intents import Intent
from core.nlu_memory import _STORE_LEAD
from core.nlu_text import _Msg

DEFAULT_TIME = "07:30"  # DESIGN.md: the digest goes out at 07:30 unless the user chose another time

_DIGEST = re.compile(r"\b(?:digests?|my\s+(?:summary|briefing|recap)|(?:daily|morning|evening|nightly|day'?s)\s+"
                     r"(?:summary|summaries|briefings?|brief|recaps?|round-?ups?|overviews?|rundowns?|updates?|digest)"
                     r"|(?:summary|briefing|recap|round-?up|rundown)\s+(?:every|each)\s+(?:morning|evening|day|night))\b")
# a digest being written or read is a task ("review the weekly digest draft"), not a setting
_NOT_SETTING = re.compile(r"\b(?:remind|remember|forget|task|todo|to-do|calendar|write|draft|prepare|read|review|finish"
                          r"|edit|proofread|publish|compile|print|forward|reply|newsletter)\b")
_QUESTION = re.compile(r"^(?:what|when|where|which|why|how|is|are|does|did|was|do\s+i|have\s+i)\b")
_OFF = re.compile(r"\b(?:turn|switch|shut)\s+(?:[\w']+\s+){0,4}?off\b|\boff\b|\b(?:stop|pause|disable|mute|kill"
                  r"|unsubscribe|halt|suspend)\b|\bcancel\b|\bno\s+more\b|\bno\s+longer\b|\bget\s+rid\s+of\b"
                  r"|\b(?:don'?t|do\s+not|never)\s+(?:send|want|need|give)\b")
_ON = re.compile(r"\b(?:turn|switch)\s+(?:[\w']+\s+){0,4}?(?:back\s+)?on\b|\bback\s+on\b|\b(?:enable|re-?enable"
                 r"|resume|restart|restore|unpause|reactivate|start)\b|\bbring\s+(?:[\w']+\s+){0,3}?back\b|\bagain\b")
# switched on or off: a setting even when it is "the daily summary" ("switch the daily summary back on")
_SWITCH = re.compile(r"\b(?:turn|switch)\s+(?:[\w']+\s+){0,4}?(?:back\s+)?(?:on|off)\b|\bback\s+on\b|^(?:please\s+)?"
                     r"(?:stop|pause|resume|restart|disable|enable|mute|unpause)\b")
# moved to another time: a setting even when it is "the morning summary" ("change the morning summary to 8am")
_RESET = re.compile(r"^(?:(?:please|pls|can\s+you|could\s+you)\s+)*(?:change|move|set|reschedule|shift|push)\b")
_PLATFORM = re.compile(r"\b(slack|telegram|discord)\b")
_CHANNEL = re.compile(r"(?<![\w#])(#[\w-]+)")
# a recipient that is no platform: "send the daily summary to the team" is a chore
_RECIPIENT = re.compile(r"\bto\s+(?!(?:my\s+|the\s+)?(?:slack|telegram|discord)\b|me\b|my\s+(?:dm|inbox|phone)\b"
                        r"|(?:around\s+|about\s+)?\d|noon|midday|the\s+(?:morning|evening|afternoon)\b|#)"
                        r"(?:[a-z][\w'-]*)")
_CLOCK = re.compile(r"\b(?P<h>\d{1,2})(?:[:.h](?P<min>\d{2}))?\s*(?P<ap>am|pm|a\.m\.|p\.m\.|a\.m|p\.m)?(?![\w:])"
                    r"|\b(?P<noon>noon|midday)\b")


def _clock(body: str) -> str | None:
    """The time of day said, as HH:MM: a bare hour is in the morning unless the evening is said."""
    for hit in _CLOCK.finditer(body):
        if hit["noon"]:
            return "12:00"
        hour, minute = int(hit["h"]), int(hit["min"] or 0)
        ap = (hit["ap"] or "").replace(".", "")
        before = body[max(0, hit.start() - 12): hit.start()]
        if not ap and not hit["min"] and not re.search(r"\b(?:at|to|for|around|about|by|until|till|from|@)\s+$",
                                                        before):
            continue  # "send my 2 digests" is no time
        if hour > 23 or minute > 59 or (ap and not 1 <= hour <= 12):
            continue
        if ap == "pm" and hour < 12:
            hour += 12
        elif ap == "am" and hour == 12:
            hour = 0
        elif not ap and hour < 12 and re.search(r"\b(?:evening|night|tonight|pm|afternoon)\b", body) and hour != 0:
            hour += 12
        return f"{hour:02d}:{minute:02d}"
    return None


def _said_time(m: _Msg) -> str | None:
    """A time the time parser read ("half past seven"): in the morning unless the evening is said."""
    for w in m.whens:
        if w.time is None:
            continue
        hour = w.time.hour
        if w.flex and hour >= 12 and not re.search(r"\b(?:evening|night|tonight|afternoon)\b", m.body):
            hour -= 12
        return f"{hour:02d}:{w.time.minute:02d}"
    return None


def _digest(m: _Msg) -> Intent | None:
    """ "send my digest at 8 on slack", "turn off the digest": set_digest, or None when the message is no such wish."""
    body = m.body.strip()
    if not _DIGEST.search(body) or _NOT_SETTING.search(body) or _QUESTION.match(body) or _STORE_LEAD.match(body):
        return None
    named = re.search(r"\bdigests?\b", body) is not None
    if not named and not re.search(r"\b(?:my|me|your)\b", body) and not _SWITCH.search(body) \
            and not _RESET.match(body):
        return None  # "send the daily summary …" without "my" is someone's report
    if _RECIPIENT.search(body):
        return None
    args: dict[str, str] = {}
    platform = _PLATFORM.search(body)
    if platform:
        args["platform"] = platform[1]
        channel = _CHANNEL.search(m.text[m.b:])
        if channel:
            args["channel"] = channel[1]
    off = _OFF.search(body) is not None and not re.search(r"\bturn\s+(?:[\w']+\s+){0,4}?(?:back\s+)?on\b", body)
    when = None if off else _clock(body) or _said_time(m)
    if off:
        args["time"] = "off"
    elif when is not None:
        args["time"] = when
    elif _ON.search(body):
        args["time"] = DEFAULT_TIME
    if not args:
        return None  # "send me my digest": nothing to change
    return Intent("set_digest", args)
