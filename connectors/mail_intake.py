"""One message from the mailbox, handled once: whose it is, whether it is really theirs, what it adds.

Whose mail (`route`, pure):

1. Sent to a user's secret forwarding address (`pixie+<token>@…`, in Delivered-To, X-Original-To,
   To or Cc): theirs. This is how automatic forwards (a Gmail filter keeps the original sender's
   From:) are accepted: only someone the user told knows the address.
2. Otherwise only with a DMARC pass, or a DKIM pass aligned with the From: domain, for a From:
   address a user registered — read from the topmost `Authentication-Results` header whose
   authserv-id is PIXIE_MAIL_AUTHSERV_ID. Our receiving server prepends its header, so anything an
   attacker wrote sits below it; a header of any other authserv-id proves nothing.
3. Everything else is rejected with its reason (a spoofed From: among them) and nothing is made.

Gmail's forwarding-confirmation mail is shown to its owner with its code, not read for tasks.

`handle` records the outcome in the `mails` table in the same transaction as the tasks, events
and the one notification it queues for the user, keyed by Message-ID and a hash of the body: a
mail fetched again after a crash, or under a new UIDVALIDITY, is recognised and only moved.
"""

from __future__ import annotations

import datetime as dt
import email.header
import email.policy
import email.utils
import hashlib
import re
import uuid
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from typing import Any, Literal

import authres
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.email_tasks import flagged, propose, to_names
from connectors.mail import MAX_BYTES, BadEmail, parse_email
from core import clock, mail_addresses
from core.memory import Memory
from core.sources import RawMail
from db.models import Mail as MailRow
from db.models import Notification, User

Status = Literal["handled", "rejected", "confirmation", "flagged"]
DONE, REJECTED = "Pixie/Done", "Pixie/Rejected"
_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To", "Cc")
_GMAIL_CONFIRM_FROM = "forwarding-noreply@google.com"
_GMAIL_CODE = re.compile(r"(?:\(#|confirmation code:\s*)(\d{6,12})", re.I)
_GMAIL_WHO = re.compile(r"receive mail from\s+([^\s@]+@[^\s)]+)", re.I)


@dataclass(frozen=True)
class Route:
    """Who a mail belongs to, as far as its headers show: a token, or an authenticated sender address."""

    token: str | None = None
    sender: str | None = None  # From: address vouched for by our server (DMARC / aligned DKIM pass)
    why_not: str = ""  # when neither: why the sender could not be trusted


@dataclass(frozen=True)
class Outcome:
    """What became of one mail: its status, the folder it goes to, the notification queued for its user."""

    status: Status | Literal["duplicate"]
    folder: str
    reason: str | None = None
    user_id: uuid.UUID | None = None
    notification_id: uuid.UUID | None = None


# ---------------------------------------------------------------- pure decisions

def headers_of(raw: bytes) -> Message:
    """The message's headers only (compat32: raw strings, nothing decoded that could fail)."""
    return BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw[:256 * 1024])


def _unfold(value: object) -> str:
    return re.sub(r"\r?\n[ \t]*", " ", str(value))


def _subject(headers: Message) -> str:
    """The Subject header, its encoded words decoded (as is, when they cannot be)."""
    raw = _unfold(headers.get("Subject", ""))
    try:
        return str(email.header.make_header(email.header.decode_header(raw)))
    except Exception:  # noqa: BLE001 — a header the email package cannot decode is shown as it came
        return raw


def message_key(raw: bytes, headers: Message) -> str:
    """Message-ID plus a hash of the body: the same mail again is recognised, another reusing the id is not."""
    _, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        _, _, body = raw.partition(b"\n\n")
    digest = hashlib.sha256(body.replace(b"\r\n", b"\n")).hexdigest()[:32]
    message_id = _unfold(headers.get("Message-ID", "")).strip()[:150]
    return f"{message_id}|{digest}"


def oversize_key(headers_raw: bytes, headers: Message, size: int | None) -> str:
    """The key of a mail too large to download: Message-ID, its size and a hash of its headers (all we have)."""
    digest = hashlib.sha256(headers_raw.replace(b"\r\n", b"\n")).hexdigest()[:24]
    message_id = _unfold(headers.get("Message-ID", "")).strip()[:150]
    return f"{message_id}|size:{size}:{digest}"


def too_large(size: int) -> str:
    """Why a mail of `size` bytes is not read."""
    mb = 1024 * 1024
    return f"it is larger than {MAX_BYTES // mb} MB ({size / mb:.1f} MB), so it was not downloaded"


def recipient_tokens(headers: Message, mailbox: str) -> list[str]:
    """Tokens of `pixie+<token>@…` addresses (of this mailbox) the mail was sent to, in header order."""
    local, _, domain = mailbox.lower().partition("@")
    found: list[str] = []
    for name in _RECIPIENT_HEADERS:
        values = [_unfold(v) for v in headers.get_all(name) or []]
        for _, address in email.utils.getaddresses(values):
            user, _, host = address.lower().partition("@")
            base, plus, tag = user.partition("+")
            if plus and base == local and host == domain and tag and tag not in found:
                found.append(tag)
    return found


def _domain_aligned(signing: str, from_domain: str) -> bool:
    signing = signing.lower().strip().lstrip("@")
    if "@" in signing:  # header.i=user@domain
        signing = signing.split("@", 1)[1]
    return bool(signing) and (from_domain == signing or from_domain.endswith("." + signing))


def authenticated_sender(headers: Message, authserv_id: str | None) -> tuple[str | None, str]:
    """(the From: address our server vouched for, or None; why not)."""
    froms = email.utils.getaddresses([_unfold(v) for v in headers.get_all("From") or []])
    addresses = [a.lower() for _, a in froms if "@" in a]
    if len(addresses) != 1:
        return None, "it has no single From: address"
    sender = addresses[0]
    if not authserv_id:
        return None, "no token in its address, and PIXIE_MAIL_AUTHSERV_ID is not set, so no sender can be trusted"
    ours = None
    for value in headers.get_all("Authentication-Results") or []:  # topmost first: our server's is the newest
        try:
            parsed = authres.AuthenticationResultsHeader.parse_value(_unfold(value))
        except Exception:  # noqa: BLE001 — authres raises its own SyntaxError and others on junk
            continue
        if str(parsed.authserv_id).lower() == authserv_id.lower():
            ours = parsed
            break
    if ours is None:
        return None, f"no token in its address, and no Authentication-Results from {authserv_id}"
    from_domain = sender.rsplit("@", 1)[1]
    for result in ours.results:
        if str(result.result).lower() != "pass":
            continue
        props = {(p.type, p.name): str(p.value) for p in result.properties or []}
        method = str(result.method).lower()
        if method == "dmarc" and props.get(("header", "from"), "").lower() == from_domain:
            return sender, ""
        if method == "dkim" and any(_domain_aligned(props.get(("header", k), ""), from_domain) for k in ("d", "i")):
            return sender, ""
    return None, f"no token in its address, and {authserv_id} saw no DMARC or aligned DKIM pass for {sender}"


def route(headers: Message, mailbox: str, authserv_id: str | None) -> Route:
    """Whose mail this may be, from its headers alone (the database turns a token or a sender into a user)."""
    tokens = recipient_tokens(headers, mailbox)
    sender, why = authenticated_sender(headers, authserv_id)
    return Route(token=tokens[0] if tokens else None, sender=sender, why_not=why)


def gmail_confirmation(headers: Message, raw: bytes) -> tuple[str, str] | None:
    """(code, forwarding address) of Gmail's forwarding-confirmation mail; None for any other mail."""
    _, address = email.utils.parseaddr(_unfold(headers.get("From", "")))
    if address.lower() != _GMAIL_CONFIRM_FROM:
        return None
    subject = _unfold(headers.get("Subject", ""))
    text = subject + "\n" + raw[:64 * 1024].decode("utf-8", "replace")
    code = _GMAIL_CODE.search(text)
    if code is None:
        return None
    who = _GMAIL_WHO.search(subject)
    return code.group(1), (who.group(1) if who else "your Gmail account")


def _clip(text: str, n: int = 80) -> str:
    text = re.sub(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]", "", text).strip()
    return text if len(text) <= n else text[: n - 1] + "…"


def summary(subject: str, tasks: list[dict[str, Any]], events: list[dict[str, Any]]) -> str:
    """The one message a user gets once their forwarded mail is handled."""
    about = f"📧 Your forwarded mail “{_clip(subject) or '(no subject)'}”"
    if not tasks and not events:
        return f"{about}: nothing in it needed doing, so I added nothing."
    lines = [f"{about}:"]
    for t in tasks:
        lines.append(f"• added task: {t['title']}" + (f" (due {t['due']})" if t.get("due") else ""))
    for e in events:
        lines.append(f"• proposed event: {e['title']} at {e['start']} — not on your calendar until you accept it")
    return "\n".join(lines)


# ---------------------------------------------------------------- effects

@dataclass
class Intake:
    """Handles mail of one mailbox (the deployment's) for its users."""

    sessions: async_sessionmaker
    memory: Memory
    account_id: uuid.UUID
    mailbox: str  # the mailbox's address: forwarding addresses are built on it
    authserv_id: str | None = None
    now: Any = None  # a clock (tests); default the real one

    def _now(self) -> dt.datetime:
        return self.now() if self.now is not None else dt.datetime.now(clock.UTC)

    async def handle(self, mail: RawMail) -> Outcome:
        """Record what becomes of `mail` (tasks, a notice, or a rejection), once; a second call only says where
        it goes."""
        headers = headers_of(mail.data)
        key = message_key(mail.data, headers) if mail.whole else oversize_key(mail.data, headers, mail.size)
        now = self._now()
        async with self.sessions() as session, session.begin():
            row_id = await session.scalar(
                insert(MailRow).values(id=uuid.uuid4(), account_id=self.account_id, key=key, status="rejected",
                                       uidvalidity=mail.uidvalidity, uid=mail.uid, received_at=mail.received_at,
                                       handled_at=now)
                .on_conflict_do_nothing(constraint="uq_mails_key").returning(MailRow.id))
            if row_id is None:  # handled before (then the process stopped before moving it, or it came again)
                prior = await session.scalar(select(MailRow.status).where(
                    MailRow.account_id == self.account_id, MailRow.key == key))
                return Outcome("duplicate", REJECTED if prior == "rejected" else DONE)
            outcome = await self._decide(session, mail, headers, row_id, now)
            await session.execute(update(MailRow).where(MailRow.id == row_id).values(
                status=outcome.status, reason=outcome.reason, user_id=outcome.user_id))
        return outcome

    async def _owner(self, session: AsyncSession, r: Route) -> uuid.UUID | None:
        if r.token is not None:
            found = await mail_addresses.user_for_token(session, r.token)
            if found is not None:
                return found
        return await mail_addresses.user_for_sender(session, r.sender) if r.sender else None

    async def _decide(self, session: AsyncSession, mail: RawMail, headers: Message, row_id: uuid.UUID,
                      now: dt.datetime) -> Outcome:
        r = route(headers, self.mailbox, self.authserv_id)
        user_id = await self._owner(session, r)
        if user_id is None:
            if r.token is not None and r.sender is None:
                reason = "its forwarding address has no valid token (unknown or rotated)"
            elif r.sender is not None:
                reason = f"{r.sender} is authenticated but no user registered it"
            else:
                reason = r.why_not
            return Outcome("rejected", REJECTED, reason)
        user = await session.get(User, user_id)
        assert user is not None
        if not mail.whole or len(mail.data) > MAX_BYTES:  # over the limit: never downloaded (or read)
            return await self._refused(session, user_id, row_id, headers, too_large(mail.size or len(mail.data)),
                                       now)
        confirm = gmail_confirmation(headers, mail.data) if r.token is not None else None
        if confirm is not None:
            code, who = confirm
            text = (f"📧 Gmail asks to confirm forwarding from {who} to your Pixie address. "
                    f"Confirmation code: {code} — enter it in Gmail's forwarding settings.")
            note = await self._notify(session, user_id, row_id, text, now)
            return Outcome("confirmation", DONE, None, user_id, note)
        try:
            parsed = parse_email(mail.data)
        except BadEmail as exc:
            return await self._refused(session, user_id, row_id, headers, str(exc), now)
        why = flagged(parsed)
        if why is not None:  # recorded and told, nothing done: the user should know someone tried
            text = f"⚠️ Your forwarded mail “{_clip(parsed.subject) or '(no subject)'}” {why}."
            note = await self._notify(session, user_id, row_id, text, now)
            return Outcome("flagged", REJECTED, why, user_id, note)
        from core.tools import ToolContext  # the tools are the one writer of a user's data

        zone = clock.zone(user.tz)
        try:
            # The mail's row id names its change, so the message about it can carry an Undo for exactly that;
            # the To: header's names are who "Jonas, could you …" may be, as for `pixie email ingest`.
            ctx = ToolContext(session, user, now, zone, self.memory, source="email", change=row_id)
            tasks, events = await propose(ctx, parsed, to_names(headers))
        except BadEmail as exc:
            return await self._refused(session, user_id, row_id, headers, str(exc), now)
        note = await self._notify(session, user_id, row_id, summary(parsed.subject, tasks, events), now,
                                  undo=bool(tasks or events))
        return Outcome("handled", DONE, None, user_id, note)

    async def _refused(self, session: AsyncSession, user_id: uuid.UUID, row_id: uuid.UUID, headers: Message,
                       why: str, now: dt.datetime) -> Outcome:
        """A known user's mail that cannot be read: rejected, and they are told so (not left wondering)."""
        subject = _clip(_subject(headers))
        text = f"📧 Your forwarded mail “{subject or '(no subject)'}” wasn't read: {why}. Nothing was added."
        note = await self._notify(session, user_id, row_id, text, now)
        return Outcome("rejected", REJECTED, why, user_id, note)

    @staticmethod
    async def _notify(session: AsyncSession, user_id: uuid.UUID, row_id: uuid.UUID, text: str,
                      now: dt.datetime, undo: bool = False) -> uuid.UUID | None:
        key = f"mail:{row_id}" + (":undo" if undo else "")  # ":undo": the message gets an Undo button
        return await session.scalar(
            insert(Notification).values(id=uuid.uuid4(), user_id=user_id, key=key, kind="mail",
                                        text=text, task_id=None, due_at=now, created_at=now)
            .on_conflict_do_nothing(index_elements=["key"]).returning(Notification.id))
