"""Understanding questions: about tasks, the calendar, free time, or what the user told us."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from core import timeparse as tp
from core.intents import Intent
from core.nlu_memory import _noun_question, _query
from core.nlu_text import _cap, _chore, _iso, _lead_word, _Msg, _primary, _project
from core.nlu_words import _QWORD

_TASKS_Q = re.compile(r"\b(?:tasks?|todos?|to-?dos?|to\s+do\s+list|overdue|past\s+due|due|on\s+my\s+plate|my\s+list"
                      r"|reminders?|(?:have|need|got)\s+to\s+do|should\s+i\s+do|left\s+to\s+do|to\s+do\s+(?:today|"
                      r"tomorrow|this|next)|what\s+do\s+i\s+(?:still\s+)?(?:have|need)\s+to|project|what'?s\s+left"
                      r"|(?:have|did)\s+i\s+(?:finished|completed|done|finish|complete|do|ticked\s+off))\b")
# What the user has to deal with, said of a day or a week: that stretch's agenda, which shows the tasks due
# in it beside the events ("what's on my plate this week"); said of no time, it is the to-do list.
_PLATE = re.compile(r"\b(?:on\s+my\s+(?:plate|radar|slate)|on\s+the\s+cards|in\s+store)\b")
_AVAIL_Q = re.compile(r"\b(?:free|available|availability|open|clear|busy|gaps?|slots?|openings?|booked\s+up"
                      r"|do\s+i\s+have\s+time|have\s+time|any\s+time|squeeze|fit\s+(?:in|it)|conflicts?|clash|room\s+for|is\s+there\s+time|make\s+it)\b")
_EVENTS_Q = re.compile(r"\b(?:calendar|schedule|agenda|diary|meetings|meeting|appointments?|events?|plans|planned|"
                       r"happening|going\s+on|am\s+i\s+doing|do\s+i\s+have\s+(?:anything|something|stuff|much)|"
                       r"what(?:'s|\s+is)\s+(?:on|up|next)|what\s+do\s+i\s+have\b|anything\s+(?:on|planned|"
                       r"scheduled|booked)|what\s+have\s+i\s+got|look(?:s|ing)?\s+like|coming\s+up|upcoming"
                       r"|what'?s\s+next)\b")
_GENERAL_Q = re.compile(
    r"\b(?:tallest|highest|biggest|largest|smallest|longest|deepest|fastest|oldest|capital\s+of|population|"
    r"president|prime\s+minister|who\s+(?:invented|discovered|wrote|painted|won|sang|directed)|how\s+many|how\s+far|"
    r"how\s+tall|how\s+big|weather|forecast|temperature|meaning\s+of\s+(?:life|the\s+word)|define|definition|"
    r"translate|recipe|joke|poem|news|stock|price\s+of|exchange\s+rate|convert|square\s+root|calculate|in\s+the\s+world|"
    r"on\s+earth|planet|universe|history\s+of|what\s+year|speed\s+of|score|who\s+is\s+the(?!\s+[\w-]+'s\b)|what\s+time\s+is\s+it|"
    r"what\s+day\s+is\s+it|what'?s\s+the\s+date|how\s+do\s+(?:you|i)\s+(?:make|cook|say|spell)|why\s+is\s+the|"
    r"ocean|mountain|river|country|continent|africa|europe|asia|america|australia|antarctica)\b")
# "what time does the pool open?": a place's hours, which the user told us, not the user's free time
_THING_OPENS = re.compile(r"\b(?:does|do|is|are)\s+(?:the|that|this)\s+(?:[\w'-]+\s+){0,3}?(?:open|close)\b")
_PERSONAL = re.compile(r"\b(?:my|mine|our|ours|i|i'm|i've|i'd|me|we|us|myself|again)\b")


def _question(m: _Msg) -> Intent | None:
    body = m.body
    if _REQUEST_IN.search(body):
        return None
    if re.match(r"remind\s+me\s+(?:what|when|where|who|which|how|of)\b", body):
        query = _query(m)
        return Intent("search_memory", {"query": query}) if query else None
    lead = _lead_word(body)
    command = (_chore(lead) or lead in _COMMANDS) and not _QWORD.match(body)
    asking = (body.rstrip().endswith("?") and not command) or bool(_QWORD.match(body)) or bool(
        re.match(r"(?:anything|something|what|(?:my\s+|the\s+|all\s+|open\s+|today'?s\s+)*(?:tasks|todos|to-?dos"
                 r"|events|meetings|appointments)|(?:my|the|today'?s|tomorrow'?s)\s+(?:schedule|calendar|agenda|"
                 r"to-?do\s+list|todo\s+list|to-?dos?))\b", body))
    if not asking:
        return _noun_question(m)
    if re.match(r"when(?:'s|\s+is|\s+are)\s+[A-Z][\w'-]*(?:\s+and\s+[A-Z][\w'-]*)?\s+due\b", m.text[m.b:]) or \
            re.match(r"(?:what|when|where|how|why|which\s+\w+)\s+(?:does|did|do|can|can't|will|would)\s+(?!I\b)[A-Z]",
                     m.text[m.b:]):
        # "when is Annika due?", "what does Maxine want before meetings?": about a person, not the user's lists
        return Intent("search_memory", {"query": _query(m)})
    if _about_what_was_said(m) or (_WHO_Q.match(body) and not _about_my_time(m)):
        if _general(body):
            return Intent(None, reply_kind="out_of_scope")
        query = _query(m)
        return Intent("search_memory", {"query": query}) if query else Intent(None, reply_kind="unknown")
    if _PLATE.search(body) and _primary(m) is not None:  # "what's on my plate tomorrow": the day, tasks and events
        return _list_events(m)
    if _TASKS_Q.search(body) and not re.search(r"\bcalendar\b", body):
        return _list_tasks(m)
    if _AVAIL_Q.search(body) and not re.search(r"\b(?:tasks?|todos?)\b", body) and not _THING_OPENS.search(body):
        return _availability(m)
    if _EVENTS_Q.search(body):
        return _list_events(m)
    if _general(body):
        return Intent(None, reply_kind="out_of_scope")
    query = _query(m)
    return Intent("search_memory", {"query": query}) if query else Intent(None, reply_kind="unknown")


# "what did we decide about …", "anything about Brightwell?": a question about what the user told us
_ABOUT_Q = re.compile(r"\b(?:know|remember|recall|say|said|tell|told|mention(?:ed)?|decide[ds]?|agree[ds]?"
                      r"|discuss(?:ed)?|note[ds]?|saved|stored|settled?|wrote|learn(?:ed|t)?|hear[d]?|anything"
                      r"|something|everything)\s+(?:(?:you|me|i|we|down|else|so\s+far|on|upon)\s+)*"
                      r"(?:about|regarding|concerning|re)\s+\S")
_LISTING = re.compile(r"\b(?:tasks?|todos?|to-?dos?|to-?do\s+list|list|calendar|agenda|diary|overdue)\b")
_WHO_Q = re.compile(r"^(?:who|who's|whom|whose)\b")
_MY_TIME = re.compile(r"\b(?:am\s+i|do\s+i|have\s+i|i'?m|i\s+am|me|my)\b.*\b(?:meet|meeting|meetings|seeing|see"
                      r"|calendar|schedule|appointments?|call|lunch|dinner|coffee|invited|attending|coming)\b")


def _about_what_was_said(m: _Msg) -> bool:
    return bool(_ABOUT_Q.search(m.body)) and not _LISTING.search(m.body)


def _about_my_time(m: _Msg) -> bool:
    """A "who" question about the user's own calendar ("who am I meeting tomorrow?"), not about a person."""
    return any(w.has_day or w.has_time or w.period or w.window for w in m.whens) or bool(_MY_TIME.search(m.body))


_COMMANDS = {"add", "put", "schedule", "set", "create", "book", "remind", "move", "make", "mark", "delete", "remove",
             "change", "cancel", "note", "remember", "pencil", "block", "save", "push", "postpone", "rename",
             "reschedule", "update", "tick", "cross", "plan", "arrange", "organise", "organize", "ping", "nudge"}
_REQUEST_IN = re.compile(r"\b(?:can|could|would|will)\s+(?:you|u)\s+(?:please\s+)?(?:add|put|schedule|set|create|book"
                         r"|remind|move|make|mark|delete|remove|change|cancel|note|remember|pencil|block|save)\b")


def _general(body: str) -> bool:
    """A question about the world, not about the user's own life."""
    # sums, but not a code or a number said in parts ("5-0-5-1", "1-8832971")
    if re.search(r"(?<![\d-])\d+\s*(?:[-+*/x×÷^]|times|plus|minus|divided\s+by|to\s+the\s+power)\s*\d+(?![\d-])", body):
        return True
    mine = re.sub(r"\b(?:tell|give|show)\s+me\b|\b(?:do|can|could)\s+you\s+(?:know|tell\s+me)\b", " ", body)
    return bool(_GENERAL_Q.search(body)) and not _PERSONAL.search(mine)



def _period_in(m: _Msg) -> str | None:
    hit = re.search(r"\b(morning|afternoon|evening|tonight|night|lunch(?:time)?)\b", m.body)
    if not hit:
        return None
    word = hit[1]
    return "night" if word == "tonight" else "lunch" if word.startswith("lunch") else word


def _window(m: _Msg, default_days: int = 1) -> tuple[dt.datetime, dt.datetime]:
    tz, today = m.now.tzinfo, m.now.date()
    when = _primary(m)
    span = when.range() if when is not None else None
    period = _period_in(m)
    if when is None or (not when.has_time and not when.period and period):
        day = (when.day if when is not None else None) or today
        if when is not None and when.window and not when.day:
            day = when.window[0]
        if period == "lunch":
            return tp.at(day, dt.time(12), tz), tp.at(day, dt.time(14), tz)
        if period:
            lo, hi = tp.PERIOD_SPAN[period]
            return tp.at(day, dt.time(lo), tz), tp.at(day + dt.timedelta(days=hi // 24), dt.time(hi % 24), tz)
    if span is not None:
        return span
    return tp.day_start(today, tz), tp.day_start(today + dt.timedelta(days=default_days), tz)


def _availability(m: _Msg) -> Intent:
    start, end = _window(m)
    return Intent("check_availability", {"start": _iso(start), "end": _iso(end)})


def _list_events(m: _Msg) -> Intent:
    when = _primary(m)
    month = re.search(r"\b(?:for|of|over|during|through(?:out)?)\s+(?:the\s+month\s+of\s+)?(?P<mon>[a-z]+)\b", m.body)
    if when is None and month and month["mon"] in tp.MONTH:  # "list my events for december": that month
        said = tp.find(f"in {month['mon']}", m.now)
        if said and said[0].window:
            lo, hi = said[0].window
            return Intent("list_events", {"start": _iso(tp.day_start(lo, m.now.tzinfo)),
                                          "end": _iso(tp.day_start(hi, m.now.tzinfo))})
    days = 1 if when is not None or re.search(r"\btoday\b|\bleft\b", m.body) else 7
    start, end = _window(m, days)
    return Intent("list_events", {"start": _iso(start), "end": _iso(end)})


def _list_tasks(m: _Msg) -> Intent:
    body = m.body
    args: dict[str, Any] = {"status": "open"}
    if re.search(r"\b(?:did\s+i\s+(?:finish|complete|do)|(?:done|completed|finished|ticked\s+off|checked\s+off)"
                 r"(?:\s+(?:tasks|todos|items))?\b)", body) and not re.search(r"\bnot\s+(?:done|finished)", body):
        args["status"] = "done"
    if re.search(r"\b(?:all|every)\s+(?:of\s+)?(?:my\s+)?(?:tasks|todos|to-?dos)\s+(?:including|incl|even)\b"
                 r"|\bdone\s+(?:and|or)\s+(?:open|not)\b|\bopen\s+(?:and|or)\s+(?:done|closed)", body):
        args["status"] = "all"
    project = _project(m, m.b)
    if project is None:
        named = re.search(r"\b(?:tasks|todos|to-?dos|list|items)\s+(?:for|in|on|under)\s+(?:the\s+)?"
                          r"(?P<name>[A-Z][\w-]*)", m.text[m.b:])
        if named:
            project = named["name"]
    if project is None:
        mine = re.search(r"\b(?:my|the)\s+(?P<name>[\w-]+)\s+(?:tasks|todos|to-?dos|list)\b", m.text[m.b:], re.I)
        if mine and mine["name"].lower() not in {"open", "done", "completed", "overdue", "urgent", "all", "current",
                                                 "pending", "remaining", "outstanding", "today's", "upcoming",
                                                 "important", "other", "to-do", "todo", "to", "daily", "weekly",
                                                 "new", "old", "finished", "unfinished", "priority", "high", "low"}:
            project = _cap(mine["name"]) if mine["name"].islower() else mine["name"]
    if project:
        args["project"] = project
    if re.search(r"\b(?:overdue|past\s+due|late|missed|behind)\b", body):
        args["due_before"] = _iso(m.now)
    else:
        when = _primary(m)
        span = when.range() if when is not None else None
        today_only = span is not None and span[0].date() == m.now.date() and span[1] - span[0] <= dt.timedelta(days=1)
        if span is not None and not (today_only and not re.search(r"\bdue\b", body)):
            args["due_before"] = _iso(span[1])
            if span[0].date() > m.now.date():
                args["due_after"] = _iso(span[0])
    about = re.search(r"\b(?:about|regarding|mentioning|related\s+to|containing|involving)\s+(?P<q>.+?)\W*$", body)
    if about:
        args["query"] = about["q"]
    return Intent("list_tasks", args)
