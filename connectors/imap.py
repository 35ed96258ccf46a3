"""The deployment's mailbox over IMAP (imapclient): read without marking, move out only once stored.

* `PIXIE_IMAP_URL` is `imaps://user:password@host:993/INBOX` (TLS from the start), or
  `imap://…:143/INBOX?starttls=1` (STARTTLS before the login, refused when the server does not offer
  it); plain `imap://` is refused unless the server is on this machine. The server's certificate
  must verify against the system's CAs, or against PIXIE_IMAP_CA_FILE (a self-signed server's own
  certificate, or a private CA); an untrusted one ends the connection before anything is sent — there
  is no fallback to clear text. `?address=pixie@example.com` names the mailbox's address when the
  login is not one (users' forwarding addresses are built on it).
* Sizes first: the batch's RFC822.SIZE is fetched, and a message over the size limit is never
  downloaded: only its headers are (to know whose it is and to record it once).
* Messages are fetched with `BODY.PEEK[]`, which leaves `\\Seen` alone: being read by a person is
  not being handled by Pixie. Where Pixie is in the inbox is a (UIDVALIDITY, last UID) cursor that
  the caller stores; `UID n:*` always returns the newest message, so UIDs are filtered here too.
* A message is moved to "Pixie/Done" or "Pixie/Rejected" (made with the server's own hierarchy
  separator) only by `mark_handled`, which the caller calls after the messages' outcomes are
  committed, a batch of UIDs per command; MOVE where the server has it, else COPY, \\Deleted and
  UID EXPUNGE.
* Search criteria are lists, never strings built from input.

imapclient is synchronous: each call runs in a thread, one at a time per connection (a thread lock). Errors are
converted at the edge: a refused login is `AuthExpired`, anything on the wire `NotReady`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from connectors.mail import MAX_BYTES
from core.sources import AuthExpired, MailBatch, MailCursor, NotReady, RawMail, SourceFailed

log = logging.getLogger(__name__)

T = TypeVar("T")
IDLE_MAX = 25 * 60.0  # re-IDLE at least this often: servers may drop an IDLE after 29 minutes (RFC 2177)
READ_TIMEOUT = 60.0  # a socket that says nothing this long is dead (imapclient's IDLE would hang on it)
HEADER_BYTES = 64 * 1024  # of a message over the size limit, at most this much of its headers is fetched
_YES = ("1", "yes", "true", "on")


@dataclass(frozen=True)
class ImapConfig:
    """Where the mailbox is, from PIXIE_IMAP_URL."""

    host: str
    port: int
    user: str
    password: str = ""
    folder: str = "INBOX"
    tls: bool = True  # TLS from the start (imaps://)
    address: str = ""  # the mailbox's mail address (users' forwarding addresses are built on it)
    starttls: bool = False  # imap:// upgraded with STARTTLS before the login (?starttls=1)
    ca_file: str = ""  # PIXIE_IMAP_CA_FILE: trust this certificate (or CA bundle) instead of the system's

    @property
    def secure(self) -> bool:
        """Whether the login and the mail travel over TLS."""
        return self.tls or self.starttls

    @property
    def remote_id(self) -> str:
        """How the account row names this mailbox (no password)."""
        return f"{self.user}@{self.host}:{self.port}/{self.folder}"

    def __repr__(self) -> str:  # the password stays out of logs and tracebacks
        return f"ImapConfig({self.remote_id}, tls={self.tls}, starttls={self.starttls})"

    def ssl_context(self) -> ssl.SSLContext:
        """The context that checks the server's certificate (and its name): the system's CAs, or ca_file's."""
        try:
            return ssl.create_default_context(cafile=self.ca_file or None)
        except (OSError, ssl.SSLError) as exc:
            raise SourceFailed(f"PIXIE_IMAP_CA_FILE {self.ca_file!r} cannot be read as certificates: {exc}") from exc


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_imap_url(url: str, ca_file: str | None = None) -> ImapConfig:
    """Read PIXIE_IMAP_URL (and PIXIE_IMAP_CA_FILE); ValueError (without the password) when not usable."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ValueError("PIXIE_IMAP_URL is not a URL like imaps://user:password@host:993/INBOX") from None
    if parts.scheme not in ("imap", "imaps"):
        raise ValueError("PIXIE_IMAP_URL must start with imaps:// (or imap:// for a server on this machine)")
    host = parts.hostname or ""
    if not host or not parts.username:
        raise ValueError("PIXIE_IMAP_URL needs a user and a host: imaps://user:password@host:993/INBOX")
    tls = parts.scheme == "imaps"
    query = parse_qs(parts.query)
    starttls = not tls and (query.get("starttls") or [""])[0].lower() in _YES
    if not tls and not starttls and not _loopback(host):
        raise ValueError(f"PIXIE_IMAP_URL: imap:// sends the password in clear; use imaps:// (or imap://…?starttls=1)"
                         f" for {host}")
    ca = (ca_file or "").strip()
    if ca:
        try:
            with open(ca, "rb"):
                pass
        except OSError as exc:
            raise ValueError(f"PIXIE_IMAP_CA_FILE {ca!r} cannot be read: {exc.strerror}") from None
    user = unquote(parts.username)
    address = (query.get("address") or [user if "@" in user else f"{user}@{host}"])[0].lower()
    return ImapConfig(host=host, port=port or (993 if tls else 143), user=user,
                      password=unquote(parts.password or ""), folder=unquote(parts.path.lstrip("/")) or "INBOX",
                      tls=tls, address=address, starttls=starttls, ca_file=ca)


def _aware(when: object) -> dt.datetime | None:
    return when if isinstance(when, dt.datetime) and when.tzinfo is not None else None


class ImapMailbox:
    """core.sources.Mailbox over one IMAP connection; use as `async with ImapMailbox(config) as box`."""

    def __init__(self, config: ImapConfig, *, timeout: float = READ_TIMEOUT,
                 ssl_context: ssl.SSLContext | None = None, max_bytes: int = MAX_BYTES) -> None:
        self.config = config
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.max_bytes = max_bytes  # a message larger than this (RFC822.SIZE) is not downloaded
        self._client: IMAPClient | None = None
        self._tlock = threading.Lock()
        self._delimiter = "/"
        self._made: set[str] = set()
        self._closing = threading.Event()
        self.uidvalidity: int | None = None

    async def __aenter__(self) -> ImapMailbox:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------ the connection

    def _locked(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        with self._tlock:  # held by the thread itself, so a cancelled caller cannot let two calls overlap
            return fn(*args, **kw)

    async def _call(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        try:
            return await asyncio.to_thread(self._locked, fn, *args, **kw)
        except LoginError as exc:
            raise AuthExpired("the mailbox refused the login") from exc
        except ssl.SSLCertVerificationError as exc:
            raise NotReady(f"the server's TLS certificate is not trusted ({exc.verify_message}), so nothing was sent "
                           "to it; set PIXIE_IMAP_CA_FILE to its certificate (or its CA's) if it is really yours"
                           ) from exc
        except (OSError, IMAPClientError) as exc:
            raise NotReady(f"IMAP: {type(exc).__name__}: {str(exc)[:200]}") from exc

    def _open(self) -> IMAPClient:
        c = self.config
        context = self.ssl_context or (c.ssl_context() if c.secure else None)
        client = IMAPClient(c.host, port=c.port, ssl=c.tls, ssl_context=context, timeout=self.timeout)
        try:
            client.normalise_times = False  # INTERNALDATE stays aware
            if c.starttls:  # before the login, and never skipped: a server without it is refused
                if not client.has_capability("STARTTLS"):
                    raise SourceFailed("the server does not offer STARTTLS, and the password is not sent in clear")
                client.starttls(context)
            client.login(c.user, c.password)
            ns = client.namespace()
            personal = ns.personal[0] if ns and ns.personal else None
            if personal and personal[1]:
                self._delimiter = personal[1].decode() if isinstance(personal[1], bytes) else str(personal[1])
            status = client.select_folder(c.folder)
            self.uidvalidity = int(status[b"UIDVALIDITY"])
        except BaseException:
            try:
                client.shutdown()
            except OSError:
                pass
            raise
        return client

    async def connect(self) -> None:
        """Log in and open the folder; `AuthExpired` when the login is refused, `NotReady` when unreachable."""
        self._client = await self._call(self._open)

    async def close(self) -> None:
        """Log out (a dead connection is just dropped)."""
        self._closing.set()  # an IDLE in progress ends within a second and frees the connection
        client, self._client = self._client, None
        if client is None:
            return
        try:
            await asyncio.wait_for(asyncio.to_thread(self._locked, client.logout), 10)
        except Exception:  # noqa: BLE001 — it is going away either way
            try:
                client.shutdown()
            except OSError:
                pass

    @property
    def client(self) -> IMAPClient:
        """The live connection."""
        if self._client is None:
            raise SourceFailed("the mailbox is not connected")
        return self._client

    # ------------------------------------------------------------ core.sources.Mailbox

    def _fetch_new(self, after: MailCursor | None, limit: int) -> MailBatch:
        client = self.client
        status = client.select_folder(self.config.folder)  # re-selected: new mail and a new UIDVALIDITY show
        validity = int(status[b"UIDVALIDITY"])
        self.uidvalidity = validity
        start = after.last_uid + 1 if after is not None and after.uidvalidity == validity else 1
        found = client.search(["UID", f"{start}:*"])  # criteria as a list; start is our own integer
        uids = sorted(int(u) for u in found if int(u) >= start)[:limit]  # `n:*` always names the newest
        messages: dict[int, RawMail] = {}
        if uids:
            sizes = {int(uid): int(data.get(b"RFC822.SIZE") or 0)
                     for uid, data in client.fetch(uids, ["RFC822.SIZE"]).items()}
            small = [u for u in uids if u in sizes and sizes[u] <= self.max_bytes]
            large = [u for u in uids if u in sizes and sizes[u] > self.max_bytes]
            if small:  # the batch in one FETCH; BODY.PEEK[] leaves \Seen alone
                for uid, data in client.fetch(small, ["BODY.PEEK[]", "INTERNALDATE"]).items():
                    messages[int(uid)] = RawMail(int(uid), validity, bytes(data.get(b"BODY[]") or b""),
                                                 _aware(data.get(b"INTERNALDATE")), sizes[int(uid)])
            if large:  # never downloaded: its headers say whose it is, so it is recorded and moved
                part = f"BODY.PEEK[HEADER]<0.{HEADER_BYTES}>"
                for uid, data in client.fetch(large, [part, "INTERNALDATE"]).items():
                    head = next((v for k, v in data.items() if k.startswith(b"BODY[HEADER]")), b"")
                    messages[int(uid)] = RawMail(int(uid), validity, bytes(head or b""),
                                                 _aware(data.get(b"INTERNALDATE")), sizes[int(uid)], whole=False)
        if uids:
            last = uids[-1]
        else:
            last = after.last_uid if after is not None and after.uidvalidity == validity else 0
        return MailBatch(tuple(messages[u] for u in uids if u in messages), MailCursor(validity, last))

    async def fetch_new(self, after: MailCursor | None, limit: int = 50) -> MailBatch:
        """Messages after `after`, oldest first, at most `limit`, fetched with BODY.PEEK[] (still unseen)."""
        return await self._call(self._fetch_new, after, limit)

    def _folder(self, folder: str) -> str:
        name = self._delimiter.join(folder.split("/"))
        if name not in self._made:
            if not self.client.folder_exists(name):
                try:
                    self.client.create_folder(name)
                except IMAPClientError:
                    if not self.client.folder_exists(name):  # made by another poller meanwhile is fine
                        raise
            self._made.add(name)
        return name

    def _move(self, mails: Sequence[RawMail], folder: str) -> None:
        client = self.client
        # a UID of another UIDVALIDITY means nothing now: that mail is fetched again, recognised, and moved then
        uids = sorted({m.uid for m in mails if m.uidvalidity == self.uidvalidity})
        if not uids:
            return
        target = self._folder(folder)
        if client.has_capability("MOVE"):
            client.move(uids, target)
            return
        client.copy(uids, target)
        client.add_flags(uids, [b"\\Deleted"], silent=True)
        if client.has_capability("UIDPLUS"):
            client.uid_expunge(uids)  # only these messages, not others someone marked deleted
        else:
            client.expunge()

    async def mark_handled(self, mails: Sequence[RawMail], folder: str) -> None:
        """Move messages whose outcomes are stored out of the inbox into `folder` ("Pixie/Done"), in one command."""
        await self._call(self._move, mails, folder)

    # ------------------------------------------------------------ waiting

    def _idle(self, timeout: float) -> bool:
        client = self.client
        deadline = time.monotonic() + min(timeout, IDLE_MAX)
        arrived = False
        client.idle()
        # Short checks, so that closing the mailbox (Ctrl-C, shutdown) ends an IDLE within a second.
        while not arrived and not self._closing.is_set() and time.monotonic() < deadline:
            asked = max(0.0, min(1.0, deadline - time.monotonic()))
            began = time.monotonic()
            responses = client.idle_check(timeout=asked)
            if not responses and asked >= 0.2 and time.monotonic() - began < asked / 2:
                # imapclient swallows EOF: the socket was readable yet said nothing, so it is closed
                raise ConnectionError("the IMAP connection closed during IDLE")
            arrived = any(len(r) >= 2 and r[1] in (b"EXISTS", b"RECENT") for r in responses)
        client.idle_done()  # a silently dead connection fails here (read timeout): the caller reconnects
        return arrived

    async def wait(self, seconds: float = IDLE_MAX) -> bool:
        """IDLE until new mail arrives or `seconds` (at most 25 minutes) pass; whether mail arrived."""
        return await self._call(self._idle, seconds)
