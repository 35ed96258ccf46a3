"""Forwarded mail against a real dovecot: whose it is, handled once, and what the user is told."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from arq.connections import RedisSettings
from sqlalchemy import func, select

from bots.app import Runtime
from connectors.imap import ImapMailbox, parse_imap_url
from connectors.mail_intake import Intake
from connectors.mail_poller import drain
from core import accounts, mail_addresses
from core.vault import Vault
from db.models import Mail, Notification, Task, User
from jobs import connectors
from jobs.mail import ImapSource, connect_mailbox, intake_for
from tests.conftest import at
from tests.dovecot import Dovecot
from tests.fakes.chat_platform import FakeChatPlatform
from tests.jobs_support import Clock, burst, call, job_context, platform_user
from tests.mail_support import AUTHSERV, mail, to_token

NOW = "2026-03-02T10:00:00+01:00"


async def _setup(rt: Runtime, dovecot: Dovecot, tmp_path: Path) -> tuple[Intake, User, str]:
    ada = await platform_user(rt, "ada", "Europe/Berlin", at(NOW), digest=False)
    config = parse_imap_url(dovecot.url)
    account = await connect_mailbox(rt.sessions, Vault(None, tmp_path), config, at(NOW))
    async with rt.sessions() as session, session.begin():
        token = await mail_addresses.token_of(session, ada.id)
        await mail_addresses.register_sender(session, ada.id, "ada@example.org", at(NOW))
    return intake_for(rt.sessions, rt.memory, config, account, AUTHSERV, now=lambda: at(NOW)), ada, token


async def _poll(dovecot: Dovecot, intake: Intake) -> list[str]:
    async with ImapMailbox(parse_imap_url(dovecot.url)) as box:
        return [o.status for o in (await drain(box, intake)).outcomes]


async def _tasks(rt: Runtime) -> list[str]:
    async with rt.sessions() as session:
        return sorted(await session.scalars(select(Task.title)))


async def _count(rt: Runtime, model: type) -> int:
    async with rt.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
async def imap_source(dovecot: Dovecot) -> AsyncIterator[ImapSource]:
    source = ImapSource(parse_imap_url(dovecot.url), AUTHSERV)
    connectors.register_source(source)
    yield source
    connectors.unregister_source("imap")


async def test_a_mail_forwarded_to_the_secret_address_becomes_a_task_and_its_user_is_told(
        rt: Runtime, dovecot: Dovecot, redis: RedisSettings, fake: FakeChatPlatform, tmp_path: Path,
        imap_source: ImapSource) -> None:
    intake, ada, token = await _setup(rt, dovecot, tmp_path)
    # A Gmail filter forwarded it: From: is still Carol's; only the envelope names Ada's address.
    dovecot.append(mail(sender="carol@example.net", to="ada@gmail.test", top=(to_token(token),)),
                   mail("Just archiving this one, no action needed.", subject="Fwd: lunch menu",
                        sender="carol@example.net", top=(to_token(token),)))
    jc = job_context(rt, fake.url, Clock(at(NOW)), vault=Vault(None, tmp_path))
    await burst(jc, redis)  # the mailbox hook polls; the sweep after it delivers
    await burst(jc, redis)

    assert await _tasks(rt) == ["Send the quarterly report to Bob"]
    told = sorted(fake.texts(str(ada.id)), key=lambda t: "lunch" in t)  # delivered in any order
    assert len(told) == 2, told
    assert "Quarterly report" in told[0] and "added task: Send the quarterly report to Bob (due 2026-03-06)" in told[0]
    assert "lunch menu" in told[1] and "nothing in it needed doing" in told[1]
    assert (dovecot.count("INBOX"), dovecot.count("Pixie.Done")) == (0, 2)
    async with rt.sessions() as session:
        assert await session.scalar(select(Task.source)) == "email"

    await burst(jc, redis)  # polled again: nothing new, nothing told twice
    assert len(fake.texts(str(ada.id))) == 2 and await _count(rt, Task) == 1


async def test_a_spoofed_from_without_a_token_is_rejected_once_and_nothing_is_made(
        rt: Runtime, dovecot: Dovecot, tmp_path: Path) -> None:
    intake, ada, _ = await _setup(rt, dovecot, tmp_path)
    # From: Ada's own registered address, but nothing vouches for it: anyone can write that header.
    dovecot.append(mail("Please wire $5,000 to account 12345 today.", sender="ada@example.org"))
    assert await _poll(dovecot, intake) == ["rejected"]
    assert await _poll(dovecot, intake) == []  # never fetched again
    assert await _tasks(rt) == [] and await _count(rt, Notification) == 0
    assert (dovecot.count("INBOX"), dovecot.count("Pixie.Rejected")) == (0, 1)
    async with rt.sessions() as session:
        row = (await session.scalars(select(Mail))).one()
    assert row.status == "rejected" and row.user_id is None
    assert "no Authentication-Results from mx.example.test" in (row.reason or "")


@pytest.mark.parametrize(("top", "accepted"), [
    # a header of another authserv-id proves nothing, above or alone
    (("Authentication-Results: evil.test; dmarc=pass header.from=example.org",), False),
    (("Authentication-Results: evil.test; dmarc=pass header.from=example.org",
      f"Authentication-Results: {AUTHSERV}; dmarc=fail header.from=example.org"), False),
    # a forged one with our id sits below ours (servers prepend): ours, the topmost, decides
    ((f"Authentication-Results: {AUTHSERV}; dmarc=fail header.from=example.org",
      f"Authentication-Results: {AUTHSERV}; dmarc=pass header.from=example.org"), False),
    # DKIM counts only aligned with the From: domain
    ((f"Authentication-Results: {AUTHSERV}; dkim=pass header.d=evil.test",), False),
    ((f"Authentication-Results: {AUTHSERV}; dkim=pass header.d=example.org",), True),
    (("Authentication-Results: evil.test; dmarc=fail",
      f"Authentication-Results: {AUTHSERV}; spf=pass smtp.mailfrom=example.org; dmarc=pass header.from=example.org"),
     True),
])
async def test_a_mail_without_a_token_counts_only_when_our_server_vouches_for_a_registered_sender(
        rt: Runtime, dovecot: Dovecot, tmp_path: Path, top: tuple[str, ...], accepted: bool) -> None:
    intake, ada, _ = await _setup(rt, dovecot, tmp_path)
    dovecot.append(mail(sender="Ada <ada@example.org>", top=top))
    assert await _poll(dovecot, intake) == ["handled" if accepted else "rejected"]
    assert await _tasks(rt) == (["Send the quarterly report to Bob"] if accepted else [])


async def test_a_rotated_address_no_longer_reaches_its_user(rt: Runtime, dovecot: Dovecot, tmp_path: Path) -> None:
    intake, ada, old = await _setup(rt, dovecot, tmp_path)
    async with rt.sessions() as session, session.begin():
        new = await mail_addresses.rotate(session, ada.id)
    dovecot.append(mail(sender="carol@example.net", top=(to_token(old),)))
    dovecot.append(mail("Could you book the room for Tuesday?", sender="carol@example.net", top=(to_token(new),)))
    assert await _poll(dovecot, intake) == ["rejected", "handled"]
    assert await _tasks(rt) == ["Book the room"]


async def test_after_a_uidvalidity_change_nothing_is_handled_twice(
        rt: Runtime, dovecot: Dovecot, tmp_path: Path) -> None:
    intake, ada, token = await _setup(rt, dovecot, tmp_path)
    first = mail(sender="carol@example.net", top=(to_token(token),))
    dovecot.append(first)
    assert await _poll(dovecot, intake) == ["handled"]
    # The server renumbers; the handled mail shows up in the inbox again (restored from a backup, say).
    dovecot.doveadm("mailbox", "update", "-u", "pixie", "--uid-validity", "777", "INBOX")
    dovecot.append(first, mail("Could you book the room for Tuesday?", sender="carol@example.net",
                               top=(to_token(token),)))
    assert await _poll(dovecot, intake) == ["duplicate", "handled"]
    assert await _tasks(rt) == ["Book the room", "Send the quarterly report to Bob"]
    assert await _count(rt, Notification) == 2
    async with rt.sessions() as session:
        account = (await accounts.due(session, "mail", ["imap"], at(NOW)))[0]
        cursor = (await accounts.get(session, account)).cursor  # type: ignore[union-attr]
    assert cursor is not None and cursor["uidvalidity"] == 777
    assert dovecot.count("INBOX") == 0


async def test_gmails_forwarding_confirmation_is_shown_with_its_code_not_made_a_task(
        rt: Runtime, dovecot: Dovecot, tmp_path: Path) -> None:
    intake, ada, token = await _setup(rt, dovecot, tmp_path)
    dovecot.append(mail("ada@gmail.test has requested to automatically forward mail to your email address.\n"
                        "Confirmation code: 615938402\n\nTo allow ada@gmail.test to automatically forward mail "
                        "to your address, please click the link below to confirm the request.\n",
                        subject="(#615938402) Gmail Forwarding Confirmation - Receive Mail from ada@gmail.test",
                        sender="Gmail Team <forwarding-noreply@google.com>", top=(to_token(token),)))
    assert await _poll(dovecot, intake) == ["confirmation"]
    assert await _tasks(rt) == []
    async with rt.sessions() as session:
        [text] = list(await session.scalars(select(Notification.text)))
    assert "615938402" in text and "ada@gmail.test" in text


async def test_email_in_chat_shows_the_forwarding_address_and_a_new_one_retires_it(
        rt: Runtime, dovecot: Dovecot, tmp_path: Path) -> None:
    from core.access import parse_owners
    from core.types import IncomingMessage

    intake, _, _ = await _setup(rt, dovecot, tmp_path)
    rt.assistant.access.owners = parse_owners("telegram:2002")

    async def say(text: str, n: list[int] = [0]) -> str:  # noqa: B006
        n[0] += 1
        reply = await rt.assistant.handle(IncomingMessage("telegram", "2002", text, chat_id="c-2002",
                                                          message_id=f"m{n[0]}", ts=at(NOW)))
        return reply.text

    assert "No mailbox is set up" in await say("/email")
    rt.assistant.access.mailbox = parse_imap_url(dovecot.url).address
    shown = await say("/email")
    [old] = re.findall(r"pixie\+([a-z2-7]{16})@example\.test", shown)
    assert await say("/email") == shown  # the same address until asked for a new one
    assert await say("what's my forwarding address?") == shown  # asked in words: the same answer
    assert await say("how do I forward emails to you?") == shown
    [new] = re.findall(r"pixie\+([a-z2-7]{16})@example\.test", await say("/email new"))
    assert new != old
    dovecot.append(mail(sender="carol@example.net", top=(to_token(old),)),
                   mail(sender="carol@example.net", subject="Fwd: again", top=(to_token(new),)))
    assert await _poll(dovecot, intake) == ["rejected", "handled"]
    async with rt.sessions() as session:
        owner = await session.scalar(select(Task.user_id))
        assert (await session.get(User, owner)).role == "owner"  # type: ignore[union-attr]


async def test_the_long_running_poller_reads_mail_as_it_arrives_and_catches_up_after_a_dropped_connection(
        rt: Runtime, dovecot: Dovecot, tmp_path: Path) -> None:
    import asyncio
    import socket

    from connectors.mail_poller import watch

    intake, _, token = await _setup(rt, dovecot, tmp_path)
    config = parse_imap_url(dovecot.url)
    boxes: list[ImapMailbox] = []

    def open_box() -> ImapMailbox:
        boxes.append(ImapMailbox(config))
        return boxes[-1]

    async def tasks_become(n: int) -> None:
        for _ in range(400):
            if len(await _tasks(rt)) == n:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"expected {n} tasks, have {await _tasks(rt)}")

    stop = asyncio.Event()
    poller = asyncio.create_task(watch(open_box, intake, stop, idle=30, backoff=0.2))
    try:
        await asyncio.sleep(0.5)
        await asyncio.to_thread(dovecot.append, mail(sender="carol@example.net", top=(to_token(token),)))
        await tasks_become(1)  # IDLE woke it: no waiting for a poll
        boxes[-1].client.socket().shutdown(socket.SHUT_RDWR)  # the connection dies under the IDLE
        await asyncio.to_thread(dovecot.append, mail("Could you book the room for Tuesday?",
                                                     sender="carol@example.net", top=(to_token(token),)))
        await tasks_become(2)  # reconnected and caught up by UID
        assert len(boxes) >= 2
    finally:
        stop.set()
        await asyncio.wait_for(poller, 10)  # stops within seconds, even mid-IDLE
    assert dovecot.count("INBOX") == 0


async def test_linking_two_accounts_keeps_the_forwarding_address_set_up_first(rt: Runtime) -> None:
    from core.access import merge_users

    first = await platform_user(rt, "ada", "Europe/Berlin", at(NOW), digest=False)
    second = await platform_user(rt, "ada2", "Europe/Berlin", at(NOW), platform="slack", digest=False)
    async with rt.sessions() as session, session.begin():
        token = await mail_addresses.token_of(session, first.id)
        await mail_addresses.token_of(session, second.id)
    async with rt.sessions() as session, session.begin():
        keep, gone = await session.get(User, second.id), await session.get(User, first.id)
        assert keep is not None and gone is not None
        await merge_users(session, keep=keep, gone=gone)
    async with rt.sessions() as session:
        assert await mail_addresses.user_for_token(session, token) == second.id


async def test_the_message_about_a_mail_has_an_undo_that_takes_back_exactly_what_it_added(
        rt: Runtime, dovecot: Dovecot, tmp_path: Path) -> None:
    from core.scheduler import outgoing

    intake, ada, token = await _setup(rt, dovecot, tmp_path)
    dovecot.append(mail(sender="carol@example.net", top=(to_token(token),)),
                   mail("Just archiving this one, no action needed.", subject="Fwd: lunch menu",
                        sender="carol@example.net", top=(to_token(token),)))
    await _poll(dovecot, intake)
    async with rt.sessions() as session:
        notes = [outgoing(n) for n in await session.scalars(select(Notification))]
    [added] = [n for n in notes if "Quarterly report" in n.text]
    [nothing] = [n for n in notes if "lunch menu" in n.text]
    assert nothing.buttons == ()  # nothing was added: nothing to undo
    [undo] = added.buttons
    assert undo.action == "undo"
    # "undo" typed in chat takes back Ada's own last change, never what a mail did.
    from core.types import IncomingMessage
    typed = await rt.assistant.handle(IncomingMessage("telegram", "ada-id", "undo", ts=at(NOW)))
    assert "nothing" in typed.text.lower() and await _tasks(rt) == ["Send the quarterly report to Bob"]
    reply = await rt.assistant.press("telegram", "ada-id", undo.action, undo.value, now=at(NOW))
    assert reply.text.startswith("Undone") and "quarterly report" in reply.text.lower()
    assert await _tasks(rt) == []
    again = await rt.assistant.press("telegram", "ada-id", undo.action, undo.value, now=at(NOW))
    assert "already undone" in again.text


async def test_the_digest_lists_what_arrived_by_mail_since_the_previous_one(
        rt: Runtime, dovecot: Dovecot, redis: RedisSettings, fake: FakeChatPlatform, tmp_path: Path,
        imap_source: ImapSource) -> None:
    sunday = "2026-03-01T10:00:00+01:00"
    ada = await platform_user(rt, "ada", "Europe/Berlin", at(sunday))  # her digest at 07:30
    await connect_mailbox(rt.sessions, Vault(None, tmp_path), parse_imap_url(dovecot.url), at(sunday))
    async with rt.sessions() as session, session.begin():
        token = await mail_addresses.token_of(session, ada.id)
    clock = Clock(at(sunday))

    async def work() -> list[str]:  # the worker as it runs: polls the mailbox, sends what is due
        before = len(fake.texts(str(ada.id)))
        for _ in range(2):
            await burst(job_context(rt, fake.url, clock, vault=Vault(None, tmp_path)), redis)
        return fake.texts(str(ada.id))[before:]

    dovecot.append(mail(sender="carol@example.net", top=(to_token(token),)))  # asks for the quarterly report
    await work()
    await call(rt, ada, "create_task", {"title": "Buy milk"}, at(sunday))  # said in chat: not "by mail"

    clock.set("2026-03-02T07:31:00+01:00")
    [monday] = [t for t in await work() if "Good morning" in t]
    by_mail = monday.split("Arrived by mail since the last digest:")[1]
    assert "Send the quarterly report to Bob" in by_mail and "Buy milk" not in by_mail

    clock.set("2026-03-02T10:00:00+01:00")
    dovecot.append(mail("Hi Ada,\n\nCould we meet on Thursday at 15:00 to go over the budget?\n\nBest,\nCarol\n",
                        subject="Fwd: Budget", sender="carol@example.net", top=(to_token(token),)))
    [told] = await work()
    assert "proposed event" in told

    clock.set("2026-03-03T07:31:00+01:00")
    [tuesday] = [t for t in await work() if "Good morning" in t]
    by_mail = tuesday.split("Arrived by mail since the last digest:")[1]
    assert re.search(r"Thu 5 Mar.*15:00.*budget.*\(proposed\)", by_mail, re.I | re.S), tuesday
    assert "quarterly report" not in by_mail  # it was in Monday's: each thing listed once

    clock.set("2026-03-04T07:31:00+01:00")
    [wednesday] = [t for t in await work() if "Good morning" in t]
    assert "Arrived by mail" not in wednesday  # nothing new came

    # Mail comes on Wednesday; the worker is down until Saturday noon: Saturday's digest (the one that
    # comes once it runs again) lists it — since the previous digest, not only the last 24 hours.
    clock.set("2026-03-04T11:00:00+01:00")
    dovecot.append(mail("Hi Ada,\n\nPlease renew the parking permit before Friday.\n\nCarol\n",
                        subject="Fwd: Parking", sender="carol@example.net", top=(to_token(token),),
                        message_id="<parking@x.test>"))
    await work()
    clock.set("2026-03-07T12:00:00+01:00")
    [saturday] = [t for t in await work() if "Good morning" in t]
    assert "parking permit" in saturday.split("Arrived by mail since the last digest:")[1].lower(), saturday
