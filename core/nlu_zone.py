"""Understanding a change of time zone: "set my timezone to Europe/Lisbon", "I'm in Tokyo now"."""

from __future__ import annotations

import re

from core import clock
from core.intents import Intent
from core.nlu_text import _Msg

_ZONE_WORD = r"(?:time\s*zone|timezone|tz)"
# Said in so many words: the tool answers even a place it cannot find (and says so).
_EXPLICIT = (
    re.compile(rf"(?:please\s+)?(?:set|change|switch|update|move|put)\s+(?:my\s+|the\s+|your\s+)?{_ZONE_WORD}"
               r"\s+(?:to|as|=)\s+(?P<z>.+)"),
    re.compile(rf"(?:my\s+)?{_ZONE_WORD}\s+(?:is|=|should\s+be|is\s+now)\s+(?P<z>.+)"),
    re.compile(rf"use\s+(?P<z>.+?)\s+(?:time|{_ZONE_WORD})"),
)
# Said in passing: only when the place really is a time zone ("I'm in a meeting now" is not).
_IMPLICIT = (
    re.compile(r"(?:i'?m|i\s+am|we'?re|we\s+are)\s+(?:now\s+|currently\s+)?(?:in|on|using)\s+(?P<z>.+?)\s+"
               rf"(?:time|{_ZONE_WORD})(?:\s+now)?"),
    re.compile(r"(?:i'?m|i\s+am|we'?re|we\s+are)\s+(?:now|currently)\s+(?:in|based\s+in|living\s+in)\s+(?P<z>.+)"),
    re.compile(r"(?:i'?m|i\s+am|we'?re|we\s+are)\s+(?:in|based\s+in|living\s+in)\s+(?P<z>.+?)\s+now"),
    re.compile(r"(?:i'?m|i\s+am|we'?re|we\s+are)\s+(?:now\s+)?(?:based|living|located)\s+in\s+(?P<z>.+)"),
    re.compile(r"(?:i|we)\s+(?:have\s+|just\s+)?(?:moved|relocated)\s+to\s+(?P<z>.+)"),
    re.compile(r"(?:i|we)\s+(?:now\s+)?live\s+in\s+(?P<z>.+)"),
)


def _timezone(m: _Msg) -> Intent | None:
    """set_timezone for a user telling where they are now, or None."""
    body = re.sub(r"[\s.!?]+$", "", m.body.strip())
    for pattern, explicit in [(p, True) for p in _EXPLICIT] + [(p, False) for p in _IMPLICIT]:
        hit = pattern.fullmatch(body)
        if hit is None:
            continue
        said = hit["z"].strip()
        if explicit or clock.find_zone(said) is not None:
            return Intent("set_timezone", {"zone": m.text[m.b + hit.start("z"): m.b + hit.end("z")].strip()})
    return None
