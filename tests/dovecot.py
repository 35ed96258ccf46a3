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


def self_signed(directory: Path, host: str = "localhost") -> tuple[Path, Path]:
    """A new key and a self-signed certificate for `host` (and 127.0.0.1), written as PEM: (cert, key)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / f"{host}.crt", directory / f"{host}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class Dovecot:
    """One dovecot serving IMAP with the mailbox `pixie`: in clear on loopback, or with `tls=True` over TLS too
    (a self-signed certificate for "localhost": IMAPS on `tls_port`, STARTTLS on `port`)."""

    def __init__(self, extra: str = "", *, tls: bool = False) -> None:
        self.extra = extra  # more configuration (e.g. `imap_capability = …` to play a server without MOVE)
        self.dir = Path(tempfile.mkdtemp(prefix="pixie-dovecot-"))
        self.port = _free_port()
        self.tls = tls
        self.tls_port = _free_port() if tls else 0
        self.cert: Path | None = None  # the server's certificate (PEM), when tls
        self.conf = self.dir / "dovecot.conf"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """PIXIE_IMAP_URL for this server (in clear)."""
        return f"imap://{USER}:{PASSWORD}@127.0.0.1:{self.port}/INBOX?address={ADDRESS}"

    @property
    def imaps_url(self) -> str:
        """PIXIE_IMAP_URL over TLS from the start (the certificate names "localhost")."""
        return f"imaps://{USER}:{PASSWORD}@localhost:{self.tls_port}/INBOX?address={ADDRESS}"

    @property
    def starttls_url(self) -> str:
        """PIXIE_IMAP_URL upgraded with STARTTLS before the login."""
        return f"imap://{USER}:{PASSWORD}@localhost:{self.port}/INBOX?address={ADDRESS}&starttls=1"

    def _write_config(self) -> None:
        d = self.dir
        os.chmod(d, 0o755)  # dovecot's own users must reach the mail dir below
        for sub in ("run", "state", "mail"):
            (d / sub).mkdir()
        (d / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        ssl = "ssl = no"
        if self.tls:
            self.cert, key = self_signed(d)
            os.chmod(key, 0o644)  # dovecot reads it as root or as this user
            ssl = f"ssl = yes\nssl_cert = <{self.cert}\nssl_key = <{key}"
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
{ssl}
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
    address = 127.0.0.1
    port = {self.tls_port}
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
