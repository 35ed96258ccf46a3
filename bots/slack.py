"""Slack adapter (slack-bolt AsyncApp): Socket Mode, or HTTP Events with a signing secret; mrkdwn, Block Kit."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bots.common import Conversations, say_in_place, split_text
from bots.platforms import Adapter, SendClient
from core.config import Settings
from core.inbox import Delivery, Inbox, Press
from core.types import (
    Button,
    IncomingMessage,
    OutgoingNotification,
    PlatformUnavailable,
    Reply,
    Undeliverable,
    storable,
)

log = logging.getLogger(__name__)

PLATFORM = "slack"
LIMIT = 3000  # a section block's text, after escaping
EVENTS_PATH = "/slack/events"
MENTION = re.compile(r"<@[A-Z0-9]+>")
GONE = {"channel_not_found", "user_not_found", "account_inactive", "is_archived", "not_in_channel",
        "cannot_dm_bot", "invalid_auth", "token_revoked"}


def escape(text: str) -> str:
    """Slack mrkdwn escaping: only &, < and > are special."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def blocks_for(piece: str, buttons: tuple[Button, ...] = ()) -> list[dict[str, Any]]:
    """A section with the text, and an actions block with the buttons (Block Kit)."""
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": escape(piece)}}]
    if buttons:
        blocks.append({"type": "actions", "block_id": "pixie_buttons", "elements": [
            {"type": "button", "action_id": f"pixie_{b.action}_{i}", "value": f"{b.action}:{b.value}",
             "text": {"type": "plain_text", "text": b.label[:75]}, **({"style": "primary"} if i == 0 else {})}
            for i, b in enumerate(buttons[:25])]})
    return blocks


def slash_text(text: str) -> str:
    """`/pixie link ABCD` → `/link ABCD` (our commands), `/pixie add milk` → `add milk`."""
    word = text.strip().split(" ", 1)[0].lower()
    if word in ("help", "start", "tasks", "today", "link", "digest", "invite", "admit", "connect", "calendars",
                "disconnect"):
        return "/" + text.strip()
    return text.strip() or "/help"


def _text(value: Any) -> str | None:
    """A string field of a payload (without what Postgres cannot store), or None when it is missing or not one."""
    return storable(value) if isinstance(value, str) else None


def _object(value: Any) -> dict[str, Any]:
    """An object field of a payload, or {} when it is missing or not an object."""
    return value if isinstance(value, dict) else {}


def message_delivery(body: dict[str, Any]) -> tuple[str, Delivery, str] | None:
    """(event id, message, reply_to) for a DM or a mention; None for what Pixie ignores (or cannot read)."""
    event = _object(body.get("event"))
    user, channel = _text(event.get("user")), _text(event.get("channel"))
    if event.get("subtype") or event.get("bot_id") or not user or not channel:
        return None
    team = _text(body.get("team_id")) or _text(event.get("team")) or "T"
    event_id = body.get("event_id")
    if not isinstance(event_id, str | int) or isinstance(event_id, bool):
        return None  # no key to store it under: it could not be told apart from a redelivery
    event_id = storable(f"{team}:{event_id}")
    is_dm = event.get("type") == "message" and event.get("channel_type") == "im"
    if not is_dm and event.get("type") != "app_mention":
        return None
    text = MENTION.sub("", _text(event.get("text")) or "").strip()
    msg = IncomingMessage(PLATFORM, f"{team}/{user}", text, chat_id=channel if is_dm else None,
                          message_id=event_id, public=not is_dm)  # a channel or its thread: its members read it
    reply_to: dict[str, Any] = {"channel": channel, "ts": _text(event.get("ts"))}
    if not is_dm:
        reply_to["thread_ts"] = _text(event.get("thread_ts")) or reply_to["ts"]
    return event_id, msg, json.dumps(reply_to)


def response_url(value: Any) -> str | None:
    """A slash command's response_url, when it is one (an https URL; http for a local test server)."""
    url = _text(value)
    return url if url and url.startswith(("https://", "http://")) else None


class SlackBot:
    """One Slack app: receives events, answers through the core, delivers notifications."""

    def __init__(self, inbox: Inbox, bot_token: str, *, app_token: str | None = None,
                 signing_secret: str | None = None, http_port: int | None = None, listen: str = "0.0.0.0",
                 base_url: str | None = None) -> None:
        self.client = AsyncWebClient(token=bot_token, base_url=base_url or "https://slack.com/api/")
        self.client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))
        self.http = bool(signing_secret and http_port)  # HTTP Events when configured, else Socket Mode
        self.app_token, self.port, self.listen = app_token, http_port, listen
        # process_before_response: a listener stores the delivery before Bolt acks it, then returns.
        self.app = AsyncApp(client=self.client, signing_secret=signing_secret or "socket-mode",
                            process_before_response=True)
        self.conversations = Conversations(inbox, self)
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        self._reacted: set[str] = set()
        self.app.event("message")(self._on_event)
        self.app.event("app_mention")(self._on_event)
        self.app.command("/pixie")(self._on_command)
        self.app.action(re.compile(r"^pixie_(done|snooze|undo|yes|no)_\d+$"))(self._on_button)

    # ------------------------------------------------------------ running

    async def run(self) -> None:
        """Start, serve until cancelled, stop."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    async def start(self) -> None:
        """Finish what the last run left, then connect (Socket Mode) or listen (HTTP Events)."""
        await self.conversations.recover(PLATFORM)
        if self.http:
            server = web.Application()
            server.router.add_post(EVENTS_PATH, self._http)
            self._runner = web.AppRunner(server, access_log=None)
            await self._runner.setup()
            await web.TCPSite(self._runner, self.listen, self.port).start()
        else:
            if not self.app_token:
                raise RuntimeError("Slack Socket Mode needs SLACK_APP_TOKEN (xapp-…)")
            self._socket = AsyncSocketModeHandler(self.app, self.app_token, web_client=self.client)
            await self._socket.connect_async()

    async def stop(self) -> None:
        """Answer what is in flight and disconnect."""
        await self.conversations.drain()
        if self._socket is not None:
            await self._socket.close_async()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _http(self, request: web.Request) -> web.Response:
        # Bolt checks the signature and the timestamp (401 otherwise) before any listener runs.
        return await to_aiohttp_response(await self.app.async_dispatch(await to_bolt_request(request)))

    # ------------------------------------------------------------ receiving

    async def _on_event(self, body: dict[str, Any]) -> None:
        found = message_delivery(body)
        if found is not None:
            await self.conversations.submit(*found)

    async def _on_command(self, ack: Any, body: dict[str, Any]) -> None:
        team, user = _text(body.get("team_id")) or "T", _text(body.get("user_id"))
        trigger = body.get("trigger_id")
        if not user or not isinstance(trigger, str | int) or isinstance(trigger, bool):
            await ack()  # not a command Pixie can answer (or tell apart from a redelivery)
            return
        event_id = storable(f"{team}:cmd:{trigger}")
        # Not public wherever it is typed: the answer goes back through response_url as an ephemeral message
        # (or to the person's DM when the command came without one).
        msg = IncomingMessage(PLATFORM, f"{team}/{user}", slash_text(_text(body.get("text")) or ""),
                              message_id=event_id)
        url = response_url(body.get("response_url"))
        where = {"response_url": url, "channel": _text(body.get("channel_id"))} if url else {"channel": user}
        await self.conversations.submit(event_id, msg, json.dumps(where))
        await ack()

    async def _on_button(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        team = _text(_object(body.get("team")).get("id")) or "T"
        user = _text(_object(body.get("user")).get("id"))
        kind, _, value = (_text(action.get("value")) or "").partition(":")
        stamp = action.get("action_ts") or body.get("trigger_id")
        if not user or not isinstance(stamp, str | int) or isinstance(stamp, bool):
            await ack()  # whose press, or which one, cannot be read
            return
        press_id = storable(f"{team}:{stamp}")
        press = Press(PLATFORM, f"{team}/{user}", kind, value, press_id=press_id)
        message = _object(body.get("message"))
        channel = _text(_object(body.get("channel")).get("id"))
        reply_to = {"channel": channel or user, "ts": _text(message.get("ts")) if channel else None,
                    "text": _text(message.get("text")) or ""}
        await self.conversations.submit(press_id, press, json.dumps(reply_to))
        await ack()

    # ------------------------------------------------------------ sending

    async def respond(self, reply_to: str, item: Delivery, reply: Reply, key: str | None = None) -> None:
        """Answer where the delivery came from; a press also takes the buttons off its message."""
        where = json.loads(reply_to)
        if where.get("ts") in self._reacted:
            self._reacted.discard(where["ts"])
            await self._quietly(self.client.reactions_remove(channel=where["channel"], timestamp=where["ts"],
                                                             name="eyes"))
        if where.get("response_url"):  # a slash command: answer privately to whoever typed it
            hook = AsyncWebhookClient(where["response_url"])
            for piece in split_text(reply.text, LIMIT, lambda s: len(escape(s))):
                await hook.send(text=escape(piece), blocks=blocks_for(piece), response_type="ephemeral")
            return
        if isinstance(item, Press) and where.get("ts"):
            original = where.get("text") or " "
            await self._quietly(self.client.chat_update(channel=where["channel"], ts=where["ts"], text=original,
                                                        blocks=blocks_for(original[:LIMIT])))
        # Posting to a user id opens the app's DM with them: where a private answer goes.
        buttons = reply.buttons  # Undo, or Yes / No: with the answer wherever it goes
        await say_in_place(reply, lambda text: self.send_text(where["channel"], text, () if reply.private else buttons,
                                                              thread_ts=where.get("thread_ts")),
                           lambda text: self.send_text(item.platform_user_id.split("/")[-1], text, buttons),
                           (SlackApiError,))

    async def typing(self, reply_to: str) -> None:
        """Slack shows bots no typing indicator; an 👀 reaction on the message says Pixie is on it."""
        where = json.loads(reply_to)
        ts = where.get("ts")
        if ts and not where.get("text") and ts not in self._reacted:
            self._reacted.add(ts)
            await self.client.reactions_add(channel=where["channel"], timestamp=ts, name="eyes")

    async def send_note(self, platform_user_id: str, chat_id: str | None, note: OutgoingNotification) -> None:
        """A reminder or digest with Block Kit buttons, in the user's DM with the app."""
        channel = chat_id or platform_user_id.split("/")[-1]  # posting to a user id opens the app's DM
        try:
            await self.send_text(channel, note.text, buttons=note.buttons)
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            if exc.response.status_code == 429 or exc.response.status_code >= 500:
                retry = exc.response.headers.get("Retry-After") or exc.response.headers.get("retry-after")
                raise PlatformUnavailable(error or "slack unavailable", float(retry) if retry else None) from exc
            if error in GONE:
                raise Undeliverable(error) from exc
            raise

    async def send_text(self, channel: str, text: str, buttons: tuple[Button, ...] = (),
                        thread_ts: str | None = None) -> None:
        """Post `text` in section blocks of ≤ 3000 characters; buttons go under the last one."""
        pieces = split_text(text, LIMIT, lambda s: len(escape(s)))
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            await self.client.chat_postMessage(channel=channel, text=escape(piece), thread_ts=thread_ts,
                                               blocks=blocks_for(piece, buttons if last else ()))

    async def _quietly(self, call: Any) -> None:
        try:
            await call
        except SlackApiError as exc:  # cosmetic calls (reactions, removing buttons) never fail a reply
            log.debug("slack: %s", exc)


def _problems(settings: Settings) -> list[str]:
    if settings.slack_app_token or (settings.slack_signing_secret and settings.slack_http_port):
        return []
    return ["Slack: set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET and SLACK_HTTP_PORT (HTTP Events)"]


def _bot(inbox: Inbox, settings: Settings) -> SlackBot:
    assert settings.slack_bot_token
    return SlackBot(inbox, settings.slack_bot_token, app_token=settings.slack_app_token,
                    signing_secret=settings.slack_signing_secret, http_port=settings.slack_http_port,
                    listen=settings.listen_host, base_url=settings.slack_api_url)


def _sender(inbox: Inbox, settings: Settings) -> SendClient:
    assert settings.slack_bot_token
    # Only the Web API client is used (chat.postMessage); it needs no login and opens a session per call.
    return SendClient(SlackBot(inbox, settings.slack_bot_token, base_url=settings.slack_api_url))


ADAPTER = Adapter(build_bot=_bot, build_sender=_sender, problems=_problems)
