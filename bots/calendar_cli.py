"""`pixie calendar …`: connect, list, sync and disconnect calendar accounts (Google Calendar today)."""

from __future__ import annotations

import asyncio
import datetime as dt
import getpass
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from core import clock

calendar_app = typer.Typer(help="Connect calendars (Google) and keep them in sync.", no_args_is_help=True)
console = Console(soft_wrap=True)  # addresses and links stay whole for copying
err = Console(stderr=True, soft_wrap=True)

T = TypeVar("T")
UserOpt = Annotated[str | None, typer.Option("--user", help="Whose calendars (default: your login name).")]


def _run(fn: Callable[..., Awaitable[T]]) -> T:
    from bots.app import open_runtime

    async def main() -> T:
        async with open_runtime() as rt:
            return await fn(rt)

    return asyncio.run(main())


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]{message}[/]", highlight=False)
    return typer.Exit(code)


async def _user(rt: Any, name: str | None, create: bool = False) -> Any:
    from sqlalchemy import select

    from db.models import User

    name = name or getpass.getuser()
    now = dt.datetime.now(clock.UTC)
    async with rt.sessions() as session, session.begin():
        if create:
            return await rt.assistant.user_for(session, "terminal", name, now, name=name)
        return await session.scalar(select(User).where(User.name == name))


def _grant(app: Any, refresh_token: str | None) -> Any:
    from connectors.google.auth import Grant, code_from_redirect, exchange_code, start_consent

    if refresh_token:
        return Grant(refresh_token.strip())
    consent = start_consent(app)
    console.print("Open this link, choose your Google account and allow Pixie to use your calendars:\n")
    console.print(consent.url, markup=False, highlight=False, soft_wrap=True)
    console.print("\nYour browser then ends on a page that does not load (an address starting with "
                  "http://127.0.0.1). That is expected: copy that whole address and paste it here.")
    pasted = typer.prompt("Address")
    try:
        code = code_from_redirect(pasted, consent)
    except ValueError as exc:
        raise _fail(f"That did not work: {exc}.") from None
    return exchange_code(app, consent, code)


@calendar_app.command("connect")
def connect(provider: Annotated[str, typer.Argument(help="google (outlook is not built yet)")], user: UserOpt = None,
            refresh_token: Annotated[str | None, typer.Option("--refresh-token", help="Connect headless with a "
                                                              "refresh token you already have.")] = None) -> None:
    """Connect a calendar account: a link to open, or --refresh-token on a server."""
    from connectors.google.auth import GoogleApp
    from connectors.google.sync import connect as connect_google
    from core.config import get_settings
    from core.sources import SourceError
    from core.vault import Vault

    if provider.lower() != "google":
        raise _fail(f"Only Google Calendar can be connected so far, not {provider!r}.", 2)
    settings = get_settings()
    app = GoogleApp.from_settings(settings)
    try:
        grant = _grant(app, refresh_token)
    except SourceError as exc:
        raise _fail(f"Could not connect: {exc}") from None

    async def go(rt: Any) -> tuple[Any, list[Any]]:
        u = await _user(rt, user, create=True)
        return await connect_google(rt.sessions, Vault.from_settings(settings), app, u.id, grant,
                                    dt.datetime.now(clock.UTC))

    try:
        account, calendars = _run(go)
    except SourceError as exc:
        raise _fail(f"Could not connect: {exc}") from None
    console.print(f"Connected Google Calendar {account.remote_id}.", highlight=False)
    for cal in calendars:
        marks = [m for m, on in (("synced", cal.selected), ("new events go here", cal.is_default)) if on]
        console.print(f"  {cal.name}" + (f" ({', '.join(marks)})" if marks else ""), highlight=False)
    console.print("The worker (`pixie run` or `pixie worker`) syncs it every few minutes; "
                  "`pixie calendar sync` syncs it now.")


async def _listing(rt: Any, user: str | None) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from core import accounts
    from db.models import Calendar

    u = await _user(rt, user)
    if u is None:
        return []
    async with rt.sessions() as session:
        found = [a for a in await accounts.accounts_of(session, u.id) if a.kind == "calendar"]
        calendars = list(await session.scalars(select(Calendar).where(Calendar.user_id == u.id)
                                               .order_by(Calendar.created_at, Calendar.name)))
    return [{"id": str(a.id), "provider": a.provider, "account": a.remote_id, "status": a.status,
             "last_synced_at": a.last_synced_at.isoformat() if a.last_synced_at else None,
             "last_error": a.last_error,
             "calendars": [{"id": str(c.id), "name": c.name, "remote_id": c.remote_id, "selected": c.selected,
                            "default": c.is_default, "writable": c.writable,
                            "synced_at": c.synced_at.isoformat() if c.synced_at else None}
                           for c in calendars if c.account_id == a.id]} for a in found]


@calendar_app.command("list")
def list_(user: UserOpt = None,
          as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Connected calendar accounts and their calendars."""
    rows = _run(lambda rt: _listing(rt, user))
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        console.print("No calendar connected. Connect one with `pixie calendar connect google`.")
    for a in rows:
        state = "syncing" if a["status"] == "active" else "reconnect needed"
        console.print(f"[bold]{a['provider']}[/] {a['account']} — {state}"
                      + (f", last synced {a['last_synced_at']}" if a["last_synced_at"] else ", not synced yet"),
                      highlight=False)
        for c in a["calendars"]:
            marks = [m for m, on in (("synced", c["selected"]), ("new events go here", c["default"]),
                                     ("read-only", not c["writable"])) if on]
            console.print(f"  {c['name']}" + (f" ({', '.join(marks)})" if marks else ""), highlight=False)


@calendar_app.command("use")
def use(calendar: Annotated[str, typer.Argument(help="The calendar's name, or its id from `list --json`.")],
        user: UserOpt = None) -> None:
    """Choose the calendar new events go to (it is synced from then on too)."""
    import core.calendar_chat  # noqa: F401  (registers use_calendar)
    from core.tools import ToolContext, run_tool
    from db.models import User

    async def go(rt: Any) -> Any:
        u = await _user(rt, user)
        if u is None:
            return None
        async with rt.sessions() as session, session.begin():
            me = await session.get(User, u.id)
            ctx = ToolContext(session, me, dt.datetime.now(clock.UTC), clock.zone(u.tz), rt.memory, source="cli")
            return await run_tool(ctx, "use_calendar", {"calendar": calendar})

    action = _run(go)
    if action is None:
        raise _fail("No calendar connected. Connect one with `pixie calendar connect google`.")
    if not action.ok:
        raise _fail(str(action.result.get("error")))
    console.print(f"New events go to {action.result['calendar']} from now on."
                  + (" It is synced from the next sync on (`pixie calendar sync`, or the worker within minutes)."
                     if action.result.get("newly_synced") else ""), highlight=False)


@calendar_app.command("sync")
def sync(user: UserOpt = None) -> None:
    """Sync every connected calendar now (a first sync of a big calendar shows its progress)."""
    from connectors.google.auth import GoogleApp
    from connectors.google.sync import PROVIDER, sync_account
    from core import accounts
    from core.sources import AuthExpired, SourceError
    from core.vault import Vault

    async def go(rt: Any) -> list[str]:
        u = await _user(rt, user)
        if u is None:
            return []
        app, vault = GoogleApp.from_settings(rt.settings), Vault.from_settings(rt.settings)
        async with rt.sessions() as session:
            found = [a for a in await accounts.accounts_of(session, u.id) if a.provider == PROVIDER]
        lines = []
        for account in found:
            if account.status != "active":
                lines.append(f"{account.remote_id}: reconnect needed (`pixie calendar connect google`)")
                continue
            now = dt.datetime.now(clock.UTC)
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                          console=err, transient=True) as bar:
                step = bar.add_task(f"{account.remote_id}: syncing", total=None)

                def shown(name: str, n: int, step: Any = step) -> None:
                    bar.update(step, description=f"{name}: {n:,} changes stored")

                try:
                    report = await sync_account(rt.sessions, vault, rt.memory, app, account, now, shown)
                except AuthExpired as exc:
                    async with rt.sessions() as session, session.begin():
                        await accounts.mark_auth_expired(session, account.id, str(exc))
                    lines.append(f"{account.remote_id}: Google refused the token — reconnect with "
                                 "`pixie calendar connect google`")
                    continue
                except SourceError as exc:
                    async with rt.sessions() as session, session.begin():
                        await accounts.record_failure(session, account.id, f"{type(exc).__name__}: {exc}", now)
                    lines.append(f"{account.remote_id}: not synced — {exc}")
                    continue
            async with rt.sessions() as session, session.begin():
                await accounts.mark_synced(session, account.id, now)
            lines.append(f"{account.remote_id}: {report.calendars} calendar(s), {report.written} changes stored, "
                         f"{report.removed} removed, {report.requests} request(s)")
        return lines

    lines = _run(go)
    if not lines:
        console.print("No Google Calendar connected. Connect one with `pixie calendar connect google`.")
    for line in lines:
        console.print(line, highlight=False, markup=False)
    if any("reconnect" in line or "not synced" in line for line in lines):
        raise typer.Exit(1)


@calendar_app.command("disconnect")
def disconnect(account: Annotated[str, typer.Argument(help="The account's address (or id, from `list --json`).")],
               user: UserOpt = None) -> None:
    """Forget an account: its tokens (revoked at Google too) and every event synced from it."""
    import core.calendar_chat  # noqa: F401  (registers disconnect_calendar: the one way to disconnect)
    from connectors.google.auth import GoogleApp
    from connectors.google.link import GoogleLink
    from core import accounts
    from core.calendar_chat import CalendarChat
    from core.tools import ToolContext, run_tool
    from core.vault import Vault
    from db.models import User

    async def go(rt: Any) -> tuple[str | None, int]:
        u = await _user(rt, user)
        if u is None:
            return None, 0
        async with rt.sessions() as session:
            mine = [a for a in await accounts.accounts_of(session, u.id) if account in (a.remote_id, str(a.id))]
        if not mine:
            return None, 0
        found = mine[0]
        async with rt.sessions() as session, session.begin():
            me = await session.get(User, u.id)
            ctx = ToolContext(session, me, dt.datetime.now(clock.UTC), clock.zone(u.tz), rt.memory, source="cli")
            action = await run_tool(ctx, "disconnect_calendar", {"account_id": str(found.id)})
            if not action.ok:
                raise _fail(str(action.result.get("error")))
        # After the commit (no network inside a transaction), as chat does: Google forgets the grant too.
        link = GoogleLink(rt.sessions, Vault.from_settings(rt.settings), GoogleApp.from_settings(rt.settings))
        await CalendarChat({"google": link}).revoke(ctx.forgotten)
        return found.remote_id, int(action.result.get("removed", 0))

    gone, removed = _run(go)
    if gone is None:
        raise _fail(f"No connected account {account!r}; see `pixie calendar list`.")
    console.print(f"Disconnected {gone}: its tokens are forgotten and {removed} synced event(s) removed.",
                  highlight=False)
