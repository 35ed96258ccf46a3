"""The poller's batches against a real dovecot: handled in parallel and still once, sizes checked before bodies,
and the To: header's names read as the reader's (as `pixie email ingest` reads them)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from bots.app import Runtime
from connectors.imap import ImapMailbox, parse_imap_url
from connectors.mail import MAX_BYTES
from connectors.mail_intake import Intake, Outcome
from connectors.mail_poller import drain
from core import accounts, mail_addresses
from core.sources import MailBatch, MailCursor, NotReady, RawMail
from core.vault import Vault
from db.models import Mail, Notification, Task
from jobs.mail import connect_mailbox
from tests.conftest import at
from tests.dovecot import Dovecot
from tests.jobs_support import platform_user
from tests.mail_support import AUTHSERV, mail, to_token

NOW = "2026-03-02T10:00:00+01:00"


async def _count(rt: Runtime, model: type) -> int:
    async with rt.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _titles(rt: Runtime) -> list[str]:
    async with rt.sessions() as session:
        return sorted(await session.scalars(select(Task.title)))


async def _setup(rt: Runtime, dovecot: Dovecot, tmp_path: Path, name: str = "ada") -> tuple[Intake, str]:
    user = await platform_user(rt, name, "Europe/Berlin", at(NOW), digest=False)
    config = parse_imap_url(dovecot.url)
    account = await connect_mailbox(rt.sessions, Vault(None, tmp_path), config, at(NOW))
    async with rt.sessions() as session, session.begin():
        token = await mail_addresses.token_of(session, user.id)
    return Intake(rt.sessions, rt.memory, account.id, config.address, AUTHSERV, now=lambda: at(NOW)), token


class _Watched(ImapMailbox):
    """The real mailbox, noting what each FETCH brought."""

    fetched: list[RawMail]

    async def fetch_new(self, after: MailCursor | None, limit: int = 50) -> MailBatch:
        batch = await super().fetch_new(after, limit)
        self.fetched = [*getattr(self, "fetched", []), *batch.messages]
        return batch


class _DatabaseGoneOnce(Intake):
    """An intake whose database goes away while one chosen mail is handled (the first time only)."""

    fail_subject: bytes = b""

    async def handle(self, mail: RawMail) -> Outcome:
        if self.fail_subject and self.fail_subject in mail.data:
            self.fail_subject = b""
            raise NotReady("the database went away")
        return await super().handle(mail)


async def test_a_batch_handled_in_parallel_makes_each_task_once_even_when_one_mail_fails(
        rt: Runtime, dovecot: Dovecot, tmp_path: Path) -> None:
    plain, token = await _setup(rt, dovecot, tmp_path)
    intake = _DatabaseGoneOnce(plain.sessions, plain.memory, plain.account_id, plain.mailbox, AUTHSERV, now=plain.now)
    intake.fail_subject = b"Subject: Fwd: report 7\r\n"
    n = 24
    dovecot.append(*(mail(f"Hi,\n\nCould you please send report {i} to Bob?\n", subject=f"Fwd: report {i}",
                          sender="carol@example.net", top=(to_token(token),)) for i in range(n)))
    config = parse_imap_url(dovecot.url)
    try:
        async with ImapMailbox(config) as box:
            await drain(box, intake, batch=10, parallel=4)
        raise AssertionError("the failed mail's error is raised")
    except NotReady:
        pass
    # the first batch's other nine are stored and moved; the one that failed stays, and so does the cursor
    assert await _count(rt, Mail) == 9 and dovecot.count("INBOX") == n - 9
    async with rt.sessions() as session:
        account = await accounts.get(session, plain.account_id)
    assert account is not None and account.cursor is None

    async with ImapMailbox(config) as box:
        statuses = [o.status for o in (await drain(box, intake, batch=10, parallel=4)).outcomes]
    assert statuses == ["handled"] * (n - 9)
    assert await _titles(rt) == sorted(f"Send report {i} to Bob" for i in range(n))  # each once, none lost
    assert await _count(rt, Notification) == n
    assert (dovecot.count("INBOX"), dovecot.count("Pixie.Done")) == (0, n)


async def test_a_mail_over_the_size_limit_is_never_downloaded_and_is_rejected_once(
        rt: Runtime, dovecot: Dovecot, tmp_path: Path) -> None:
    intake, token = await _setup(rt, dovecot, tmp_path)
    line = "Please also review this attached log line, it is long and dull and repeats itself.\n"
    huge = mail("Could you please send the big report to Bob?\n" + line * (MAX_BYTES // len(line) + 1000),
                subject="Fwd: huge", sender="carol@example.net", top=(to_token(token),), message_id="<huge@x.test>")
    assert len(huge) > MAX_BYTES
    dovecot.append(huge, mail(sender="carol@example.net", top=(to_token(token),)))

    async with _Watched(parse_imap_url(dovecot.url)) as box:
        outcomes = (await drain(box, intake)).outcomes
        big = next(m for m in box.fetched if b"Subject: Fwd: huge" in m.data)
    assert not big.whole and big.size == len(huge) and len(big.data) < 64 * 1024  # its headers only
    assert b"big report" not in big.data
    assert [o.status for o in outcomes] == ["rejected", "handled"]
    async with rt.sessions() as session:
        row = await session.scalar(select(Mail).where(Mail.status == "rejected"))
    assert row is not None and row.user_id is not None
    assert row.reason is not None and "larger than 10 MB" in row.reason and "not downloaded" in row.reason
    assert await _titles(rt) == ["Send the quarterly report to Bob"]  # nothing from the huge one
    async with rt.sessions() as session:  # its sender is told why nothing came of it, not left wondering
        told = list(await session.scalars(select(Notification.text).where(Notification.text.contains("Fwd: huge"))))
    assert len(told) == 1 and "wasn't read" in told[0] and "larger than 10 MB" in told[0], told
    assert (dovecot.count("INBOX"), dovecot.count("Pixie.Rejected"), dovecot.count("Pixie.Done")) == (0, 1, 1)

    dovecot.append(huge)  # the same mail again (forwarded twice): recognised, stored once
    async with ImapMailbox(parse_imap_url(dovecot.url)) as box:
        assert [o.status for o in (await drain(box, intake)).outcomes] == ["duplicate"]
    assert await _count(rt, Mail) == 2 and dovecot.count("Pixie.Rejected") == 2


async def test_a_request_to_someone_else_in_the_thread_is_not_the_readers_task(
        rt: Runtime, dovecot: Dovecot, tmp_path: Path) -> None:
    # Jonas's Gmail filter forwards the mail as it came: To: names him, and he talks to Pixie as "jw".
    intake, token = await _setup(rt, dovecot, tmp_path, name="jw")
    body = ("Jonas, could you please send the signed contract to Bob by Friday?\n\n"
            "Maria, please book the meeting room for Tuesday.\n\nThanks,\nCarol\n")
    dovecot.append(mail(body, subject="Contract", sender="carol@example.net",
                        to="Jonas Weber <jonas@example.org>",
                        top=(to_token(token), "Cc: Maria Rossi <maria@example.org>")))
    async with ImapMailbox(parse_imap_url(dovecot.url)) as box:
        assert [o.status for o in (await drain(box, intake)).outcomes] == ["handled"]
    assert await _titles(rt) == ["Send the signed contract to Bob"]
