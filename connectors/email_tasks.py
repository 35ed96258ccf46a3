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
                        r"|\bjust (?:archiving|filing|fyi)\b|\bnothing (?:for you )?to do\b", re.I)
_QUOTE_START = re.compile(r"^\s*(?:On .{6,200}wrote:|-{2,}\s*Original Message\s*-{2,}|From:\s.+|>.*)$",
                          re.I | re.M)
_FORWARD_MARK = re.compile(r"^\s*-{2,}\s*(?:Forwarded message|Original Message)\s*-{2,}\s*$", re.I)
_HEADER_LINE = re.compile(r"^\s*(?:From|Sent|To|Cc|Date|Subject):\s", re.I)
_SIGN_OFF = re.compile(r"^\s*(?:thanks|thank you|cheers|best|regards|kind regards|best regards|many thanks|"
                       r"all the best|warm regards|sincerely|valeu|obrigad[oa].*|danke.*|--)\W*$", re.I)
_ITEM = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)]|\(?[a-h][.)])\s+(.+)$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")

_ASK = re.compile(r"\b(?:could|can|would|will)\s+you\s+(?:please\s+|kindly\s+|also\s+)*(.+)", re.I)
_PLEASE = re.compile(r"\b(?:please|pls|kindly)\s+(?:also\s+)?(.+)", re.I)
_NEED = re.compile(r"\b(?:i need you to|i'd like you to|i would like you to|you need to|you'll need to|you will need to"
                   r"|you must|remember to|don't forget to|do not forget to|make sure (?:to|you))\s+(.+)", re.I)
_MEET = re.compile(r"\b(?:could|can|shall|should)\s+we\s+(meet|(?:have|do|set up|schedule)\s+a\s+(?:call|meeting|chat)"
                   r"|grab\s+.+|catch up|sync|talk)\b(.*)|\blet'?s\s+(meet|catch up|sync)\b(.*)"
                   r"|\b(?:would|will) you be (?:up for|free for|around for)\s+(.+)", re.I)
_NOT_A_TASK = re.compile(r"^(?:let (?:me|us) know|feel free|don't hesitate|do not hesitate|reach out|contact us|"
                         r"find (?:attached|enclosed|below)|see (?:below|attached)|note that|note\b|be aware|"
                         r"ignore|disregard|keep (?:track|an eye)|remember this|forgive|excuse|bear with|"
                         r"confirm receipt)", re.I)
_META = re.compile(r"\b(?:this|that) (?:one|email|mail|message|thread)\b", re.I)
_PURPOSE = re.compile(r"(?:\s+[-–—]\s+|\s*;\s*|,?\s+so (?:that )?(?:i|we|you|they|he|she|it)\b"
                      r"|,?\s+as (?:the|we|i|they|payroll)\b|,?\s+because\b|,?\s+since\b|,?\s+otherwise\b"
                      r"|,?\s+before (?:we|i|they)\b"
                      r"|,?\s+whenever\b|,?\s+if (?:you|possible)\b|\?).*$", re.I)
_EOD = re.compile(r"\b(?:eod|cob|end of (?:the )?(?:business )?day|close of business)\b", re.I)
_DEADLINE = re.compile(r"\b(?:by|before|no later than|until)\b\s+[^.;!?]+", re.I)
_YOUR = re.compile(r"\byour\s+([A-Za-z][\w'-]*(?:\s+(?!(?:is|are|was|were|to|for|in|on|at|by|with|and|has|have|"
                   r"will|from|that|which|so|as|if|or)\b)[A-Za-z][\w'-]*){0,5})")
_IT = re.compile(r"\b(?:it|this|them)\b", re.I)
# Verbs a list item starts with when it is something to do ("- update the pricing slide").
_VERBS = frozenset("""add approve arrange ask book bring buy call cancel change check choose clean collect complete
confirm contact create deploy draft email file fill finish fix follow forward get give invite look make move
order organise organize pay pick plan post prepare print read register remind remove renew reply request
reschedule respond return review revise schedule send set share sign submit take tell test update upload
write""".split())


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


def _request(sentence: str) -> tuple[str, bool] | None:
    """What a sentence asks the reader to do, as a chat-style command, and whether it proposes a
    meeting; None when it asks nothing."""
    text = sentence.strip()
    if sentence.startswith("\t"):  # a list item that starts with a verb
        body = re.sub(r"^\W+", "", text)
        if body.split(" ", 1)[0].lower() in _VERBS:
            return body, False
        text = body  # "2. Could you book the room?": asked as any sentence is
    if re.match(r"^\s*if\b", text, re.I):  # "if you have questions, please …"
        return None
    meet = _MEET.search(text)
    if meet:
        verb, rest = meet.group(1) or meet.group(3), meet.group(2) or meet.group(4)
        if verb is not None:
            return f"meet {rest or ''}".strip() if verb.lower() in ("meet", "catch up", "sync", "talk") \
                else f"{verb} {rest or ''}".strip(), True
        return (meet.group(5) or "").strip(), True
    for pattern in (_NEED, _ASK, _PLEASE):
        m = pattern.search(text)
        if m:
            return m.group(1).strip(), False
    return None


def _clean(command: str) -> str:
    command = _EOD.sub("5pm", command)
    return _PURPOSE.sub("", command).strip(" ,.:;!")


def _antecedent(before: str) -> str | None:
    """The last "your <thing>" said before a request: what its "it" most likely means."""
    found = _YOUR.findall(before)
    return found[-1].strip() if found else None


def _subject(mail: Mail) -> str:
    return re.sub(r"^\s*(?:(?:re|fwd?|fw|aw|wg|sv)\s*:\s*)+", "", mail.subject, flags=re.I).strip()


def extract(mail: Mail, tz: ZoneInfo) -> list[Proposal]:
    """The tasks and meetings an email asks of its reader."""
    if mail.bulk:
        return []
    text = _region(mail)
    now = (mail.sent_at or dt.datetime.now(clock.UTC)).astimezone(tz)
    out: list[Proposal] = []
    paragraphs = [p for p in _paragraphs(text) if not _INJECTION.search(" ".join(p))]
    if paragraphs and _NO_ACTION.search(" ".join(paragraphs[0])) and len(paragraphs[0]) <= 2:
        return []  # "Just archiving this one, no action needed." above a forward
    for para in paragraphs:
        if _NO_ACTION.search(" ".join(para)) and not any(_request(s) for s in para if not _NO_ACTION.search(s)):
            continue
        for i, sentence in enumerate(para):
            asked = _request(sentence)
            if asked is None:
                continue
            command, meeting = asked
            if not command or _NOT_A_TASK.match(command) or (_META.search(command) and len(command.split()) < 9):
                continue
            command = _clean(command)
            if _IT.search(command):
                thing = _antecedent(" ".join(para[max(0, i - 1):i]) + " " + sentence[:sentence.find(command[:12])])
                if thing:
                    command = _IT.sub("the " + thing, command, count=1)
                elif _subject(mail):
                    command = f"{command} ({_subject(mail)})"
            if not _DEADLINE.search(command) and i + 1 < len(para) and _request(para[i + 1]) is None:
                later = _DEADLINE.search(para[i + 1])  # "I need your comments by Thursday"
                if later:
                    command = f"{command} {_clean(later.group(0))}"
            found = _proposal(command, meeting, now)
            if found is not None and found not in out:
                out.append(found)
    return out


def _proposal(command: str, meeting: bool, now: dt.datetime) -> Proposal | None:
    intent = parse_message(command, now)
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
        result["tasks"], result["events"] = await propose(ctx, mail)
        result["status"] = "created"
    return result


def bounded(proposals: list[Proposal], subject: str) -> list[Proposal]:
    """At most MAX_PROPOSALS: past that, the first few and one task listing the rest."""
    if len(proposals) <= MAX_PROPOSALS:
        return proposals
    keep, rest = proposals[:MAX_PROPOSALS - 1], proposals[MAX_PROPOSALS - 1:]
    listed = "\n".join(f"- {p.args.get('title', '')}"[:200] for p in rest[:50])
    more = f"\n… and {len(rest) - 50} more" if len(rest) > 50 else ""
    title = f"Go through {len(rest)} more asks in the mail “{subject[:80] or '(no subject)'}”"
    return [*keep, Proposal("create_task", {"title": title, "notes": (listed + more)[:1900]})]


async def propose(ctx: Any, mail: Mail) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run the tools for what `mail` asks of `ctx.user` (in `ctx`'s transaction): the tasks and events made.

    Only create_task and create_event ever run for a mail, and at most MAX_PROPOSALS of them; a mail that
    talks to an AI (`flagged`) makes nothing."""
    from core.tools import run_tool

    tasks: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    if flagged(mail) is not None:
        return tasks, events
    for p in bounded(extract(mail, ctx.tz), mail.subject):
        if p.tool not in ("create_task", "create_event"):  # whatever a brain proposes, mail runs nothing else
            continue
        action = await run_tool(ctx, p.tool, p.args)
        if action.ok:
            (tasks if p.tool == "create_task" else events).append(
                action.result["task" if p.tool == "create_task" else "event"])
    return tasks, events
