"""Understanding a new task or event: which of the two it is, and a task's fields."""

from __future__ import annotations

import re
from typing import Any

from core import timeparse as tp
from core.intents import Intent
from core.nlu_calendar import _create_event
from core.nlu_questions import _general
from core.nlu_text import (
    _DEADLINE,
    _cap,
    _chore,
    _clauses,
    _clean,
    _iso,
    _lead_word,
    _Msg,
    _piece,
    _priority,
    _project,
    _remind_value,
    _resolve_pronoun,
    _statement_to_task,
)
from core.nlu_words import _EVENT_NOUN, _EVENT_VERBS

_TASK_MARK = re.compile(
    r"(?:^note\s+to\s+self\s*[:\-—–]?\s*|(?:(?:can|could|would|will)\s+you\s+)?(?:please\s+)?"
    r"(?:add|create|make|put|set|save|log|jot\s+down|write\s+down|note\s+down|new)\s+(?:(?:a|an|the|another|one|this|that)\s+)?(?:new\s+)?(?:task|todo|to-do|"
    r"to\s+do|reminder|item|action\s+item)s?(?:\s+(?:for\s+me|to\s+my\s+list|on\s+my\s+list))?"
    r"(?:\s*(?::|-|—|–|to|that\s+says|saying|called|for|about)\s*|\s+)|^(?:new\s+)?(?:task|todo|to-do|reminder)\s*"
    r"[:\-—–]\s*)")
_LIST_ADD = re.compile(r"^(?:add|put|stick|throw)\s+(?P<q>['\"])?(?P<content>.+?)(?P=q)?\s+(?:to|on|onto|in)\s+"
                       r"(?:my|the)\s+(?:to-?do|todo|to\s+do|task|(?P<shop>shopping|grocery|groceries))?\s*list\b")
_THAT_MARK = re.compile(
    r"(?:[,;.]\s*)?(?:(?:can|could|would|will)\s+you\s+)?(?:please\s+)?(?:add|put|make|save|set|turn|create|"
    r"schedule|pencil|book|block)\s+(?:that|this|it)\s*(?:(?:as|on|to|in|into|onto)\s+(?:an?\s+|my\s+|the\s+)?"
    r"(?P<what>task|todo|to-do|reminder|to-?do\s+list|list|calendar|diary|agenda)s?\b|(?P<in>in\b))?")
_REMIND = re.compile(r"\b(?:remind|ping|nudge|alert)\s+me\b|\bset\s+(?:a|an|me\s+a)\s+reminder\b|\breminder\b"
                     r"|\bdon'?t\s+let\s+me\s+forget\b")
_NEED = re.compile(r"^(?:(?:i|we)\s+)?(?:really\s+|still\s+|also\s+|definitely\s+)?(?:(?:need|have|got|ought|'ve\s+got"
                   r"|have\s+got|want)\s+to|must|should|gotta)\s+(?=\w)|^(?:remember|don'?t\s+forget|do\s+not\s+"
                   r"forget|make\s+sure)\s+(?:to|i|that\s+i)\s+|^(?:(?:i|we)\s+)?(?:must|should)\s+")
_BARE_ADD = re.compile(r"^(?:add\b\s*[:\-—–]?\s*|(?:new|todo|to-do|task)\s*[:\-—–]\s*)(?!to\s+(?:my|the)\s+calendar)")
_CAL_WORD = re.compile(r"\b(?:calendar|diary|pencil\s+(?:in|it|that|me)|block\s+(?:out|off|some)|invite)\b|^block\b")
_SCHEDULE_LEAD = re.compile(r"^(?:schedule|set\s+up)\b|^(?:arrange|organi[sz]e|plan|book|have|grab|host|throw)\s+"
                            r"(?:(?:a|an|the|my|our|another)\s+)?(?:[\w'-]+\s+){0,3}?(?:meeting|call|appointment|"
                            r"dinner|lunch|breakfast|brunch|coffee|drinks|sync|session|interview|party|review|chat|"
                            r"catch-?up|1:1|demo|workshop|webinar|standup|haircut|check-?up|massage|consultation|"
                            r"viewing|date|playdate|bbq|barbecue|celebration|get-together)\b")


def _decide(m: _Msg, content_low: str) -> str | None:
    """ "event", "task", or None when the message is no request at all."""
    body = m.body
    timed = any(w.has_day or w.has_time or w.period or w.rrule for w in m.whens)
    recur = any(w.rrule for w in m.whens)
    deadline = any(w.prep.startswith(_DEADLINE) and w.prep != "until" for w in m.whens)
    if re.search(r"\b(?:task|todo|to-do|to\s+do\s+list|todo\s+list)\b", body) or _REMIND.search(body) or \
            _NEED.match(content_low) or _NEED.match(body) or re.match(r"(?:remember|don'?t\s+forget)\s+to\b", body) \
            or (deadline and not _CAL_WORD.search(body)):
        return "task"
    if any("days" in w.kinds for w in m.whens):  # "vacation 10-14 August": it fills those days
        return "event"
    lead = _lead_word(content_low)
    chore = _chore(lead) and not _EVENT_NOUN.match(content_low, len(lead) + 1) and not _EVENT_VERBS.match(content_low)
    if _CAL_WORD.search(body) or _SCHEDULE_LEAD.match(content_low) or (recur and not chore) or \
            re.search(r"\bput\s+(?:that|this|it)\s+in\b", body):
        return "event" if timed else "task"
    if _EVENT_VERBS.match(content_low) and timed:
        return "event"
    if lead == "call" and re.match(r"call\s+with\b", content_low):
        return "event" if timed else "task"
    if chore:
        return "task"
    if _EVENT_NOUN.search(content_low) and timed:
        return "event"
    if re.search(r"\bwith\s+[A-Z]", m.text[m.b:]) and any(w.has_time for w in m.whens):
        return "event"
    if timed or _chore(lead.removesuffix("s")) or _VERBISH.match(content_low):
        return "task"
    return None


_VERBISH = re.compile(r"^(?:re|un|pre)?(?:[a-z]+ate|[a-z]+ify|[a-z]+ise|[a-z]+ize)\b")


def _content(m: _Msg) -> tuple[int, int, str]:
    """Where the thing to do is said: (start, end, context before it for pronouns)."""
    body, b = m.body, m.b
    hi = len(m.text)
    that = _THAT_MARK.search(body)
    if that and that.start() > 0 and (that["what"] or that["in"]):
        before = body[: that.start()]
        clauses = _clauses(before)
        last = clauses[-1] if clauses else before
        lo = b + before.rfind(last)
        return lo, b + that.start(), ""
    hit = _LIST_ADD.match(body)
    if hit:
        return b + hit.start("content"), b + hit.end("content"), ""
    hit = _TASK_MARK.search(body)
    if hit:
        return b + hit.end(), hi, m.text[b: b + hit.start()]
    hit = _REMIND.search(body)
    if hit and hit.start() < 3:
        return b + hit.end(), hi, ""
    hit = _NEED.match(body) or _BARE_ADD.match(body)
    if hit:
        return b + hit.end(), hi, ""
    return b, hi, ""


# "I'm at the dentist tomorrow at 3", "we're in Rome next week", "I'm off on Friday": where the user
# will be, which belongs in the calendar under that place or state, not as a task called "I'm".
_WHEREABOUTS = re.compile(r"(?:i'?m|i\s+am|we'?re|we\s+are|(?:i|we)(?:'ll|\s+will)\s+be)\s+(?:going\s+to\s+be\s+)?"
                          r"(?P<what>(?:at|in)\s+\w|off\b|away\b|out\s+of\s+(?:the\s+)?office\b|busy\b"
                          r"|on\s+(?:holiday|vacation|leave)\b)")


def _whereabouts(m: _Msg) -> Intent | None:
    """An event for where (or how) the user will be at a stated time, or None."""
    hit = _WHEREABOUTS.match(m.body)
    if hit is None or not any(w.has_day or w.has_time for w in m.whens):
        return None
    lo = m.b + hit.start("what")
    event = _create_event(m, lo, len(m.text))
    if event is None:
        return None
    place = event.args.get("location")
    if place and m.low.startswith("at ", lo):  # "at the dentist": the place is what happens
        event.args["title"] = _cap(re.sub(r"^(?:the|my|our)\s+", "", place))
        del event.args["location"]
    elif place and m.low.startswith("in ", lo):
        event.args["title"] = f"In {place}"
    return event


def _create(m: _Msg) -> Intent:
    where = _whereabouts(m)
    if where is not None:
        return where
    lo, hi, context = _content(m)
    _priority(m), _project(m)  # so that their words do not decide the kind
    content = _clean(_piece(m, lo, hi)).lower()
    content = re.sub(r"^(?:add|put|create|set|enter|log|stick|throw\s+in|new)\s+(?!(?:it|that|this)\b)", "", content)
    listed = _LIST_ADD.match(m.body)
    kind = "task" if listed else _decide(m, content)
    if kind is None:
        kind = _decide(m, _strip_lead_times(m, lo, hi))
    m.cut = []
    if kind == "event":
        event = _create_event(m, lo, hi)
        if event is not None:
            return event
        return _create_task(m, lo, hi, "")
    if kind == "task":
        made = _create_task(m, lo, hi, context)
        if listed and listed["shop"] and not _chore(_lead_word(made.args["title"].lower())):
            made.args["title"] = "Buy " + made.args["title"][:1].lower() + made.args["title"][1:]
        return made
    if _general(m.body) or re.search(r"\b(?:joke|poem|story|song|weather)\b", m.body):
        return Intent(None, reply_kind="out_of_scope")
    return Intent(None, reply_kind="unknown")


def _strip_lead_times(m: _Msg, lo: int, hi: int) -> str:
    pos = lo
    for w in m.whens:
        if w.start <= pos + 1 and w.end > pos:
            pos = w.end
    return m.low[pos:hi].lstrip(" ,:-")


def _create_task(m: _Msg, lo: int, hi: int, context: str) -> Intent:
    args: dict[str, Any] = {}
    priority = _priority(m)
    project = _project(m, loose=True)
    remind = _REMIND.search(m.low)
    whens = [w for w in m.whens if not w.rrule and (w.has_day or w.has_time or w.period or w.window)]
    due_when: tp.When | None = None
    remind_when: tp.When | None = None
    if remind:
        after = [w for w in whens if 0 <= w.start - remind.end() <= 2]
        remind_when = after[0] if after else (whens[-1] if whens else None)
        others = [w for w in whens if w is not remind_when]
        due_when = next((w for w in others if w.prep.startswith(_DEADLINE)), None)
    elif whens:
        strong = [w for w in whens if w.prep.startswith((*_DEADLINE, "for"))]
        due_when = strong[0] if strong else whens[-1]
    for w in (due_when, remind_when):
        if w is not None:
            m.cut.extend(w.spans)
    if remind_when is not None:
        value = remind_when.point() if not remind_when.window or remind_when.day else None
        args["remind_at"] = _iso(_remind_value(value, m.now))
        if remind_when.clock() is None and remind_when.moment is None and value is not None:
            args["due"] = _iso(value)
        elif remind_when.prep.startswith(("by", "due", "before")):
            args["due"] = _iso(value)
    if due_when is not None:
        args["due"] = _iso(due_when.point())
    rule = next((w for w in m.whens if w.rrule), None)
    if rule is not None and due_when is None and remind_when is None:
        # tasks have no repeat rule: the first time it falls due, and the rule said in the notes
        first = rule.first()
        args["remind_at" if remind else "due"] = _iso(_remind_value(first, m.now) if remind else first)
        args["notes"] = "Repeats " + _clean(m.text[rule.start:rule.end])
        m.cut.extend(rule.spans)
    if remind:
        m.cut.append(remind.span())
    title = _title(m, lo, hi, context)
    if not title:
        title = _cap(_clean(_piece(m, m.b, len(m.text)))) or "Task"
    args = {"title": title, **{k: v for k, v in args.items() if v is not None}}
    if priority:
        args["priority"] = priority
    if project:
        args["project"] = project
    return Intent("create_task", args)


def _title(m: _Msg, lo: int, hi: int, context: str) -> str:
    raw = _piece(m, lo, hi)
    if context:
        raw = _resolve_pronoun(raw, context)
    raw = re.sub(r"^(?:(?:to|about|that|for)\s+)+", "", _clean(raw), flags=re.I)
    raw = _statement_to_task(raw)
    raw = re.sub(r"^(?:me\s+)?(?:to|about)\s+", "", raw, flags=re.I)
    raw = re.sub(r"\s*\b(?:to|on|onto)\s+(?:my|the)\s+(?:to-?do|todo|task)?\s*list\b", "", raw, flags=re.I)
    raw = re.sub(r"\b(?:as\s+a\s+(?:task|todo|to-do))\b", "", raw, flags=re.I)
    return _cap(_clean(raw))
