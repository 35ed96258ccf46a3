"""Connected accounts: secrets sealed at rest with the key, a key file made once and owner-only, a wrong key
said plainly, sync upserts that never double a row, and disconnecting that takes the synced events along."""

from __future__ import annotations

import datetime as dt
import os
import stat
import uuid
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select, text

from bots.app import Runtime
from core import accounts
from core.config import Settings
from core.sources import RemoteCalendar
from core.vault import SecretKeyError, Vault, key_file, secret_key_check
from db.models import Calendar, Event, Task, User
from tests.conftest import at

NOW = at("2026-03-02T09:00:00+00:00")
TOKEN = "1//0refresh-token-of-ada-Xy7"


async def _user(rt: Runtime, name: str = "ada") -> uuid.UUID:
    async with rt.sessions() as session, session.begin():
        user = User(id=uuid.uuid4(), name=name, tz="Europe/Berlin", created_at=NOW)
        session.add(user)
    return user.id


async def _connect(rt: Runtime, vault: Vault, user_id: uuid.UUID | None, secret: str = TOKEN,
                   remote_id: str = "ada@example.com") -> accounts.Account:
    async with rt.sessions() as session, session.begin():
        return await accounts.connect(session, vault, user_id=user_id, provider="google", kind="calendar",
                                      remote_id=remote_id, secret=secret, now=NOW)


async def test_a_token_is_stored_sealed_and_opens_with_the_key_pixie_made(rt: Runtime, tmp_path: Path) -> None:
    vault = Vault(None, tmp_path)
    assert not key_file(tmp_path).exists()  # nothing is made before it is needed
    account = await _connect(rt, vault, await _user(rt))

    async with rt.engine.connect() as conn:
        raw = (await conn.execute(text("SELECT secret FROM accounts WHERE id = :id"), {"id": account.id})).scalar_one()
        dump = (await conn.execute(text("SELECT row_to_json(a)::text FROM accounts a"))).scalar_one()
    assert isinstance(raw, bytes) and TOKEN.encode() not in raw and TOKEN not in dump
    path = key_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_bytes()

    # Another process (a new vault on the same data dir) reuses the key and opens the secret.
    again = Vault(None, tmp_path)
    assert again.decrypt(raw) == TOKEN
    async with rt.sessions() as session:
        assert await accounts.read_secret(session, again, account.id) == TOKEN
    assert Fernet(key.strip()).decrypt(raw).decode() == TOKEN  # it is plain Fernet, not a home-made cipher
    again.encrypt("another secret")
    assert path.read_bytes() == key and os.listdir(tmp_path) == [path.name]  # reused, no stray temp files


async def test_a_wrong_key_is_a_clear_error_that_shows_no_secret(rt: Runtime, tmp_path: Path) -> None:
    right, wrong = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    account = await _connect(rt, Vault(right, tmp_path / "a"), await _user(rt))

    vault = Vault(wrong, tmp_path / "b")
    async with rt.sessions() as session:
        with pytest.raises(SecretKeyError) as caught:
            await accounts.read_secret(session, vault, account.id)
    message = str(caught.value)
    assert "PIXIE_SECRET_KEY" in message and "another key" in message
    assert right not in message and wrong not in message and TOKEN not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # no chained traceback

    with pytest.raises(SecretKeyError) as bad:
        Vault("hunter2-too-short", tmp_path / "c").encrypt("x")
    assert "too short" in str(bad.value) and "hunter2" not in str(bad.value)
    settings = Settings(PIXIE_DATA_DIR=tmp_path / "c", PIXIE_SECRET_KEY="hunter2-too-short")
    name, ok, detail = secret_key_check(settings)
    assert ok is False and "hunter2" not in detail


async def test_a_long_random_string_works_as_the_key(rt: Runtime, tmp_path: Path) -> None:
    passphrase = "6f1d0c9b8e7a4f3d2c1b0a9e8d7c6b5a4f3e2d1c0b9a8f7e"  # what `openssl rand -hex 24` makes
    account = await _connect(rt, Vault(passphrase, tmp_path), await _user(rt))
    async with rt.sessions() as session:
        assert await accounts.read_secret(session, Vault(passphrase, tmp_path / "other"), account.id) == TOKEN
        with pytest.raises(SecretKeyError):
            await accounts.read_secret(session, Vault(passphrase[:-1] + "0", tmp_path / "x"), account.id)
    assert not key_file(tmp_path).exists()  # a configured key makes no key file


async def test_a_rotated_key_keeps_old_secrets_readable_until_they_are_resealed(rt: Runtime, tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    account = await _connect(rt, Vault(old, tmp_path), await _user(rt))
    both = Vault(f"{new}, {old}", tmp_path)
    async with rt.sessions() as session, session.begin():
        assert await accounts.read_secret(session, both, account.id) == TOKEN
        assert await accounts.rotate_secrets(session, both) == 1
    async with rt.sessions() as session:
        assert await accounts.read_secret(session, Vault(new, tmp_path), account.id) == TOKEN


def test_doctor_says_where_the_key_is(tmp_path: Path) -> None:
    settings = Settings(PIXIE_DATA_DIR=tmp_path)
    name, ok, detail = secret_key_check(settings)
    assert name == "secret key" and ok is None and str(key_file(tmp_path)) in detail
    assert not key_file(tmp_path).exists()  # asking makes nothing

    Vault.from_settings(settings).encrypt("x")
    _, ok, detail = secret_key_check(settings)
    assert ok is True and str(key_file(tmp_path)) in detail

    key_file(tmp_path).chmod(0o644)
    _, ok, detail = secret_key_check(settings)
    assert ok is False and "chmod 600" in detail

    key = Fernet.generate_key().decode()
    _, ok, detail = secret_key_check(Settings(PIXIE_DATA_DIR=tmp_path / "env", PIXIE_SECRET_KEY=key))
    assert ok is True and detail.startswith("PIXIE_SECRET_KEY") and key not in detail


async def test_reconnecting_updates_the_account_instead_of_adding_one(rt: Runtime, tmp_path: Path) -> None:
    vault = Vault(None, tmp_path)
    user_id = await _user(rt)
    first = await _connect(rt, vault, user_id)
    async with rt.sessions() as session, session.begin():
        await accounts.mark_auth_expired(session, first.id, "AuthExpired: invalid_grant")
    second = await _connect(rt, vault, user_id, secret="1//new-token")
    assert second.id == first.id and second.status == "active" and second.last_error is None
    async with rt.sessions() as session:
        assert await accounts.read_secret(session, vault, first.id) == "1//new-token"
        assert [a.id for a in await accounts.accounts_of(session, user_id)] == [first.id]

    # The deployment's own mailbox has no user, and is one row too.
    for _ in range(2):
        async with rt.sessions() as session, session.begin():
            box = await accounts.connect(session, vault, user_id=None, provider="imap", kind="mail",
                                         remote_id="pixie@example.com", secret="imap-password", now=NOW)
    async with rt.sessions() as session:
        count = await session.scalar(text("SELECT count(*) FROM accounts WHERE user_id IS NULL"))
    assert count == 1 and box.user_id is None


def _event_values(user_id: uuid.UUID, title: str, calendar_id: uuid.UUID | None = None) -> dict[str, object]:
    start = at("2026-03-03T10:00:00+01:00")
    return {"user_id": user_id, "source": "google", "external_id": "evt-42", "etag": f'"{title}"', "title": title,
            "start_at": start, "end_at": start + dt.timedelta(hours=1), "all_day": False, "tz": "Europe/Berlin",
            "status": "confirmed", "calendar_id": calendar_id, "created_at": NOW, "updated_at": NOW}


async def test_upserting_the_same_remote_item_twice_makes_one_row(rt: Runtime, tmp_path: Path) -> None:
    ada, bob = await _user(rt, "ada"), await _user(rt, "bob")
    async with rt.sessions() as session, session.begin():
        first = await accounts.upsert_external(session, Event, _event_values(ada, "Standup"))
        second = await accounts.upsert_external(session, Event, _event_values(ada, "Standup (moved)"))
        other = await accounts.upsert_external(session, Event, _event_values(bob, "Standup"))
        task = {"user_id": ada, "source": "imap", "external_id": "<m1@example.com>", "title": "Pay invoice",
                "priority": "medium", "status": "open", "created_at": NOW, "updated_at": NOW}
        t1 = await accounts.upsert_external(session, Task, task)
        t2 = await accounts.upsert_external(session, Task, {**task, "title": "Pay the invoice"})
        # Rows made by hand (no external id) never collide.
        for title in ("Lunch", "Lunch"):
            session.add(Event(user_id=ada, title=title, start_at=NOW, end_at=NOW, tz="UTC"))
    assert first == second != other and t1 == t2
    async with rt.sessions() as session:
        titles = sorted(await session.scalars(select(Event.title).where(Event.user_id == ada)))
        task_titles = list(await session.scalars(select(Task.title)))
    assert titles == ["Lunch", "Lunch", "Standup (moved)"] and task_titles == ["Pay the invoice"]
    with pytest.raises(ValueError):
        async with rt.sessions() as session:
            await accounts.upsert_external(session, Task, {**task, "external_id": None})


async def test_disconnecting_removes_the_synced_events_and_keeps_local_ones(rt: Runtime, tmp_path: Path) -> None:
    ada = await _user(rt)
    account = await _connect(rt, Vault(None, tmp_path), ada)
    async with rt.sessions() as session, session.begin():
        cals = await accounts.save_calendars(session, account, [
            RemoteCalendar("ada@example.com", "Ada", "Europe/Berlin", primary=True),
            RemoteCalendar("holidays", "Holidays", writable=False)], NOW)
        assert [(c.name, c.selected, c.is_default) for c in cals] == [("Ada", True, True), ("Holidays", False, False)]
        await accounts.upsert_external(session, Event, _event_values(ada, "Standup", cals[0].id))
        session.add(Event(user_id=ada, title="Dentist", start_at=NOW, end_at=NOW, tz="UTC"))
    async with rt.sessions() as session, session.begin():
        assert (await accounts.disconnect(session, account.id))[0]
    async with rt.sessions() as session:
        assert list(await session.scalars(select(Event.title))) == ["Dentist"]
        assert await session.scalar(select(func.count()).select_from(Calendar)) == 0
        assert await accounts.get(session, account.id) is None


async def test_a_sync_token_from_older_sync_code_forces_a_full_sync(rt: Runtime, tmp_path: Path) -> None:
    account = await _connect(rt, Vault(None, tmp_path), await _user(rt))
    async with rt.sessions() as session, session.begin():
        [cal] = await accounts.save_calendars(session, account, [RemoteCalendar("primary", "Ada", primary=True)], NOW)
        assert accounts.sync_cursor(cal) is None  # never synced
        await accounts.save_sync_token(session, cal.id, "token-1", NOW)
        await session.refresh(cal)
        assert accounts.sync_cursor(cal) == "token-1"
        cal.token_version = accounts.SYNC_TOKEN_VERSION - 1  # stored by the previous release
        assert accounts.sync_cursor(cal) is None
