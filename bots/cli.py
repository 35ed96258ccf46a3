"""The `pixie` command line."""

from __future__ import annotations

import asyncio
import datetime as dt
import getpass
import json
import logging
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from bots.calendar_cli import calendar_app
from core import clock
from core.config import ConfigError


class _Edge(TyperGroup):
    """Every command runs inside this: a setting Pixie cannot use is one line on stderr and exit 2, no traceback."""

    def invoke(self, ctx: Any) -> Any:  # typer.Context (typer vendors its own click)
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            print(f"pixie: {exc}", file=sys.stderr)
            raise typer.Exit(2) from None


# A crash's traceback never lists local variables: they hold settings, tokens and keys.
app = typer.Typer(help="Pixie, your self-hosted AI secretary.", no_args_is_help=True, add_completion=False,
                  cls=_Edge, pretty_exceptions_show_locals=False)
memory_app = typer.Typer(help="Search, forget and re-embed what Pixie remembers.", no_args_is_help=True)
app.add_typer(memory_app, name="memory")
email_app = typer.Typer(help="Turn emails into tasks and proposed meetings.", no_args_is_help=True)
app.add_typer(email_app, name="email")
app.add_typer(calendar_app, name="calendar")
console = Console()
err = Console(stderr=True)

T = TypeVar("T")
UserOpt = Annotated[str | None, typer.Option("--user", help="Whose data (default: your login name).")]
TzOpt = Annotated[str | None, typer.Option("--tz", help="IANA time zone (default: the user's, else the machine's).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _user(name: str | None) -> str:
    return name or getpass.getuser()


def _new_user(name: str | None) -> str:
    """The name a command that may create a terminal user speaks as; exit 2 when it cannot be a name."""
    from bots.terminal import name_problem

    name = _user(name)
    if problem := name_problem(name):
        err.print(f"[red]--user cannot be {name!r}: {problem}.[/]")
        raise typer.Exit(2)
    return name.strip()


def _check_tz(tz: str | None) -> None:
    if tz and not clock.is_zone(tz):
        err.print(f"[red]Unknown time zone {tz!r}[/] — use an IANA name such as Europe/Berlin.")
        raise typer.Exit(2)


def _exit_on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def _log_progress() -> None:
    """INFO lines for the long-running commands (run, worker, email poll): Pixie's own and its libraries',
    without the embedded Postgres' start-up chatter and Alembic's, which would bury the lines that matter."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "pgserver"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _run(fn: Callable[..., Awaitable[T]], *args: Any, tz: str | None = None, wait: str | None = None) -> T:
    from bots.app import open_runtime

    async def main() -> T:
        async with open_runtime(default_tz=tz, wait=wait) as rt:
            return await fn(rt, *args)

    if threading.current_thread() is not threading.main_thread():  # called in-process (tests): no signals here
        return asyncio.run(main())
    # Ended by a service manager or a closed terminal: unwind like Ctrl-C does, so connections close and the
    # embedded Postgres stops before the process is gone (db/lifetime.py's watchdog covers a SIGKILL).
    before = {sig: signal.signal(sig, _exit_on_signal) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return asyncio.run(main())
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


async def _lookup(rt: Any, name: str) -> Any:
    async with rt.sessions() as session:
        return await rt.assistant.user_named(session, name)


def _zone_of(user: Any, tz: str | None) -> str:
    return tz or (user.tz if user is not None else clock.machine_zone().key)


@app.command()
def chat(user: UserOpt = None, tz: TzOpt = None,
         jsonl: Annotated[bool, typer.Option("--jsonl", help="JSON lines on stdin/stdout.")] = False) -> None:
    """Talk to Pixie in the terminal."""
    from bots.terminal import run_interactive, run_jsonl

    _check_tz(tz)
    name = _new_user(user)
    if jsonl and hasattr(sys.stdin, "reconfigure"):  # a byte that is not UTF-8 becomes U+FFFD, not a crash
        sys.stdin.reconfigure(errors="replace")

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
            begin = clock.as_instant(clock.read_when(start, zone), zone)
            end = to or (begin + dt.timedelta(days=7)).isoformat()
        except clock.OutOfRange as exc:
            err.print(f"[red]--from {start!r}: {exc}[/]")
            raise typer.Exit(2) from None
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
def memory_search(words: Annotated[list[str], typer.Argument(metavar="WORDS...", help="What to look for "
                                                              "(quotes not needed).")],
                  user: UserOpt = None,
                  k: Annotated[int, typer.Option("--k", help="How many hits.")] = 5,
                  as_json: JsonOpt = False) -> None:
    """Search what Pixie remembers for a user."""
    from core.tools import ToolContext

    query = " ".join(words)

    async def go(rt: Any) -> list[dict[str, Any]]:
        u = await _lookup(rt, _user(user))
        if u is None:
            return []
        async with rt.sessions() as session, session.begin():  # commits the vectors a search catches up
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


@memory_app.command("forget")
def memory_forget(words: Annotated[list[str] | None, typer.Argument(
                      metavar="[WORDS]...", help="Forget the notes and remarks with all these words "
                                                 "(quotes not needed).")] = None,
                  user: UserOpt = None,
                  memory_id: Annotated[str | None, typer.Option("--id", help="Forget exactly this memory "
                                                                              "(an id from `memory search --json`).")]
                  = None,
                  as_json: JsonOpt = False) -> None:
    """Make Pixie forget notes and remarks (tasks and events go when they are deleted)."""
    from core.tools import ToolContext

    query = " ".join(words or ()).strip()
    if not query and not memory_id:
        err.print("[red]Say what to forget (words), or give --id.[/]")
        raise typer.Exit(2)

    async def go(rt: Any) -> list[dict[str, Any]]:
        u = await _lookup(rt, _user(user))
        if u is None:
            return []
        async with rt.sessions() as session, session.begin():
            ctx = ToolContext(session, u, dt.datetime.now(clock.UTC), clock.zone(u.tz), rt.memory)
            args = {"memory_id": memory_id} if memory_id else {"query": query}
            return (await _tool(ctx, "forget", args))["forgotten"]

    gone = _run(go)
    if as_json:
        print(json.dumps(gone, ensure_ascii=False, indent=2))
        return
    if not gone:
        console.print("Nothing matched; nothing was forgotten.")
    for g in gone:
        console.print(f"forgotten {g['kind']} {g['id']}")


@memory_app.command("reindex")
def memory_reindex(batch: Annotated[int, typer.Option("--batch", min=1, max=4096,
                                                      help="Texts embedded per step.")] = 128) -> None:
    """Embed every memory that has no vector of the configured model yet (after a model change, say).

    Safe to stop and re-run; search keeps working meanwhile (by words, and by meaning for what is done).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    async def go(rt: Any) -> tuple[int, str]:
        async with rt.sessions() as session:
            total = await rt.memory.pending_count(session)
        name = rt.memory.embedder.name
        with Progress(TextColumn(f"re-embedding with {name}"), BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), console=err, disable=total == 0) as bar:
            step = bar.add_task("embed", total=total)
            done = await rt.memory.embed_pending(rt.sessions, batch=batch,
                                                 progress=lambda n: bar.advance(step, n))
        if rt.memory.embedder.dim:
            await rt.memory.ensure_ann_index(rt.engine, rt.memory.embedder.dim)
        return done, name

    done, name = _run(go)
    console.print(f"{done} memories embedded with {name}; everything is up to date.")


@email_app.command("ingest")
def email_ingest(files: Annotated[list[Path], typer.Argument(help="Email files (.eml, RFC 5322).")],
                 user: UserOpt = None, tz: TzOpt = None, as_json: JsonOpt = False) -> None:
    """Read emails for a user: what they ask becomes tasks, meeting requests proposed events."""
    from connectors.email_tasks import ingest
    from connectors.mail import MAX_BYTES

    _check_tz(tz)
    name = _new_user(user)

    def rejected(f: Path, reason: str) -> dict[str, Any]:
        return {"file": str(f), "message_id": None, "status": "rejected", "reason": reason, "tasks": [], "events": []}

    async def go(rt: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for f in files:  # each file its own transaction: one bad file never stops the others
            try:
                with f.open("rb") as fh:
                    raw = fh.read(MAX_BYTES + 1)  # never more: /dev/zero is read to a limit, not to the end
            except OSError as e:
                out.append(rejected(f, f"cannot read the file: {e.strerror or e}"))
                continue
            try:
                out.append(await ingest(rt, name, tz, raw, str(f)))
            except Exception as e:  # noqa: BLE001 — reported for this file; the batch goes on
                logging.getLogger("pixie.email").warning("ingesting %s failed: %r", f, e)
                out.append(rejected(f, f"it could not be handled ({type(e).__name__})"))
        return out

    results = _run(go, tz=tz)
    if as_json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        for r in results:
            head = f"{r['file']}: {r['status']}" + (f" — {r['reason']}" if r.get("reason") else "")
            console.print(head)
            for t in r["tasks"]:
                console.print(f"  task  {t['title']}" + (f" (due {t['due']})" if t.get("due") else ""))
            for e in r["events"]:
                console.print(f"  event {e['title']} {e['start']} (proposed)")
    if any(r["status"] == "rejected" for r in results):
        raise typer.Exit(1)


def _mailbox_config() -> Any:
    from connectors.imap import parse_imap_url
    from core.config import get_settings

    url = get_settings().imap_url
    if not url:
        err.print("[red]No mailbox is configured:[/] set PIXIE_IMAP_URL (README: Connect a mailbox).")
        raise typer.Exit(2)
    try:
        return parse_imap_url(url, get_settings().imap_ca_file)
    except ValueError as e:
        err.print(f"[red]{e}[/]")
        raise typer.Exit(2) from None


@email_app.command("address")
def email_address(user: UserOpt = None,
                  new: Annotated[bool, typer.Option("--new", help="Make a new address; the old one stops "
                                                                  "working.")] = False,
                  register: Annotated[list[str] | None, typer.Option(
                      "--register", help="An address of the user's own: mail they forward by hand from it is "
                                         "accepted when the receiving server vouches for it (DMARC/DKIM).")] = None,
                  as_json: JsonOpt = False) -> None:
    """The user's secret forwarding address: mail sent to it becomes their tasks."""
    from core import mail_addresses

    config = _mailbox_config()
    name = _user(user)

    async def go(rt: Any) -> dict[str, Any] | None:
        u = await _lookup(rt, name)
        if u is None:
            return None
        async with rt.sessions() as session, session.begin():
            token = await (mail_addresses.rotate if new else mail_addresses.token_of)(session, u.id)
            for address in register or []:
                try:
                    await mail_addresses.register_sender(session, u.id, address, dt.datetime.now(clock.UTC))
                except ValueError as e:  # not an address, or another user's
                    err.print(f"[red]{e}[/]")
                    raise typer.Exit(2) from None
            senders = await mail_addresses.senders_of(session, u.id)
        return {"user": name, "address": mail_addresses.forwarding_address(config.address, token),
                "registered": senders}

    found = _run(go)
    if found is None:
        err.print(f"I don't know {name!r} yet — say hello with `pixie chat` first.")
        raise typer.Exit(1)
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return
    print(found["address"])
    if found["registered"]:
        err.print("registered senders: " + ", ".join(found["registered"]))


@email_app.command("poll")
def email_poll(once: Annotated[bool, typer.Option("--once", help="Read what is there now, then exit.")] = False,
               as_json: JsonOpt = False) -> None:
    """Read the mailbox: forwarded mail becomes its users' tasks (the worker does this too)."""
    import contextlib
    import signal

    config = _mailbox_config()

    async def go(rt: Any) -> list[dict[str, Any]]:
        from connectors.imap import ImapMailbox
        from connectors.mail_poller import Drained, drain, watch
        from core.vault import Vault
        from jobs.mail import connect_mailbox, intake_for, opened_config

        vault = Vault.from_settings(rt.settings)
        account = await connect_mailbox(rt.sessions, vault, config, dt.datetime.now(clock.UTC))
        opened = await opened_config(rt.sessions, vault, config, account)
        intake = intake_for(rt.sessions, rt.memory, opened, account, rt.settings.mail_authserv_id)
        outcomes: list[dict[str, Any]] = []

        def report(d: Drained) -> None:
            for o in d.outcomes:
                row = {"status": o.status, "reason": o.reason, "folder": o.folder}
                outcomes.append(row)
                if not once and not as_json:
                    console.print(f"{o.status}" + (f" — {o.reason}" if o.reason else ""))

        if once:
            async with ImapMailbox(opened) as box:
                report(await drain(box, intake))
            return outcomes
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await watch(lambda: ImapMailbox(opened), intake, stop, on_drained=report)
        return outcomes

    if not once:
        _log_progress()
    from core.sources import SourceError

    try:
        outcomes = _run(go)
    except SourceError as e:
        err.print(f"[red]The mailbox {config.remote_id}: {e}[/]")
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(outcomes, ensure_ascii=False, indent=2))
    elif once:
        counts: dict[str, int] = {}
        for o in outcomes:
            counts[o["status"]] = counts.get(o["status"], 0) + 1
        console.print(", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "No new mail.")


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
            at = clock.as_instant(clock.read_when(now, zone), zone) if now else dt.datetime.now(clock.UTC)
        except clock.OutOfRange as exc:
            return f"--now {now!r}: {exc}"
        except ValueError:
            return f"--now {now!r} is not an ISO date or time."
        async with rt.sessions() as session:
            return await digest_text(session, u, at)

    console.print(_run(go))


@app.command()
def usage(user: UserOpt = None,
          days: Annotated[int, typer.Option("--days", min=1, help="How many days back (default 7).")] = 7,
          everyone: Annotated[bool, typer.Option("--all", help="Every user, not just one.")] = False,
          as_json: JsonOpt = False) -> None:
    """Model calls, tokens and cost per day (nothing is recorded while Pixie answers offline)."""
    from core.usage import usage_rows

    async def go(rt: Any) -> list[dict[str, Any]] | None:
        since = dt.datetime.now(clock.UTC).date() - dt.timedelta(days=days)
        if everyone:
            return await usage_rows(rt.sessions, None, since)
        u = await _lookup(rt, _user(user))
        return None if u is None else await usage_rows(rt.sessions, u.id, since)

    rows = _run(go)
    if rows is None:
        err.print(f"I don't know {_user(user)!r} yet — say hello with `pixie chat` first.")
        raise typer.Exit(1)
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        console.print(f"No model calls in the last {days} days.")
        return
    table = Table("day", *(["user"] if everyone else []), "provider", "model", "calls", "input tokens",
                  "cached", "output tokens", "cost (USD)", title="Model usage")
    for r in rows:
        cost = "—" if r["cost_usd"] is None else f"{r['cost_usd']:.4f}"
        calls = str(r["calls"]) + (f" (+{r['errors']} failed)" if r["errors"] else "")
        if r["provider"] == "offline":
            calls = f"{r['fallbacks']} answered offline"
        table.add_row(r["day"], *([r["user"]] if everyone else []), r["provider"], r["model"], calls,
                      f"{r['input_tokens']:,}", f"{r['cache_read_tokens']:,}", f"{r['output_tokens']:,}", cost)
    console.print(table)
    known = [r["cost_usd"] for r in rows if r["cost_usd"] is not None]
    console.print(f"Total: {sum(r['calls'] for r in rows)} calls, ${sum(known):.4f}"
                  + ("" if len(known) == len(rows) else " (some models have no known price)"))


@app.command()
def run(no_worker: Annotated[bool, typer.Option("--no-worker", help="Leave reminders and digests to a separate "
                                                 "`pixie worker`.")] = False) -> None:
    """Run every configured chat bot and the worker; prints a pairing code."""
    import contextlib

    from bots.run import run_all

    _log_progress()

    async def go(rt: Any) -> None:
        await run_all(rt, rt.settings, lambda line: console.print(line, markup=False, highlight=False),
                      with_worker=not no_worker)

    with contextlib.suppress(KeyboardInterrupt):
        _run(go, wait="soon")  # a database that is away is waited for; the chat connections open meanwhile


@app.command()
def worker(burst: Annotated[bool, typer.Option("--burst", help="Run what is due, then exit.")] = False,
           check: Annotated[bool, typer.Option("--check", help="Exit 0 if a worker is running (health checks).")]
           = False) -> None:
    """Run the background worker alone: reminders, digests, indexing, sync (PIXIE_REDIS_URL or embedded Redis)."""
    import contextlib

    from bots.app import keep_working, run_worker
    from core.config import get_settings

    if check:
        from jobs.queue import worker_alive

        try:
            line = asyncio.run(worker_alive(get_settings()))
        except Exception as exc:  # a health check reports, it does not crash
            line, why = None, f"cannot reach Redis: {exc}"
        else:
            why = "no worker has reported in the last 30 s"
        console.print(f"worker alive: {line}" if line else f"[red]{why}[/]", markup=bool(not line))
        raise typer.Exit(0 if line else 1)

    _log_progress()
    # Signals are ours, not arq's: arq's handler belongs to one Worker, and after a restart (Redis or
    # Postgres went away) the old one's handler would swallow SIGTERM and the process would never stop.
    before = {sig: signal.signal(sig, _exit_on_signal) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
            asyncio.run(run_worker(get_settings(), burst=True, handle_signals=False) if burst
                        else keep_working(get_settings(), handle_signals=False))
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date, then exit (Pixie also does this on every start)."""
    from bots.app import connect
    from core.config import get_settings
    from db.migrate import current_revisions

    async def go() -> set[str]:
        engine = await connect(get_settings())  # connects and migrates
        try:
            async with engine.connect() as conn:
                return await current_revisions(conn)
        finally:
            await engine.dispose()

    console.print(f"Schema up to date: {', '.join(sorted(asyncio.run(go())))}")


@app.command()
def doctor() -> None:
    """Show what is configured and whether it answers."""
    from bots.doctor import run_checks

    ok = True
    for name, good, detail in asyncio.run(run_checks()):
        ok &= good is not False
        mark = "[green]✓[/]" if good else ("[yellow]–[/]" if good is None else "[red]✗[/]")
        console.print(f"{mark} [bold]{name}[/]: {detail}")
    raise typer.Exit(0 if ok else 1)


if __name__ == "__main__":
    app()
