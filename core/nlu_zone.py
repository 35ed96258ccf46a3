"""Understanding a change of time zone: "set my timezone to Europe/Lisbon", "I'm in Tokyo now"."""

from __future__ import annotations

import re

from core import clock
from core.intents import Intent
from core.nlu_text import _Msg

_ZONE_WORD = r"(?:time\s*zone|timezone|tz|(?<=my\s)zone)"
# Said in so many words: the tool answers even a place it cannot find (and says so).
_EXPLICIT = (
    re.compile(rf"(?:please\s+)?(?:set|change|switch|update|move|put)\s+(?:my\s+|the\s+|your\s+)?{_ZONE_WORD}"
               r"\s+(?:to|as|=)\s+(?P<z>.+)"),
    re.compile(rf"(?:my\s+)?{_ZONE_WORD}\s+(?:is|=|should\s+be|is\s+now)\s+(?P<z>.+)"),
    re.compile(rf"use\s+(?P<z>.+?)\s+(?:time|{_ZONE_WORD})"),
    # "switch me to new york time", also after what they said first ("flying to NYC, switch me to NY time")
    re.compile(r"(?:[^,;]*[,;]\s*(?:so\s+|and\s+)?)?(?:please\s+|pls\s+|can\s+you\s+|could\s+you\s+)?"
               r"(?:switch|change|set|move|put)\s+(?:me|us)\s+(?:over\s+)?(?:to|onto|on)\s+"
               rf"(?P<z>.+?)\s+(?:time|{_ZONE_WORD})(?:\s+(?:please|pls))?"),
)
# Said in passing: only when the place really is a time zone ("I'm in a meeting now" is not).
_IMPLICIT = (
    re.compile(r"(?:i'?m|i\s+am|we'?re|we\s+are)\s+(?:now\s+|currently\s+)?(?:in|on|using)\s+(?P<z>.+?)\s+"
               rf"(?:time|{_ZONE_WORD})(?:\s+now)?"),
    re.compile(r"(?:i'?m|i\s+am|we'?re|we\s+are)\s+(?:now|currently)\s+(?:in|based\s+in|living\s+in)\s+(?P<z>.+)"),
    re.compile(r"(?:i'?m|i\s+am|we'?re|we\s+are)\s+(?:(?:over\s+|out\s+)?in|based\s+in|living\s+in)\s+(?P<z>.+?)\s+now"),
    re.compile(r"(?:i'?m|i\s+am|we'?re|we\s+are)\s+(?:now\s+)?(?:based|living|located)\s+in\s+(?P<z>.+)"),
    re.compile(r"(?:i|we)(?:'ve|\s+have)?\s+(?:just\s+)?(?:moved|relocated)\s+to\s+(?P<z>.+)"),
    re.compile(r"(?:i|we)\s+(?:now\s+)?live\s+in\s+(?P<z>.+)"),
)
# "…, switch my timezone" after where they are: the wish said in a tail, then only "I'm in Oslo" is left.
_ASKED = re.compile(r"\b(?:so\s+|and\s+)?(?:please\s+|pls\s+|can\s+you\s+|could\s+you\s+)?"
                    rf"(?:switch|change|update|set|fix|adjust)\s+(?:my\s+|the\s+)?{_ZONE_WORD}"
                    r"(?:\s+(?:please|pls|accordingly|to\s+match))?$")
# how long they stay, from now: "this week", "for a few days", "for now" ("in London next week" is a trip)
_STAY = re.compile(r"\s+(?:this\s+(?:week|month|weekend)|for\s+(?:now|a\s+while|the\s+(?:week|month|weekend)"
                   r"|(?:the\s+next\s+|a\s+few\s+|a\s+couple\s+of\s+|\d+\s+|a\s+|two\s+|three\s+)(?:days?|weeks?|months?))"
                   r"|at\s+the\s+moment|right\s+now)$")
# where they are, once a stay or the wish was said ("I'm in a meeting" alone is no move)
_HERE = re.compile(r"(?:i'?m|i\s+am|we'?re|we\s+are)\s+(?:now\s+)?(?:over\s+|out\s+|staying\s+)?in\s+(?P<z>.+)")


def _timezone(m: _Msg) -> Intent | None:
    """set_timezone for a user telling where they are now, or None."""
    body = re.sub(r"[\s.!?]+$", "", m.body.strip())
    tails = [hit for hit in (_ASKED.search(body),) if hit]
    body = body[:tails[0].start()].rstrip(" ,;.!-") if tails else body
    stay = _STAY.search(body)
    body = body[:stay.start()] if stay else body
    here = [_HERE] if tails or stay else []
    for pattern, explicit in [(p, True) for p in _EXPLICIT] + [(p, False) for p in [*_IMPLICIT, *here]]:
        hit = pattern.fullmatch(body)
        if hit is None:
            continue
        said = hit["z"].strip()
        if explicit or clock.find_zone(said) is not None:
            return Intent("set_timezone", {"zone": m.text[m.b + hit.start("z"): m.b + hit.end("z")].strip()})
    return None
