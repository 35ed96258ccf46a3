"""The poller killed mid-batch and started again: every mail is handled once, none is lost."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.app import Runtime
from connectors.imap import ImapMailbox, parse_imap_url
from connectors.mail_poller import drain
from core import mail_addresses
from core.sources import RawMail
from db.models import Mail, Notification, Task
from tests.conftest import at
from tests.dovecot import Dovecot
from tests.jobs_support import platform_user
from tests.mail_support import AUTHSERV, MAILBOX, mail, to_token

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-03-02T10:00:00+01:00"
KEY = "k" * 40  # PIXIE_SECRET_KEY shared by the runs: the stored mailbox password opens in each


def _env(engine: AsyncEngine, dovecot: Dovecot, data_dir: Path) -> dict[str, str]:
    return {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(ROOT),
            "PIXIE_DATABASE_URL": engine.url.render_as_string(hide_password=False), "PIXIE_DATA_DIR": str(data_dir),
            "PIXIE_IMAP_URL": dovecot.url, "PIXIE_MAIL_AUTHSERV_ID": AUTHSERV, "PIXIE_SECRET_KEY": KEY,
            "PIXIE_LLM": "offline", "PIXIE_EMBEDDINGS": "hash"}


async def _pixie(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "bots.cli", *args, cwd=ROOT, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def _count(rt: Runtime, model: type) -> int:
    async with rt.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_poller_killed_mid_batch_then_restarted_handles_every_mail_once(
        rt: Runtime, engine: AsyncEngine, dovecot: Dovecot, tmp_path: Path) -> None:
    ada = await platform_user(rt, "ada", "Europe/Berlin", at(NOW), digest=False)
    async with rt.sessions() as session, session.begin():
        token = await mail_addresses.token_of(session, ada.id)
    n = 30
    dovecot.append(*(mail(f"Hi,\n\nCould you please send report {i} to Bob?\n", subject=f"Fwd: report {i}",
                          sender="carol@example.net", top=(to_token(token),)) for i in range(n)))
    env = _env(engine, dovecot, tmp_path)

    address = await _pixie(env, "email", "address", "--user", "telegram:ada-id")  # her Telegram account
    out, errors = await asyncio.wait_for(address.communicate(), 60)
    local, domain = MAILBOX.split("@")
    assert out.decode().strip() == f"{local}+{token}@{domain}", errors.decode()[-2000:]

    first = await _pixie(env, "email", "poll", "--once")
    try:
        for _ in range(3000):  # until a few are handled, then SIGKILL: no handler, no cleanup
            if await _count(rt, Mail) >= 3 or first.returncode is not None:
                break
            await asyncio.sleep(0.01)
    finally:
        first.kill()
        _, errors = await first.communicate()
    killed_at = await _count(rt, Mail)
    assert 3 <= killed_at < n, (killed_at, errors.decode()[-2000:])

    again = await _pixie(env, "email", "poll", "--once")
    out, errors = await asyncio.wait_for(again.communicate(), 120)
    assert again.returncode == 0, errors.decode()[-2000:]

    async with rt.sessions() as session:
        titles = sorted(await session.scalars(select(Task.title)))
    assert titles == sorted(f"Send report {i} to Bob" for i in range(n))  # each once: none lost, none doubled
    assert await _count(rt, Notification) == n and await _count(rt, Mail) == n
    assert (dovecot.count("INBOX"), dovecot.count("Pixie.Done")) == (0, n)


class _DiesBeforeMoving(ImapMailbox):
    """A mailbox whose process "dies" right after a mail's outcome is committed, before it is moved."""

    async def mark_handled(self, mails: Sequence[RawMail], folder: str) -> None:
        raise SystemExit("killed")


async def test_a_mail_stored_but_not_moved_is_recognised_and_only_moved(
        rt: Runtime, dovecot: Dovecot, tmp_path: Path) -> None:
    from core.vault import Vault
    from jobs.mail import connect_mailbox, intake_for

    ada = await platform_user(rt, "ada", "Europe/Berlin", at(NOW), digest=False)
    async with rt.sessions() as session, session.begin():
        token = await mail_addresses.token_of(session, ada.id)
    config = parse_imap_url(dovecot.url)
    account = await connect_mailbox(rt.sessions, Vault(None, tmp_path), config, at(NOW))
    intake = intake_for(rt.sessions, rt.memory, config, account, AUTHSERV, now=lambda: at(NOW))
    dovecot.append(mail(sender="carol@example.net", top=(to_token(token),)))
    try:
        async with _DiesBeforeMoving(config) as box:
            await drain(box, intake)
    except SystemExit:
        pass
    assert dovecot.count("INBOX") == 1 and await _count(rt, Task) == 1
    async with ImapMailbox(config) as box:
        assert [o.status for o in (await drain(box, intake)).outcomes] == ["duplicate"]
    assert await _count(rt, Task) == 1 and await _count(rt, Notification) == 1
    assert (dovecot.count("INBOX"), dovecot.count("Pixie.Done")) == (0, 1)
