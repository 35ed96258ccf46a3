"""The offline brain's understanding: one chat message in, one Intent (a tool and its arguments) out.

Pure and fast: regular expressions over a normalised message plus the time parser of
core.timeparse. The order of the checks is the order of precedence: social talk, help,
memory and settings (forget, the digest, the time zone, remember), news told with nothing asked, changes to
existing tasks, questions (tasks, calendar, availability, memory), and last new tasks and events.
"""

from __future__ import annotations

import datetime as dt
import re

from core import timeparse as tp
from core.intents import Intent
from core.nlu_create import _create
from core.nlu_digest import _digest
from core.nlu_memory import _fact, _forget, _news, _remember
from core.nlu_questions import _question
from core.nlu_tasks import _manage
from core.nlu_text import _Msg
from core.nlu_words import _ACK, _ASK_RE, _BYE, _GREET, _HELP_RE, _LEAD_RE, _SOCIAL_RE, _THANKS, normalise
from core.nlu_zone import _timezone

# ---------------------------------------------------------------- social talk

def _social(m: _Msg) -> Intent | None:
    low = re.sub(r"[^\w\s'!.,;:?~()\-]", " ", m.low).strip()
    if not low:
        return Intent(None, reply_kind="ack" if m.low.strip() else "unknown")
    if not _SOCIAL_RE.fullmatch(low):
        return None
    kinds: set[str] = set()
    for g, t, b, a in re.findall(rf"\b(?:({_GREET})|({_THANKS})|({_BYE})|({_ACK}))\b", low):
        kinds.update(k for k, v in (("g", g), ("t", t), ("b", b), ("a", a)) if v)
    kind = "thanks" if "t" in kinds else "bye" if "b" in kinds else "greeting" if "g" in kinds else "ack"
    return Intent(None, reply_kind=kind)  # type: ignore[arg-type]



# ---------------------------------------------------------------- entry point

def message(text: str, now: dt.datetime) -> _Msg | None:
    """The message read for understanding: normalised, its lead-in ("hey, can you") skipped, its times found."""
    clean = normalise(text or "")
    if not clean:
        return None
    low = tp.lower(clean)
    m = _Msg(clean, low, now, [])
    lead = _LEAD_RE.match(low)
    b = lead.end() if lead else 0
    ask = _ASK_RE.match(low, b)
    while ask and ask.end() > b:
        b = ask.end()
        lead = _LEAD_RE.match(low, b)
        b = lead.end() if lead else b
        ask = _ASK_RE.match(low, b)
    m.b = b
    m.whens = tp.find(clean, now)
    return m


def parse_message(text: str, now: dt.datetime) -> Intent:
    """Understand one chat message at `now` (aware, in the user's zone) as one tool call or reply kind."""
    m = message(text, now)
    if m is None:
        return Intent(None, reply_kind="unknown")
    return read_rules(m)


def read_rules(m: _Msg) -> Intent:
    """What the rules make of a message, in their order of precedence."""
    social = _social(m)
    if social is not None:
        return social
    if _HELP_RE.fullmatch(m.body.strip()):
        return Intent(None, reply_kind="help")
    for first in (_forget, _digest, _timezone, _remember):
        found = first(m)
        if found is not None:
            return found
    if any("outside" in w.kinds for w in m.whens):
        return Intent(None, reply_kind="date_range")  # "in 10000 years": say what can be done
    if any("invalid" in w.kinds for w in m.whens):
        return Intent(None, reply_kind="unknown")  # "February 30": better to ask again than to guess
    for step in (_news, _fact, _manage, _question):
        found = step(m)
        if found is not None:
            return found
        m.cut = []
    return _create(m)
