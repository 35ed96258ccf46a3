"""What every chat adapter shares: splitting long replies, per-chat order, typing, and 429 back-off."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from core.inbox import Delivery, Inbox, Stored
from core.outage import Backoff, DatabaseUnavailable, classify
from core.types import Reply

log = logging.getLogger(__name__)
T = TypeVar("T")

TYPING_GRACE = 0.3  # a reply faster than this needs no typing indicator
TYPING_EVERY = 4.0  # platforms drop the indicator after ~5 s; refresh before that
MAX_HELD = 1000  # deliveries held in memory while the database is away (where the platform cannot redeliver)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts its 4096 limit."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """Cut `text` into pieces whose `measure` (after formatting) fits `limit`.

    Cuts fall at paragraph breaks, then line breaks, then spaces, and only inside a word when a
    word alone is too long. Each piece is formatted on its own, so no tag or escape is split.
    """
    text = text.strip()
    if not text:
        return []
    if measure(text) <= limit:
        return [text]
    for sep in ("\n\n", "\n", " "):
        parts = text.split(sep)
        if len(parts) > 1:
            return _pack(parts, sep, limit, measure)
    # One unbroken word: cut at the longest prefix that fits (never between a surrogate pair in UTF-16).
    lo, hi = 1, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if measure(text[:mid]) <= limit else (lo, mid - 1)
    return [text[:lo]] + split_text(text[lo:], limit, measure)


def _pack(parts: list[str], sep: str, limit: int, measure: Callable[[str], int]) -> list[str]:
    out: list[str] = []
    current = ""
    for part in parts:
        joined = f"{current}{sep}{part}" if current else part
        if measure(joined.strip()) <= limit:
            current = joined
            continue
        if current.strip():
            out.append(current.strip())
        if measure(part.strip()) <= limit:
            current = part
        else:
            pieces = split_text(part, limit, measure)
            out.extend(pieces[:-1])
            current = pieces[-1] if pieces else ""
    if current.strip():
        out.append(current.strip())
    return out


async def with_retry_after(call: Callable[[], Awaitable[T]], retry_after: Callable[[BaseException], float | None],
                           attempts: int = 4, longest: float = 60.0) -> T:
    """Run `call`; when the platform says 429, wait as long as it asks (up to `longest`) and try again."""
    for attempt in range(attempts):
        try:
            return await call()
        except Exception as exc:
            wait = retry_after(exc)
            if wait is None or attempt == attempts - 1 or wait > longest:
                raise
            log.info("rate limited; retrying in %.2fs", wait)
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")


@contextlib.asynccontextmanager
async def typing_while(start: Callable[[], Awaitable[object]], grace: float = TYPING_GRACE,
                       every: float = TYPING_EVERY) -> AsyncIterator[None]:
    """Show the platform's typing indicator while the body runs longer than `grace`."""

    async def loop() -> None:
        await asyncio.sleep(grace)
        while True:
            try:
                await start()
            except Exception as exc:  # the indicator is a nicety; never fail a reply over it
                log.debug("typing indicator failed: %s", exc)
            await asyncio.sleep(every)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


CANT_DM = "I can't send you a direct message yet: write to me privately once, then ask me again."


async def say_in_place(reply: Reply, here: Callable[[str], Awaitable[object]], dm: Callable[[str], Awaitable[object]],
                       refused: tuple[type[BaseException], ...]) -> None:
    """Send `reply` where its message came from; a private one goes to the person's DM, with its note here.

    When the platform will not open the DM (`refused`: the person never wrote to the bot, or closed
    their DMs), the place is told so; the private text is never posted there instead.
    """
    if not reply.private:
        await here(reply.text)
        return
    try:
        await dm(reply.text)
    except refused as exc:
        log.info("could not answer in a direct message (%s); saying so where they asked", type(exc).__name__)
        await here(CANT_DM)
        return
    if reply.note:
        await here(reply.note)


class Channel(Protocol):
    """The platform side an adapter gives `Conversations`: answer somewhere, show typing there."""

    async def respond(self, reply_to: str, item: Delivery, reply: Reply, key: str | None = None) -> None:
        """Answer where `item` came from. `key` (the delivery's event id) is given with the reply itself,
        never with a notice: a platform with an idempotency key derives it from `key`, so a reply sent
        again after a crash is not posted twice."""

    async def typing(self, reply_to: str) -> None: ...


@dataclass
class _Chat:
    lock: asyncio.Lock
    users: int = 0


class Conversations:
    """Stores each delivery before the adapter acks it, then handles one chat's deliveries in order.

    Different people are handled concurrently; one person's messages never overtake each other.
    While the database is away, each waiting chat is told so once, and its messages are answered,
    in order, once it is back.
    """

    def __init__(self, inbox: Inbox, channel: Channel) -> None:
        self.inbox = inbox
        self.channel = channel
        self._chats: dict[tuple[str, str], _Chat] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._told: set[str] = set()  # chats told about the current outage
        self._held = 0

    async def tell(self, reply_to: str, item: Delivery, away: DatabaseUnavailable) -> None:
        """Say once per chat and outage that the answer waits for the database (and why)."""
        if reply_to in self._told:
            return
        if not self._told:  # one line per outage, however many chats wait
            log.warning("database unavailable (%s); telling each waiting chat its answer comes later", away)
        self._told.add(reply_to)
        try:
            await self.channel.respond(reply_to, item, Reply(away.notice))
        except Exception as exc:  # the notice is a courtesy; the answer itself is still owed
            log.warning("could not send the outage notice: %s", exc)

    def _back(self) -> None:
        self._told.clear()

    async def _store(self, batch: list[tuple[str, Delivery, str]]) -> list[bool]:
        try:
            fresh = await self.inbox.accept_many(batch)
        except Exception as exc:
            away = classify(exc)
            if away is None:
                raise
            for _, item, reply_to in batch:
                await self.tell(reply_to, item, away)
            raise away from exc
        self._back()
        return fresh

    async def submit(self, event_id: str, item: Delivery, reply_to: str) -> bool:
        """Store the delivery and queue it; False for a redelivery (acknowledge it and do nothing).

        Its place in the chat's queue is taken on arrival, before the store, so two messages stored
        concurrently are still answered in the order they came.
        While the database is away the delivery is held here and stored when it is back (up to
        MAX_HELD of them; past that `DatabaseUnavailable` is raised and the platform must redeliver).
        """
        stored: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.spawn(Stored(event_id, item, reply_to), stored)
        backoff = Backoff()
        held = False
        try:
            while True:
                try:
                    new = (await self._store([(event_id, item, reply_to)]))[0]
                    break
                except DatabaseUnavailable:
                    if not held and self._held >= MAX_HELD:
                        raise
                    if not held:
                        held, self._held = True, self._held + 1
                    await backoff.wait()
        except BaseException:
            stored.set_result(False)
            raise
        finally:
            if held:
                self._held -= 1
        stored.set_result(new)
        return new

    async def submit_many(self, batch: list[tuple[str, Delivery, str]]) -> list[bool]:
        """Store a batch in one go, then queue the new ones in their order.

        While the database is away this tells each chat once and raises `DatabaseUnavailable`: the
        adapter leaves the batch unacknowledged, so the platform serves it again.
        """
        fresh = await self._store(batch)
        for (event_id, item, reply_to), new in zip(batch, fresh, strict=True):
            if new:
                self.spawn(Stored(event_id, item, reply_to))
        return fresh

    def spawn(self, stored: Stored, go: asyncio.Future[bool] | None = None) -> None:
        """Handle a stored delivery in the background, after the earlier ones of the same chat."""
        key = (stored.item.platform, stored.item.platform_user_id)
        chat = self._chats.setdefault(key, _Chat(asyncio.Lock()))
        chat.users += 1
        task = asyncio.create_task(self._run(key, chat, stored, go))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def recover(self, platform: str, wait: bool = True) -> int | None:
        """Handle what was stored but never handled before the last stop; returns how many.

        While the database is away this waits for it (with `wait`), or returns None at once: the
        adapter must then not take new deliveries yet, or one could be handled twice.
        """
        backoff = Backoff(first=0.5, longest=5.0)
        while True:
            try:
                pending = await self.inbox.unhandled(platform)
                break
            except Exception as exc:
                if classify(exc) is None:
                    raise
                if not wait:
                    return None
                await backoff.wait()
        for stored in pending:
            self.spawn(stored)
        return len(pending)

    async def _run(self, key: tuple[str, str], chat: _Chat, stored: Stored,
                   go: asyncio.Future[bool] | None = None) -> None:
        try:
            async with chat.lock:
                if go is not None and not await go:  # a redelivery, or the store failed: nothing to do
                    return
                reply = stored.reply  # answered before a crash, not sent yet: send it now, once
                backoff = Backoff()
                while reply is None:
                    try:
                        async with typing_while(lambda: self.channel.typing(stored.reply_to)):
                            reply = await self.inbox.handle(stored.event_id, stored.item)
                        self._back()
                    except DatabaseUnavailable as away:  # stored already: answered when it is back
                        await self.tell(stored.reply_to, stored.item, away)
                        await backoff.wait()
                if not reply.duplicate and reply.text.strip():
                    await self.channel.respond(stored.reply_to, stored.item, reply, key=stored.event_id)
                    await self.inbox.sent(stored.item.platform, stored.event_id)
        except Exception:
            log.exception("failed to answer %s on %s", stored.event_id, stored.item.platform)
        finally:
            chat.users -= 1
            if chat.users == 0:
                self._chats.pop(key, None)

    async def drain(self) -> None:
        """Wait until every queued delivery is answered (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.inbox.flush()
