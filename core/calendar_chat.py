"""Calendars from chat: `/connect google`, `/calendars`, `/disconnect google`, and which calendar takes new events.

core knows no connector: each provider is a `CalendarLink` the wiring gives (bots/app.py puts Google's,
connectors/google/link.py, on `Assistant.calendars`). Connecting is Google's link-and-paste consent:
`/connect google` answers with the link (always in a direct message: core/privacy.py), keeps what checks
the answer (sealed by the link) in `user.pending`, and the next message that looks like the address the
browser ended on (or the bare code) finishes it — off the turn's transaction, since it calls Google.
That message is stored with its code masked (`mask_pasted`), never in clear, and reaches no brain
or memory. Disconnecting asks first, then the `disconnect_calendar` tool removes the tokens and the
synced events (an event made in chat that never reached the calendar stays, as a local event).
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import accounts, safety
from core.brain import Thought, ToolCall
from core.redact import HIDDEN
from core.replies import Speaker
from core.synced import delete_synced
from core.tools import Args, Tool, ToolContext, ToolError, best_matches, register
from db.models import Calendar, Event, User

log = logging.getLogger(__name__)

CONSENT_LIFETIME = dt.timedelta(minutes=30)  # Google's codes live minutes; a link older than this is stale
NAMES = {"google": "Google Calendar"}
_CODE_IN_URL = re.compile(r"(?i)([?&#;]code=)[^&\s#\"'<>|]+")  # `;`: Slack sends `&` as `&amp;`
_BARE_CODE = re.compile(r"^[\w/.~+-]{16,}$")  # what Google's consent page calls the code (4/0Ae…)
_USE = re.compile(r"(?i)^\s*(?:please\s+)?(?:(?:put|add|create|make|send)\s+(?:all\s+)?(?:my\s+)?new\s+events\s+"
                  r"(?:on|in|to|into)|use|choose|pick)\s+(?:the\s+|my\s+)?[“\"']?(?P<name>.+?)[”\"']?"
                  r"(?:\s+calendar)?(?:\s+for\s+(?:all\s+)?(?:my\s+)?new\s+events)?\s*[.!]?\s*$")
_NEW_EVENTS_TO = re.compile(r"(?i)^\s*(?:my\s+)?new\s+events\s+(?:should\s+)?(?:go\s+)?(?:on|in|to|into)\s+"
                            r"(?:the\s+|my\s+)?[“\"']?(?P<name>.+?)[”\"']?(?:\s+calendar)?\s*[.!]?\s*$")


@dataclass(frozen=True)
class Linked:
    """An account just connected: its address and calendars as (name, synced, takes new events)."""

    account_id: uuid.UUID
    address: str
    calendars: list[tuple[str, bool, bool]]


class CalendarLink(Protocol):
    """One provider's way of connecting an account from chat (connectors/google/link.py is Google's)."""

    provider: str

    def start(self) -> tuple[str, str]:
        """The consent link to open, and what checks the answer, sealed (kept in `user.pending` meanwhile).

        Raises core.sources.SourceFailed when the provider is not set up (no OAuth client).
        """
        ...

    async def finish(self, user_id: uuid.UUID, kept: str, pasted: str, now: dt.datetime) -> Linked:
        """Exchange the pasted address (or code) and store the account, its tokens sealed, and its calendars.

        Raises ValueError when the paste is not the address asked for, core.sources errors when the
        provider refuses or cannot be reached.
        """
        ...

    async def revoke(self, sealed: bytes) -> bool:
        """Ask the provider to revoke a disconnected account's grant (its secret, sealed); False if it could not."""
        ...


@dataclass(frozen=True)
class Linking:
    """A pasted consent answer, to finish after the turn's transaction (it calls the provider)."""

    user_id: uuid.UUID
    provider: str
    kept: str
    pasted: str


def unwrapped(text: str) -> str:
    """A pasted address as typed: Slack sends `<http://…?a=1&amp;b=2|label>`."""
    plain = html.unescape(text.strip())
    link = re.fullmatch(r"<([^<>|]+)(?:\|[^<>]*)?>", plain)
    return link.group(1) if link else plain


def looks_pasted(text: str) -> bool:
    """Whether a message looks like the address a consent ended on (or its bare code)."""
    stripped = unwrapped(text)
    return bool(_CODE_IN_URL.search(stripped) or "error=" in stripped or _BARE_CODE.match(stripped))


def mask_pasted(text: str) -> str:
    """A pasted consent answer as it may be stored: the code masked (a bare code entirely)."""
    masked = _CODE_IN_URL.sub(rf"\1{HIDDEN}", text)
    return masked if masked != text or not _BARE_CODE.match(text.strip()) else HIDDEN


def use_request(text: str) -> str | None:
    """The calendar named by "put new events on Work" / "use Work for new events", else None."""
    m = _USE.match(text) or _NEW_EVENTS_TO.match(text)
    if m is None:
        return None
    said = text.lower()
    if m.re is _USE and "new event" not in said and "calendar" not in said:
        return None  # "use the blue pen" is no calendar choice
    return m.group("name").strip() or None


async def calendars_text(session: AsyncSession, user_id: uuid.UUID) -> str:
    """What `/calendars` says: each connected account, its calendars, and which one takes new events."""
    found = [a for a in await accounts.accounts_of(session, user_id) if a.kind == "calendar"]
    if not found:
        return "No calendar is connected. Send /connect google to connect your Google Calendar."
    cals = list(await session.scalars(select(Calendar).where(Calendar.user_id == user_id)
                                      .order_by(Calendar.created_at, Calendar.name)))
    lines = []
    for a in found:
        state = "syncing" if a.status == "active" else "reconnect needed: /connect " + a.provider
        lines.append(f"{NAMES.get(a.provider, a.provider)} {a.remote_id} ({state}):")
        for c in (c for c in cals if c.account_id == a.id):
            marks = [m for m, on in (("synced", c.selected), ("read-only", not c.writable)) if on]
            lines.append(f"• {c.name}" + (f" ({', '.join(marks)})" if marks else "")
                         + (" — new events go here" if c.is_default else ""))
    if not any(c.is_default for c in cals):
        lines.append("New events stay in Pixie only.")
    lines.append("Say “put new events on <name>” to choose where new events go; /disconnect google to "
                 "disconnect.")
    return "\n".join(lines)


@dataclass
class CalendarChat:
    """The calendar commands of chat, with the providers the wiring gave."""

    links: dict[str, CalendarLink] = field(default_factory=dict)

    async def revoke(self, forgotten: list[tuple[str, bytes]]) -> None:
        """After the commit of a disconnect: each grant revoked at its provider (a failure is only logged:
        Pixie has forgotten the tokens either way, and the person can revoke the access in their account)."""
        for provider, sealed in forgotten:
            link = self.links.get(provider)
            try:
                if link is None or not await link.revoke(sealed):
                    log.warning("could not revoke a disconnected %s account's access at the provider", provider)
            except Exception:
                log.warning("could not revoke a disconnected %s account's access at the provider", provider,
                            exc_info=True)

    async def command(self, session: AsyncSession, user: User, text: str, now: dt.datetime
                      ) -> str | Thought | Linking | None:
        """A reply, tool calls or a consent to finish for a calendar command or answer; None when it is neither."""
        from core.access import parse_command

        pending = user.pending or {}
        if "connect" in pending and looks_pasted(text):
            user.pending = None
            if now > dt.datetime.fromisoformat(pending["until"]):
                return "That link has expired. Send /connect google for a new one."
            return Linking(user.id, pending["connect"], pending["consent"], unwrapped(text))
        cmd = parse_command(text)
        if cmd is None:
            name = use_request(text)
            return Thought(calls=[ToolCall("use_calendar", {"calendar": name})]) if name else None
        verb, arg = cmd
        if verb == "calendars":
            return await calendars_text(session, user.id)
        if verb == "connect":
            return self._connect(user, arg, now)
        if verb == "disconnect":
            return await self._disconnect(session, user, arg)
        return None

    def _connect(self, user: User, arg: str, now: dt.datetime) -> str:
        from core.sources import SourceError

        provider = (arg or "google").split()[0].lower()
        link = self.links.get(provider)
        if link is None:
            return f"I can connect a Google Calendar (/connect google), not {arg!r}." if provider != "google" else \
                "Connecting a Google Calendar isn't set up on this Pixie."
        try:
            url, kept = link.start()
        except SourceError as exc:
            return f"Connecting a Google Calendar isn't set up on this Pixie yet: {exc}."
        user.pending = {"connect": provider, "consent": kept, "until": (now + CONSENT_LIFETIME).isoformat()}
        return ("To connect your Google Calendar, open this link, choose your account and allow Pixie to use "
                f"your calendars:\n{url}\n\nYour browser then ends on a page that does not load (an address "
                "starting with http://127.0.0.1). That is expected: copy that whole address and send it to me "
                "in a direct message (not in a group). The link works for 30 minutes.")

    @staticmethod
    async def _disconnect(session: AsyncSession, user: User, arg: str) -> str:
        mine = [a for a in await accounts.accounts_of(session, user.id) if a.kind == "calendar"]
        wanted = arg.strip().lower()
        chosen = [a for a in mine if wanted in ("", a.provider, a.remote_id.lower(), str(a.id))]
        if not chosen:
            return "No calendar account like that is connected (see /calendars)." if mine else \
                "No calendar is connected."
        if len(chosen) > 1:
            return "Which one? " + " · ".join(f"/disconnect {a.remote_id}" for a in chosen)
        account = chosen[0]
        synced = await session.scalar(select(Event.id).join(Calendar, Calendar.id == Event.calendar_id)
                                      .where(Calendar.account_id == account.id).limit(1))
        user.pending = safety.held([ToolCall("disconnect_calendar", {"account_id": str(account.id)})])  # Yes / No
        return (f"Disconnect {NAMES.get(account.provider, account.provider)} {account.remote_id}? Pixie forgets its "
                "tokens and asks Google to revoke its access" + (", and removes the events synced from it here"
                                                                  if synced else "")
                + "; nothing in your Google calendar changes. (yes / no)")

    @staticmethod
    def linked_text(linked: Linked) -> str:
        """What the user is told when the account is connected."""
        lines = [f"Connected Google Calendar {linked.address}. Your calendars:"]
        for name, selected, default in linked.calendars:
            lines.append(f"• {name}" + (" (synced)" if selected else "") + (" — new events go here" if default else ""))
        lines.append("I'm syncing it now and will tell you when that's done. /calendars shows them any time.")
        return "\n".join(lines)


# ---------------------------------------------------------------- tools


class UseCalendar(Args):
    """Which calendar takes new events: its name (or id, as `pixie calendar list --json` shows)."""

    calendar: str


class DisconnectAccount(Args):
    account_id: str


async def _calendars(ctx: ToolContext) -> list[Calendar]:
    return list(await ctx.session.scalars(select(Calendar).where(Calendar.user_id == ctx.user.id)
                                          .order_by(Calendar.created_at, Calendar.name)))


async def use_calendar(ctx: ToolContext, a: UseCalendar) -> dict[str, Any]:
    """Send new events to one calendar (and sync it, if it was not synced yet)."""
    cals = await _calendars(ctx)
    if not cals:
        how = "Run `pixie calendar connect google`" if ctx.source == "cli" else "Send /connect google"
        raise ToolError(f"No calendar is connected. {how} first.")
    wanted = a.calendar.strip().strip("“”\"'")
    found = [c for c in cals if wanted.lower() in (str(c.id), c.remote_id.lower(), c.name.lower())]
    if not found:
        found = best_matches(wanted, [(c, c.name) for c in cals])
    if len(found) != 1:
        names = ", ".join(f"“{c.name}”" for c in cals)
        raise ToolError(f"Which calendar? Yours are {names}." if found else
                        f"You have no calendar called “{wanted}”; yours are {names}.")
    cal = found[0]
    if not cal.writable:
        raise ToolError(f"“{cal.name}” is read-only for you, so new events cannot go there.")
    newly = not cal.selected
    await ctx.session.execute(update(Calendar).where(Calendar.user_id == ctx.user.id, Calendar.id != cal.id)
                              .values(is_default=False))
    await ctx.session.flush()
    cal.is_default, cal.selected = True, True
    out = {"calendar_id": str(cal.id), "calendar": cal.name}
    return out | ({"push_account": str(cal.account_id), "newly_synced": True} if newly else {})


async def disconnect_calendar(ctx: ToolContext, a: DisconnectAccount) -> dict[str, Any]:
    """Forget a calendar account: its tokens and synced events; chat events not yet sent stay, local."""
    try:
        account = await accounts.get(ctx.session, uuid.UUID(a.account_id))
    except ValueError:
        account = None
    if account is None or account.user_id != ctx.user.id:
        raise ToolError("That account is not connected (any more).")
    cals = select(Calendar.id).where(Calendar.account_id == account.id)
    kept = await ctx.session.execute(update(Event).where(Event.calendar_id.in_(cals), Event.push == "create")
                                     .values(calendar_id=None, source="chat", external_id=None, etag=None,
                                             push=None, base=None).returning(Event.id))
    gone = list(await ctx.session.scalars(select(Event.id).where(Event.user_id == ctx.user.id,
                                                                 Event.calendar_id.in_(cals))))
    await delete_synced(ctx, gone)
    _, sealed = await accounts.disconnect(ctx.session, account.id)
    if sealed is not None:  # revoked at the provider once this is committed
        ctx.forgotten.append((account.provider, sealed))
    return {"account": account.remote_id, "provider": account.provider, "removed": len(gone),
            "kept_local": len(kept.all())}


def _said_use(speaker: Speaker, args: dict[str, Any], result: dict[str, Any]) -> str:
    more = " I'll sync it from now on too." if result.get("newly_synced") else ""
    return f"New events go to “{result['calendar']}” from now on.{more}"


def _said_disconnect(speaker: Speaker, args: dict[str, Any], result: dict[str, Any]) -> str:
    name = NAMES.get(result["provider"], result["provider"])
    text = f"Disconnected {name} {result['account']}: its tokens are forgotten and {result['removed']} synced " \
           "event(s) removed from Pixie."
    if result.get("kept_local"):
        text += f" {result['kept_local']} event(s) you made here that had not reached it yet stay in Pixie."
    if result["provider"] == "google":
        text += " To also take back Pixie's access in Google: myaccount.google.com/permissions."
    return text


register(
    # Not offered to models: "put new events on Work" is read before any brain (CalendarChat.command).
    Tool("use_calendar", UseCalendar, use_calendar, "Choose the calendar new events go to.", _said_use,
         changes=True, offered=False),
    Tool("disconnect_calendar", DisconnectAccount, disconnect_calendar, "Disconnect a calendar account.",
         _said_disconnect, changes=True, offered=False),
)
