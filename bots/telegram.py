"""Telegram adapter (python-telegram-bot): long polling or a webhook, HTML replies, inline buttons."""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import html
import json
import logging
import os
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

# Opt in to PTB's coming behaviour (retry_after as a timedelta) instead of a deprecation warning per 429.
os.environ.setdefault("PTB_TIMEDELTA", "true")
from telegram import Bot as TgBot
from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bots.common import Conversations, say_in_place, split_text, utf16_len, with_retry_after
from bots.platforms import Adapter, SendClient
from core.config import Settings
from core.inbox import Delivery, Inbox, Press
from core.notify import Sender
from core.outage import Backoff, DatabaseUnavailable
from core.types import Button, IncomingMessage, OutgoingNotification, PlatformUnavailable, Reply, Undeliverable

log = logging.getLogger(__name__)

PLATFORM = "telegram"
LIMIT = 4096  # UTF-16 code units, after HTML escaping
COMMANDS = [("tasks", "Your open tasks"), ("today", "Today's agenda"), ("link", "Use Pixie from another platform"),
            ("digest", "Where reminders and the digest go"), ("connect", "Connect your Google Calendar"),
            ("calendars", "Your connected calendars"), ("help", "What Pixie can do"), ("start", "Say hello")]


def to_delivery(update: Update, bot_username: str | None = None) -> tuple[str, Delivery, str] | None:
    """(event id, delivery, reply_to) for an update Pixie answers; None for everything else."""
    event_id = str(update.update_id)
    q = update.callback_query
    if q is not None:
        action, _, value = (q.data or "").partition(":")
        if action not in ("done", "snooze", "undo", "yes", "no") or q.message is None:
            return None
        press = Press(PLATFORM, str(q.from_user.id), action, value, press_id=q.id)
        return event_id, press, f"{q.message.chat.id}:{q.message.message_id}"
    m = update.message
    if m is None or not m.text or m.from_user is None or m.from_user.is_bot:
        return None
    text, private = m.text, m.chat.type == "private"
    if not private:  # in a group, only messages that mention the bot are for Pixie
        mention = f"@{bot_username}" if bot_username else None
        if not mention or mention.lower() not in text.lower():
            return None
        at = text.lower().index(mention.lower())
        text = (text[:at] + text[at + len(mention):]).strip()
    msg = IncomingMessage(PLATFORM, str(m.from_user.id), text, chat_id=str(m.chat.id) if private else None,
                          message_id=event_id, ts=m.date, display_name=m.from_user.full_name,
                          public=not private)  # a group or supergroup: its members read the answer
    return event_id, msg, str(m.chat.id)


class _Bot(TgBot):
    async def raw_updates(self, params: dict[str, Any], read_timeout: float) -> Any:
        """getUpdates as Telegram sent it (the library's get_updates fails a whole batch on one bad update)."""
        return await self._post("getUpdates", params, read_timeout=read_timeout)


def keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    """Done / Snooze side by side; a digest's Done buttons one per row."""
    if not buttons:
        return None
    pairs = [b for b in buttons if b.action == "snooze"]
    rows = [[InlineKeyboardButton(b.label, callback_data=f"{b.action}:{b.value}") for b in buttons]] if pairs else \
        [[InlineKeyboardButton(b.label, callback_data=f"{b.action}:{b.value}")] for b in buttons]
    return InlineKeyboardMarkup(rows)


def retry_after(exc: BaseException) -> float | None:
    """Seconds Telegram asked us to wait, for a 429."""
    if isinstance(exc, RetryAfter):
        wait = exc.retry_after
        return wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait)
    return None


class TelegramBot(Sender):
    """One Telegram bot: receives updates, answers through the core, delivers notifications."""

    def __init__(self, inbox: Inbox, token: str, base_url: str | None = None, *, poll_timeout: int = 30,
                 webhook_url: str | None = None, webhook_secret: str | None = None, listen: str = "0.0.0.0",
                 port: int = 8443) -> None:
        base = (base_url or "https://api.telegram.org/bot").rstrip("/")
        self.bot = _Bot(token, base_url=base, base_file_url=base.replace("/bot", "/file/bot"))
        self.conversations = Conversations(inbox, self)
        self.poll_timeout = poll_timeout
        self.webhook_url, self.webhook_secret = webhook_url, webhook_secret
        self.listen, self.port = listen, port
        self.username: str | None = None
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self._recovered = False

    # ------------------------------------------------------------ running

    async def run(self) -> None:
        """Start, serve until cancelled, stop."""
        await self.start()
        try:
            await self._stopping.wait() if self.webhook_url else await self.poll()
        finally:
            await self.stop()

    async def start(self) -> None:
        """Log in, register the commands, finish what the last run left, and open the webhook if set."""
        await self.bot.initialize()
        self.username = self.bot.username
        await with_retry_after(lambda: self.bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS]),
                               retry_after)
        # A webhook waits here for a database that is away; polling retries it before taking updates.
        self._recovered = await self.conversations.recover(PLATFORM, wait=bool(self.webhook_url)) is not None
        if self.webhook_url:
            await self._serve_webhook()
        else:
            await self.bot.delete_webhook()

    async def stop(self) -> None:
        """Answer what is in flight, close the webhook server and the HTTP pool."""
        self._stopping.set()
        await self.conversations.drain()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.bot.shutdown()

    async def poll(self) -> None:
        """Long polling; the offset moves past an update only after the update is stored."""
        offset: int | None = None
        failures = 0
        away_backoff = Backoff()
        while not self._stopping.is_set():
            try:
                # Short polls while the database is not reached yet, so it is tried again within a second or two.
                timeout = self.poll_timeout if self._recovered else min(self.poll_timeout, 1)
                updates, last = await self._get_updates(offset, timeout)
                failures = 0
            except RetryAfter as exc:
                await asyncio.sleep(retry_after(exc) or 1)
                continue
            except Conflict:
                log.error("Telegram says another getUpdates poller or a webhook is active for this bot; "
                          "stop the other one (retrying in 30 s)")
                await asyncio.sleep(30)
                continue
            except (NetworkError, TelegramError) as exc:
                failures += 1
                log.warning("getUpdates failed (%s); retrying", exc)
                await asyncio.sleep(min(30.0, 0.5 * 2 ** min(failures, 6)))
                continue
            if not self._recovered:  # the last run's leftovers first, or one could be answered twice
                self._recovered = await self.conversations.recover(PLATFORM, wait=False) is not None
                if not self._recovered:
                    found = [d for u in updates if (d := to_delivery(u, self.username))]
                    away = DatabaseUnavailable(ConnectionRefusedError("the database is not reachable"))
                    for _, item, reply_to in found:
                        await self.conversations.tell(reply_to, item, away)
                    await away_backoff.wait()
                    continue
            if updates:
                try:
                    await self.receive(updates)
                except DatabaseUnavailable:  # not confirmed: Telegram serves them again once it is back
                    await away_backoff.wait()
                    continue
                away_backoff.reset()
            if last is not None:
                offset = last + 1

    async def _get_updates(self, offset: int | None, wait: int) -> tuple[list[Update], int | None]:
        """One getUpdates: the updates that can be read, and the last update id seen (read or not).

        Each update is read on its own, so one the library cannot read (a new or malformed field) is
        skipped with a warning, instead of failing the whole batch at every poll forever.
        """
        params: dict[str, Any] = {"timeout": wait, "allowed_updates": ["message", "callback_query"]}
        if offset is not None:
            params["offset"] = offset
        raw = await self.bot.raw_updates(params, read_timeout=wait + 10)
        updates: list[Update] = []
        last: int | None = None
        for data in raw if isinstance(raw, list) else []:
            update_id = data.get("update_id") if isinstance(data, dict) else None
            if isinstance(update_id, int) and not isinstance(update_id, bool):
                last = update_id if last is None else max(last, update_id)
            try:
                update = Update.de_json(data, self.bot)
            except Exception as exc:
                log.warning("skipped Telegram update %s: the library cannot read it (%s: %s)",
                            update_id, type(exc).__name__, str(exc)[:200])
                continue
            if isinstance(update, Update):
                updates.append(update)
        return updates, last

    async def receive(self, updates: list[Update]) -> None:
        """Store a batch of updates (concurrently), then queue the new ones in order."""
        found = [d for u in updates if (d := to_delivery(u, self.username))]
        await self.conversations.submit_many(found)
        for event_id, item, _ in found:
            if isinstance(item, Press):
                asyncio.create_task(self._answer_press(event_id, updates))

    async def _answer_press(self, event_id: str, updates: list[Update]) -> None:
        # Stop the button's spinner at once; the result arrives as a message.
        for u in updates:
            if str(u.update_id) == event_id and u.callback_query is not None:
                try:
                    await self.bot.answer_callback_query(u.callback_query.id)
                except TelegramError as exc:
                    log.debug("answerCallbackQuery failed: %s", exc)

    async def _serve_webhook(self) -> None:
        assert self.webhook_url
        path = urlsplit(self.webhook_url).path or "/"
        app = web.Application()
        app.router.add_post(path, self._webhook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.listen, self.port).start()
        await self.bot.set_webhook(self.webhook_url, secret_token=self.webhook_secret,
                                   allowed_updates=["message", "callback_query"])

    async def _webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if self.webhook_secret and not hmac.compare_digest(given.encode(), self.webhook_secret.encode()):
            return web.Response(status=403)
        try:
            update = Update.de_json(json.loads(await request.read()), self.bot)
        except Exception as exc:  # unreadable: refused, so it is not retried forever either
            log.warning("refused a Telegram webhook update the library cannot read (%s)", type(exc).__name__)
            return web.Response(status=400)
        if not isinstance(update, Update):
            return web.Response(status=400)
        await self.receive([update])  # stored before the 200 below; a failure → 500 → Telegram retries
        return web.Response(status=200)

    # ------------------------------------------------------------ sending

    async def respond(self, reply_to: str, item: Delivery, reply: Reply, key: str | None = None) -> None:
        """Answer in the chat the delivery came from; a press also clears the buttons it came with."""
        chat_id, _, message_id = reply_to.partition(":")
        if isinstance(item, Press) and message_id:
            try:
                await with_retry_after(lambda: self.bot.edit_message_reply_markup(
                    chat_id=chat_id, message_id=int(message_id), reply_markup=None), retry_after)
            except BadRequest as exc:  # already cleared (a second press) — fine
                log.debug("editMessageReplyMarkup: %s", exc)
        # A private chat's id is the user's id: that is where a private answer goes.
        markup = keyboard(reply.buttons)  # Undo, or Yes / No: with the answer wherever it goes
        await say_in_place(reply, lambda text: self.send_text(chat_id, text, markup if not reply.private else None),
                           lambda text: self.send_text(item.platform_user_id, text, markup), (Forbidden, BadRequest))

    async def typing(self, reply_to: str) -> None:
        """The 'typing…' indicator."""
        await self.bot.send_chat_action(chat_id=reply_to.partition(":")[0], action="typing")

    async def send_note(self, platform_user_id: str, chat_id: str | None, note: OutgoingNotification) -> None:
        """A reminder or digest with its buttons (in a private chat, chat id = user id)."""
        try:
            await self.send_text(chat_id or platform_user_id, note.text, keyboard(note.buttons))
        except (Forbidden, BadRequest) as exc:  # the user blocked the bot, or the chat is gone
            raise Undeliverable(str(exc)) from exc
        except RetryAfter as exc:
            raise PlatformUnavailable(str(exc), retry_after(exc)) from exc
        except (NetworkError, TimedOut) as exc:
            raise PlatformUnavailable(str(exc)) from exc

    async def send_text(self, chat_id: str, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        """Send `text` as HTML in pieces of ≤ 4096 UTF-16 units; buttons go under the last piece."""
        pieces = split_text(text, LIMIT, lambda s: utf16_len(html.escape(s, quote=False)))
        for i, piece in enumerate(pieces):
            extra: dict[str, Any] = {"reply_markup": markup} if markup is not None and i == len(pieces) - 1 else {}
            try:
                await with_retry_after(lambda p=piece, x=extra: self.bot.send_message(  # type: ignore[misc]
                    chat_id=chat_id, text=html.escape(p, quote=False), parse_mode="HTML", **x), retry_after)
            except BadRequest as exc:
                if "parse" not in str(exc).lower():
                    raise
                await with_retry_after(lambda p=piece, x=extra: self.bot.send_message(  # type: ignore[misc]
                    chat_id=chat_id, text=p, **x), retry_after)


def _bot(inbox: Inbox, settings: Settings) -> TelegramBot:
    assert settings.telegram_bot_token
    return TelegramBot(inbox, settings.telegram_bot_token, settings.telegram_base_url,
                       webhook_url=settings.telegram_webhook_url, webhook_secret=settings.telegram_webhook_secret,
                       listen=settings.listen_host, port=settings.telegram_webhook_port)


def _sender(inbox: Inbox, settings: Settings) -> SendClient:
    assert settings.telegram_bot_token
    bot = TelegramBot(inbox, settings.telegram_bot_token, settings.telegram_base_url)
    # initialize() = getMe and the HTTP pool; no webhook change, no getUpdates.
    return SendClient(bot, bot.bot.initialize, bot.bot.shutdown)


ADAPTER = Adapter(build_bot=_bot, build_sender=_sender)
