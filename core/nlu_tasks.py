"""Understanding changes to existing tasks: done, deleted, moved, renamed, re-prioritised."""

from __future__ import annotations

import re
from typing import Any

from core import timeparse as tp
from core.intents import Intent
from core.nlu_text import _cap, _clauses, _clean, _iso, _Msg, _priority, _remind_value, _strip_det
from core.nlu_words import _EVENT_REF, _IRREGULAR_PAST, _PRONOUN_REF, _QWORD, _past


def _ref(s: str) -> str:
    """The words that name a task: no determiners, no "task"/"one"/"from my list"."""
    s = re.split(r"\s*(?:[,;!?]|\.(?:\s|$)|\s[-—–]+\s|\s(?:because|since|cause|cuz|as\s+i|i'?m|i\s+am|we'?re|"
                 r"i\s+don'?t|it'?s|thanks|please|pls)\b|✅|✔|☑)", s, maxsplit=1, flags=re.I)[0]
    s = re.sub(r"\b(?:from|off|on)\s+(?:my|the)\s+(?:to-?do\s+|todo\s+|task\s+)?(?:list|tasks|todos|to-?dos)\b.*$", "",
               s, flags=re.I)
    s = re.sub(r"\b(?:(?:'s\s+)?(?:task|todo|to-do|to\s+do|item|one|reminder|thing|deadline|due\s+date|entry)s?)\s*$",
               "", s.strip(), flags=re.I)
    s = re.sub(r"(?:\b(?:as\s+)?|\s*[:\-—–]\s*(?:all\s+)?)(?:done|complete|completed|finished|sorted)\s*$", "",
               s.strip(), flags=re.I)
    s = re.sub(r"^(?:the\s+)?(?:task|todo|to-do|reminder|item)s?\s+(?:to\s+|for\s+|about\s+|called\s+)?", "",
               s.strip(), flags=re.I)
    s = _strip_det(s.strip())
    s = re.sub(r"\b(?:today|yesterday|this\s+morning|earlier|finally|already|just\s+now|now|at\s+last)\s*$", "",
               s.strip(), flags=re.I)
    s = re.sub(r"'s$", "", s.strip())
    s = re.sub(r"[^\w\s'&/#.,:+-]", " ", s)  # emoji and other marks
    return _clean(s)


def _from_statement(s: str) -> str:
    """ "I've sent the Acme invoice" -> "Acme invoice": the object of a past-tense statement."""
    s = re.sub(r"^(?:i|we)\s*(?:'ve|have|had)?\s+", "", s.strip(), flags=re.I)
    s = re.sub(r"^(?:just|finally|already|also|now)\s+", "", s, flags=re.I)
    words = s.split(" ", 1)
    if len(words) == 2 and (_past(words[0].lower()) or words[0].lower() in _IRREGULAR_PAST):
        s = words[1]
    s = re.sub(r"^(?:up|off|out|in|back|down|over|through|away|on)\s+", "", s, flags=re.I)
    return _ref(s)


_MARK_DONE = re.compile(r"\b(?:mark|set|flag|put|make)\s+(?P<ref>.+?)\s+(?:as\s+)?(?:done|complete[d]?|finished|"
                        r"closed|resolved|checked(?:\s+off)?)\b", re.I)
_CHECK_OFF = re.compile(r"^(?:check|tick|cross|strike|mark)\s+(?:off\s+(?P<a>.+)|(?P<b>.+?)\s+off\b)", re.I)
_DONE_WITH = re.compile(r"^(?:i'?m\s+|i\s+am\s+|we'?re\s+)?(?:all\s+|finally\s+|just\s+)?(?:done|finished|through)"
                        r"\s+with\s+(?P<ref>.+)", re.I)
_FINISHED = re.compile(r"^(?:(?:i|we)\s*(?:'ve|have)?\s+)?(?:just\s+|finally\s+|already\s+|now\s+)?"
                       r"(?:finished|completed|did|done|ticked\s+off|checked\s+off|crossed\s+off)\s*[:\-—–]?\s+"
                       r"(?P<ref>.+)", re.I)
_DONE_TAIL = re.compile(r"^(?P<ref>.+?)\s*(?:[,:\-—–]\s*(?:all\s+)?(?:done|finished|complete[d]?|sorted)|[✅✔☑]\S*)"
                        r"[\s!.]*$", re.I)
# "water bill done", "insurance renewal sorted": a task's words, then the word that ticks it off (no verb
# before them that makes it a plan: "get the report done" is a task; no time: "report done by friday" too)
_BARE_DONE = re.compile(r"^(?!(?:get|getting|have|having|need|needs|must|should|will|gotta|got\s+to|to|let'?s|i|i'?m|im"
                        r"|we|we'?re|you|it|it'?s|that|that'?s|this|all|almost|nearly|not|never|half|well|so|be)\b)"
                        r"(?P<ref>(?:(?!\b(?:when|if|once|until|till|after|before|because|its|it'?s|me|you)\b)[^,;:!?])+?)"
                        r"(?:\s*[:\-—–])?\s+(?:all\s+|now\s+)?(?:done|sorted|finished|completed)[\s!.]*$", re.I)
_NOW_DUE = re.compile(r"^(?P<ref>.+?)\s+(?:(?:is|are)\s+(?:now|actually|instead)\s+due"
                      r"|(?:'s\s+)?(?:deadline|due\s+date)\s+(?:is\s+(?:now|actually)|(?:has\s+)?(?:moved|changed)\s+to"
                      r"|is\s+moving\s+to)"
                      # news that a deadline can slip: "the report can wait till monday", "isn't due till friday"
                      r"|can\s+(?:wait|slip|be\s+(?:pushed|moved|put\s+off))\s+(?:to|until|till)|(?:is\s+not|isn'?t)\s+due"
                      r"\s+(?:until|till))\b", re.I)
_COMPLETE_CMD = re.compile(r"^(?:complete|close|resolve)\s+(?P<ref>.+?\b(?:task|todo|to-do|item|reminder)s?)\b", re.I)
# "the oven is clean", "water bill's paid" (not "it's done": a pronoun names no task)
_IS_DONE = re.compile(r"^(?P<ref>.+?)(?:\s+(?:is|are|was|were|'s|has\s+been|have\s+been)"
                      r"|(?<=\w)(?<!\bit)(?<!\bthat)(?<!\bthis)(?<!\bthere)(?<!\bwhat)(?<!\bhe)(?<!\bshe)(?<!\bwho)'s)\s+(?:all\s+|now\s+|finally\s+|"
                      r"just\s+|already\s+)?(?:done|finished|complete[d]?|sorted(?:\s+out)?|taken\s+care\s+of|"
                      r"handled|dealt\s+with|out\s+of\s+the\s+way|ticked\s+off|paid|sent(?:\s+off)?|submitted|fixed|"
                      r"renewed|filed|signed|returned|picked\s+up|mailed|posted|delivered|booked|ordered|cleaned|"
                      r"repaired|replaced|emailed|called|bought|collected|finalized|finalised|approved|arranged|wrapped|washed|ironed|"
                      r"mowed|organi[sz]ed|clean|tidy|spotless)\b"
                      r"(?!\s+(?:to|for|on|by))", re.I)
_PAST_LEAD = re.compile(r"^(?:(?:i|we)\s*(?:'ve|have)?\s+)?(?:(?:just|finally|already|now|also)\s+)*"
                        r"(?P<verb>[a-z]+)\s+(?P<rest>\S.*)$", re.I)
_DELETE = re.compile(r"^(?P<verb>delete|remove|scratch|drop(?!\s+(?:off|by|in|round)\b)|trash|ditch|erase|nix|bin"
                     r"|discard|cancel|kill|strike|"
                     r"scrap|axe|get\s+rid\s+of|forget(?:\s+about)?|never\s*mind(?:\s+about)?|cross\s+out|call\s+off)"
                     r"\s+(?P<ref>.+)", re.I)
_TAKE_OFF = re.compile(r"^(?:take|strike)\s+(?P<ref>.+?)\s+off\s+(?:my\s+|the\s+)?(?:list|to-?do|todo|tasks?)", re.I)
_OFF_CALENDAR = re.compile(r"^(?:take|strike|get)\s+(?P<ref>.+?)\s+(?:off|out\s+of)\s+(?:my\s+|the\s+)?"
                           r"(?:calendar|diary|schedule|agenda)\b", re.I)
_NO_NEED = re.compile(r"^(?:i|we)\s+(?:don'?t|do\s+not|no\s+longer)\s+(?:need|have)\s+to\s+(?P<ref>.+?)"
                      r"(?:\s+any\s*more)?\W*$", re.I)
_UPDATE = re.compile(r"^(?P<verb>move|push(?:\s+back)?|postpone|reschedule|shift|bump|delay|defer|bring(?:\s+forward)?"
                     r"|pull(?:\s+forward)?|change|set|make|update|rename|retitle|put\s+off|extend|reopen|re-open"
                     r"|uncomplete|unmark)\s+(?P<rest>.+)$", re.I)
_SHIFT = re.compile(rf"\b(?P<dir>back|out|forward|ahead|earlier|later|up|by)?\s*(?:by\s+)?(?:another\s+)?"
                    rf"{tp.NUM}{tp.UNIT}\b(?:\s+(?P<dir2>later|earlier|back|forward|out|ahead))?", re.I)


def _manage(m: _Msg) -> Intent | None:
    body = m.text[m.b:].rstrip(" ?!.")
    lowb = body.lower()
    if _QWORD.match(lowb) and not lowb.startswith(("check off", "check ")):
        return None
    done_mark = bool(re.search(r"[✅✔☑]|\b(?:mark|tick|check)\s+(?:it|that|this)\s+(?:as\s+)?"
                               r"(?:done|complete[d]?|off)\b|[,\-—–]\s*(?:done|finished|complete)\W*$", m.low))
    ref: str | None = None
    found = _MARK_DONE.search(body)
    if found:
        ref = found["ref"]
        if _strip_det(ref.strip()).lower() in _PRONOUN_REF or ref.strip().lower() in _PRONOUN_REF:
            before = re.sub(r"(?:[\s,;.!-]*\b(?:you\s+can|can\s+you|could\s+you|would\s+you|please|pls|so|and|just|"
                            r"now|go\s+ahead\s+and))+[\s,;.!-]*$", "", body[max(0, found.start() - 160): found.start()],
                            flags=re.I)
            ref = _from_statement(_clauses(before)[-1]) if _clauses(before) else ""
        else:
            ref = _ref(ref)
    elif (hit := _CHECK_OFF.match(body)) is not None:
        ref = _ref(hit["a"] or hit["b"])
    elif (hit := _DONE_WITH.match(body) or _FINISHED.match(body) or _COMPLETE_CMD.match(body)) is not None:
        ref = _ref(hit["ref"])
    elif (hit := _IS_DONE.match(body)) is not None and not m.whens:
        ref = _ref(hit["ref"])
    else:
        past = _PAST_LEAD.match(body)
        taskish = re.search(r"\b(?:remind|need|have\s+to|got\s+to|todo|to-do|task|should|must|will|going\s+to)\b", lowb)
        ahead = any((w.day or m.now.date()) > m.now.date() or w.window for w in m.whens)
        if past and _past(past["verb"].lower()) and (done_mark or not (taskish or ahead)):
            ref = _from_statement(body)
        elif done_mark and (hit := _DONE_TAIL.match(body)) is not None:
            ref = _ref(hit["ref"])
        elif not m.whens and (hit := _BARE_DONE.match(body)) is not None:
            ref = _ref(hit["ref"])
    if ref:
        return Intent("complete_task", {"task_ref": ref})

    hit = _OFF_CALENDAR.match(body)
    if hit:  # "take coffee with Tom off the calendar"
        return Intent("cancel_event", {"event_ref": _ref(hit["ref"])})
    hit = _TAKE_OFF.match(body) or _NO_NEED.match(body)
    if hit:
        return Intent("delete_task", {"task_ref": _ref(hit["ref"])})
    hit = _DELETE.match(body)
    if hit:
        ref = _ref(hit["ref"])
        verb = hit["verb"].lower()
        if not ref or ref.lower() in _PRONOUN_REF:
            return Intent(None, reply_kind="ack") if verb.startswith(("never", "forget")) else None
        raw = hit["ref"].lower()
        # a day said as a possessive names the item ("nix saturday's football"), it is no date to do it by
        future = any((w.day or m.now.date()) > m.now.date() for w in m.whens
                     if not re.match(r"'s\b", m.text[w.end:w.end + 3]))
        if future and not _EVENT_REF.search(raw):
            return None  # "cancel the gym membership on April 1" is a thing to do
        if _EVENT_REF.search(raw) and (verb in ("cancel", "call off") or "calendar" in raw) \
                and not re.search(r"\b(?:task|todo|to-do|reminder)\b", raw):
            return Intent("cancel_event", {"event_ref": re.sub(r"\s*\b(?:from|on|in)\s+(?:my|the)\s+calendar\b", "",
                                                               ref)})
        return Intent("delete_task", {"task_ref": ref})
    return _update(m, body)


def _update(m: _Msg, body: str) -> Intent | None:
    hit = _UPDATE.match(body)
    now_due = _NOW_DUE.match(body)
    if hit:
        verb, rest = hit["verb"].lower(), hit["rest"]
        base = m.b + hit.start("rest")
    elif now_due:
        verb, rest = "move", body[now_due.start("ref"):]
        base = m.b
    else:
        return None
    args: dict[str, Any] = {}
    if verb in ("rename", "retitle") or re.match(r".*\b(?:title|name)\b.*\bto\b", rest, re.I):
        named = re.match(r"(?:the\s+)?(?:title\s+of\s+|name\s+of\s+)?(?P<ref>.+?)(?:'s\s+(?:title|name))?"
                         r"\s+(?:to|as|into)\s+(?P<title>.+)$", rest, re.I)
        if named:
            title = m.text[base + named.start("title"): base + named.end("title")].strip(" \"'")
            return Intent("update_task", {"task_ref": _ref(named["ref"]), "title": _cap(title)})
    if verb in ("reopen", "re-open", "uncomplete", "unmark"):
        return Intent("update_task", {"task_ref": _ref(rest), "status": "open"})
    about_priority = bool(re.search(r"\bpriority\b", rest, re.I))
    lead = re.match(r"(?:the\s+)?(?:priority|due\s+date|deadline|date)\s+(?:of|for|on)\s+", rest, re.I)
    if lead:
        rest, base = rest[lead.end():], base + lead.end()
    stops = [len(rest)]
    whens = m.when_after(base)
    when = next((w for w in whens if not w.rrule and (w.has_day or w.has_time or w.period)), None)
    if when is not None:
        stops.append(when.start - base)
    pri = _priority(m)
    if pri:
        args["priority"] = pri
        stops.extend(s - base for s, _ in m.cut if s >= base)
    else:
        level = re.search(r"\b(?:to|as)\s+(?P<p>low|medium|normal|high|urgent|top)(?:\s+priority)?\s*$", rest, re.I)
        if level and (about_priority or level[0].lower().endswith("priority")):
            word = level["p"].lower()
            args["priority"] = {"normal": "medium", "urgent": "high", "top": "high"}.get(word, word)
            stops.append(level.start())
    project = re.search(r"\b(?:to|into|under|in)\s+(?:the\s+)?(?:project\s+(?P<a>[\w-]+)|(?P<b>[\w-]+)\s+project)\b",
                        rest, re.I)
    if project:
        raw = m.text[base + project.start(): base + project.end()]
        name = re.sub(r"^(?:to|into|under|in)\s+(?:the\s+)?|\s*\bproject\b\s*", "", raw, flags=re.I).strip()
        args["project"] = name if any(c.isupper() for c in name) else _cap(name)
        stops.append(project.start())
    shift = _SHIFT.search(rest)
    if shift and when is None:
        n = tp.amount(shift["n"], shift["nw"])
        unit = tp.unit_name(shift["u"])
        sign = -1 if (shift["dir"] or shift["dir2"] or "").lower() in ("forward", "ahead", "earlier", "up") \
            or verb.startswith(("bring", "pull")) else 1
        if unit == "weeks":
            unit, n = "days", n * 7
        elif unit == "hours" and n != int(n):
            unit, n = "minutes", n * 60
        args["shift"] = {unit: sign * int(round(n))}
        stops.append(shift.start())
    word = re.search(r"(?:^|\s)(?:can\s+(?:wait|slip|be)|is\s+not\s+due|isn'?t\s+due|"
                     r"to|back|forward|out|up|until|till|by|and|due|deadline|'s\s+deadline|due\s+date|"
                     r"high|low|medium|priority)\b", rest, re.I)
    if word:
        stops.append(word.start())
    ref = _ref(rest[: min(stops)])
    if when is not None and verb in ("update", "change", "set", "make") and not re.search(
            r"\b(?:to|due|deadline|due\s+date|until|till)\s*$", rest[: when.start - base], re.I) \
            and not when.prep.startswith(("due", "until", "till")):
        return None  # "update the docs by thursday" is a new task
    if when is not None:
        value = when.point()
        is_event = bool(_EVENT_REF.search(ref.lower())) and when.has_time
        if is_event:
            args = {"event_ref": ref}
            span = when.range() if when.has_time else None
            args["start"] = _iso(span[0] if span else value)
            if span and when.until is not None:
                args["end"] = _iso(span[1])
            return Intent("update_event", args)
        if re.search(r"\bremind(?:er)?\b", body, re.I):
            args["remind_at"] = _iso(_remind_value(value, m.now))
        else:
            args["due"] = _iso(value)
    if not args or not ref:
        return None
    args["task_ref"] = ref
    return Intent("update_task", args)
