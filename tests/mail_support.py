"""Mail fixtures for the mailbox tests: messages as a mail server would store them, headers in order."""

from __future__ import annotations

import email.utils
import uuid
from email.message import EmailMessage

MAILBOX = "pixie@example.test"  # tests.dovecot's mailbox address (PIXIE_IMAP_URL ?address=…)
AUTHSERV = "mx.example.test"  # our receiving server's authserv-id (PIXIE_MAIL_AUTHSERV_ID)
ASK = ("Hi Ada,\n\nCould you please send the quarterly report to Bob by Friday?\n\n"
       "Thanks,\nCarol\n")


def mail(body: str = ASK, *, subject: str = "Fwd: Quarterly report", sender: str = "ada@example.org",
         to: str = MAILBOX, top: tuple[str, ...] = (), message_id: str | None = None,
         date: str = "Mon, 02 Mar 2026 09:00:00 +0100") -> bytes:
    """A message with `top` header lines above the rest, as receiving servers prepend theirs."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = date
    msg["Message-ID"] = message_id or email.utils.make_msgid(idstring=uuid.uuid4().hex[:8], domain="example.org")
    msg.set_content(body)
    head = "".join(f"{line}\r\n" for line in top).encode()
    return head + msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def to_token(token: str) -> str:
    """The Delivered-To line our server adds for mail to a user's forwarding address."""
    local, _, domain = MAILBOX.partition("@")
    return f"Delivered-To: {local}+{token}@{domain}"
