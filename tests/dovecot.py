"""A real dovecot for the mail tests: its own config in a temp dir, a free port on 127.0.0.1, stopped after.

It runs in the foreground (`dovecot -F`) as a child of the test process, so stopping it is a
terminate/wait on that child and nothing outlives the session. As root dovecot drops to its own
`dovecot` user (the mail dir is chowned to it); as anyone else it runs as that user.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from imapclient import IMAPClient

USER, PASSWORD = "pixie", "secret"  # the mailbox Pixie reads
ADDRESS = "pixie@example.test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        return True
    except OSError:
        return False


class Dovecot:
    """One dovecot serving IMAP (no TLS: loopback only) with the mailbox `pixie`."""

    def __init__(self, extra: str = "") -> None:
        self.extra = extra  # more configuration (e.g. `imap_capability = …` to play a server without MOVE)
        self.dir = Path(tempfile.mkdtemp(prefix="pixie-dovecot-"))
        self.port = _free_port()
        self.conf = self.dir / "dovecot.conf"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """PIXIE_IMAP_URL for this server."""
        return f"imap://{USER}:{PASSWORD}@127.0.0.1:{self.port}/INBOX?address={ADDRESS}"

    def _write_config(self) -> None:
        d = self.dir
        os.chmod(d, 0o755)  # dovecot's own users must reach the mail dir below
        for sub in ("run", "state", "mail"):
            (d / sub).mkdir()
        (d / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        if os.geteuid() == 0:
            internal, login, uid = "dovecot", "dovenull", "dovecot"
            shutil.chown(d / "mail", "dovecot", "dovecot")
        else:
            internal = login = uid = getpass.getuser()
        self.conf.write_text(f"""
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{d}/mail/%u
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = 100
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {d}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={uid} home={d}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
{self.extra}
""")

    def start(self) -> Dovecot:
        """Start the server and wait until it answers."""
        self._write_config()
        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        self.proc = subprocess.Popen([binary, "-F", "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while not _answers(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dovecot did not start: {self.log()[-2000:]}")
            time.sleep(0.05)
        return self

    def log(self) -> str:
        """The server's log (for a failing test's message)."""
        path = self.dir / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop the server and its children, and remove its files."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # the master stops its imap and auth processes before it exits
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)

    def client(self) -> IMAPClient:
        """A logged-in connection of the test's own (to APPEND fixtures and look at folders)."""
        c = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        c.login(USER, PASSWORD)
        return c

    def append(self, *messages: bytes, folder: str = "INBOX") -> None:
        """Deliver messages into a folder, as the mail server would (unseen)."""
        with self.client() as c:
            for raw in messages:
                c.append(folder, raw, flags=())

    def doveadm(self, *args: str) -> str:
        """Run a doveadm command against this server (as the mailbox's user)."""
        binary = shutil.which("doveadm") or "/usr/bin/doveadm"
        done = subprocess.run([binary, "-c", str(self.conf), *args], capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def flags(self, folder: str = "INBOX") -> list[tuple[bytes, ...]]:
        """The flags of every message in a folder, oldest first (read-only: nothing changes)."""
        with self.client() as c:
            c.select_folder(folder, readonly=True)
            found = c.fetch(c.search(["ALL"]), ["FLAGS"])
            return [found[uid][b"FLAGS"] for uid in sorted(found)]

    def count(self, folder: str = "INBOX") -> int:
        """How many messages a folder holds (0 when it does not exist)."""
        with self.client() as c:
            if not c.folder_exists(folder):
                return 0
            return int(c.folder_status(folder, ["MESSAGES"])[b"MESSAGES"])
