"""The assistant: one message in, the tools it ran and a short reply out. Knows no platform."""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import clock, safety
from core.access import TRUSTED_PLATFORMS, Access, asked_as_command, parse_command
from core.brain import Brain, BrainInput, Thought, ToolCall
from core.calendar_chat import CalendarChat, Linking, mask_pasted
from core.context import ContextPack, gather_context
from core.memory import Memory
from core.outage import classify
from core.privacy import SHAREABLE_COMMANDS, placed
from core.replies import Speaker, notice
from core.scheduler import digest_slot_after, step_user, take_unsent
from core.sources import SourceError
from core.tools import (
    TOOLS,
    Ambiguous,
    EventRef,
    TaskRef,
    ToolContext,
    ToolError,
    best_matches,
    items_touched,
    preview,
    resolve_event,
    resolve_task,
    run_tool,
    say,
    with_new_start,
)
from core.types import Action, Button, IncomingMessage, OutgoingNotification, Reply, storable
from core.understand import event_counterpart
from core.undo import NOT_RECORDED
from core.usage import record_usage
from db.models import Identity, Message, User

log = logging.getLogger(__name__)

# Called in the turn's write transaction with the reply it stores: the caller's outbox keeps it there,
# so a reply committed with its turn is sent even if the process dies before sending it.
Keep = Callable[[AsyncSession, Reply], Awaitable[None]]

MAX_CHARS = 4000
# A button's action → the tool it calls and the argument its value is.
BUTTONS = {"done": ("complete_task", "task_id"), "snooze": ("snooze_task", "task_id"), "undo": ("undo", "change")}
ANSWERS = ("yes", "no")  # the buttons under a question Pixie asked before writing
ORDINALS = {"first": 1, "1st": 1, "one": 1, "second": 2, "2nd": 2, "two": 2, "third": 3, "3rd": 3,
            "three": 3, "fourth": 4, "4th": 4, "four": 4, "fifth": 5, "5th": 5, "five": 5, "last": -1}


def clean_text(text: str) -> str:
    """Drop control characters (and NULs, which Postgres cannot store); keep emoji and newlines."""
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C").strip()


def pick_choice(text: str, candidates: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Which of the offered candidates the user's answer names, if it names exactly one."""
    words = re.findall(r"[a-z0-9#]+", text.lower())
    named = best_matches(text, [(c, c.get("title", "")) for c in candidates])
    if len(named) == 1:  # "the water one": its words name it (so "one" is no ordinal here)
        return named[0]
    for w in words:
        n = ORDINALS.get(w) or (int(w.lstrip("#")) if w.lstrip("#").isdigit() else None)
        if n is not None and len(words) <= 4 and -1 <= n <= len(candidates) and n != 0:
            return candidates[n - 1] if n > 0 else candidates[-1]
    return None


@dataclass(frozen=True)
class Turn:
    """What the read phase found: whose message, and what the brain needs (or the decision already made)."""

    user_id: uuid.UUID
    user_name: str
    tz: str
    msg: IncomingMessage
    text: str
    now: dt.datetime
    thought: Thought | None  # decided without a brain: a command, or the answer to Pixie's question
    had_pending: bool
    context: ContextPack | None


class Assistant:
    """Handles messages for every user of one deployment."""

    def __init__(self, sessions: async_sessionmaker, brain: Brain, memory: Memory,
                 default_tz: str | None = None, access: Access | None = None) -> None:
        self.sessions = sessions
        self.access = access or Access()  # who may talk on chat platforms (the terminal is trusted)
        self.brain = brain
        self.memory = memory
        self.default_tz = default_tz or clock.machine_zone().key
        # Asks for a push of a calendar account a turn changed (bots/app.py enqueues its sync job); None: the
        # periodic sync pushes it within minutes (core/twoway.py).
        self.push: Callable[[str], Awaitable[None]] | None = None
        # /connect, /calendars, /disconnect; the wiring adds the providers (bots/app.py).
        self.calendars = CalendarChat()

    # ------------------------------------------------------------ users

    async def user_for(self, session: AsyncSession, platform: str, platform_user_id: str, now: dt.datetime,
                       tz: str | None = None, name: str | None = None, create: bool = True) -> User | None:
        """The user behind a platform identity; created on first contact when `create`."""
        find = select(User).join(Identity).where(Identity.platform == platform,
                                                 Identity.platform_user_id == platform_user_id)
        user = await session.scalar(find)
        if user is not None or not create:
            return user
        zone_name = tz or self.default_tz
        user = User(id=uuid.uuid4(), name=name or f"{platform}:{platform_user_id}", tz=zone_name,
                    digest_time=dt.time(7, 30), created_at=now,
                    next_digest_at=digest_slot_after(now, dt.time(7, 30), zone_name))
        try:
            async with session.begin_nested():
                session.add(user)
                session.add(Identity(user_id=user.id, platform=platform, platform_user_id=platform_user_id,
                                     created_at=now))
        except IntegrityError as exc:
            # Two first messages at once (a slash command beside a message): the other turn made this
            # person a moment ago. Its commit is what the insert waited for, so it is found now.
            found = await session.scalar(find)
            if found is None:
                raise
            log.info("%s:%s was created by a concurrent turn (%s)", platform, platform_user_id, type(exc).__name__)
            return found
        return user

    @staticmethod
    async def user_named(session: AsyncSession, name: str) -> User | None:
        """Whom a command line's `--user NAME` means: the terminal user NAME, else the account "telegram:1004" names.

        Found through identities, which are unique: a name is only a label, so a terminal user
        called "telegram:1004" never stands for (or locks out) the Telegram account 1004.
        """
        platform, _, platform_user_id = name.partition(":")
        for way in (("terminal", name), (platform, platform_user_id)):
            user = await session.scalar(select(User).join(Identity).where(
                Identity.platform == way[0], Identity.platform_user_id == way[1]))
            if user is not None or not platform_user_id:
                return user
        return None

    # ------------------------------------------------------------ messages
    #
    # A turn runs in three phases, so no transaction or pooled connection waits on a model:
    #   read  — a short transaction: who is speaking, is it new, what the brain needs (context);
    #   think — the brain decides from that data alone (a model call may take seconds);
    #   act   — one write transaction in which only tools change user data, and the turn is stored.

    async def handle(self, msg: IncomingMessage, tz: str | None = None, keep: Keep | None = None) -> Reply:
        """Answer one message. Bad input gets a clear reply; a failure changes nothing.

        A database that is away (or full) raises `DatabaseUnavailable`: the caller waits and retries.
        """
        forgotten: list[tuple[str, bytes]] = []  # grants of accounts this turn disconnected
        reply, linked = await self._handle(msg, tz, keep, forgotten)
        owed = {str(a.result["push_account"]) for a in reply.actions if a.ok and a.result.get("push_account")}
        owed |= {linked} if linked else set()  # a newly connected account: its first sync starts now
        await self._push(owed)
        await self.calendars.revoke(forgotten)  # committed: now the provider forgets them too
        return reply

    async def _push(self, owed: set[str]) -> None:
        push = self.push
        for account_id in sorted(owed):
            if push is None:
                break
            try:  # after the turn's commit, off its answer's path; a lost request waits for the periodic sync
                await push(account_id)
            except Exception:
                log.warning("could not ask for a push of account %s; the next sync does it", account_id,
                            exc_info=True)

    async def _handle(self, msg: IncomingMessage, tz: str | None, keep: Keep | None,
                      forgotten: list[tuple[str, bytes]]) -> tuple[Reply, str | None]:
        now = msg.ts or dt.datetime.now(clock.UTC)
        text = clean_text(msg.text or "")
        try:
            if not text or len(text) > MAX_CHARS:
                if msg.public and not await self._serves(msg):  # a stranger in a group is answered nothing there
                    return Reply("", duplicate=True), None
                return Reply(notice("empty") if not text else f"That message is too long for me ({len(text)} "
                             f"characters; I read up to {MAX_CHARS}). Could you split it up?"), None
            async with self.sessions() as session, session.begin():
                found = await self._read(session, msg, text, now, tz, keep)
                if isinstance(found, Reply):
                    return found, None
                if not isinstance(found, Linking):
                    turn, user = found
                    if turn.thought is not None or not self.brain.reads_context(text):
                        # Nothing to wait for (a command, an answer to a question, the offline rules): the
                        # brain is a quick function of the text, so the turn thinks and acts right here.
                        return await self._act(session, user, turn, turn.thought or await self.brain.think(
                            self._input(turn)), keep, forgotten), None
            if isinstance(found, Linking):  # the pasted consent is stored (masked); calling Google waits for no row
                return await self._link(msg, found, now, keep)
            thought = await self.brain.think(self._input(turn))  # a model may take seconds: no transaction open
            async with self.sessions() as session, session.begin():
                # Locked: two turns of one person (from two platforms) act one after the other.
                again = await session.get(User, turn.user_id, with_for_update=True, populate_existing=True)
                if again is None:  # merged into another account by /link meanwhile
                    return Reply("Your accounts were just linked — please send that again."), None
                return await self._act(session, again, turn, thought, keep, forgotten), None
        except Exception as exc:
            if (away := classify(exc)) is not None:
                raise away from exc
            log.exception("failed to handle a message from %s:%s", msg.platform, msg.platform_user_id)
            return Reply("Sorry — something went wrong on my side and nothing was changed. Please try again."), None

    async def _link(self, msg: IncomingMessage, linking: Linking, now: dt.datetime,
                    keep: Keep | None) -> tuple[Reply, str | None]:
        """Finish connecting a calendar account from the pasted consent; its first sync is asked for after."""
        link = self.calendars.links.get(linking.provider)
        linked = None
        if link is None:
            text = "Connecting calendars isn't set up on this Pixie any more."
        else:
            try:
                found = await link.finish(linking.user_id, linking.kept, linking.pasted, now)
                text, linked = self.calendars.linked_text(found), str(found.account_id)
            except ValueError as exc:
                text = f"That didn't work: {exc}. Send /connect {linking.provider} to start again."
            except SourceError as exc:
                text = f"Google didn't connect the calendar: {exc}. Send /connect {linking.provider} to try again."
        async with self.sessions() as session, session.begin():
            session.add(Message(user_id=linking.user_id, platform=msg.platform, role="assistant", text=text,
                                created_at=now))
            return await _kept(session, keep, placed(msg, Reply(text))), linked

    async def _serves(self, msg: IncomingMessage) -> bool:
        """Whether the speaker is someone Pixie already serves (a known identity, or a listed owner)."""
        if msg.platform in TRUSTED_PLATFORMS or (msg.platform, msg.platform_user_id) in self.access.owners:
            return True
        async with self.sessions() as session:
            return await session.scalar(select(Identity.id).where(
                Identity.platform == msg.platform, Identity.platform_user_id == msg.platform_user_id)) is not None

    @staticmethod
    def _input(turn: Turn) -> BrainInput:
        return BrainInput(turn.text, turn.now.astimezone(clock.zone(turn.tz)), turn.user_name, user_id=turn.user_id,
                          tz=turn.tz, context=turn.context)

    async def _read(self, session: AsyncSession, msg: IncomingMessage, text: str, now: dt.datetime,
                    tz: str | None, keep: Keep | None = None) -> tuple[Turn, User] | Reply | Linking:
        """Phase one: admit the speaker, drop a redelivery, and gather what the brain needs."""
        user = await self.user_for(session, msg.platform, msg.platform_user_id, now, tz,
                                   name=msg.display_name if msg.platform == "terminal" else None,
                                   create=msg.platform in TRUSTED_PLATFORMS)
        welcome = None
        if msg.platform not in TRUSTED_PLATFORMS:  # strangers stop here: nothing of theirs reaches a brain
            user, welcome = await self.access.admit(session, msg, text, now, user, lambda: self.user_for(
                session, msg.platform, msg.platform_user_id, now, tz))
            if user is None:  # a stranger: the refusal (said once) is kept like any reply
                return await _kept(session, keep, Reply(welcome)) if welcome else Reply("", duplicate=True)
        assert user is not None
        if msg.message_id is not None and await session.scalar(select(Message.id).where(
                Message.platform == msg.platform, Message.external_id == msg.message_id)) is not None:
            return Reply("", duplicate=True)
        if tz and tz != user.tz:  # --tz says the user is elsewhere now: a tool moves them
            ctx = ToolContext(session, user, now, clock.zone(user.tz), self.memory, source="chat")
            await run_tool(ctx, "set_timezone", {"zone": tz})
        zone = clock.zone(user.tz)
        command = asked_as_command(text) or text  # "how do I connect my google calendar?" is /connect google
        shortcut = welcome or await self.access.command(session, user, msg, command, now,
                                                        now.astimezone(zone).date())
        if shortcut is None:  # /connect, /calendars, /disconnect, a pasted consent, "put new events on Work"
            calendar = await self.calendars.command(session, user, command, now)
            if isinstance(calendar, Linking):  # stored with its code masked: the code never rests in clear
                stored = await self._store(session, user, msg, mask_pasted(text), now, uuid.uuid4())
                return calendar if stored else Reply("", duplicate=True)
            shortcut = calendar
        if isinstance(shortcut, str):  # an access command (pairing, /link, /help): answered here
            # Stored with any one-time code masked: the person sees the code, the database keeps its hash only.
            if not await self._store(session, user, msg, await self.access.mask_codes(session, text), now,
                                     uuid.uuid4()):
                return Reply("", duplicate=True)
            session.add(Message(user_id=user.id, platform=msg.platform, role="assistant",
                                text=await self.access.mask_codes(session, shortcut), created_at=now))
            cmd = parse_command(command)
            return await _kept(session, keep, placed(msg, Reply(shortcut, buttons=self._yes_no(user)),
                                                     shareable=bool(cmd and cmd[0] in SHAREABLE_COMMANDS)))
        # A one-time code Pixie issued reaches no brain, tool or row ("give Dan the code …" would store it
        # in a task title): the person has it, and the database keeps only its hash.
        text = await self.access.mask_codes(session, text)
        pending = user.pending
        thought = shortcut or self._pending_choice(pending, text) or safety.undo_request(text)
        context = None
        if thought is None and self.brain.reads_context(text):
            context = await gather_context(session, self.memory, user.id, user.tz, now, text)
        return Turn(user.id, user.name, user.tz, msg, text, now, thought, pending is not None, context), user

    async def _act(self, session: AsyncSession, user: User, turn: Turn, thought: Thought,
                   keep: Keep | None = None, forgotten: list[tuple[str, bytes]] | None = None) -> Reply:
        """Phase three, in the caller's write transaction: store the turn, ask or run the tools, store the reply."""
        msg, now = turn.msg, turn.now
        turn_id = uuid.uuid4()  # the stored message; its memory item points back to it
        if not await self._store(session, user, msg, turn.text, now, turn_id):
            return Reply("", duplicate=True)
        if turn.had_pending:  # the question asked last time lapses with any answer
            user.pending = None
        ctx = ToolContext(session, user, now, clock.zone(user.tz), self.memory, source="chat",
                          forgotten=forgotten if forgotten is not None else [])
        if thought.calls and not thought.confirmed:
            writes = any(c.name in TOOLS and TOOLS[c.name].changes for c in thought.calls)
            touched = await items_touched(ctx, [(c.name, c.args) for c in thought.calls])
            bulk, shown = await preview(ctx, [(c.name, c.args) for c in thought.calls])
            if writes and thought.confidence < safety.CONFIDENT:  # never write a guess: ask first
                # about what it would really change: a task edit naming no task but an event asks about the event
                thought = replace(thought, calls=[await _as_found(ctx, c) for c in thought.calls])
                question, user.pending = safety.confirm(thought.calls, thought.text)
                thought = replace(thought, calls=[], text=question)
            elif touched > 1 or (bulk and touched):  # deleting or cancelling several things: ask first
                question, user.pending = safety.ask(thought.calls, touched, shown)
                thought = replace(thought, calls=[], text=question)
        actions = []
        for call in thought.calls:
            action = await run_tool(ctx, call.name, call.args)
            if not action.ok and action.result.get("missing") == "task":  # "move the vet to tuesday": an event?
                alt = event_counterpart(call)
                tried = await run_tool(ctx, alt.name, alt.args) if alt is not None else None
                action = tried if tried is not None and tried.ok else action
            actions.append(action)
            if not action.ok:
                break
        reply = self._compose(ctx, thought, actions)
        buttons = self._buttons(ctx, actions)
        session.add(Message(user_id=user.id, platform=msg.platform, role="assistant",
                            text=await self.access.mask_codes(session, reply),
                            actions=[a.as_dict() for a in actions] or None, created_at=now))
        # Every turn is remembered (cheap: a slow embedder's vector is made later, off this path).
        await self.memory.remember_turn(session, user.id, turn.text, [(a.tool, a.ok) for a in actions],
                                        turn_id, now)
        await record_usage(session, thought.usage)
        # A canned reply (no tool ran, no brain wrote text) is the same for everyone: fine in a group.
        return await _kept(session, keep, placed(msg, Reply(reply, actions, buttons=buttons),
                                                 shareable=not actions and thought.text is None))

    @staticmethod
    def _yes_no(user: User) -> tuple[Button, ...]:
        """Yes / No when the reply asks a question about a write (`user.pending` holds it)."""
        pending = user.pending
        if pending and "confirm" in pending and pending.get("id"):
            return (Button("Yes", "yes", pending["id"]), Button("No", "no", pending["id"]))
        return ()

    @classmethod
    def _buttons(cls, ctx: ToolContext, actions: list[Action]) -> tuple[Button, ...]:
        """Yes / No under a question about a write; Undo under a reply that changed something."""
        if asked := cls._yes_no(ctx.user):
            return asked
        if any(a.ok and a.tool not in NOT_RECORDED and a.tool in TOOLS and TOOLS[a.tool].changes for a in actions):
            return (Button("↩ Undo", "undo", str(ctx.change)),)
        return ()

    @staticmethod
    async def _store(session: AsyncSession, user: User, msg: IncomingMessage, text: str, now: dt.datetime,
                     turn_id: uuid.UUID) -> bool:
        """Store the user's message; False when a delivery with its id was stored already."""
        if msg.message_id is None:
            session.add(Message(id=turn_id, user_id=user.id, platform=msg.platform, role="user", text=text,
                                created_at=now))
            return True
        stored = await session.execute(
            insert(Message).values(id=turn_id, user_id=user.id, platform=msg.platform, external_id=msg.message_id,
                                   role="user", text=text, created_at=now)
            .on_conflict_do_nothing(index_elements=["platform", "external_id"],
                                    index_where=Message.external_id.is_not(None))
            .returning(Message.id))
        return stored.scalar_one_or_none() is not None

    @staticmethod
    def _pending_choice(pending: dict[str, Any] | None, text: str) -> Thought | None:
        """If Pixie asked "which one?" or "are you sure?", read the answer into the original call."""
        if not pending:
            return None
        if "confirm" in pending:  # "are you sure?" — yes runs the held calls, anything else drops them
            return safety.answer(pending, text)
        if "candidates" not in pending:  # a consent link waiting for its address: any other answer drops it
            return None
        choice = pick_choice(text, pending["candidates"])
        if choice is None:
            return None
        args = {k: v for k, v in pending["args"].items() if k not in (pending["ref_key"],)}
        args[pending["id_key"]] = choice["id"]
        return Thought(calls=[ToolCall(pending["tool"], args)])

    def _compose(self, ctx: ToolContext, thought: Thought, actions: list[Action]) -> str:
        speaker = Speaker(ctx.tz, ctx.now)
        if not actions:
            text = thought.text or notice(thought.reply_kind or "unknown")
        else:
            text = "\n".join(say(speaker, a) for a in actions)
            last = actions[-1]
            if not last.ok and last.result.get("candidates"):
                noun = "task" if last.tool.endswith("task") else "event"
                ctx.user.pending = {"tool": last.tool, "args": last.args, "candidates": last.result["candidates"],
                                    "id_key": f"{noun}_id", "ref_key": f"{noun}_ref"}
        if thought.note:
            text += f"\n{thought.note}"
        return text

    async def press(self, platform: str, platform_user_id: str, action: str, value: str,
                    now: dt.datetime | None = None, press_id: str | None = None, keep: Keep | None = None) -> Reply:
        """A button: Done / Snooze 1h under a notification, Undo, or Yes / No under a question — a tool call;
        pressing it twice changes nothing more. What it changed on a synced calendar is pushed after."""
        forgotten: list[tuple[str, bytes]] = []
        reply = await self._press(platform, platform_user_id, action, value, now, press_id, keep, forgotten)
        await self._push({str(a.result["push_account"]) for a in reply.actions if a.ok
                          and a.result.get("push_account")})
        await self.calendars.revoke(forgotten)
        return reply

    async def _press(self, platform: str, platform_user_id: str, action: str, value: str, now: dt.datetime | None,
                     press_id: str | None, keep: Keep | None, forgotten: list[tuple[str, bytes]]) -> Reply:
        now = now or dt.datetime.now(clock.UTC)
        call = BUTTONS.get(action)
        # What a platform sent with the press is stored and looked up: without what Postgres cannot take.
        platform_user_id, value = storable(platform_user_id), storable(value)
        press_id = storable(press_id) if press_id is not None else None
        try:
            async with self.sessions() as session, session.begin():
                user = await self.user_for(session, platform, platform_user_id, now, create=False)
                if user is None:
                    return Reply("", duplicate=True)  # a stranger's press does nothing
                if press_id is not None:
                    stored = await session.execute(
                        insert(Message).values(id=uuid.uuid4(), user_id=user.id, platform=platform,
                                               external_id=f"press:{press_id}", role="user",
                                               text=f"[{action}]", created_at=now)
                        .on_conflict_do_nothing(index_elements=["platform", "external_id"],
                                                index_where=Message.external_id.is_not(None))
                        .returning(Message.id))
                    if stored.scalar_one_or_none() is None:
                        return Reply("", duplicate=True)
                ctx = ToolContext(session, user, now, clock.zone(user.tz), self.memory, source="button",
                                  forgotten=forgotten)
                if action in ANSWERS:
                    return await _kept(session, keep, await self._answered(ctx, action, value))
                if call is None:
                    return Reply("That button doesn't do anything any more.")
                done = await run_tool(ctx, call[0], {call[1]: value})
                return await _kept(session, keep, Reply(say(Speaker(ctx.tz, now), done), [done],
                                                        buttons=self._buttons(ctx, [done])))
        except Exception as exc:
            if (away := classify(exc)) is not None:
                raise away from exc
            log.exception("failed to handle a button press from %s:%s", platform, platform_user_id)
            return Reply("Sorry — something went wrong on my side and nothing was changed. Please try again.")

    async def _answered(self, ctx: ToolContext, action: str, value: str) -> Reply:
        """A Yes / No button under a question: the held calls run once on yes; a stale press changes nothing."""
        pending = ctx.user.pending
        if not pending or "confirm" not in pending or pending.get("id") != value:
            return Reply("That question was already answered — nothing changed.")
        ctx.user.pending = None
        thought = safety.answer(pending, action)
        assert thought is not None
        actions = []
        for call in thought.calls:
            action_done = await run_tool(ctx, call.name, call.args)
            actions.append(action_done)
            if not action_done.ok:
                break
        return Reply(self._compose(ctx, thought, actions), actions, buttons=self._buttons(ctx, actions))

    # ------------------------------------------------------------ initiative

    async def tick(self, platform: str, platform_user_id: str, now: dt.datetime,
                   tz: str | None = None) -> list[OutgoingNotification]:
        """Run the scheduler step for one user at `now` and claim what it queued (replay and tests)."""
        async with self.sessions() as session, session.begin():
            user = await self.user_for(session, platform, platform_user_id, now, tz, create=False)
            if user is None:
                return []
            await step_user(session, user, now)
            return await take_unsent(session, user.id, now)


async def _kept(session: AsyncSession, keep: Keep | None, reply: Reply) -> Reply:
    if keep is not None:
        await keep(session, reply)
    return reply


async def _as_found(ctx: ToolContext, call: ToolCall) -> ToolCall:
    """`call` as a question about it should show it: its event counterpart when it edits a task that does
    not exist and the event does; an event's new day or time as the start it means for that event."""
    found = await _counterpart_found(ctx, call)
    if found.name == "update_event":
        return ToolCall(found.name, await with_new_start(ctx, found.args))
    return found


async def _counterpart_found(ctx: ToolContext, call: ToolCall) -> ToolCall:
    alt = event_counterpart(call)
    if alt is None:
        return call
    try:
        await resolve_task(ctx, TaskRef(task_ref=call.args.get("task_ref"), task_id=call.args.get("task_id")))
        return call
    except Ambiguous:
        return call
    except ToolError as exc:
        if exc.detail.get("missing") != "task":
            return call
    try:
        await resolve_event(ctx, EventRef.model_validate({k: v for k, v in alt.args.items()
                                                           if k in EventRef.model_fields}))
    except (ToolError, ValidationError):
        return call
    return alt


__all__ = ["Ambiguous", "Assistant", "Keep", "clean_text", "pick_choice"]

