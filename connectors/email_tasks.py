"""Tasks and proposed meetings from an email, and `pixie email ingest`.

An email's text is data, never instructions: it can only propose tasks and events for its
reader, and a paragraph that talks to an AI ("ignore previous instructions", "system note", …)
is dropped whole. What is asked of the reader is found sentence by sentence — "please …",
"could you …", "I need you to …", a list of things to do — and each request goes through the
same understanding as a chat message (core.nlu), its dates read against the email's Date header
in the user's zone. A proposal to meet at a given time ("could we meet on Thursday at 15:00")
becomes a proposed event, not a task. Quoted replies, newsletters and "no action needed" mail
add nothing.
"""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
import email.utils
import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.dialects.postgresql import insert

from connectors.mail import BadEmail, Mail, instructs_ai, parse_email
from core import clock
from core.nlu import parse_message
from db.models import Inbound

PLATFORM = "email"  # Inbound rows: one per (user, Message-ID, content), so an email is handled once
MAX_PROPOSALS = 5  # tasks and events one mail may make; past that the rest are summarised in one task

_INJECTION = re.compile(
    r"ignore (?:all |any )?(?:the |my |your )?(?:previous|prior|above|earlier|other) (?:instructions|messages|rules)"
    r"|system (?:note|prompt|message|instruction)|notes? for (?:ai|assistants?|bots?)|\bai (?:assistant|agent)s?\b"
    r"|^\s*assistant\s*:|do not (?:mention|tell|reveal|inform)|pre-?authori[sz]ed|\[\[|\]\]", re.I | re.M)
_NO_ACTION = re.compile(r"\bno (?:action|reply|response) (?:is )?(?:needed|required|necessary)\b"
                        r"|\bnothing (?:is )?needed from you\b|\bout of (?:the )?office\b|\bautomatic reply\b"
                        r"|\bjust (?:archiving|filing|fyi)\b|\bnothing (?:for you )?to do\b", re.I)
_QUOTE_START = re.compile(r"^\s*(?:On .{6,200}wrote:|-{2,}\s*Original Message\s*-{2,}|From:\s.+|>.*)$",
                          re.I | re.M)
_FORWARD_MARK = re.compile(r"^\s*-{2,}\s*(?:Forwarded message|Original Message)\s*-{2,}\s*$", re.I)
_HEADER_LINE = re.compile(r"^\s*(?:From|Sent|To|Cc|Date|Subject):\s", re.I)
_SIGN_OFF = re.compile(r"^\s*(?:thanks|thank you|cheers|best|regards|kind regards|best regards|many thanks|"
                       r"all the best|warm regards|sincerely|valeu|obrigad[oa].*|danke.*|--)\W*$", re.I)
_ITEM = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)]|\(?[a-h][.)])\s+(.+)$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9@])")

_ASK = re.compile(r"\b(?:(?:could|can|would|will)\s+you|(?:if|chance|whether)\s+you\s+(?:could|can|would|might))"
                  r"\s+(?:please\s+|kindly\s+|also\s+|possibly\s+|perhaps\s+|just\s+|quickly\s+)*"
                  r"(?:be able to\s+)?(.+)"
                  r"|\bare you able to\s+(.+)", re.I)
_MIND = re.compile(r"\b(?:would|do) you mind\s+(?:also\s+)?(\w+ing)\b", re.I)  # "would you mind sending …"
_PLEASE = re.compile(r"\b(?:please|pls|kindly)\s+(?:also\s+)?(.+)", re.I)
_NEED = re.compile(r"\b(?:i need you to|i'd like you to|i would like you to|you need to|you'll need to|you will need to"
                   r"|you must|remember to|don't forget to|do not forget to|make sure (?:to|you))\s+(.+)", re.I)
_MEET = re.compile(r"\b(?:could|can|shall|should)\s+we\s+(meet|(?:have|do|set up|schedule)\s+a\s+(?:call|meeting|chat)"
                   r"|grab\s+.+|catch up|sync|talk)\b(.*)|\blet'?s\s+(meet|catch up|sync)\b(.*)"
                   r"|\b(?:would|will) you be (?:up for|free for|around for)\s+(.+)", re.I)
# "are you free on Tuesday at 2pm for a call …", "how about lunch on Thursday at 12:30 …"
_FREE = re.compile(r"\bare you (?:free|around|available)\s+((?:on|at|this|next|tomorrow)\b.+)", re.I)
_HOW_ABOUT = re.compile(r"\b(?:how|what) about\s+((?:a\s+)?(?:lunch|coffee|breakfast|dinner|drinks?|call|chat"
                        r"|catch-up)\b.+)", re.I)
# a deadline stated about a thing: "the report is due Friday", "slides needed by Monday",
# "your application must be submitted by 15 April", "the registration deadline is Friday"
_THING_DUE = re.compile(
    r"^(?:(?:just )?(?:a )?(?:quick )?(?:heads[- ]up|reminder|note)(?: that)?[:,]?\s+|fyi[:,]?\s+)?"
    r"(?:the |your |our )?(?P<thing>[\w'-]+(?:\s+(?:[#$£€]?[\w'-]+(?:[.,/][\w-]+)*)){0,6}?)\s+"
    r"(?:(?:is|are)\s+due|(?:is\s+|are\s+)?needed|(?:must|has to|have to|needs to|need to|should)\s+be\s+(?P<pp>\w+)"
    r"|deadline\s+is)\s+(?P<when>(?:on\s+|by\s+|before\s+|no later than\s+)?.+)$", re.I)
_PARTICIPLE = {"submitted": "submit", "returned": "return", "signed": "sign", "paid": "pay", "sent": "send",
               "completed": "complete", "filed": "file", "approved": "approve", "uploaded": "upload",
               "booked": "book", "renewed": "renew", "finished": "finish", "received": "send"}
# where else a date for an ask may be said: "our deadline for it is Friday", "the call for papers closes on 27 March"
_DATE_SAID = re.compile(r"\b(?:deadline|cut-?off)\b[^.;!?]*?\b(?:is|falls on)\s+([^.;!?]+)"
                        r"|\b(?:closes|is due|are due|expires|ends)\s+(?:on\s+)?([^.;!?]+)", re.I)
_PRONOUN = frozenset("it this that they these those them".split())
# "Bob, can you …", "Maria - please …", "@Kevin can you …", "- Priya: circulate the minutes"
_VOCATIVE = re.compile(r"^\s*(?:and\s+|also\s+)?(@?)([A-Z][\w'-]*)(?:\s*[,:]\s*|\s+[-–—]\s+"
                       r"|(?<=[\w'-])(?=\s+(?:please|pls|can|could|would|will)\b)\s*)(?=\S)")
_NOT_NAMES = frozenset("""hi hey hello dear morning evening sure yes no ok okay also and so then oh well great thanks
thank cheers again actually finally lastly first second third quick one btw ps fyi note reminder update please
mate team all everyone everybody guys folks love both friends it i we you they he she this that these those there
what who how when where why which someone somebody anyone anybody nobody""".split())
_GREETING = re.compile(r"^\s*(?:hi|hey|hello|dear|morning|good morning|hiya|hallo|oi|ol[aá]|bonjour)\s+"
                       r"(?:(?:mr|mrs|ms|miss|dr)\.?\s+)?([A-Z][\w'-]+)", re.I)
_CONDITIONAL = re.compile(r"^\s*(?:if|for (?:urgent|any|further|more)|in case|should you|unless)\b", re.I)
_BOILERPLATE = re.compile(r"\b(?:intended recipient|confidential|consider the environment|sent from my|"
                          r"do not reply to this|unsubscribe)\b", re.I)
# "Need the Q1 numbers by EOD tomorrow." ("I need your comments by Thursday" dates the ask before it)
_CURT_NEED = re.compile(r"^(?:i |we )?need (?!you\b|to\b)((?:the|a|an|some)\s+.+)", re.I)
_TRAILING_PLEASE = re.compile(r"[\s,]+(?:pls|please|plz|thanks|thx|ta)\W*$", re.I)
_NOT_A_TASK = re.compile(r"^(?:let (?:me|us) know|feel free|don't hesitate|do not hesitate|reach out|contact us|"
                         r"find (?:attached|enclosed|below)|see (?:below|attached)|note that|note\b|be aware|"
                         r"ignore|disregard|keep (?:track|an eye)|remember this|forgive|excuse|bear with|"
                         r"confirm receipt)", re.I)
_META = re.compile(r"\b(?:this|that) (?:one|email|mail|message|thread)\b", re.I)
# What a forwarder asks of Pixie about the mail itself ("can you add this?", "remind me about it",
# "put this in my calendar"): its only object is the mail, so it is no task of its own — the
# forwarded text is read for what to do.
_HANDLING = frozenset("""add put remind me about of a an reminder reminders task tasks todo to-do list track keep save
note notes calendar diary agenda schedule my the to for on in onto into with this it that these those them one below
above email mail message thread too as well also please pls just handle deal sort out set up""".split())
_ABOUT_MAIL = frozenset("this it that these those them".split())
_PURPOSE = re.compile(r"(?:\s+[-–—]\s+|\s*;\s*|,?\s+so (?:that )?(?:i|we|you|they|he|she|it)\b"
                      r"|,?\s+as (?:the|we|i|they|payroll)\b|,?\s+because\b|,?\s+since\b|,?\s+otherwise\b"
                      r"|,?\s+before (?:we|i|they)\b"
                      r"|,?\s+whenever\b|,?\s+if (?:you|possible)\b|\?).*$", re.I)
_EOD = re.compile(r"\b(?:eod|cob|end of (?:the )?(?:business )?day|close of business)\b", re.I)
_DEADLINE = re.compile(r"\b(?:by|before|no later than|until)\b\s+[^.;!?]+", re.I)
_YOUR = re.compile(r"\byour\s+([A-Za-z][\w'-]*(?:\s+(?!(?:is|are|was|were|to|for|in|on|at|by|with|and|has|have|"
                   r"will|from|that|which|so|as|if|or)\b)[A-Za-z][\w'-]*){0,5})")
_IT = re.compile(r"\b(?:it|this|them)\b(?!\s+(?:week|weekend|month|morning|afternoon|evening|year|quarter|"
                 r"monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b)", re.I)
# Verbs a list item starts with when it is something to do ("- update the pricing slide").
_VERBS = frozenset("""add approve arrange ask book bring buy call cancel change check choose clean collect complete
confirm contact create deploy draft email file fill finish fix follow forward get give invite look make move
order organise organize pay pick plan post prepare print read register remind remove renew reply request
reschedule respond return review revise schedule send set share sign submit take tell test update upload
write reserve remind finalise finalize circulate chase draft drop collect sort arrange
organise renew proofread translate double-check pull put""".split())
_IMPERATIVE = _VERBS - {"get", "take", "look", "make", "read", "check", "follow", "give", "set", "test", "plan"}


@dataclass(frozen=True)
class Proposal:
    """A task or a proposed event found in an email (tool name and its arguments, as core.nlu gives them)."""

    tool: str  # create_task | create_event
    args: dict[str, Any]


def _region(mail: Mail) -> str:
    """The part of the text that speaks to the reader: a reply without what it quotes; a forward
    with the forwarded mail's headers dropped (its text is what the user wants handled)."""
    forward = re.match(r"^\s*(?:fwd?|fw)\s*:", mail.subject, re.I) is not None \
        or "---------- Forwarded message" in mail.text
    if not forward:
        m = _QUOTE_START.search(mail.text)
        return mail.text[:m.start()] if m else mail.text
    kept = [ln for ln in mail.text.replace("\r\n", "\n").split("\n")
            if not _FORWARD_MARK.match(ln) and not _HEADER_LINE.match(ln) and not ln.lstrip().startswith(">")]
    return "\n".join(kept)


def _paragraphs(text: str) -> list[list[str]]:
    """Paragraphs as lists of sentences; a list item is a sentence of its own (marked with a tab)."""
    out: list[list[str]] = []
    for block in re.split(r"\n\s*\n", text):
        sentences: list[str] = []
        run: list[str] = []
        for line in block.split("\n"):
            if _SIGN_OFF.match(line):
                break
            item = _ITEM.match(line)
            if item:
                if run:
                    sentences += _SENTENCE_END.split(" ".join(run))
                    run = []
                sentences.append("\t" + item.group(1).strip())
            elif line.strip():
                if sentences and sentences[-1].startswith("\t") and not run and line.startswith((" ", "\t")):
                    sentences[-1] += " " + line.strip()  # a wrapped list item
                else:
                    run.append(line.strip())
        if run:
            sentences += _SENTENCE_END.split(" ".join(run))
        if sentences:
            out.append([s for s in sentences if s.strip()])
    return out


def _base(gerund: str) -> str:
    """ "sending" → "send", "updating" → "update", "confirming" → "confirm" (for "would you mind …ing")."""
    stem = gerund[:-3].lower()
    for cand in (stem, stem + "e", stem[:-1]):
        if cand in _VERBS:
            return cand
    return stem + "e" if re.search(r"[^aeiou][aeiou][cdgkstvz]$", stem) else stem


def _addressee(text: str, reader: frozenset[str]) -> tuple[str, bool]:
    """The sentence without a leading "Bob, " / "@Maria " / "Priya: ", and whether it is for the reader."""
    m = _VOCATIVE.match(text)
    if m is None or (not m.group(1) and m.group(2).lower() in _NOT_NAMES):
        return text, True
    if m.group(2).lower() in _NOT_NAMES or m.group(2).lower() in reader:
        return text[m.end():], True
    if not m.group(1) and m.group(2).lower() in _VERBS:  # "Send: …" is no name
        return text, True
    return text[m.end():], False


def _request(sentence: str, reader: frozenset[str] = frozenset()) -> tuple[str, bool] | None:
    """What a sentence asks the reader to do, as a chat-style command, and whether it proposes a
    meeting; None when it asks nothing (or asks someone else in the thread)."""
    text, mine = _addressee(re.sub(r"^\W+", "", sentence.strip()) if sentence.startswith("\t") else sentence.strip(),
                            reader)
    if not mine:
        return None
    if sentence.startswith("\t"):  # a list item that starts with a verb
        body = re.sub(r"^\W+", "", text)
        if body.split(" ", 1)[0].lower() in _VERBS:
            return body, False
        text = body  # "2. Could you book the room?": asked as any sentence is
    if _CONDITIONAL.match(text):  # "if you have questions, please …", "for urgent matters, contact …"
        return None
    meet = _MEET.search(text)
    if meet:
        verb, rest = meet.group(1) or meet.group(3), meet.group(2) or meet.group(4)
        if verb is not None:
            return f"meet {rest or ''}".strip() if verb.lower() in ("meet", "catch up", "sync", "talk") \
                else f"{verb} {rest or ''}".strip(), True
        return (meet.group(5) or "").strip(), True
    free = _FREE.search(text)
    if free:
        return f"meet {free.group(1)}", True
    about = _HOW_ABOUT.search(text)
    if about:
        return about.group(1), True
    mind = _MIND.search(text)
    if mind:
        return _base(mind.group(1)) + text[mind.end():], False
    for pattern in (_NEED, _ASK, _PLEASE):
        m = pattern.search(text)
        if m:
            return next(g for g in m.groups() if g is not None).strip(), False
    curt = _CURT_NEED.match(text)
    if curt and (_DEADLINE.search(curt.group(1)) or "from you" in curt.group(1)):
        return "send " + curt.group(1), False  # "Need the Q1 numbers by EOD tomorrow."
    bare = _TRAILING_PLEASE.sub("", text)
    if bare != text and bare.split(" ", 1)[0].lower() in _IMPERATIVE:
        return bare, False  # "Send me the deck pls."
    return None


def _first_clause(text: str) -> str:
    return re.split(r"[,;]|\s[-–—]\s", text)[0].strip()


def _thing_due(sentence: str) -> str | None:
    """A deadline said about a thing ("the report is due Friday") as a command; None otherwise."""
    m = _THING_DUE.match(sentence.strip().rstrip(".!"))
    if m is None or m.group("thing").lower().split()[0] in _PRONOUN | {"he", "she", "i", "we", "you"}:
        return None
    thing, when = m.group("thing"), _first_clause(m.group("when"))
    if not re.match(r"(?:on|by|before|no later than)\b", when, re.I):
        when = "by " + when
    pp = (m.group("pp") or "").lower()
    if pp:
        verb = _PARTICIPLE.get(pp)
        if verb is None:
            return None
        owner = "your" if re.search(r"\byour\b", sentence[:m.start("thing")], re.I) else "the"
        return f"{verb} {owner} {thing} {when}"
    return f"{thing} due {when}"


def _date_nearby(para: list[str], i: int, reader: frozenset[str]) -> str | None:
    """A deadline said next to an ask that has none: "… the lease? Our deadline for it is Friday 13 March"."""
    for j in (i + 1, i - 1):
        if 0 <= j < len(para) and _request(para[j], reader) is None:
            said = _DATE_SAID.search(para[j])
            if said:
                return "by " + _first_clause(said.group(1) or said.group(2))
            if j == i + 1:
                later = _DEADLINE.search(para[j])  # "I need your comments by Thursday"
                if later:
                    return _clean(_first_clause(later.group(0)))
    return None


def _handles_the_mail(command: str) -> bool:
    """Whether a request only says what to do with the mail itself ("add this", "add a reminder for this")."""
    words = re.findall(r"[\w'-]+", command.lower())
    return bool(words) and any(w in _ABOUT_MAIL for w in words) and all(w in _HANDLING for w in words)


def _clean(command: str) -> str:
    command = re.sub(r"^(?:have|take) a (?:quick |closer |proper )?look (?:at|over|through)\b", "review", command,
                     flags=re.I)
    command = _EOD.sub("5pm", command)
    return _PURPOSE.sub("", command).strip(" ,.:;!")


def _antecedent(before: str) -> str | None:
    """The last "your <thing>" said before a request: what its "it" most likely means."""
    found = _YOUR.findall(before)
    return found[-1].strip() if found else None


def _subject(mail: Mail) -> str:
    return re.sub(r"^\s*(?:(?:re|fwd?|fw|aw|wg|sv)\s*:\s*)+", "", mail.subject, flags=re.I).strip()


def _readers(mail: Mail, text: str, names: tuple[str, ...]) -> frozenset[str]:
    """First names the reader goes by: those given (the To: header, the user's name), the greeting's,
    and a forwarded mail's To: line."""
    found = {n.split()[0].lower() for n in names if n.strip()}
    greeting = _GREETING.match(text.strip())
    if greeting:
        found.add(greeting.group(1).lower())
    for line in re.findall(r"^\s*To:\s*\"?([A-Za-z][\w'-]*)", mail.text, re.M):
        found.add(line.lower())
    return frozenset(found - _NOT_NAMES)


def extract(mail: Mail, tz: ZoneInfo, reader: tuple[str, ...] = ()) -> list[Proposal]:
    """The tasks and meetings an email asks of its reader (`reader`: names the reader goes by, if known)."""
    if mail.bulk:
        return []
    text = _region(mail)
    now = (mail.sent_at or dt.datetime.now(clock.UTC)).astimezone(tz)
    names = _readers(mail, text, reader)
    out: list[Proposal] = []
    paragraphs = [p for p in _paragraphs(text)
                  if not _INJECTION.search(" ".join(p)) and not _BOILERPLATE.search(" ".join(p))]
    if paragraphs and _NO_ACTION.search(" ".join(paragraphs[0])) and len(paragraphs[0]) <= 2:
        return []  # "Just archiving this one, no action needed." above a forward
    if _NO_ACTION.search(mail.subject):  # "Automatic reply: …"
        return []
    for para in paragraphs:
        if _NO_ACTION.search(" ".join(para)) and not any(_request(s, names) for s in para if not _NO_ACTION.search(s)):
            continue
        for i, sentence in enumerate(para):
            asked = _request(sentence, names)
            due_thing = _thing_due(sentence.strip())
            if asked is None:
                if due_thing is not None and _addressee(sentence.strip(), names)[1]:
                    found = _proposal(due_thing, False, now)
                    if found is not None and found not in out:
                        out.append(found)
                continue
            command, meeting = asked
            if not command or _NOT_A_TASK.match(command) or (_META.search(command) and len(command.split()) < 9) \
                    or _handles_the_mail(command):
                continue
            command = _clean(command)
            if _IT.search(command):
                thing = _antecedent(" ".join(para[max(0, i - 1):i]) + " " + sentence[:sentence.find(command[:12])])
                if thing:
                    command = _IT.sub("the " + thing, command, count=1)
                elif _subject(mail):
                    command = f"{command} ({_subject(mail)})"
            # "the registration deadline is Friday, so please fill in the form": the thing names the ask, and dates it
            about = _THING_DUE.match(sentence.strip())
            if about is not None and about.group("thing").lower().split()[0] not in _PRONOUN:
                command = f"{command} ({about.group('thing')})"
            found = _proposal(command, meeting, now)
            if found is not None and not meeting and "due" not in found.args:
                said = _date_nearby(para, i, names) or (about and "by " + _first_clause(about.group("when")))
                dated = _proposal(f"{command} {said}", meeting, now) if said else None
                if dated is not None and "due" in dated.args:
                    found = dated
            if found is not None and found not in out:
                out.append(found)
    return out


def _proposal(command: str, meeting: bool, now: dt.datetime) -> Proposal | None:
    intent = parse_message(command, now)
    if intent.tool not in ("create_task", "create_event") and command.split(" ", 1)[0].lower() in _VERBS:
        intent = parse_message(f"add a task: {command}", now)  # "remind Tom …", "pull together … by …"
    if intent.tool not in ("create_task", "create_event"):
        return None
    args = {k: v for k, v in intent.args.items() if k in ("title", "due", "start", "end", "location", "priority")}
    if intent.tool == "create_event":
        if meeting and "T" in str(args.get("start", "")):
            return Proposal("create_event", args)
        # a meeting to arrange, with no time set: a task to arrange it
        title = args["title"] if re.match(r"^(?:set up|arrange|schedule|book|organi[sz]e)\b", args["title"], re.I) \
            else command.split(" sometime")[0].split(" next ")[0]
        due = str(args.get("start", ""))[:10] or None
        return Proposal("create_task", {"title": title[:1].upper() + title[1:], **({"due": due} if due else {})})
    return Proposal("create_task", args)


# ---------------------------------------------------------------- ingest


def _event_key(user_id: uuid.UUID, mail: Mail) -> str:
    """The same mail again (Message-ID and text) is a duplicate; another mail reusing a Message-ID is not."""
    digest = hashlib.sha256(f"{mail.subject}\n{mail.text}".encode()).hexdigest()[:32]
    key = f"{user_id}:{mail.message_id}|{digest}"
    return key if len(key) <= 200 else f"{user_id}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def flagged(mail: Mail) -> str | None:
    """Why nothing in `mail` is done: it talks to an AI (an injection, visible to its reader); None if it does not."""
    said = instructs_ai(f"{mail.subject}\n{mail.text}")
    return None if said is None else f"it tries to give instructions to an AI (“{said}”), so nothing in it was done"


async def ingest(rt: Any, user_name: str, tz: str | None, raw: bytes, file: str = "") -> dict[str, Any]:
    """Read one email for a user (created when new): its tasks and proposed events, stored once.

    Returns the JSON object of `pixie email ingest --json` for this file: "created", "duplicate",
    "flagged" (it talks to an AI: recorded, nothing done) or "rejected" (not an email Pixie reads,
    nothing written), with a reason for the last two. One transaction per file.
    """
    from core.tools import ToolContext

    result: dict[str, Any] = {"file": file, "message_id": None, "status": "rejected", "tasks": [], "events": []}
    try:
        mail = parse_email(raw)
    except BadEmail as e:
        result["reason"] = str(e)
        return result
    result["message_id"] = mail.message_id
    now = dt.datetime.now(clock.UTC)
    async with rt.sessions() as session, session.begin():
        user = await rt.assistant.user_named(session, user_name) or await rt.assistant.user_for(
            session, "terminal", user_name, now, tz=tz, name=user_name)
        assert user is not None  # user_for creates
        zone = clock.zone(tz or user.tz)
        stored = await session.execute(insert(Inbound).values(
            id=uuid.uuid4(), platform=PLATFORM, event_id=_event_key(user.id, mail),
            payload={"from": mail.sender, "subject": mail.subject, "file": file}, received_at=now, handled_at=now,
        ).on_conflict_do_nothing(constraint="uq_inbound_event").returning(Inbound.id))
        if stored.scalar() is None:
            result["status"] = "duplicate"
            return result
        why = flagged(mail)
        if why is not None:
            result["status"], result["reason"] = "flagged", why
            return result
        ctx = ToolContext(session, user, now, zone, rt.memory, source=PLATFORM)  # tasks and events say so
        try:
            result["tasks"], result["events"] = await propose(ctx, mail, addressed_to(raw))
        except BadEmail as e:  # recorded once, nothing made
            result["reason"] = str(e)
            return result
        result["status"] = "created"
    return result


def addressed_to(raw: bytes) -> tuple[str, ...]:
    """The display names in a mail's To: header (who "Jonas, could you …" may be), read from its headers only."""
    return to_names(email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw[:65536]))


def to_names(headers: email.message.Message) -> tuple[str, ...]:
    """The display names in the To: header of headers already parsed (compat32)."""
    return tuple(name for name, _ in email.utils.getaddresses([str(v) for v in headers.get_all("To") or []]) if name)


def bounded(proposals: list[Proposal], subject: str) -> list[Proposal]:
    """At most MAX_PROPOSALS: past that, the first few and one task listing the rest."""
    if len(proposals) <= MAX_PROPOSALS:
        return proposals
    keep, rest = proposals[:MAX_PROPOSALS - 1], proposals[MAX_PROPOSALS - 1:]
    listed = "\n".join(f"- {p.args.get('title', '')}"[:200] for p in rest[:50])
    more = f"\n… and {len(rest) - 50} more" if len(rest) > 50 else ""
    title = f"Go through {len(rest)} more asks in the mail “{subject[:80] or '(no subject)'}”"
    return [*keep, Proposal("create_task", {"title": title, "notes": (listed + more)[:1900]})]


async def propose(ctx: Any, mail: Mail,
                  reader: tuple[str, ...] = ()) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run the tools for what `mail` asks of `ctx.user` (in `ctx`'s transaction): the tasks and events made.

    `reader`: names the mail may call its reader by, besides the user's own (e.g. the To: header's).
    Only create_task and create_event ever run for a mail, and at most MAX_PROPOSALS of them; a mail that
    talks to an AI (`flagged`) makes nothing."""
    from core.tools import run_tool

    tasks: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    if flagged(mail) is not None:
        return tasks, events
    own = str(getattr(ctx.user, "name", "") or "")
    try:
        found = extract(mail, ctx.tz, (*reader, own))  # pure, before any tool runs: a failure leaves nothing half done
    except Exception as e:  # noqa: BLE001 — one unreadable mail must not stop a batch or the poller
        raise BadEmail(f"its text could not be read ({type(e).__name__})") from e
    for p in bounded(found, mail.subject):
        if p.tool not in ("create_task", "create_event"):  # whatever a brain proposes, mail runs nothing else
            continue
        action = await run_tool(ctx, p.tool, p.args)
        if action.ok:
            (tasks if p.tool == "create_task" else events).append(
                action.result["task" if p.tool == "create_task" else "event"])
    return tasks, events
