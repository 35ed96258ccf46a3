"""The mailbox over TLS against a real dovecot with a self-signed certificate: trusted only when told to.

IMAPS (TLS from the start) and STARTTLS (imap://…?starttls=1) both verify the certificate, against
PIXIE_IMAP_CA_FILE when it is set; an untrusted certificate, or a server that offers no STARTTLS,
ends the connection before the password is sent — there is no fallback to clear text.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.imap import ImapMailbox, parse_imap_url
from core.sources import NotReady, SourceFailed
from tests.dovecot import Dovecot, self_signed
from tests.mail_support import mail

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def tls_dovecot() -> Iterator[Dovecot]:
    server = Dovecot(tls=True).start()
    try:
        yield server
    finally:
        server.stop()


def _logins(server: Dovecot) -> list[str]:
    return [line for line in server.log().splitlines() if "Login: user=<pixie>" in line]


async def _read_and_move(url: str, ca: Path | None) -> list[bytes]:
    async with ImapMailbox(parse_imap_url(url, str(ca) if ca else None)) as box:
        batch = await box.fetch_new(None)
        await box.mark_handled(batch.messages, "Pixie/Done")
        return [m.data for m in batch.messages]


async def test_imaps_with_the_servers_certificate_trusted_reads_the_mailbox(tls_dovecot: Dovecot) -> None:
    tls_dovecot.append(mail(subject="over TLS"))
    before = len(_logins(tls_dovecot))
    read = await _read_and_move(tls_dovecot.imaps_url, tls_dovecot.cert)
    pixies = _logins(tls_dovecot)[before:]
    assert len(pixies) == 1 and "TLS" in pixies[0], pixies  # the server saw the login inside TLS
    assert len(read) == 1 and b"Subject: over TLS" in read[0]
    assert (tls_dovecot.count("INBOX"), tls_dovecot.count("Pixie.Done")) == (0, 1)


async def test_starttls_upgrades_before_the_login(tls_dovecot: Dovecot) -> None:
    tls_dovecot.append(mail(subject="upgraded"))
    before = len(_logins(tls_dovecot))  # the test's own APPEND logs in (in clear, on loopback)
    read = await _read_and_move(tls_dovecot.starttls_url, tls_dovecot.cert)
    assert len(read) == 1 and b"Subject: upgraded" in read[0]
    pixies = _logins(tls_dovecot)[before:]
    assert len(pixies) == 1 and "TLS" in pixies[0], pixies


@pytest.mark.parametrize("which", ["imaps", "starttls"])
async def test_an_untrusted_certificate_is_refused_before_the_password_is_sent(
        tls_dovecot: Dovecot, tmp_path: Path, which: str) -> None:
    tls_dovecot.append(mail())
    before = len(_logins(tls_dovecot))
    url = tls_dovecot.imaps_url if which == "imaps" else tls_dovecot.starttls_url
    other, _ = self_signed(tmp_path)  # a certificate for "localhost", but not the server's
    for ca in (None, other):  # the system's CAs, then a CA file that does not vouch for it
        with pytest.raises(NotReady, match="certificate is not trusted .*PIXIE_IMAP_CA_FILE") as refused:
            await _read_and_move(url, ca)
        assert "secret" not in str(refused.value)
    assert _logins(tls_dovecot)[before:] == []  # no login at all: nothing fell back to clear text
    assert tls_dovecot.count("INBOX") == 1


async def test_starttls_asked_of_a_server_without_it_is_refused_not_sent_in_clear(dovecot: Dovecot) -> None:
    dovecot.append(mail())
    before = len(_logins(dovecot))
    url = dovecot.url + "&starttls=1"
    with pytest.raises(SourceFailed, match="does not offer STARTTLS"):
        await _read_and_move(url, None)
    assert _logins(dovecot)[before:] == [] and dovecot.count("INBOX") == 1


def test_the_url_and_the_ca_file_are_checked_when_read(tmp_path: Path) -> None:
    remote = parse_imap_url("imap://u:p@mail.example.com/INBOX?starttls=yes")
    assert (remote.starttls, remote.tls, remote.port, remote.secure) == (True, False, 143, True)
    with pytest.raises(ValueError, match="PIXIE_IMAP_CA_FILE .*missing.pem"):
        parse_imap_url("imaps://u:p@mail.example.com/INBOX", str(tmp_path / "missing.pem"))


async def test_poll_says_the_certificate_is_not_trusted_and_reads_once_it_is(
        tls_dovecot: Dovecot, engine: AsyncEngine, tmp_path: Path) -> None:
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(ROOT),
           "PIXIE_DATABASE_URL": engine.url.render_as_string(hide_password=False), "PIXIE_DATA_DIR": str(tmp_path),
           "PIXIE_IMAP_URL": tls_dovecot.imaps_url, "PIXIE_SECRET_KEY": "k" * 40, "PIXIE_LLM": "offline",
           "PIXIE_EMBEDDINGS": "hash"}
    env.pop("PIXIE_IMAP_CA_FILE", None)
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bots.cli", "email", "poll", "--once",
                                                cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, errors = await asyncio.wait_for(proc.communicate(), 60)
    said = " ".join((out + errors).decode().split())  # the console wraps long lines
    assert proc.returncode == 1, said
    assert "certificate is not trusted" in said and "Traceback" not in said and "secret" not in said.lower()

    env["PIXIE_IMAP_CA_FILE"] = str(tls_dovecot.cert)  # trusted: the same command reads the mailbox
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bots.cli", "email", "poll", "--once",
                                                cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, errors = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, errors.decode()[-2000:]
    assert "No new mail." in out.decode()
