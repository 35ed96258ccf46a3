"""Connected accounts and their calendars in the database: secrets sealed by the vault, sync state, upserts.

An account's secret (OAuth tokens as the connector chooses to serialise them, a mailbox
password) goes in and out only through `read_secret` / `store_secret`, encrypted by
`core.vault.Vault`; nothing else reads the column. The worker's hooks (jobs/connectors.py) use
`due`, `mark_synced`, `mark_auth_expired` and `record_failure`; connectors use the rest.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.sources import RemoteCalendar
from core.vault import SecretKeyError, Vault
from db.models import Account as AccountRow
from db.models import Calendar, Event, Notification, Task, User

# Bump when the sync code changes what it stores: every calendar's token then stops counting and
# the next sync of each calendar is a full one.
SYNC_TOKEN_VERSION = 1
ERROR_CHARS = 1000

_NAMES = {"google": "Google Calendar", "outlook": "Outlook calendar", "imap": "mailbox"}


@dataclass(frozen=True)
class Account:
    """A connected account as the hooks and connectors see it (its secret stays in the table)."""

    id: uuid.UUID
    user_id: uuid.UUID | None  # None: the deployment's own (the shared mailbox)
    provider: str
    kind: str
    remote_id: str
    status: str
    cursor: dict[str, Any] | None
    last_error: str | None
    last_synced_at: dt.datetime | None
    connected_at: dt.datetime


def _account(row: AccountRow) -> Account:
    return Account(row.id, row.user_id, row.provider, row.kind, row.remote_id, row.status, row.cursor,
                   row.last_error, row.last_synced_at, row.connected_at)


# ---------------------------------------------------------------- accounts

async def connect(session: AsyncSession, vault: Vault, *, user_id: uuid.UUID | None, provider: str, kind: str,
                  remote_id: str, secret: str | None, now: dt.datetime) -> Account:
    """Store a newly (re)connected account with its secret encrypted; reconnecting makes it active again."""
    sealed = vault.encrypt(secret) if secret is not None else None
    fresh = {"secret": sealed, "status": "active", "last_error": None, "failures": 0, "next_sync_at": None,
             "connected_at": now}
    stmt = insert(AccountRow).values(id=uuid.uuid4(), user_id=user_id, provider=provider, kind=kind,
                                     remote_id=remote_id, created_at=now, **fresh)
    if user_id is None:
        stmt = stmt.on_conflict_do_update(index_elements=["provider", "remote_id"],
                                          index_where=text("user_id IS NULL"), set_=fresh)
    else:
        stmt = stmt.on_conflict_do_update(constraint="uq_accounts_remote", set_=fresh)
    account_id = (await session.execute(stmt.returning(AccountRow.id))).scalar_one()
    row = await session.get(AccountRow, account_id, populate_existing=True)
    assert row is not None
    return _account(row)


async def get(session: AsyncSession, account_id: uuid.UUID) -> Account | None:
    """One account, or None once it was disconnected."""
    row = await session.get(AccountRow, account_id, populate_existing=True)
    return _account(row) if row is not None else None


async def accounts_of(session: AsyncSession, user_id: uuid.UUID) -> list[Account]:
    """A user's connected accounts, oldest first."""
    rows = await session.scalars(select(AccountRow).where(AccountRow.user_id == user_id)
                                 .order_by(AccountRow.created_at))
    return [_account(r) for r in rows]


async def read_secret(session: AsyncSession, vault: Vault, account_id: uuid.UUID) -> str | None:
    """The account's secret in clear (`SecretKeyError` when the key that sealed it is gone)."""
    sealed = await session.scalar(select(AccountRow.secret).where(AccountRow.id == account_id))
    return vault.decrypt(sealed) if sealed is not None else None


async def store_secret(session: AsyncSession, vault: Vault, account_id: uuid.UUID, secret: str) -> None:
    """Replace the account's secret (a refreshed or rotated token)."""
    await session.execute(update(AccountRow).where(AccountRow.id == account_id)
                          .values(secret=vault.encrypt(secret)))


async def rotate_secrets(session: AsyncSession, vault: Vault) -> int:
    """Re-encrypt every stored secret under the current (first) key; returns how many."""
    rows = list(await session.execute(select(AccountRow.id, AccountRow.secret)
                                      .where(AccountRow.secret.is_not(None)).with_for_update()))
    for account_id, sealed in rows:
        if sealed is not None:
            await session.execute(update(AccountRow).where(AccountRow.id == account_id)
                                  .values(secret=vault.rotate(sealed)))
    return len(rows)


async def save_cursor(session: AsyncSession, account_id: uuid.UUID, cursor: dict[str, Any]) -> None:
    """Remember where the account was read up to (a mailbox's UIDVALIDITY and last UID)."""
    await session.execute(update(AccountRow).where(AccountRow.id == account_id).values(cursor=cursor))


async def disconnect(session: AsyncSession, account_id: uuid.UUID) -> tuple[bool, bytes | None]:
    """Forget the account, its secret, its calendars and the events synced from them.

    Returns whether it existed and its secret, still sealed, for revoking the grant after the commit.
    """
    row = (await session.execute(delete(AccountRow).where(AccountRow.id == account_id)
                                 .returning(AccountRow.id, AccountRow.secret))).first()
    return (row is not None, row.secret if row is not None else None)


async def due(session: AsyncSession, kind: str, providers: Sequence[str], now: dt.datetime,
              limit: int = 1000) -> list[uuid.UUID]:
    """Active accounts of these providers to sync or poll now (not those backing off after a failure)."""
    if not providers:
        return []
    rows = await session.scalars(
        select(AccountRow.id).where(AccountRow.kind == kind, AccountRow.provider.in_(providers),
                                    AccountRow.status == "active",
                                    or_(AccountRow.next_sync_at.is_(None), AccountRow.next_sync_at <= now))
        .order_by(AccountRow.last_synced_at.asc().nulls_first()).limit(limit))
    return list(rows)


async def mark_synced(session: AsyncSession, account_id: uuid.UUID, now: dt.datetime) -> None:
    """A sync went through: clear the error and the backoff."""
    await session.execute(update(AccountRow).where(AccountRow.id == account_id).values(
        last_synced_at=now, last_error=None, failures=0, next_sync_at=None))


async def mark_auth_expired(session: AsyncSession, account_id: uuid.UUID, reason: str) -> Account | None:
    """Stop syncing the account until it is reconnected; the account if this changed it (tell its user then)."""
    row = await session.scalar(update(AccountRow).where(AccountRow.id == account_id, AccountRow.status == "active")
                               .values(status="auth_expired", last_error=reason[:ERROR_CHARS])
                               .returning(AccountRow))
    return _account(row) if row is not None else None


async def record_failure(session: AsyncSession, account_id: uuid.UUID, error: str, now: dt.datetime,
                         base: float = 300.0, cap: float = 6 * 3600.0) -> None:
    """Keep why a sync failed (for `pixie doctor`) and back off: `base` seconds, doubling, at most `cap`."""
    row = await session.scalar(select(AccountRow).where(AccountRow.id == account_id).with_for_update())
    if row is None:
        return
    row.failures += 1
    row.last_error = error[:ERROR_CHARS]
    row.next_sync_at = now + dt.timedelta(seconds=min(cap, base * 2 ** (row.failures - 1)))


def reconnect_text(account: Account) -> str:
    """What a user is told when an account's access is gone."""
    what = _NAMES.get(account.provider, account.provider)
    if account.kind == "mail":
        return (f"⚠️ Pixie can no longer log in to the {what} {account.remote_id}, so forwarded mail is not read. "
                "Check its password (PIXIE_IMAP_URL) and restart Pixie.")
    return (f"⚠️ Pixie lost access to your {what} ({account.remote_id}): it was revoked or has expired, so it is "
            f"no longer synced. Reconnect it with /connect {account.provider} "
            f"(or `pixie calendar connect {account.provider}`).")


async def queue_reconnect_notice(session: AsyncSession, account: Account, now: dt.datetime) -> list[uuid.UUID]:
    """Queue "reconnect" for the account's user (the owners, for a deployment account), once per connection."""
    if account.user_id is not None:
        users = [account.user_id]
    else:
        users = list(await session.scalars(select(User.id).where(User.role == "owner")))
    if not users:
        return []
    stamp = account.connected_at.isoformat()  # a later reconnect that expires again is news again
    values = [{"id": uuid.uuid4(), "user_id": u, "key": f"reconnect:{account.id}:{stamp}:{u}", "kind": "account",
               "text": reconnect_text(account), "task_id": None, "due_at": now, "created_at": now} for u in users]
    result = await session.execute(insert(Notification).values(values)
                                   .on_conflict_do_nothing(index_elements=["key"]).returning(Notification.id))
    return list(result.scalars())


# ---------------------------------------------------------------- calendars

async def save_calendars(session: AsyncSession, account: Account, found: Sequence[RemoteCalendar],
                         now: dt.datetime) -> list[Calendar]:
    """Record the account's calendars; a new one is synced if primary, and takes new events if the user has none."""
    assert account.user_id is not None, "calendars belong to a user's account"
    has_default = await session.scalar(select(func.count()).select_from(Calendar).where(
        Calendar.user_id == account.user_id, Calendar.is_default)) or 0
    for cal in found:
        first = cal.primary and cal.writable and not has_default
        has_default = has_default or first
        await session.execute(
            insert(Calendar).values(id=uuid.uuid4(), account_id=account.id, user_id=account.user_id,
                                    remote_id=cal.remote_id, name=cal.name, tz=cal.tz, writable=cal.writable,
                                    selected=cal.primary, is_default=first, token_version=0, created_at=now)
            .on_conflict_do_update(constraint="uq_calendars_remote",
                                   set_={"name": cal.name, "tz": cal.tz, "writable": cal.writable}))
    return list(await session.scalars(select(Calendar).where(Calendar.account_id == account.id)
                                      .order_by(Calendar.created_at, Calendar.name)))


def sync_cursor(calendar: Calendar) -> str | None:
    """Where the next sync of `calendar` starts: its token, unless older sync code made it (None: a full sync)."""
    return calendar.sync_token if calendar.token_version == SYNC_TOKEN_VERSION else None


async def save_sync_token(session: AsyncSession, calendar_id: uuid.UUID, token: str | None,
                          now: dt.datetime) -> None:
    """Keep the cursor the last page gave (None after a CursorExpired: the next sync is a full one)."""
    await session.execute(update(Calendar).where(Calendar.id == calendar_id).values(
        sync_token=token, token_version=SYNC_TOKEN_VERSION, synced_at=now))


async def upsert_external(session: AsyncSession, model: type[Task] | type[Event], values: dict[str, Any]) -> uuid.UUID:
    """Insert a synced task or event, or update the row with the same (user, source, external id); its id.

    `values` holds the columns to write, with `user_id`, `source` and `external_id` (not None).
    """
    if values.get("external_id") is None:
        raise ValueError("an upsert needs the item's external_id")
    changed = {k: v for k, v in values.items() if k not in ("id", "user_id", "source", "external_id", "created_at")}
    stmt = insert(model).values({"id": uuid.uuid4(), **values}).on_conflict_do_update(
        index_elements=["user_id", "source", "external_id"], index_where=text("external_id IS NOT NULL"),
        set_=changed)
    return (await session.execute(stmt.returning(model.id))).scalar_one()


# ---------------------------------------------------------------- pixie doctor

async def accounts_check(sessions: async_sessionmaker, vault: Vault) -> tuple[str, bool | None, str]:
    """`pixie doctor`'s line on accounts: which failed or need reconnecting, and whether the key opens them."""
    async with sessions() as session:
        rows = list(await session.execute(
            select(AccountRow.provider, AccountRow.remote_id, AccountRow.status, AccountRow.last_error,
                   User.name).outerjoin(User, User.id == AccountRow.user_id).order_by(AccountRow.created_at)))
        sample = await session.scalar(select(AccountRow.secret).where(AccountRow.secret.is_not(None)).limit(1))
    if not rows:
        return "accounts", None, "none connected"
    try:
        if sample is not None:
            vault.decrypt(sample)
    except SecretKeyError as exc:
        return "accounts", False, str(exc)
    bad = [r for r in rows if r.status != "active" or r.last_error]
    if not bad:
        return "accounts", True, f"{len(rows)} connected, all syncing"
    lines = [f"{len(bad)} of {len(rows)} account(s) need attention"]
    for provider, remote_id, status, error, user in bad[:10]:
        whose = user or "deployment"
        state = "reconnect needed" if status == "auth_expired" else "failing"
        lines.append(f"  {provider} {remote_id} ({whose}): {state} — {error or ''}".rstrip(" —"))
    return "accounts", False, "\n".join(lines)
