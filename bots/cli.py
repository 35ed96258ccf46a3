"""The `pixie` command line."""

from __future__ import annotations

import asyncio
import datetime as dt
import getpass
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from core import clock

app = typer.Typer(help="Pixie, your self-hosted AI secretary.", no_args_is_help=True, add_completion=False)
memory_app = typer.Typer(help="Search what Pixie remembers.", no_args_is_help=True)
app.add_typer(memory_app, name="memory")
console = Console()
err = Console(stderr=True)

T = TypeVar("T")
UserOpt = Annotated[str | None, typer.Option("--user", help="Whose data (default: your login name).")]
TzOpt = Annotated[str | None, typer.Option("--tz", help="IANA time zone (default: the user's, else the machine's).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _user(name: str | None) -> str:
    return name or getpass.getuser()


def _check_tz(tz: str | None) -> None:
    if tz and not clock.is_zone(tz):
        err.print(f"[red]Unknown time zone {tz!r}[/] — use an IANA name such as Europe/Berlin.")
        raise typer.Exit(2)


def _run(fn: Callable[..., Awaitable[T]], *args: Any, tz: str | None = None) -> T:
    from core.runtime import open_runtime

    async def main() -> T:
        async with open_runtime(default_tz=tz) as rt:
            return await fn(rt, *args)

    return asyncio.run(main())


async def _lookup(rt: Any, name: str) -> Any:
    from sqlalchemy import select

    from db.models import User

    async with rt.sessions() as session:
        return await session.scalar(select(User).where(User.name == name))


def _zone_of(user: Any, tz: str | None) -> str:
    return tz or (user.tz if user is not None else clock.machine_zone().key)


@app.command()
def chat(user: UserOpt = None, tz: TzOpt = None,
         jsonl: Annotated[bool, typer.Option("--jsonl", help="JSON lines on stdin/stdout.")] = False) -> None:
    """Talk to Pixie in the terminal."""
    from bots.terminal import run_interactive, run_jsonl

    _check_tz(tz)
    name = _user(user)

    async def go(rt: Any) -> None:
        zone = _zone_of(await _lookup(rt, name), tz)
        await (run_jsonl(rt, name, zone) if jsonl else run_interactive(rt, name, zone, console))

    _run(go, tz=tz)


@app.command()
def tasks(user: UserOpt = None, all_: Annotated[bool, typer.Option("--all", help="Include done tasks.")] = False,
          as_json: JsonOpt = False) -> None:
    """List tasks."""
    from core.tools import ListTasks, ToolContext, list_tasks

    async def go(rt: Any) -> list[dict[str, Any]]:
        u = await _lookup(rt, _user(user))
        if u is None:
            return []
        async with rt.sessions() as session:
            ctx = ToolContext(session, u, dt.datetime.now(clock.UTC), clock.zone(u.tz), rt.memory)
            return (await list_tasks(ctx, ListTasks(status="all" if all_ else "open")))["tasks"]

    rows = _run(go)
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table("title", "due", "priority", "project", "status", title="Tasks")
    for t in rows:
        table.add_row(t["title"], t["due"] or "", t["priority"], t["project"] or "", t["status"])
    console.print(table if rows else "No tasks.")


@app.command()
def events(user: UserOpt = None,
           from_: Annotated[str | None, typer.Option("--from", help="ISO start (default: today).")] = None,
           to: Annotated[str | None, typer.Option("--to", help="ISO end (default: a week later).")] = None,
           as_json: JsonOpt = False) -> None:
    """List calendar events (recurring ones expanded)."""
    from core.tools import ToolContext

    async def go(rt: Any) -> list[dict[str, Any]]:
        u = await _lookup(rt, _user(user))
        if u is None:
            return []
        zone = clock.zone(u.tz)
        now = dt.datetime.now(clock.UTC)
        start = from_ or now.astimezone(zone).date().isoformat()
        try:
            begin = clock.as_instant(clock.parse_when(start, zone), zone)
            end = to or (begin + dt.timedelta(days=7)).isoformat()
        except ValueError:
            err.print(f"[red]--from {start!r} is not an ISO date or time.[/]")
            raise typer.Exit(2) from None
        async with rt.sessions() as session:
            ctx = ToolContext(session, u, now, zone, rt.memory)
            action = await _tool(ctx, "list_events", {"start": start, "end": end})
            return action["events"]

    rows = _run(go)
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table("start", "end", "title", "location", title="Events")
    for e in rows:
        table.add_row(e["start"], e["end"], e["title"], e["location"] or "")
    console.print(table if rows else "No events.")


async def _tool(ctx: Any, name: str, args: dict[str, Any]) -> dict[str, Any]:
    from core.tools import run_tool

    action = await run_tool(ctx, name, args)
    if not action.ok:
        err.print(f"[red]{action.result.get('error')}[/]")
        raise typer.Exit(2)
    return action.result


@memory_app.command("search")
def memory_search(query: str, user: UserOpt = None,
                  k: Annotated[int, typer.Option("--k", help="How many hits.")] = 5,
                  as_json: JsonOpt = False) -> None:
    """Search what Pixie remembers for a user."""
    from core.tools import ToolContext

    async def go(rt: Any) -> list[dict[str, Any]]:
        u = await _lookup(rt, _user(user))
        if u is None:
            return []
        async with rt.sessions() as session:
            ctx = ToolContext(session, u, dt.datetime.now(clock.UTC), clock.zone(u.tz), rt.memory)
            return (await _tool(ctx, "search_memory", {"query": query, "k": k}))["hits"]

    hits = _run(go)
    if as_json:
        print(json.dumps(hits, ensure_ascii=False, indent=2))
        return
    table = Table("score", "kind", "text", title=f"Memory: {query}")
    for h in hits:
        table.add_row(f"{h['score']:.3f}", h["kind"], h["text"])
    console.print(table if hits else "Nothing found.")


@app.command()
def digest(user: UserOpt = None,
           now: Annotated[str | None, typer.Option("--now", help="ISO time to compose it for.")] = None) -> None:
    """Print the daily digest (without sending it)."""
    from core.scheduler import digest_text

    async def go(rt: Any) -> str:
        u = await _lookup(rt, _user(user))
        if u is None:
            return f"I don't know {_user(user)!r} yet — say hello with `pixie chat` first."
        zone = clock.zone(u.tz)
        try:
            at = clock.as_instant(clock.parse_when(now, zone), zone) if now else dt.datetime.now(clock.UTC)
        except ValueError:
            return f"--now {now!r} is not an ISO date or time."
        async with rt.sessions() as session:
            return await digest_text(session, u, at, rt.memory)

    console.print(_run(go))


@app.command()
def doctor() -> None:
    """Show what is configured and whether it answers."""
    from core.doctor import run_checks

    ok = True
    for name, good, detail in asyncio.run(run_checks()):
        ok &= good is not False
        mark = "[green]✓[/]" if good else ("[yellow]–[/]" if good is None else "[red]✗[/]")
        console.print(f"{mark} [bold]{name}[/]: {detail}")
    raise typer.Exit(0 if ok else 1)


if __name__ == "__main__":
    app()
