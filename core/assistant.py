"""The assistant: one message in, the tools it ran and a short reply out. Knows no platform."""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import clock, safety
from core.access import TRUSTED_PLATFORMS, Access
from core.brain import Brain, BrainInput, Thought, ToolCall
from core.memory import Memory
from core.replies import Speaker, notice
from core.scheduler import digest_slot_after, step_user, take_unsent
from core.tools import Ambiguous, ToolContext, best_matches, run_tool
from core.types import Action, IncomingMessage, OutgoingNotification, Reply
from db.models import Identity, Message, User

log = logging.getLogger(__name__)

MAX_CHARS = 4000
ORDINALS = {"first": 1, "1st": 1, "one": 1, "second": 2, "2nd": 2, "two": 2, "third": 3, "3rd": 3,
            "three": 3, "fourth": 4, "4th": 4, "four": 4, "fifth": 5, "5th": 5, "five": 5, "last": -1}


def clean_text(text: str) -> str:
    """Drop control characters (and NULs, which Postgres cannot store); keep emoji and newlines."""
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C").strip()


def pick_choice(text: str, candidates: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Which of the offered candidates the user's answer names, if it names exactly one."""
    words = re.findall(r"[a-z0-9#]+", text.lower())
    for w in words:
        n = ORDINALS.get(w) or (int(w.lstrip("#")) if w.lstrip("#").isdigit() else None)
        if n is not None and len(words) <= 4 and -1 <= n <= len(candidates) and n != 0:
            return candidates[n - 1] if n > 0 else candidates[-1]
    found = best_matches(text, [(c, c.get("title", "")) for c in candidates])
    return found[0] if len(found) == 1 else None


class Assistant:
    """Handles messages for every user of one deployment."""

    def __init__(self, sessions: async_sessionmaker, brain: Brain, memory: Memory,
                 default_tz: str | None = None, access: Access | None = None) -> None:
        self.sessions = sessions
        self.access = access or Access()  # who may talk on chat platforms (the terminal is trusted)
        self.brain = brain
        self.memory = memory
        self.default_tz = default_tz or clock.machine_zone().key

    # ------------------------------------------------------------ users

    async def user_for(self, session: AsyncSession, platform: str, platform_user_id: str, now: dt.datetime,
                       tz: str | None = None, name: str | None = None, create: bool = True) -> User | None:
        """The user behind a platform identity; created on first contact when `create`."""
        user = await session.scalar(
            select(User).join(Identity).where(Identity.platform == platform,
                                              Identity.platform_user_id == platform_user_id))
        if user is not None or not create:
            return user
        zone_name = tz or self.default_tz
        user = User(id=uuid.uuid4(), name=name or f"{platform}:{platform_user_id}", tz=zone_name,
                    digest_time=dt.time(7, 30), created_at=now,
                    next_digest_at=digest_slot_after(now, dt.time(7, 30), zone_name))
        session.add(user)
        session.add(Identity(user_id=user.id, platform=platform, platform_user_id=platform_user_id,
                             created_at=now))
        await session.flush()
        return user

    # ------------------------------------------------------------ messages

    async def handle(self, msg: IncomingMessage, tz: str | None = None) -> Reply:
        """Answer one message. Bad input gets a clear reply; a failure changes nothing."""
        now = msg.ts or dt.datetime.now(clock.UTC)
        text = clean_text(msg.text or "")
        if not text:
            return Reply(notice("empty"))
        if len(text) > MAX_CHARS:
            return Reply(f"That message is too long for me ({len(text)} characters; I read up to {MAX_CHARS}). "
                         "Could you split it up?")
        try:
            async with self.sessions() as session, session.begin():
                return await self._handle(session, msg, text, now, tz)
        except Exception:
            log.exception("failed to handle a message from %s:%s", msg.platform, msg.platform_user_id)
            return Reply("Sorry — something went wrong on my side and nothing was changed. Please try again.")

    async def _handle(self, session: AsyncSession, msg: IncomingMessage, text: str, now: dt.datetime,
                      tz: str | None) -> Reply:
        user = await self.user_for(session, msg.platform, msg.platform_user_id, now, tz,
                                   name=msg.display_name if msg.platform == "terminal" else None,
                                   create=msg.platform in TRUSTED_PLATFORMS)
        welcome = None
        if msg.platform not in TRUSTED_PLATFORMS:  # strangers stop here: nothing of theirs reaches a brain
            user, welcome = await self.access.admit(session, msg, text, now, user, lambda: self.user_for(
                session, msg.platform, msg.platform_user_id, now, tz))
            if user is None:
                return Reply(welcome or "", duplicate=welcome is None)
        assert user is not None
        if tz and tz != user.tz:  # the user (or --tz) moved zones: speak and schedule in the new one
            user.tz = tz
            user.next_digest_at = digest_slot_after(now, user.digest_time, tz)
        turn_id = uuid.uuid4()  # the stored message; its memory item points back to it
        if msg.message_id is not None:
            stored = await session.execute(
                insert(Message).values(id=turn_id, user_id=user.id, platform=msg.platform,
                                       external_id=msg.message_id, role="user", text=text, created_at=now)
                .on_conflict_do_nothing(index_elements=["platform", "external_id"],
                                        index_where=Message.external_id.is_not(None))
                .returning(Message.id))
            if stored.scalar_one_or_none() is None:
                return Reply("", duplicate=True)
        else:
            session.add(Message(id=turn_id, user_id=user.id, platform=msg.platform, role="user", text=text,
                                created_at=now))
        zone = clock.zone(user.tz)
        ctx = ToolContext(session, user, now, zone, self.memory)
        shortcut = welcome or await self.access.command(session, user, msg, text, now, ctx.today)
        if isinstance(shortcut, str):
            session.add(Message(user_id=user.id, platform=msg.platform, role="assistant", text=shortcut,
                                created_at=now))
            return Reply(shortcut)
        thought = shortcut or await self._pending_choice(ctx, text)
        if thought is None:
            thought = await self.brain.think(BrainInput(text, now.astimezone(zone), user.name,
                                                        user_id=user.id, tz=user.tz, session=session))
            if safety.needs_confirmation(thought.calls):  # deleting several items: ask first
                question, user.pending = safety.ask(thought.calls)
                thought = Thought(text=question, note=thought.note)
        actions = []
        for call in thought.calls:
            action = await run_tool(ctx, call.name, call.args)
            actions.append(action)
            if not action.ok:
                break
        reply = self._compose(ctx, thought, actions)
        session.add(Message(user_id=user.id, platform=msg.platform, role="assistant", text=reply,
                            actions=[a.as_dict() for a in actions] or None, created_at=now))
        # Every turn is remembered (cheap: a slow embedder's vector is made later, off this path).
        await self.memory.remember_turn(session, user.id, text, [(a.tool, a.ok) for a in actions], turn_id, now)
        return Reply(reply, actions)

    async def _pending_choice(self, ctx: ToolContext, text: str) -> Thought | None:
        """If Pixie asked "which one?", read the answer and finish the original call."""
        pending = ctx.user.pending
        if not pending:
            return None
        ctx.user.pending = None
        if "confirm" in pending:  # "are you sure?" — yes runs the held calls, anything else drops them
            return safety.answer(pending, text)
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
            text = "\n".join(speaker.action(a) for a in actions)
            last = actions[-1]
            if not last.ok and last.result.get("candidates"):
                noun = "task" if last.tool.endswith("task") else "event"
                ctx.user.pending = {"tool": last.tool, "args": last.args, "candidates": last.result["candidates"],
                                    "id_key": f"{noun}_id", "ref_key": f"{noun}_ref"}
        if thought.note:
            text += f"\n{thought.note}"
        return text

    async def press(self, platform: str, platform_user_id: str, action: str, value: str,
                    now: dt.datetime | None = None, press_id: str | None = None) -> Reply:
        """A Done / Snooze 1h button under a notification; pressing it twice changes nothing more."""
        now = now or dt.datetime.now(clock.UTC)
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
                ctx = ToolContext(session, user, now, clock.zone(user.tz), self.memory)
                if action == "done":
                    done = await run_tool(ctx, "complete_task", {"task_id": value})
                    return Reply(Speaker(ctx.tz, now).action(done), [done])
                if action == "snooze":
                    task = await run_tool(ctx, "list_tasks", {"status": "all"})
                    row = next((t for t in task.result.get("tasks", []) if t["id"] == value), None)
                    if row is None or row["status"] == "done":
                        return Reply("That task is already done or gone — nothing to snooze.")
                    # An hour from the press, not from the old reminder: a second press lands on the same time.
                    later = (now + dt.timedelta(hours=1)).astimezone(ctx.tz).replace(second=0, microsecond=0)
                    moved = await run_tool(ctx, "update_task", {"task_id": value, "remind_at": later.isoformat()})
                    text = (f"Snoozed: I'll remind you about “{row['title']}” at {clock.fmt_time(later, ctx.tz)}."
                            if moved.ok else Speaker(ctx.tz, now).action(moved))
                    return Reply(text, [moved])
                return Reply("That button doesn't do anything any more.")
        except Exception:
            log.exception("failed to handle a button press from %s:%s", platform, platform_user_id)
            return Reply("Sorry — something went wrong on my side and nothing was changed. Please try again.")

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


__all__ = ["Ambiguous", "Assistant", "clean_text", "pick_choice"]
