"""The mailbox against a real dovecot: read without marking, a UID cursor, moves after handling, IDLE."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from connectors.imap import ImapMailbox, parse_imap_url
from core.sources import AuthExpired, MailCursor
from tests.dovecot import Dovecot
from tests.mail_support import mail


def test_the_url_names_the_mailbox_and_refuses_clear_text_beyond_this_machine() -> None:
    config = parse_imap_url("imaps://pixie%40example.com:s3cr%2Ft@mail.example.com/INBOX")
    assert (config.host, config.port, config.tls, config.user, config.password, config.address) == \
        ("mail.example.com", 993, True, "pixie@example.com", "s3cr/t", "pixie@example.com")
    assert "s3cr" not in repr(config)
    with pytest.raises(ValueError, match="imaps://") as refused:
        parse_imap_url("imap://pixie:hunter2@mail.example.com/INBOX")
    assert "hunter2" not in str(refused.value)
    assert parse_imap_url("imap://u:p@127.0.0.1:1143/INBOX?address=me@x.test").address == "me@x.test"


async def test_new_mail_is_read_without_being_marked_seen_and_moved_only_when_told(dovecot: Dovecot) -> None:
    dovecot.append(mail(subject="one"), mail(subject="two"))
    async with ImapMailbox(parse_imap_url(dovecot.url)) as box:
        batch = await box.fetch_new(None)
        assert [m.uid for m in batch.messages] == [1, 2]
        assert b"Subject: one" in batch.messages[0].data
        assert batch.messages[0].received_at is not None and batch.messages[0].received_at.tzinfo is not None
        assert all(b"\\Seen" not in f for f in dovecot.flags())  # BODY.PEEK[]: a person still sees them as new

        await box.mark_handled(batch.messages[:1], "Pixie/Done")
        # dovecot's separator is ".": the folder is made with it
        assert (dovecot.count("INBOX"), dovecot.count("Pixie.Done")) == (1, 1)
        assert all(b"\\Seen" not in f for f in dovecot.flags())  # the one left is still unread

        again = await box.fetch_new(batch.cursor)
        assert again.messages == () and again.cursor == batch.cursor  # `UID 3:*` names uid 2: filtered


async def test_a_new_uidvalidity_starts_the_uids_over_from_what_is_still_in_the_inbox(dovecot: Dovecot) -> None:
    dovecot.append(mail(subject="one"), mail(subject="two"))
    async with ImapMailbox(parse_imap_url(dovecot.url)) as box:
        first = await box.fetch_new(None)
        await box.mark_handled(first.messages[:1], "Pixie/Done")
    dovecot.doveadm("mailbox", "update", "-u", "pixie", "--uid-validity", "4242", "INBOX")
    async with ImapMailbox(parse_imap_url(dovecot.url)) as box:
        after = await box.fetch_new(first.cursor)
    assert after.cursor.uidvalidity == 4242 != first.cursor.uidvalidity
    assert [b"Subject: two" in m.data for m in after.messages] == [True]  # nothing lost, nothing handled again


async def test_without_move_a_message_is_copied_then_only_it_is_expunged() -> None:
    server = Dovecot(extra="imap_capability = IMAP4rev1 IDLE UIDPLUS NAMESPACE").start()
    try:
        server.append(mail(subject="one"), mail(subject="two"))
        async with ImapMailbox(parse_imap_url(server.url)) as box:
            assert not box.client.has_capability("MOVE")
            batch = await box.fetch_new(None, limit=1)
            await box.mark_handled(batch.messages[:1], "Pixie/Rejected")
            assert batch.cursor == MailCursor(batch.cursor.uidvalidity, 1)
        assert (server.count("INBOX"), server.count("Pixie.Rejected")) == (1, 1)
    finally:
        server.stop()


async def test_idle_wakes_when_mail_arrives(dovecot: Dovecot) -> None:
    async with ImapMailbox(parse_imap_url(dovecot.url)) as box:
        assert await box.wait(0.5) is False
        waiting = asyncio.create_task(box.wait(20))
        await asyncio.sleep(0.3)
        await asyncio.to_thread(dovecot.append, mail())
        assert await asyncio.wait_for(waiting, 10) is True


async def test_a_refused_login_is_auth_expired_without_the_password(dovecot: Dovecot) -> None:
    wrong = dataclasses.replace(parse_imap_url(dovecot.url), password="not-the-password")
    with pytest.raises(AuthExpired) as refused:
        async with ImapMailbox(wrong):
            pass
    assert "not-the-password" not in str(refused.value)
