"""The worker's sync hooks, driven by a toy calendar source on real Postgres and Redis: an expired grant marks
the account and tells its user once, "not ready" is retried, anything else is recorded and fails loudly."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from arq.connections import RedisSettings
from sqlalchemy import select

from bots.app import Runtime
from core import accounts
from core.sources import AuthExpired, NotReady
from core.vault import Vault
from db.models import Account as AccountRow
from db.models import Notification, User
from jobs import connectors
from jobs.context import JobContext
from tests.conftest import at
from tests.fakes.chat_platform import FakeChatPlatform
from tests.jobs_support import Clock, burst, job_context, platform_user


@dataclass
class ToySource:
    """A calendar provider whose syncs do what the test scripted, in order (then succeed)."""

    script: list[Exception] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    secrets: list[str | None] = field(default_factory=list)
    provider: str = "toy"
    kind: connectors.Kind = "calendar"

    async def sync(self, jc: JobContext, account: accounts.Account) -> None:
        self.calls.append(account.remote_id)
        assert jc.vault is not None
        async with jc.sessions() as session:  # what a real connector does first: open its token
            self.secrets.append(await accounts.read_secret(session, jc.vault, account.id))
        if self.script:
            raise self.script.pop(0)


@pytest.fixture
async def toy() -> AsyncIterator[Callable[..., ToySource]]:
    made: list[ToySource] = []

    def register(*script: Exception) -> ToySource:
        source = ToySource(list(script))
        connectors.register_source(source)
        made.append(source)
        return source

    yield register
    connectors.unregister_source("toy")


async def _setup(rt: Runtime, fake: FakeChatPlatform, tmp_path: Path) -> tuple[JobContext, Clock, accounts.Account]:
    clock = Clock(at("2026-03-02T09:00:00+01:00"))
    ada = await platform_user(rt, "ada", "Europe/Berlin", clock(), digest=False)
    vault = Vault(None, tmp_path)
    async with rt.sessions() as session, session.begin():
        account = await accounts.connect(session, vault, user_id=ada.id, provider="toy", kind="calendar",
                                         remote_id="ada@example.com", secret="refresh-1", now=clock())
    return job_context(rt, fake.url, clock, vault=vault), clock, account


async def _row(rt: Runtime, account: accounts.Account) -> AccountRow:
    async with rt.sessions() as session:
        row = await session.get(AccountRow, account.id)
        assert row is not None
        return row


async def test_until_a_connector_registers_the_hooks_find_nothing_then_they_sync(
        rt: Runtime, redis: RedisSettings, fake: FakeChatPlatform, tmp_path: Path,
        toy: Callable[..., ToySource]) -> None:
    jc, clock, account = await _setup(rt, fake, tmp_path)
    await burst(jc, redis)
    assert (await _row(rt, account)).last_synced_at is None

    source = toy()
    worker = await burst(job_context(rt, fake.url, clock, vault=jc.vault), redis)
    assert source.calls == ["ada@example.com"] and source.secrets == ["refresh-1"]
    row = await _row(rt, account)
    assert row.last_synced_at == clock() and row.last_error is None and worker.jobs_failed == 0


async def test_an_expired_grant_marks_the_account_and_tells_the_user_once(
        rt: Runtime, redis: RedisSettings, fake: FakeChatPlatform, tmp_path: Path,
        toy: Callable[..., ToySource]) -> None:
    jc, clock, account = await _setup(rt, fake, tmp_path)
    source = toy(*[AuthExpired("invalid_grant: Token has been expired or revoked.") for _ in range(5)])
    for minute in range(3):  # three cron rounds, and a stray job for the same account each time
        clock.value = at("2026-03-02T09:00:00+01:00") + dt.timedelta(minutes=5 * minute)
        jc = job_context(rt, fake.url, clock, vault=jc.vault)
        async with rt.sessions() as session, session.begin():  # as if a sync had been queued before it expired
            row = await session.get(AccountRow, account.id)
            assert row is not None
            row.status = "active"
        await burst(jc, redis)

    assert len(source.calls) == 3  # each round tried once; the marked account was not synced again
    row = await _row(rt, account)
    assert row.status == "auth_expired" and "invalid_grant" in (row.last_error or "")
    [told] = fake.texts()
    assert "Reconnect" in told and "/connect toy" in told and "refresh-1" not in told
    async with rt.sessions() as session:
        notes = list(await session.scalars(select(Notification)))
    assert [(n.kind, n.status) for n in notes] == [("account", "sent")]

    # Reconnected, it syncs again; and should it expire again, that is news again.
    async with rt.sessions() as session, session.begin():
        await accounts.connect(session, jc.vault, user_id=account.user_id, provider="toy",  # type: ignore[arg-type]
                               kind="calendar", remote_id="ada@example.com", secret="refresh-2", now=clock())
    await burst(job_context(rt, fake.url, clock, vault=jc.vault), redis)
    assert source.secrets[-1] == "refresh-2" and len(fake.texts()) == 2


async def test_a_deployment_mailbox_that_lost_its_login_tells_the_owners(
        rt: Runtime, redis: RedisSettings, fake: FakeChatPlatform, tmp_path: Path) -> None:
    clock = Clock(at("2026-03-02T09:00:00+01:00"))
    owner = await platform_user(rt, "olga", "UTC", clock(), digest=False)
    await platform_user(rt, "max", "UTC", clock(), digest=False)
    async with rt.sessions() as session, session.begin():
        (await session.get(User, owner.id)).role = "owner"  # type: ignore[union-attr]
    vault = Vault(None, tmp_path)
    async with rt.sessions() as session, session.begin():
        await accounts.connect(session, vault, user_id=None, provider="toymail", kind="mail",
                               remote_id="pixie@example.com", secret="imap-pass", now=clock())
    source = ToySource([AuthExpired("LOGIN failed")], provider="toymail", kind="mail")
    connectors.register_source(source)
    try:
        await burst(job_context(rt, fake.url, clock, vault=vault), redis)
    finally:
        connectors.unregister_source("toymail")
    [msg] = fake.messages
    assert msg.user_id == str(owner.id) and "pixie@example.com" in msg.text and "imap-pass" not in msg.text


async def test_not_ready_is_retried_until_the_sync_goes_through(
        rt: Runtime, redis: RedisSettings, fake: FakeChatPlatform, tmp_path: Path,
        toy: Callable[..., ToySource]) -> None:
    jc, clock, account = await _setup(rt, fake, tmp_path)
    source = toy(NotReady("HTTP 503"), NotReady("rate limited", retry_after=0.05))
    worker = await burst(jc, redis)
    # Two retries, then the sync goes through (a later tick in the same burst may sync once more: harmless).
    assert len(source.calls) >= 3 and worker.jobs_retried == 2 and worker.jobs_failed == 0
    row = await _row(rt, account)
    assert row.status == "active" and row.last_synced_at == clock() and row.last_error is None
    assert fake.texts() == []  # nothing to bother the user with


async def test_an_unexpected_error_is_recorded_and_fails_the_job(
        rt: Runtime, redis: RedisSettings, fake: FakeChatPlatform, tmp_path: Path,
        toy: Callable[..., ToySource]) -> None:
    jc, clock, account = await _setup(rt, fake, tmp_path)
    source = toy(KeyError("items"))
    worker = await burst(jc, redis)
    assert worker.jobs_failed == 1
    row = await _row(rt, account)
    assert row.status == "active" and row.last_error == "KeyError: 'items'" and row.failures == 1
    assert row.next_sync_at is not None and row.next_sync_at > clock()

    await burst(job_context(rt, fake.url, clock, vault=jc.vault), redis)
    assert len(source.calls) == 1  # backing off: not hammered every round
    clock.value = row.next_sync_at
    await burst(job_context(rt, fake.url, clock, vault=jc.vault), redis)
    row = await _row(rt, account)
    assert len(source.calls) == 2 and row.last_error is None and row.failures == 0
    _, ok, _ = await accounts.accounts_check(rt.sessions, jc.vault)  # type: ignore[arg-type]
    assert ok is True
    assert fake.texts() == []


async def test_a_wrong_secret_key_shows_in_doctor_without_the_secret(
        rt: Runtime, redis: RedisSettings, fake: FakeChatPlatform, tmp_path: Path,
        toy: Callable[..., ToySource]) -> None:
    jc, clock, account = await _setup(rt, fake, tmp_path)
    toy()
    wrong = Vault("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo3ODkwMTI=", tmp_path / "elsewhere")
    worker = await burst(job_context(rt, fake.url, clock, vault=wrong), redis)
    assert worker.jobs_failed == 1
    row = await _row(rt, account)
    assert "PIXIE_SECRET_KEY" in (row.last_error or "") and "refresh-1" not in (row.last_error or "")
    name, ok, detail = await accounts.accounts_check(rt.sessions, wrong)
    assert ok is False and "another key" in detail
    name, ok, detail = await accounts.accounts_check(rt.sessions, jc.vault)  # type: ignore[arg-type]
    assert ok is False and "ada@example.com" in detail and "failing" in detail
