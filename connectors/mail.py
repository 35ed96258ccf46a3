"""An email as Pixie reads it: its headers and the text a person would see, nothing hidden.

Only what is shown counts: text/plain is preferred; from HTML, elements styled out of sight
(display:none, zero size, white text, …), scripts and styles are dropped, since mail that hides
text from its reader is hiding it for a machine. An email forwarded as an attachment
(message/rfc822) is read as part of the one that carries it.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import hashlib
import re
from dataclasses import dataclass
from email.message import EmailMessage
from html.parser import HTMLParser

_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0|max-height\s*:\s*0|opacity\s*:\s*0(?![.\d])"
    r"|color\s*:\s*(?:#fff(?:fff)?\b|white\b|transparent\b)", re.I)
_VOID = {"br", "img", "hr", "meta", "link", "input", "wbr", "area", "base", "col", "source", "track"}
_BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote"}


class BadEmail(ValueError):
    """Not an email Pixie can read (no headers, no text)."""


@dataclass(frozen=True)
class Mail:
    message_id: str
    sender: str  # the address
    sender_name: str
    subject: str
    sent_at: dt.datetime | None  # aware; None when the Date header is missing or broken
    text: str  # what a reader sees, forwarded attachments included
    bulk: bool  # a mailing list or newsletter (List-Unsubscribe, Precedence: bulk/list)


class _Visible(HTMLParser):
    """The text of an HTML body that is not hidden from its reader."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.stack: list[bool] = []  # per open element: hidden?

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self.out.append("\n")
        if tag in _VOID:
            return
        a = dict(attrs)
        hidden = tag in ("script", "style", "head", "title", "template") or "hidden" in a \
            or bool(_HIDDEN_STYLE.search(a.get("style") or "")) or a.get("aria-hidden") == "true"
        self.stack.append(hidden)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if self.stack:
            self.stack.pop()
        if tag in _BLOCK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not any(self.stack):
            self.out.append(data)


def visible_html(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    parser.close()
    text = "".join(parser.out).replace("\xa0", " ")
    return re.sub(r"\n\s*\n+", "\n\n", re.sub(r"[ \t]+", " ", text)).strip()


def _body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    text = visible_html(content) if part.get_content_type() == "text/html" else content
    for att in msg.iter_attachments():  # a forwarded original travels as message/rfc822
        if att.get_content_type() == "message/rfc822":
            inner = att.get_content()
            if isinstance(inner, EmailMessage):
                text += "\n\n---------- Forwarded message ----------\n" + _headers(inner) + _body(inner)
    return text


def _headers(msg: EmailMessage) -> str:
    return "".join(f"{h}: {msg[h]}\n" for h in ("From", "Date", "Subject") if msg[h]) + "\n"


def parse_email(raw: bytes) -> Mail:
    """Read an RFC 5322 message; BadEmail when it has no sender or no text."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    if not isinstance(msg, EmailMessage) or not (msg["From"] or msg["Message-ID"]):
        raise BadEmail("this is not an email: it has no From or Message-ID header")
    name, address = email.utils.parseaddr(str(msg["From"] or ""))
    try:
        sent = email.utils.parsedate_to_datetime(str(msg["Date"])) if msg["Date"] else None
    except (TypeError, ValueError):
        sent = None
    if sent is not None and sent.tzinfo is None:  # RFC 5322 "-0000": the zone is unknown, the time is UTC
        sent = sent.replace(tzinfo=dt.UTC)
    try:
        text = _body(msg)
    except (LookupError, ValueError) as e:  # an unknown charset or a broken part
        raise BadEmail(f"its text cannot be read: {e}") from e
    if not text.strip():
        raise BadEmail("it has no text to read")
    bulk = bool(msg["List-Unsubscribe"]) or str(msg["Precedence"] or "").lower() in ("bulk", "list", "junk")
    message_id = str(msg["Message-ID"] or "").strip() or f"<sha256:{hashlib.sha256(raw).hexdigest()[:40]}>"
    return Mail(message_id, address.lower(), name, str(msg["Subject"] or ""), sent, text, bulk)
