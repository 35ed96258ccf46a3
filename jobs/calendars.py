"""Calendar providers for the worker's sync hooks (jobs/connectors.py): Google Calendar today."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.dialects.postgresql import insert

from connectors.google.auth import GoogleApp
from connectors.google.sync import PROVIDER, SyncReport, sync_account
from core import accounts
from db.models import Notification
from jobs.connectors import Kind, register_source
from jobs.context import JobContext


def synced_text(report: SyncReport) -> str:
    """The one message a user gets when the first sync of their calendar is done."""
    return (f"📅 Your Google Calendar is synced: {report.written} events from {report.calendars} calendar(s). "
            "I'll keep it up to date every few minutes.")


@dataclass
class GoogleAccounts:
    """Syncs each connected Google account (an `AccountSource`); tells its user once when the first sync is done."""

    app: GoogleApp
    provider: str = PROVIDER
    kind: Kind = "calendar"

    async def sync(self, jc: JobContext, account: accounts.Account) -> list[uuid.UUID]:
        """One incremental sync of every selected calendar of `account`."""
        if jc.vault is None:
            raise RuntimeError("the worker has no vault to open account tokens with")
        now = jc.now()
        report = await sync_account(jc.sessions, jc.vault, jc.memory, self.app, account, now)
        if not report.first or account.user_id is None:
            return []
        async with jc.sessions() as session, session.begin():
            queued = await session.execute(insert(Notification).values(
                id=uuid.uuid4(), user_id=account.user_id, key=f"synced:{account.id}:{account.connected_at}",
                kind="account", text=synced_text(report), task_id=None, due_at=now, created_at=now,
            ).on_conflict_do_nothing(index_elements=["key"]).returning(Notification.id))
            return list(queued.scalars())


def register_calendars(app: GoogleApp) -> None:
    """Put Google accounts on the worker's sync hooks."""
    register_source(GoogleAccounts(app))
