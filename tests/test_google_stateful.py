"""A stateful property test of two-way Google sync (hypothesis `RuleBasedStateMachine`, as vdirsyncer tests its
sync): random edits on both sides — in Google, colleagues create, move, rename and delete events and series and
move or cancel single occurrences; in Pixie, the tools create, move and cancel events and single occurrences —
with syncs in between. After every sync both sides hold the same events (row for row, and occurrence for
occurrence on the agenda), nothing is doubled, and nothing that no one deleted is lost.

The machine runs in a thread; each step's database work runs on the test's event loop (the runtime's engine
lives there). Each example is a fresh user with a fresh Google account, so examples never see each other.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import re
from collections import Counter
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from bots.app import Runtime
from connectors.google.auth import GoogleApp, Grant
from connectors.google.sync import connect, sync_account
from core import accounts
from core.tools import ToolContext, run_tool
from core.types import IncomingMessage
from core.vault import Vault
from db.models import Event, Identity, User
from tests.fakes.google_calendar import CLIENT_ID, CLIENT_SECRET, FakeGoogleCalendar, instance_id
from tests.test_google_sync import BERLIN

T = TypeVar("T")
START = dt.datetime(2025, 3, 3, 9, 0, tzinfo=BERLIN)  # a Monday
WEEKS = 3  # a series has this many occurrences (COUNT), all inside the compared window
WINDOW = ("2025-03-01", "2025-04-15")
TOKEN = re.compile(r"\be\d+\b")
_examples = itertools.count()


def _order(title: str) -> int:
    """Events in the order they were made (their token), not by ids drawn at random: replays stay replays."""
    token = TOKEN.search(title)
    return int(token.group(0)[1:]) if token else -1


class TwoWaySync(RuleBasedStateMachine):
    """Ada edits in Pixie, her colleagues edit in Google, and the two are synced now and then."""

    rt: Runtime
    google: FakeGoogleCalendar
    app: GoogleApp
    vault: Vault
    loop: asyncio.AbstractEventLoop

    def __init__(self) -> None:
        super().__init__()
        n = next(_examples)
        self.address, self.name = f"ada{n}@example.com", f"ada{n}"
        # Each example's clock starts after every stamp Google gave before (its `updated` never goes back), so
        # who edited last — which decides a clash — is the same when hypothesis replays an example.
        self.base = START - dt.timedelta(days=90) + dt.timedelta(hours=2 * n)
        self.tokens = itertools.count()
        self.step = 0
        self.deleted: set[str] = set()  # tokens of events someone deleted or cancelled (may be gone)
        self.made: set[str] = set()  # tokens of every event made on either side
        self.series: dict[str, dt.datetime] = {}  # Google master id -> its first start

    # ------------------------------------------------------------ plumbing

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def now(self) -> dt.datetime:
        return self.base + dt.timedelta(minutes=self.step)

    def tick(self) -> None:
        self.step += 1
        self.google.clock = self.now  # Google stamps `updated` on the same clock the edits here use

    def token(self) -> str:
        t = f"e{next(self.tokens)}"
        self.made.add(t)
        return t

    async def _tool(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        async with self.rt.sessions() as session, session.begin():
            user = await session.get(User, self.user_id)
            assert user is not None
            action = await run_tool(ToolContext(session, user, self.now(), BERLIN, self.rt.memory), name, args)
        assert action.ok, (name, args, action.result)
        return action.result

    async def _rows(self, **where: Any) -> list[Event]:
        async with self.rt.sessions() as session:
            query = select(Event).where(Event.user_id == self.user_id, Event.status != "cancelled")
            return list(await session.scalars(query.filter_by(**where)))

    # ------------------------------------------------------------ set-up

    @initialize()
    def connect_ada(self) -> None:
        async def go() -> None:
            await self.rt.assistant.handle(IncomingMessage("terminal", self.name, "hello", ts=self.now(),
                                                           display_name=self.name), tz="Europe/Berlin")
            async with self.rt.sessions() as session:
                self.user_id = await session.scalar(select(Identity.user_id).where(
                    Identity.platform == "terminal", Identity.platform_user_id == self.name))
            self.account, _ = await connect(self.rt.sessions, self.vault, self.app, self.user_id,
                                            Grant(self.google.add_account(self.address)), self.now())
        self.tick()
        self.run(go())

    # ------------------------------------------------------------ in Google

    @rule(day=st.integers(0, 9), hour=st.integers(8, 17), weekly=st.booleans())
    def colleague_creates(self, day: int, hour: int, weekly: bool) -> None:
        self.tick()
        start = START + dt.timedelta(days=day, hours=hour - 9)
        made = self.google.colleague_adds(self.address, f"{self.token()} meeting", start,
                                          start + dt.timedelta(minutes=30),
                                          **({"recurrence": [f"RRULE:FREQ=WEEKLY;COUNT={WEEKS}"]} if weekly else {}))
        if weekly:
            self.series[made["id"]] = start

    def _google_events(self) -> list[dict[str, Any]]:
        return [e for e in self.google.events(self.address) if "recurringEventId" not in e]

    @precondition(lambda self: bool(self._google_events()))
    @rule(data=st.data(), hours=st.integers(-3, 3).filter(bool))
    def colleague_moves(self, data: st.DataObject, hours: int) -> None:
        self.tick()
        ev = data.draw(st.sampled_from(sorted(self._google_events(), key=lambda e: _order(e["summary"]))))
        start = dt.datetime.fromisoformat(ev["start"]["dateTime"]) + dt.timedelta(hours=hours)
        self.google.colleague_modifies(self.address, ev["id"], start={"dateTime": start.isoformat(),
                                                                      "timeZone": "Europe/Berlin"},
                                       end={"dateTime": (start + dt.timedelta(minutes=30)).isoformat(),
                                            "timeZone": "Europe/Berlin"})
        if ev["id"] in self.series:
            self.series[ev["id"]] = start

    @precondition(lambda self: bool(self._google_events()))
    @rule(data=st.data(), word=st.sampled_from(["sync", "review", "lunch", "call"]))
    def colleague_renames(self, data: st.DataObject, word: str) -> None:
        self.tick()
        ev = data.draw(st.sampled_from(sorted(self._google_events(), key=lambda e: _order(e["summary"]))))
        token = TOKEN.search(ev["summary"])
        self.google.colleague_modifies(self.address, ev["id"], summary=f"{token.group(0) if token else ''} {word}")

    @precondition(lambda self: bool(self._google_events()))
    @rule(data=st.data())
    def colleague_deletes(self, data: st.DataObject) -> None:
        self.tick()
        ev = data.draw(st.sampled_from(sorted(self._google_events(), key=lambda e: _order(e["summary"]))))
        self.google.colleague_deletes(self.address, ev["id"])
        self.deleted.update(TOKEN.findall(ev["summary"]))
        self.series.pop(ev["id"], None)

    @precondition(lambda self: bool(self.series))
    @rule(data=st.data(), week=st.integers(0, WEEKS - 1), cancel=st.booleans())
    def colleague_changes_one_occurrence(self, data: st.DataObject, week: int, cancel: bool) -> None:
        self.tick()
        master = data.draw(st.sampled_from(sorted(self.series, key=lambda m: _order(
            (self.google.event(self.address, m) or {}).get("summary", "")))))
        at = self.series[master] + dt.timedelta(weeks=week)
        one = instance_id(master, at)
        if (self.google.event(self.address, one) or {}).get("status") == "cancelled":
            return
        if cancel:
            self.google.colleague_deletes(self.address, one)
        else:
            self.google.colleague_modifies(self.address, one, start=at + dt.timedelta(hours=2),
                                           end=at + dt.timedelta(hours=2, minutes=30))

    # ------------------------------------------------------------ in Pixie

    @rule(day=st.integers(0, 9), hour=st.integers(8, 17))
    def ada_creates(self, day: int, hour: int) -> None:
        self.tick()
        start = START + dt.timedelta(days=day, hours=hour - 9)
        self.run(self._tool("create_event", {"title": f"{self.token()} errand",
                                             "start": start.isoformat(timespec="minutes")}))

    def _singles(self) -> list[Event]:
        return sorted(self.run(self._rows(series_id=None, recurrence=None)), key=lambda e: _order(e.title))

    @precondition(lambda self: bool(self._singles()))
    @rule(data=st.data(), hours=st.integers(-3, 3).filter(bool))
    def ada_moves(self, data: st.DataObject, hours: int) -> None:
        self.tick()
        ev = data.draw(st.sampled_from(self._singles()))
        start = (ev.start_at + dt.timedelta(hours=hours)).astimezone(BERLIN)
        self.run(self._tool("update_event", {"event_id": str(ev.id), "start": start.isoformat(timespec="minutes")}))

    @precondition(lambda self: bool(self._singles()))
    @rule(data=st.data())
    def ada_cancels(self, data: st.DataObject) -> None:
        self.tick()
        ev = data.draw(st.sampled_from(self._singles()))
        self.run(self._tool("cancel_event", {"event_id": str(ev.id)}))
        self.deleted.update(TOKEN.findall(ev.title))

    def _masters(self) -> list[Event]:
        return sorted((e for e in self.run(self._rows(series_id=None)) if e.recurrence), key=lambda e: _order(e.title))

    @precondition(lambda self: bool(self._masters()))
    @rule(data=st.data(), week=st.integers(0, WEEKS - 1), cancel=st.booleans())
    def ada_changes_one_occurrence(self, data: st.DataObject, week: int, cancel: bool) -> None:
        self.tick()
        master = data.draw(st.sampled_from(self._masters()))
        day = (master.start_at + dt.timedelta(weeks=week)).astimezone(BERLIN).date().isoformat()
        args: dict[str, Any] = {"event_id": str(master.id), "occurrence": day}

        async def go() -> None:
            async with self.rt.sessions() as session, session.begin():
                user = await session.get(User, self.user_id)
                assert user is not None
                ctx = ToolContext(session, user, self.now(), BERLIN, self.rt.memory)
                if cancel:
                    await run_tool(ctx, "cancel_event", args)
                else:  # an occurrence cancelled already is "no occurrence then": refused, nothing changes
                    await run_tool(ctx, "update_event", args | {"start": "16:00"})
        self.run(go())

    # ------------------------------------------------------------ syncing

    @rule(expire=st.booleans())
    def sync(self, expire: bool) -> None:
        self.tick()
        if expire:
            self.google.expire_sync_tokens(self.address)
        self.run(self._sync())
        self.run(self._same())

    async def _sync(self) -> None:
        async with self.rt.sessions() as session:
            account = await accounts.get(session, self.account.id)
        assert account is not None
        await sync_account(self.rt.sessions, self.vault, self.rt.memory, self.app, account, self.now())

    async def _same(self) -> None:
        """Both sides equal (rows and agenda), nothing doubled, nothing lost that no one deleted."""
        mine = await self._rows()
        assert not [e for e in mine if e.push], "a sync left changes unsent"
        everything = {e["id"]: e for e in self.google.events(self.address, include_cancelled=True)}
        theirs = {i: e for i, e in everything.items() if e["status"] != "cancelled"}
        assert Counter((e.external_id, e.title, e.start_at) for e in mine) == Counter(
            (i, e["summary"], dt.datetime.fromisoformat(e["start"]["dateTime"])) for i, e in theirs.items())
        expected: Counter[tuple[dt.datetime, str]] = Counter()
        for e in theirs.values():
            start = dt.datetime.fromisoformat(e["start"]["dateTime"]).astimezone(BERLIN)
            weeks = range(WEEKS) if e.get("recurrence") else range(1)
            for week in weeks:
                at = start + dt.timedelta(weeks=week)
                if not e.get("recurrence") or instance_id(e["id"], at) not in everything:
                    expected[(at, e["summary"])] += 1
        shown = await self._tool("list_events", {"start": WINDOW[0], "end": WINDOW[1]})
        got = Counter((dt.datetime.fromisoformat(e["start"]), e["title"]) for e in shown["events"])
        assert got == expected
        alive = {t for e in theirs.values() if "recurringEventId" not in e for t in TOKEN.findall(e["summary"])}
        assert self.made - self.deleted <= alive, f"lost: {sorted(self.made - self.deleted - alive)}"

    @invariant()
    def nothing_doubled_in_pixie(self) -> None:
        if not hasattr(self, "user_id"):
            return
        rows = self.run(self._rows())
        ids = Counter(e.external_id for e in rows if e.external_id)
        assert all(n == 1 for n in ids.values()), ids

    def teardown(self) -> None:
        if hasattr(self, "account"):
            self.tick()
            self.run(self._sync())
            self.run(self._sync())
            self.run(self._same())


@pytest.mark.timeout(600)  # a failure shrinks for a while; a pass takes ~20 s
async def test_random_edits_on_both_sides_and_syncs_leave_both_sides_equal(rt: Runtime, tmp_path: Path) -> None:
    with FakeGoogleCalendar() as google:
        TwoWaySync.rt, TwoWaySync.google, TwoWaySync.loop = rt, google, asyncio.get_running_loop()
        TwoWaySync.app = GoogleApp(CLIENT_ID, CLIENT_SECRET, google.api_url, google.token_url, retries=0,
                                   page_size=4)
        TwoWaySync.vault = Vault(None, tmp_path)
        await asyncio.to_thread(run_state_machine_as_test, TwoWaySync, settings=settings(
            max_examples=10, stateful_step_count=12, deadline=None, database=None, derandomize=True,
            suppress_health_check=list(HealthCheck)))
