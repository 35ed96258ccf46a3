"""The deployment mailbox as a source of the worker's `poll_mailboxes` hook: one catch-up per poll.

The hook (jobs/connectors.py) finds the mailbox's account due every minute and runs `sync`, which
reads what arrived since the stored cursor and hands each mail to the intake; the notifications
it queues are delivered by the worker's sweep. `pixie email poll` runs the same catch-up, and
without `--once` keeps an IDLE connection open for mail as it arrives.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from sqlalchemy.ext.asyncio import async_sessionmaker

from connectors.imap import ImapConfig, ImapMailbox
from connectors.mail_intake import Intake
from connectors.mail_poller import Drained, drain
from core import accounts
from core.memory import Memory
from core.sources import AuthExpired
from core.vault import Vault
from jobs.connectors import Kind
from jobs.context import JobContext

PROVIDER = "imap"


async def connect_mailbox(sessions: async_sessionmaker, vault: Vault, config: ImapConfig,
                          now: dt.datetime) -> accounts.Account:
    """The deployment's mailbox account (made, or its password refreshed from PIXIE_IMAP_URL)."""
    async with sessions() as session, session.begin():
        return await accounts.connect(session, vault, user_id=None, provider=PROVIDER, kind="mail",
                                      remote_id=config.remote_id, secret=config.password, now=now)


async def opened_config(sessions: async_sessionmaker, vault: Vault, config: ImapConfig,
                        account: accounts.Account) -> ImapConfig:
    """The config with the password the account holds (sealed in the database)."""
    async with sessions() as session:
        secret = await accounts.read_secret(session, vault, account.id)
    if secret is None:
        raise AuthExpired("the mailbox has no password stored")
    return dataclasses.replace(config, password=secret)


def intake_for(sessions: async_sessionmaker, memory: Memory, config: ImapConfig, account: accounts.Account,
               authserv_id: str | None, now: object = None) -> Intake:
    """The intake of this mailbox's mail."""
    return Intake(sessions, memory, account.id, config.address, authserv_id, now=now)


@dataclasses.dataclass
class ImapSource:
    """jobs.connectors.AccountSource for the deployment mailbox."""

    config: ImapConfig
    authserv_id: str | None = None
    provider: str = PROVIDER
    kind: Kind = "mail"
    last: Drained | None = None  # what the last poll did (tests, logs)

    async def sync(self, jc: JobContext, account: accounts.Account) -> list[uuid.UUID]:
        """Read everything new in the mailbox once; the notifications queued for the mails' users."""
        if jc.vault is None:
            raise RuntimeError("the worker was started without a vault: mailbox passwords cannot be opened")
        config = await opened_config(jc.sessions, jc.vault, self.config, account)
        intake = intake_for(jc.sessions, jc.memory, config, account, self.authserv_id, now=jc.now)
        async with ImapMailbox(config) as box:
            self.last = await drain(box, intake)
        return self.last.notifications
