"""Who may talk to Pixie on a chat platform: owners, pairing and invite codes, and linking platforms.

Nobody is admitted until an owner says so: `PIXIE_OWNERS` lists owners by platform id, the first
person can pair with the code `pixie run` prints, owners admit others (`/admit telegram:1234`, or an
`/invite` code), and `/link` joins a person's accounts on several platforms into one user. A stranger
gets one polite refusal and nothing of theirs reaches a brain. The terminal is trusted as it is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import mail_addresses
from core.brain import Thought, ToolCall
from core.types import IncomingMessage
from db.models import AccessCode, Base, Identity, Stranger, User

TRUSTED_PLATFORMS = frozenset({"terminal"})
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are read aloud and retyped
CODE_LEN = 8
LIFETIME = {"pair": dt.timedelta(hours=24), "invite": dt.timedelta(days=7), "link": dt.timedelta(minutes=15)}
MAX_ATTEMPTS = 10  # wrong codes a stranger may try before we stop reading them
SEEN_EVERY = dt.timedelta(minutes=5)  # last_seen_at only picks a platform: minutes are precise enough
SHAPE = re.compile(r"(?<![\w-])[A-HJ-NP-Za-hj-np-z2-9]{4}-[A-HJ-NP-Za-hj-np-z2-9]{4}(?![\w-])")  # ALPHABET, any case
MASK = "••••-••••"  # what a stored message shows where a one-time code was
COMMAND = re.compile(r"^/([a-z_]+)(?:@\S+)?(?:\s+(.*))?$", re.IGNORECASE | re.DOTALL)

REFUSAL = ("Hi! I'm a private assistant and only talk to people my owner has admitted. "
           "If you know them, send them your id — {who} — so they can admit you, "
           "or send me the code they gave you.")
HELP = ("Commands: /tasks — your open tasks · /today — today's agenda · /link — use me from another "
        "platform too · /digest here — get your reminders and morning digest here · /email — your address "
        "for forwarding mail · /connect google — sync your Google Calendar · /calendars · /help.\n"
        "Or just talk to me: “add buy milk tomorrow”, “remind me to call mom at 6pm”.")
OWNER_HELP = "\nAs an owner: /invite — a one-time code for someone new · /admit platform:id — admit by id."

Created = Callable[[], Awaitable[User | None]]  # makes the user of the message's identity


def parse_owners(raw: str) -> frozenset[tuple[str, str]]:
    """`telegram:1001,slack:T012/U034` → {("telegram", "1001"), ("slack", "T012/U034")}."""
    out = set()
    for item in raw.split(","):
        platform, sep, user_id = item.strip().partition(":")
        if sep and platform.strip() and user_id.strip():
            out.add((platform.strip().lower(), user_id.strip()))
    return frozenset(out)


def new_code() -> str:
    """A fresh one-time code, shown as ABCD-EFGH."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LEN))
    return f"{raw[:4]}-{raw[4:]}"


def normalise_code(text: str) -> str | None:
    """The code in `text` if the text is just a code (any case, dashes or spaces allowed)."""
    raw = re.sub(r"[\s-]", "", text).upper()
    return raw if len(raw) == CODE_LEN and all(c in ALPHABET for c in raw) else None


def code_hash(code: str) -> str:
    """How a code is stored: its sha256, so the database holds nothing usable."""
    return hashlib.sha256(code.encode()).hexdigest()


def code_candidates(text: str) -> set[str]:
    """Every normalised code `text` could carry: the whole text, a command's argument, ABCD-EFGH anywhere."""
    found = {m.group(0) for m in SHAPE.finditer(text)}
    cmd = parse_command(text)
    found |= {text, cmd[1]} if cmd else {text}
    return {c for c in map(normalise_code, found) if c}


def parse_command(text: str) -> tuple[str, str] | None:
    """("link", "ABCD-EFGH") from "/link@PixieBot ABCD-EFGH"; None when the text is no command."""
    m = COMMAND.match(text.strip())
    return (m.group(1).lower(), (m.group(2) or "").strip()) if m else None


# Everyday ways of asking for what a command does ("how do I connect my google calendar?", "what's my
# forwarding address?"): answered by the command itself, as if it had been typed.
_LEAD = r"(?:(?:hey|hi|ok|so|please|pls|pixie|can\s+you|could\s+you|can\s+i|how\s+(?:do|can|could|should)\s+i|" \
        r"i\s+(?:want|would\s+like|'?d\s+like)\s+to|help\s+me|let'?s)[\s,]+)*"
_END = r"(?:[\s,]+(?:please|pls|thanks|thank\s+you))?[\s?.!]*$"
_ASKED_AS = (
    (re.compile(_LEAD + r"(?:connect|link|sync|hook\s+up|set\s+up|add)\s+(?:up\s+)?(?:my\s+|a\s+|the\s+)?"
                r"(?:google\s+calendar|gcal|google|calendar)(?:\s+(?:to|with)\s+(?:you|pixie))?" + _END, re.I),
     "/connect google"),
    (re.compile(_LEAD + r"(?:(?:forward|send)\s+(?:you\s+)?(?:my\s+)?(?:e-?mails?|mails?)(?:\s+to\s+(?:you|pixie))?|"
                r"(?:what'?s|what\s+is|where'?s|where\s+is|give\s+me|show\s+me|tell\s+me)\s+(?:my|the|your)\s+"
                r"(?:(?:e-?mail|mail)\s+)?forwarding\s+(?:e-?mail\s+)?address)" + _END, re.I),
     "/email"),
)


def asked_as_command(text: str) -> str | None:
    """The command an everyday question asks for ("/connect google", "/email"); None for anything else."""
    said = text.strip()
    return next((command for pattern, command in _ASKED_AS if pattern.match(said)), None)


def platform_name(platform: str) -> str:
    """How a platform is called in a sentence; core knows no platform, so its id, capitalised."""
    return "the terminal" if platform == "terminal" else platform.capitalize()


class Access:
    """Admission decisions and the chat commands that manage access; used by the assistant."""

    def __init__(self, owners: frozenset[tuple[str, str]] = frozenset()) -> None:
        self.owners = owners
        self.mailbox: str | None = None  # the deployment mailbox's address (PIXIE_IMAP_URL), set by the wiring
        # What this process last wrote to each identity (chat, when): most messages then need no write.
        self._seen: dict[tuple[str, str], tuple[str | None, dt.datetime]] = {}
        self._latest: dict[uuid.UUID, tuple[str, str]] = {}  # each user's identity this process last saw speak

    # ------------------------------------------------------------ codes

    async def issue(self, session: AsyncSession, kind: str, user_id: uuid.UUID | None, now: dt.datetime) -> str:
        """Store a new one-time code of `kind` and return it (only its hash is kept)."""
        code = new_code()
        session.add(AccessCode(code_hash=code_hash(normalise_code(code) or code), kind=kind, user_id=user_id,
                               created_at=now, expires_at=now + LIFETIME[kind]))
        await session.flush()
        return code

    async def redeem(self, session: AsyncSession, code: str, kinds: tuple[str, ...],
                     now: dt.datetime) -> AccessCode | None:
        """Use a code once: the row when it was valid and unused, else None."""
        return await session.scalar(
            update(AccessCode).where(AccessCode.code_hash == code_hash(code), AccessCode.kind.in_(kinds),
                                     AccessCode.used_at.is_(None), AccessCode.expires_at > now)
            .values(used_at=now).returning(AccessCode))

    async def mask_codes(self, session: AsyncSession, text: str) -> str:
        """`text` as it may be stored: every code Pixie issued (live or spent) masked. The person saw the
        real code; the database keeps only its hash."""
        candidates = code_candidates(text)
        if not candidates:
            return text
        issued = set(await session.scalars(select(AccessCode.code_hash).where(
            AccessCode.code_hash.in_([code_hash(c) for c in candidates]))))
        hidden = {c for c in candidates if code_hash(c) in issued}
        if not hidden:
            return text
        cmd = parse_command(text)
        if normalise_code(text) in hidden:
            return MASK
        if cmd and normalise_code(cmd[1]) in hidden:
            return f"/{cmd[0]} {MASK}"
        return SHAPE.sub(lambda m: MASK if normalise_code(m.group(0)) in hidden else m.group(0), text)

    async def pairing_code(self, session: AsyncSession, now: dt.datetime) -> str | None:
        """A fresh pairing code while nobody owns this Pixie (older pairing codes stop working)."""
        if await session.scalar(select(func.count()).select_from(User).where(User.role == "owner")):
            return None
        await session.execute(delete(AccessCode).where(AccessCode.kind == "pair"))
        return await self.issue(session, "pair", None, now)

    # ------------------------------------------------------------ admission

    async def admit(self, session: AsyncSession, msg: IncomingMessage, text: str, now: dt.datetime,
                    user: User | None, create: Created) -> tuple[User | None, str | None]:
        """(user, welcome) for someone admitted; (None, refusal or None) for a stranger, refused once."""
        if user is not None:
            await self._touch(session, msg, now, user.id)
            return user, None
        if (msg.platform, msg.platform_user_id) in self.owners:
            user = await _created(create)
            user.role = "owner"
            await self._touch(session, msg, now, user.id)
            return user, None
        if msg.public:  # where others read: no refusal naming them, no code taken, nothing recorded
            return await self._admitted_by_id(session, msg, now, create), None
        stranger = await session.scalar(
            insert(Stranger).values(platform=msg.platform, platform_user_id=msg.platform_user_id,
                                    first_seen_at=now, attempts=0)
            .on_conflict_do_update(index_elements=["platform", "platform_user_id"],
                                   set_={"attempts": Stranger.attempts})
            .returning(Stranger))
        assert stranger is not None
        if stranger.admitted_at is not None:
            await session.delete(stranger)
            user = await _created(create)
            await self._touch(session, msg, now, user.id)
            return user, None
        cmd = parse_command(text)
        candidate = normalise_code(cmd[1] if cmd and cmd[0] in ("start", "pair", "link", "join") else text)
        if candidate and stranger.attempts < MAX_ATTEMPTS:
            row = await self.redeem(session, candidate, ("pair", "invite", "link"), now)
            if row is not None:
                return await self._welcome(session, msg, now, row, create)
            stranger.attempts += 1
            if stranger.refused_at is not None:
                return None, "That code isn't valid (it may have expired or been used already)."
        if stranger.refused_at is not None:
            return None, None  # one polite refusal is enough
        stranger.refused_at = now
        return None, REFUSAL.format(who=f"{msg.platform}:{msg.platform_user_id}")

    async def _admitted_by_id(self, session: AsyncSession, msg: IncomingMessage, now: dt.datetime,
                                  create: Created) -> User | None:
        """The user for someone an owner admitted by id who speaks first in a public place; else None."""
        admitted = await session.scalar(
            delete(Stranger).where(Stranger.platform == msg.platform, Stranger.platform_user_id == msg.platform_user_id,
                                   Stranger.admitted_at.is_not(None)).returning(Stranger.platform))
        if admitted is None:
            return None
        user = await _created(create)
        await self._touch(session, msg, now, user.id)
        return user

    async def _welcome(self, session: AsyncSession, msg: IncomingMessage, now: dt.datetime, row: AccessCode,
                       create: Created) -> tuple[User, str]:
        await session.execute(delete(Stranger).where(Stranger.platform == msg.platform,
                                                     Stranger.platform_user_id == msg.platform_user_id))
        if row.kind == "link" and row.user_id is not None:
            user = await session.get(User, row.user_id)
            assert user is not None
            session.add(Identity(user_id=user.id, platform=msg.platform, platform_user_id=msg.platform_user_id,
                                 chat_id=msg.chat_id, created_at=now, last_seen_at=now))
            await session.flush()
            return user, (f"Linked! {platform_name(msg.platform)} now shares your tasks, calendar and memory. "
                          "Say /digest here to get your reminders and morning digest here.")
        user = await _created(create)
        await self._touch(session, msg, now, user.id)
        if row.kind == "pair":
            user.role = "owner"
            return user, "Paired — you're my owner now. " + HELP + OWNER_HELP
        return user, "Welcome! You're in. " + HELP

    async def _touch(self, session: AsyncSession, msg: IncomingMessage, now: dt.datetime, user_id: uuid.UUID) -> None:
        # chat_id is the private chat Pixie may write to; a message from a shared channel carries none.
        # Written at most every SEEN_EVERY, unless the user spoke on another platform since: then this one is
        # where they are now (notifications go where they last spoke).
        key = (msg.platform, msg.platform_user_id)
        chat, when = self._seen.get(key, (None, None))
        if (when is not None and (msg.chat_id or chat) == chat and dt.timedelta(0) <= now - when < SEEN_EVERY
                and self._latest.get(user_id) == key):
            return
        self._seen[key] = (msg.chat_id or chat, now)
        self._latest[user_id] = key
        values: dict[str, Any] = {"last_seen_at": now}
        if msg.chat_id:
            values["chat_id"] = msg.chat_id
        await session.execute(update(Identity).where(Identity.platform == msg.platform,
                                                     Identity.platform_user_id == msg.platform_user_id)
                              .values(**values))

    # ------------------------------------------------------------ commands

    async def command(self, session: AsyncSession, user: User, msg: IncomingMessage, text: str,
                      now: dt.datetime, today: dt.date) -> str | Thought | None:
        """A reply (or the tool calls) for a slash command; None when the text is no command of ours."""
        cmd = parse_command(text)
        if cmd is None:
            return None
        name, arg = cmd
        if name in ("help", "start"):  # said in a group too (core/privacy.py): there, nobody's role shows
            return HELP + (OWNER_HELP if user.role == "owner" and not msg.public else "")
        if name == "tasks":
            return Thought(calls=[ToolCall("list_tasks", {})])
        if name == "today":
            day = today.isoformat()
            return Thought(calls=[ToolCall("list_events", {"start": day, "end": (today + dt.timedelta(days=1))
                                                           .isoformat()}),
                                  ToolCall("list_tasks", {"due_before": day})])
        if name == "link":
            return await self._link(session, user, msg, arg, now)
        if name == "digest":
            return self._digest(user, msg, arg)
        if name == "email":
            return await self._email(session, user, arg)
        if name in ("invite", "admit") and user.role != "owner":
            return "Only an owner can admit people."
        if name == "invite":
            code = await self.issue(session, "invite", user.id, now)
            return (f"Invite code: {code} — valid for 7 days, once. The person sends it to me on "
                    "any chat platform I'm on and they're in.")
        if name == "admit":
            return await self._admit_by_id(session, arg, now)
        return None

    async def _link(self, session: AsyncSession, user: User, msg: IncomingMessage, arg: str,
                    now: dt.datetime) -> str:
        if not arg:
            code = await self.issue(session, "link", user.id, now)
            return (f"Your link code: {code} (valid 15 minutes, once). From your account on the other "
                    f"platform, send me: /link {code}")
        given = normalise_code(arg)
        row = await self.redeem(session, given, ("link",), now) if given else None
        if row is None or row.user_id is None:
            return "That link code isn't valid (it may have expired or been used already). Send /link to get a new one."
        if row.user_id == user.id:
            return "These accounts are already linked."
        first = await session.get(User, row.user_id)
        assert first is not None
        try:
            async with session.begin_nested():
                await merge_users(session, keep=user, gone=first)
        except IntegrityError:
            return "I couldn't merge those accounts automatically; nothing was changed."
        return (f"Linked! Your {platform_name(msg.platform)} account now shares one task list, calendar and "
                "memory with your other account. Say /digest here to get your digest here.")

    async def _email(self, session: AsyncSession, user: User, arg: str) -> str:
        if self.mailbox is None:
            return "No mailbox is set up for forwarded mail here (the owner sets PIXIE_IMAP_URL)."
        rotate = arg.lower().strip() in ("new", "rotate")
        token = await (mail_addresses.rotate if rotate else mail_addresses.token_of)(session, user.id)
        address = mail_addresses.forwarding_address(self.mailbox, token)
        return ((f"Your new forwarding address: {address} — the old one no longer works." if rotate else
                 f"Forward mail to {address} and I'll add what it asks of you as tasks.")
                + " Keep it private: mail to it counts as yours. /email new gives you a fresh one.")

    @staticmethod
    def _digest(user: User, msg: IncomingMessage, arg: str) -> str | Thought:
        wanted = arg.lower().strip()
        if wanted in ("", "where"):
            where = platform_name(user.digest_platform) if user.digest_platform else "wherever you last wrote to me"
            return f"Your reminders and morning digest go to {where}. Say /digest here to get them here."
        # Moving the digest is the set_digest tool's: it checks the platform and sets (or clears) the channel.
        return Thought(calls=[ToolCall("set_digest", {"platform": msg.platform if wanted == "here" else wanted})])

    async def _admit_by_id(self, session: AsyncSession, arg: str, now: dt.datetime) -> str:
        who = parse_owners(arg)
        if len(who) != 1:
            return "Tell me who to admit as platform:id, for example /admit telegram:123456789."
        [(platform, platform_user_id)] = who
        if await session.scalar(select(Identity.id).where(Identity.platform == platform,
                                                          Identity.platform_user_id == platform_user_id)):
            return f"{platform}:{platform_user_id} is already admitted."
        # The user is created on their first message, in the zone and with the defaults of any newcomer.
        await session.execute(
            insert(Stranger).values(platform=platform, platform_user_id=platform_user_id, first_seen_at=now,
                                    attempts=0, admitted_at=now)
            .on_conflict_do_update(index_elements=["platform", "platform_user_id"], set_={"admitted_at": now}))
        return f"Admitted {platform}:{platform_user_id}. They can talk to me now."


async def _created(create: Created) -> User:
    user = await create()
    assert user is not None
    return user


async def merge_users(session: AsyncSession, keep: User, gone: User) -> None:
    """Move every row of `gone` to `keep` (tasks, events, memory, identities…) and drop `gone`.

    `keep` takes over `gone`'s name, zone and digest settings: `gone` asked for the link code, so
    it is the account the person set up first.
    """
    await session.flush()
    for table in Base.metadata.sorted_tables:
        col = table.c.get("user_id")
        if col is not None and table.name != "users":
            await session.execute(update(table).where(col == gone.id).values(user_id=keep.id))
    settings = (gone.name, gone.tz, gone.digest_time, gone.digest_platform, gone.next_digest_at)
    owner = "owner" in (keep.role, gone.role)
    mail_token = gone.mail_token or keep.mail_token  # the forwarding address set up first keeps working
    await session.execute(delete(User).where(User.id == gone.id))
    session.expunge(gone)
    keep.name, keep.tz, keep.digest_time, keep.digest_platform, keep.next_digest_at = settings
    keep.role = "owner" if owner else keep.role
    keep.mail_token = mail_token
    await session.flush()
