"""Discord adapter (discord.py): DMs and mentions, slash commands, markdown, button components."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

import discord
import yarl
from discord import app_commands

from bots.common import Conversations, say_in_place, split_text
from bots.platforms import Adapter, SendClient
from core.config import Settings
from core.inbox import Delivery, Inbox, Press
from core.types import Button, IncomingMessage, OutgoingNotification, PlatformUnavailable, Reply, Undeliverable

log = logging.getLogger(__name__)

PLATFORM = "discord"
LIMIT = 2000
NO_PINGS = discord.AllowedMentions.none()  # a reply never pings @everyone or a role, whatever a title says


def fmt(text: str) -> str:
    """Discord markdown: titles are shown as typed, never as formatting."""
    return discord.utils.escape_markdown(text)


def custom_id(b: Button) -> str:
    """What a button carries back when pressed."""
    return f"pixie:{b.action}:{b.value}"


def view_for(buttons: tuple[Button, ...]) -> discord.ui.View:
    """Done / Snooze (or a digest's Done buttons) as message components."""
    view = discord.ui.View(timeout=None)
    for b in buttons[:25]:
        style = discord.ButtonStyle.success if b.action in ("done", "yes") else discord.ButtonStyle.secondary
        view.add_item(discord.ui.Button(label=b.label[:80], custom_id=custom_id(b), style=style))
    return view


def reply_nonce(key: str | None, where: str) -> str | None:
    """The nonce of a reply to delivery `key`, sent `where` ("h": where it was asked, "d": the DM).

    Discord keeps a nonce per author for a few minutes and takes at most 25 characters; `send_text`
    adds the piece number. A snowflake id is used as is, anything longer hashed.
    """
    if not key:
        return None
    digest = key if key.isdigit() and len(key) <= 20 else hashlib.sha256(key.encode()).hexdigest()[:20]
    return f"r{where}{digest}"


def strip_mention(text: str, bot_id: int) -> str:
    """The text of a mention without the mention itself."""
    for form in (f"<@{bot_id}>", f"<@!{bot_id}>"):
        text = text.replace(form, "")
    return text.strip()


def tolerate_unreadable_events(client: discord.Client) -> None:
    """Skip a gateway event discord.py cannot read, with a warning, instead of losing the connection.

    discord.py reads each dispatch in its parser; an exception there (a field Discord changed, or
    sent malformed) ends `Client.start`, so one odd event would stop the bot for good. The parsers
    live in the connection state's table, which the gateway reads on every event.
    """
    parsers: dict[str, Callable[[Any], None]] = client._connection.parsers

    def tolerant(event: str, parse: Callable[[Any], None]) -> Callable[[Any], None]:
        def read(data: Any) -> None:
            try:
                parse(data)
            except Exception as exc:
                log.warning("skipped a Discord %s event that could not be read (%s: %s)", event,
                            type(exc).__name__, str(exc)[:200])
        return read

    for event, parse in list(parsers.items()):
        parsers[event] = tolerant(event, parse)


class _Client(discord.Client):
    def __init__(self, adapter: DiscordBot, **kw: Any) -> None:
        super().__init__(**kw)
        self.adapter = adapter

    async def setup_hook(self) -> None:
        await self.adapter.setup()

    async def on_message(self, message: discord.Message) -> None:
        await self.adapter.on_message(message)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self.adapter.on_component(interaction)


class DiscordBot:
    """One Discord bot: receives DMs, mentions and button presses, answers through the core."""

    def __init__(self, inbox: Inbox, token: str, *, guild_id: str | None = None, api_base: str | None = None,
                 gateway: str | None = None) -> None:
        if api_base:  # a proxy or a test server; discord.py keeps these per process
            discord.http.Route.BASE = api_base
        if gateway:
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)
        self.token, self.guild_id = token, guild_id
        intents = discord.Intents.default()  # DMs and mentions carry their content without the privileged intent
        intents.presences = intents.members = intents.typing = False
        self.client = _Client(self, intents=intents, max_messages=None, chunk_guilds_at_startup=False)
        tolerate_unreadable_events(self.client)
        self.tree = app_commands.CommandTree(self.client)
        self.conversations = Conversations(inbox, self)
        self._commands()
        self.tree.error(self._command_error)

    # ------------------------------------------------------------ running

    async def run(self) -> None:
        """Log in, connect to the gateway (discord.py resumes after drops), serve until cancelled."""
        try:
            async with self.client:
                await self.client.start(self.token)
        finally:
            await self.conversations.drain()

    async def setup(self) -> None:
        """Register the slash commands and finish what the last run left."""
        guild = discord.Object(int(self.guild_id)) if self.guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        await self.tree.sync(guild=guild)
        await self.conversations.recover(PLATFORM)

    def _commands(self) -> None:
        simple = {"tasks": "Your open tasks", "today": "Today's agenda", "help": "What Pixie can do",
                  "invite": "A one-time code for someone new (owners)", "calendars": "Your connected calendars"}
        for name, about in simple.items():
            async def run(interaction: discord.Interaction, _name: str = name) -> None:
                await self.slash(interaction, f"/{_name}")
            self.tree.command(name=name, description=about)(run)

        @self.tree.command(name="pixie", description="Tell Pixie anything: “add buy milk tomorrow”")
        async def pixie(interaction: discord.Interaction, text: str) -> None:
            await self.slash(interaction, text)

        @self.tree.command(name="link", description="Use Pixie from another platform too")
        async def link(interaction: discord.Interaction, code: str | None = None) -> None:
            await self.slash(interaction, f"/link {code or ''}".strip())

        @self.tree.command(name="connect", description="Connect your Google Calendar (the link comes by DM)")
        async def connect(interaction: discord.Interaction, provider: str = "google") -> None:
            await self.slash(interaction, f"/connect {provider}")

        @self.tree.command(name="disconnect", description="Disconnect a calendar account (asks first)")
        async def disconnect(interaction: discord.Interaction, account: str = "google") -> None:
            await self.slash(interaction, f"/disconnect {account}")

        @self.tree.command(name="digest", description="Get reminders and the morning digest here")
        async def digest(interaction: discord.Interaction, where: str = "here") -> None:
            await self.slash(interaction, f"/digest {where}")

    async def _command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """A command the library cannot read (unknown, arguments not as registered) is told so with a warning;
        a failure inside the command is logged, and the person gets a plain sorry, never a trace."""
        if interaction.type is discord.InteractionType.autocomplete:
            log.warning("could not answer an autocomplete (%s)", type(error).__name__)  # Pixie offers none
            return
        if not isinstance(error, app_commands.CommandInvokeError):  # raised while reading the interaction
            log.warning("could not read a slash command (%s: %s)", type(error).__name__, str(error)[:200])
            text = "I couldn't read that command (Discord may still be updating mine). Try again in a minute."
        else:
            log.error("slash command failed", exc_info=error)
            text = "Sorry — something went wrong on my side. Please try again."
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
            else:
                await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)
        except discord.HTTPException as exc:
            log.debug("could not say the command failed: %s", exc)

    # ------------------------------------------------------------ receiving

    async def on_message(self, message: discord.Message) -> None:
        """A DM, or a message in a server that mentions the bot."""
        me = self.client.user
        if message.author.bot or me is None or message.author.id == me.id:
            return
        is_dm = isinstance(message.channel, discord.DMChannel)  # a server channel may be uncached: not a DM
        if not is_dm and not any(u.id == me.id for u in message.mentions):
            return
        text = message.content if is_dm else strip_mention(message.content, me.id)
        msg = IncomingMessage(PLATFORM, str(message.author.id), text,
                              chat_id=str(message.channel.id) if is_dm else None, message_id=str(message.id),
                              display_name=message.author.display_name, public=not is_dm)
        reply_to = {"channel": message.channel.id, "reference": None if is_dm else message.id}
        await self.conversations.submit(str(message.id), msg, json.dumps(reply_to))

    async def on_component(self, interaction: discord.Interaction) -> None:
        """A Done / Snooze button: acknowledged at once, handled in order with the chat's messages."""
        if interaction.type is not discord.InteractionType.component or interaction.message is None:
            return
        data: dict[str, Any] = dict(interaction.data or {})
        cid = str(data.get("custom_id", ""))
        prefix, _, rest = cid.partition(":")
        action, _, value = rest.partition(":")
        if prefix != "pixie" or action not in ("done", "snooze", "undo", "yes", "no"):
            return
        event_id = str(interaction.id)
        press = Press(PLATFORM, str(interaction.user.id), action, value, press_id=event_id)
        reply_to = {"channel": interaction.channel_id, "message": interaction.message.id}
        await self.conversations.submit(event_id, press, json.dumps(reply_to))
        await interaction.response.defer()  # Discord wants an answer within 3 s; the result follows

    async def slash(self, interaction: discord.Interaction, text: str) -> None:
        """A slash command: stored under its interaction id, answered as a follow-up."""
        text = str(text)  # discord.py hands an option over as Discord typed it: a number or a boolean too
        is_dm = interaction.guild_id is None
        # In a server the answer is ephemeral (only whoever typed the command sees it), so it is no public place.
        await interaction.response.defer(thinking=True, ephemeral=not is_dm)
        event_id = str(interaction.id)
        msg = IncomingMessage(PLATFORM, str(interaction.user.id), text, message_id=event_id,
                              chat_id=str(interaction.channel_id) if is_dm and interaction.channel_id else None)
        inbox = self.conversations.inbox
        if not await inbox.accept(event_id, msg, json.dumps({"channel": interaction.channel_id})):
            return
        reply = await inbox.handle(event_id, msg)
        for piece in split_text(reply.text, LIMIT, lambda s: len(fmt(s))) or ["…"]:
            await interaction.followup.send(fmt(piece), allowed_mentions=NO_PINGS, ephemeral=not is_dm)

    # ------------------------------------------------------------ sending

    async def respond(self, reply_to: str, item: Delivery, reply: Reply, key: str | None = None) -> None:
        """Answer where the delivery came from; a press also takes the buttons off its message.

        A reply (`key` given) carries nonces derived from its delivery, with enforce_nonce: sent again
        after a crash between Discord taking it and Pixie marking it sent, Discord returns the first
        message instead of posting a second (within the few minutes Discord keeps nonces).
        """
        where = json.loads(reply_to)
        channel = self.client.get_partial_messageable(int(where["channel"]))
        if isinstance(item, Press) and where.get("message"):
            try:
                await channel.get_partial_message(int(where["message"])).edit(view=None)
            except discord.HTTPException as exc:
                log.debug("could not clear buttons: %s", exc)
        ref = channel.get_partial_message(int(where["reference"])) if where.get("reference") else None
        here, dm = reply_nonce(key, "h"), reply_nonce(key, "d")
        buttons = reply.buttons  # Undo, or Yes / No: with the answer wherever it goes
        await say_in_place(reply, lambda text: self.send_text(channel, text, () if reply.private else buttons,
                                                              reference=ref, nonce=here),
                           lambda text: self._send_dm(item.platform_user_id, text, dm, buttons),
                           (discord.Forbidden, discord.NotFound))

    async def _send_dm(self, platform_user_id: str, text: str, nonce: str | None = None,
                       buttons: tuple[Button, ...] = ()) -> None:
        """Text in the person's DMs with the bot (opened if need be)."""
        user = self.client.get_user(int(platform_user_id)) or await self.client.fetch_user(int(platform_user_id))
        await self.send_text(await user.create_dm(), text, buttons, nonce=nonce)

    async def typing(self, reply_to: str) -> None:
        """The 'Pixie is typing…' indicator."""
        await self.client.http.send_typing(int(json.loads(reply_to)["channel"]))

    async def send_note(self, platform_user_id: str, chat_id: str | None, note: OutgoingNotification) -> None:
        """A reminder or digest in the user's DMs, with its buttons; the nonce makes a resend harmless."""
        try:
            if chat_id:
                channel: Any = self.client.get_partial_messageable(int(chat_id))
            else:
                channel = await (await self.client.fetch_user(int(platform_user_id))).create_dm()
            await self.send_text(channel, note.text, note.buttons, nonce=note.id.replace("-", "")[:24])
        except (discord.Forbidden, discord.NotFound) as exc:  # DMs closed, or the user is gone
            raise Undeliverable(str(exc)) from exc
        except discord.HTTPException as exc:
            raise PlatformUnavailable(str(exc)) from exc

    async def send_text(self, channel: Any, text: str, buttons: tuple[Button, ...] = (), *,
                        reference: Any = None, nonce: str | None = None) -> None:
        """Send markdown in pieces of ≤ 2000 characters; buttons go under the last piece."""
        pieces = split_text(text, LIMIT, lambda s: len(fmt(s)))
        for i, piece in enumerate(pieces):
            extra: dict[str, Any] = {}
            if nonce:
                extra["nonce"] = f"{nonce}{i}"[-25:]
            if reference is not None and i == 0:
                extra["reference"] = reference
            view = view_for(buttons) if buttons and i == len(pieces) - 1 else None
            if view is not None:
                extra["view"] = view
            await channel.send(fmt(piece), allowed_mentions=NO_PINGS, **extra)
            if view is not None:
                view.stop()  # presses arrive in on_interaction; the library need not keep the view


class DiscordSender(DiscordBot):
    """The Discord adapter logged in over REST only: no gateway, no slash commands to sync."""

    async def setup(self) -> None:  # called by Client.login's setup_hook
        return None


def _bot(inbox: Inbox, settings: Settings) -> DiscordBot:
    assert settings.discord_bot_token
    return DiscordBot(inbox, settings.discord_bot_token, guild_id=settings.discord_guild_id)


def _sender(inbox: Inbox, settings: Settings) -> SendClient:
    token = settings.discord_bot_token
    assert token
    bot = DiscordSender(inbox, token, guild_id=settings.discord_guild_id)
    # Client.login: GET users/@me and the application over REST; the gateway is never connected.
    return SendClient(bot, lambda: bot.client.login(token), bot.client.close)


ADAPTER = Adapter(build_bot=_bot, build_sender=_sender)
