"""A message being understood, and the phrase helpers every part of the understanding shares."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from core import timeparse as tp
from core.nlu_words import _CHORE_VERBS, _DET, _LEAD_WORDS, _PRI_LEAD, _PRI_RES, _PUNCT, _TAIL_WORDS, _base


@dataclass
class _Msg:
    text: str  # normalised, original case
    low: str  # lower case, same indices
    now: dt.datetime
    whens: list[tp.When]
    b: int = 0  # where the request starts, after greetings and "can you"
    cut: list[tuple[int, int]] = field(default_factory=list)  # spans to leave out of titles

    @property
    def body(self) -> str:
        return self.low[self.b:]

    def when_after(self, pos: int) -> list[tp.When]:
        return [w for w in self.whens if w.start >= pos]


def _piece(m: _Msg, lo: int, hi: int, cut: list[tuple[int, int]] | None = None) -> str:
    """text[lo:hi] in its original case, without the cut spans."""
    spans = sorted(cut if cut is not None else m.cut)
    out, pos = [], lo
    for s, e in spans:
        if e <= pos or s >= hi:
            continue
        out.append(m.text[pos:max(s, pos)])
        out.append(" ")
        pos = max(pos, e)
    out.append(m.text[pos:hi])
    return re.sub(r"\s+", " ", "".join(out)).strip()


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return tp.iso(value) if value is not None else None



def _clean(s: str) -> str:
    """Trim connecting words and punctuation left at either end of a phrase."""
    words = s.split()
    changed = True
    while changed and words:
        changed = False
        first, last = words[0].strip(_PUNCT), words[-1].strip(_PUNCT)
        if not first or first.lower() in _LEAD_WORDS:
            words.pop(0)
            changed = True
        elif not last or last.lower() in _TAIL_WORDS or (
                last.lower() == "you" and len(words) > 1 and words[-2].lower() == "thank"):
            words.pop()
            changed = True
        else:
            head, tail = words[0].lstrip(_PUNCT), words[-1].rstrip(_PUNCT)
            changed = head != words[0] or tail != words[-1]
            words[0] = head
            words[-1] = tail if len(words) > 1 else tail.lstrip(_PUNCT)
    out = " ".join(words)
    out = re.sub(r"\s+([,;:.!?])", r"\1", out)
    return re.sub(r"([,;:])(?=[,;:])", "", out)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


def _strip_det(s: str) -> str:
    return re.sub(rf"^{_DET}\s+", "", s, flags=re.I)


def _priority(m: _Msg) -> str | None:
    low = m.low
    for name, rx in _PRI_RES:
        found = list(rx.finditer(low))
        if found:
            if name == "high" and re.search(r"\bnot\s+(?:very\s+|that\s+|too\s+)?(?:urgent|important)", low):
                continue
            for x in found:
                window = max(0, x.start() - 60)
                lead = _PRI_LEAD.search(low, window, x.start())
                m.cut.append((lead.start() if lead else x.start(), x.end()))
            return name
    return None


_PROJECT_RES = [
    re.compile(r"(?<![\w'])(?:(?:in|for|to|under|on|into|from|of|re)\s+)?(?:the\s+)?[Pp]roject\s*[:\-]?\s+"
               r"(?P<name>[A-Z][\w\-]*(?:\s+[A-Z][\w\-]*)*|[\w\-]+)"),
    re.compile(r"(?<![\w'])(?:(?:in|for|to|under|on|into|from|of|re)\s+)?(?:the\s+|my\s+|our\s+)?"
               r"(?P<name>[A-Z][\w\-]*(?:\s+[A-Z][\w\-]*)*|[a-z][\w\-]*)\s+project\b"),
]
_NOT_PROJECT = set((
    "the a an this that my our your new big side school group next current each every one any which what same whole "
    "entire other personal by due for in on to at with from of and or is it its as per this that due before after "
    "until till tomorrow today tonight monday tuesday wednesday thursday friday saturday sunday week month the "
    "team work").split())


# "fix the auth bug in Avenue": a task "in" a capitalised name is in that project
_IN_NAME = re.compile(r"(?<![\w'])in\s+(?P<name>[A-Z][\w-]+)\b(?!\s+[A-Z]|'s)")


def _project(m: _Msg, lo: int = 0, loose: bool = False) -> str | None:
    rxs = [*_PROJECT_RES, _IN_NAME] if loose else _PROJECT_RES
    timed = [span for w in m.whens for span in w.spans]
    hits = [found for rx in rxs for found in rx.finditer(m.text, lo)
            if found["name"].lower() not in _NOT_PROJECT and not found["name"].lower().startswith(("tasks", "list"))
            and found["name"].lower() not in tp.MONTH and found["name"].lower() not in tp.WEEKDAY
            and not any(s < found.end() and found.start() < e for s, e in timed)]
    if not hits:
        return None
    found = min(hits, key=lambda x: x.start())
    m.cut.append(found.span())
    name = found["name"]
    return name if any(c.isupper() for c in name) else _cap(name)


def _clauses(s: str) -> list[str]:
    parts = re.split(r"\s*(?:[,;.!?]+|\s[-—–]+\s|\band\b|\bbut\b|\bso\b)\s*", s)
    return [p for p in parts if p.strip()]


_SUBJ = re.compile(r"^(?:(?:i|we|i'?ve|we'?ve|i'?m|we'?re|i'?ll|we'?ll|you)\s+)?(?:(?:still|really|also|just|"
                   r"finally|already|totally|completely|probably|definitely|should|must|need\s+to|have\s+to|"
                   r"has\s+to|got\s+to|'ve\s+got\s+to|want\s+to|haven'?t|have\s+not|hadn'?t|didn'?t|did\s+not|"
                   r"forgot\s+to|keep\s+forgetting\s+to|never|gotta|ought\s+to|'d\s+better|better)\s+)+", re.I)


def _statement_to_task(clause: str) -> str:
    """ "I still haven't sorted travel insurance" -> "sort travel insurance"."""
    s = clause.strip()
    m = _SUBJ.match(s)
    if m:
        perfect = re.search(r"haven'?t|have\s+not|hadn'?t", m[0], re.I)
        s = s[m.end():]
        if perfect:
            first, _, rest = s.partition(" ")
            s = f"{_base(first)} {rest}".strip()
    return s


_NP_STOP = re.compile(r"(?:[a-z]+ed|[a-z]+ing|is|are|was|were|be|been|wants?|needs?|asked|said|says|for|to|by|with"
                      r"|from|and|or|but|so|because|just|again|now|today|tomorrow)$", re.I)


def _last_np(clause: str) -> str | None:
    """The noun phrase after the clause's last determiner ("the Q4 numbers"), without a trailing participle."""
    dets = list(re.finditer(rf"\b{_DET}\b", clause, re.I))
    for det in reversed(dets):
        words: list[str] = []
        for w in clause[det.end():].split()[:5]:
            if words and _NP_STOP.match(w) or w.lower() in ("is", "are", "was", "were", "to", "for"):
                break
            words.append(w)
        while words and words[-1].lower() in ("back", "up", "out", "off", "over", "again", "done", "please"):
            words.pop()
        if words and not (det[0].lower() in ("my", "our", "his", "her", "their", "your") and len(words) == 1
                          and words[0].lower() in _PEOPLE):
            return f"{det[0]} {' '.join(words)}"
    return None


_PEOPLE = set((
    "boss manager mum mom mother dad father sister brother wife husband partner friend colleague team son "
    "daughter kids kid parents aunt uncle grandma grandpa teacher landlord neighbour neighbor client doctor "
    "dentist accountant lawyer coach cousin girlfriend boyfriend fiance fiancee family").split())


def _resolve_pronoun(content: str, context: str) -> str:
    """Put the last noun phrase of the context where the content says "them"/"it"."""
    if not re.search(r"\b(?:them|it|this|that|those|these)\b", content, re.I):
        return content
    for clause in reversed(_clauses(context)):
        phrase = _last_np(clause)
        if phrase:
            return re.sub(r"\b(?:them|it|this|that|those|these)\b", phrase, content, count=1, flags=re.I)
    return content



_DEADLINE = ("by", "due", "before", "until", "no later", "deadline")  # prepositions that make a time a due date


def _chore(word: str) -> bool:
    return word in _CHORE_VERBS


def _lead_word(text: str) -> str:
    w = re.match(r"[a-z'-]+", text)
    return w[0] if w else ""



def _remind_value(value: dt.date | dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
    """A reminder moment: a day alone means 09:00 that day (or the next hour, if that has passed)."""
    if value is None or isinstance(value, dt.datetime):
        return value
    moment = tp.at(value, dt.time(9, 0), now.tzinfo)
    if moment <= now:
        moment = (now + dt.timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    return moment



def _primary(m: _Msg) -> tp.When | None:
    """The time the message asks about: its first date, joined with a time said elsewhere."""
    useful = [w for w in m.whens if w.has_day or w.has_time or w.period or w.window]
    if not useful:
        return None
    first = useful[0]
    if not first.has_time:
        other = next((w for w in useful[1:] if w.has_time and not w.has_day), None)
        if other is not None:
            return tp.When.of(m.now, first.mentions + other.mentions)
    elif not first.has_day:
        other = next((w for w in useful[1:] if w.has_day and not w.has_time), None)
        if other is not None:
            return tp.When.of(m.now, other.mentions + first.mentions)
    return first
