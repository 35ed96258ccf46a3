"""Secrets at rest: OAuth tokens and mailbox passwords encrypted with `PIXIE_SECRET_KEY` (Fernet).

`PIXIE_SECRET_KEY` holds one or more keys separated by commas: the first encrypts, all decrypt
(`MultiFernet`), so a key is rotated by putting the new one first and re-encrypting
(`core.accounts.rotate_secrets`). A key is a Fernet key, or any string of at least 32 random
characters (`openssl rand -hex 32`), stretched into one with scrypt. Without it, Pixie makes a
key file in the data directory on first use, readable by its owner only; once made, that file
keeps decrypting what it encrypted even after a `PIXIE_SECRET_KEY` is set. No key, and no
secret, ever appears in a message or a log.
"""

from __future__ import annotations

import base64
import logging
import os
import stat
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from core.config import Settings
from core.redact import install_log_redaction

__all__ = ["KEY_FILE", "SecretKeyError", "Vault", "key_file", "secret_key_check"]

log = logging.getLogger(__name__)

KEY_FILE = "secret.key"
MAKE_KEY = "openssl rand -hex 32"
MIN_PASSPHRASE = 32
# A fixed salt: the key must come from PIXIE_SECRET_KEY alone (a salt kept in the data dir would tie the
# secrets to that dir); scrypt's cost still makes guessing a weak passphrase slow.
_SALT = b"pixie secret key v1"


class SecretKeyError(Exception):
    """The secret key is malformed, or is not the key the stored secrets were encrypted with."""


def key_file(data_dir: Path) -> Path:
    """Where Pixie keeps the key it made itself."""
    return data_dir / KEY_FILE


def _fernet(key: str, where: str, n: int) -> Fernet:
    try:
        return Fernet(key)
    except (ValueError, TypeError):
        pass
    if len(key) < MIN_PASSPHRASE:  # the key itself is never repeated back
        raise SecretKeyError(f"{where}: key {n} is too short: use at least {MIN_PASSPHRASE} random characters "
                             f"(make some with: {MAKE_KEY}) or a Fernet key")
    stretched = Scrypt(salt=_SALT, length=32, n=2**15, r=8, p=1).derive(key.encode())
    return Fernet(base64.urlsafe_b64encode(stretched))


def _parse(keys: str, where: str) -> list[Fernet]:
    parsed = [_fernet(key, where, i + 1) for i, key in enumerate(k.strip() for k in keys.split(",")) if key]
    if not parsed:
        raise SecretKeyError(f"{where} holds no key; make one with: {MAKE_KEY}")
    return parsed


def _loose(path: Path) -> bool:
    return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def _make_key_file(path: Path) -> None:
    """Write a fresh key to `path` unless one is there: owner-only from the first byte, never clobbered."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-", suffix=".tmp")  # mkstemp makes it 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(Fernet.generate_key() + b"\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # atomic and no-clobber: a process that raced us keeps its key
        except FileExistsError:
            return
        log.warning("made a secret key at %s: back it up — without it, connected accounts must reconnect", path)
    finally:
        os.unlink(tmp)


class Vault:
    """Encrypts and decrypts secrets; the key is read (or the key file made) on first use, not before."""

    def __init__(self, secret_key: str | None, data_dir: Path) -> None:
        self._env = secret_key.strip() if secret_key else None
        self._file = key_file(data_dir)
        self._fernet: MultiFernet | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Vault:
        """The vault for these settings (no I/O until a secret is encrypted or decrypted)."""
        return cls(settings.secret_key, settings.data_dir)

    @property
    def where(self) -> str:
        """Where the key comes from, for messages (never the key)."""
        return "PIXIE_SECRET_KEY" if self._env else str(self._file)

    def _keys(self) -> MultiFernet:
        if self._fernet is None:
            keys = _parse(self._env, "PIXIE_SECRET_KEY") if self._env else []
            if not self._env and not self._file.exists():
                _make_key_file(self._file)
            if self._file.exists():  # also after PIXIE_SECRET_KEY is set: what it encrypted stays readable
                if _loose(self._file):
                    log.warning("%s is readable by other users: chmod 600 it", self._file)
                text = self._file.read_text()
                install_log_redaction(*(k.strip() for k in text.split(",") if k.strip()))  # never in a log
                keys += _parse(text, str(self._file))
            self._fernet = MultiFernet(keys)
        return self._fernet

    def encrypt(self, secret: str) -> bytes:
        """The secret encrypted (and authenticated) under the current key."""
        return self._keys().encrypt(secret.encode())

    def decrypt(self, token: bytes) -> str:
        """The secret back; `SecretKeyError` when no key we hold made it."""
        try:
            return self._keys().decrypt(bytes(token)).decode()
        except InvalidToken:
            raise SecretKeyError(
                f"the stored secrets were encrypted with another key than {self.where}: set PIXIE_SECRET_KEY "
                "to the key they were made with (older keys may follow it, comma-separated), "
                "or reconnect the accounts") from None

    def rotate(self, token: bytes) -> bytes:
        """The same secret re-encrypted under the current (first) key."""
        try:
            return self._keys().rotate(bytes(token))
        except InvalidToken:
            raise SecretKeyError(f"a stored secret cannot be decrypted with {self.where}") from None


def secret_key_check(settings: Settings) -> tuple[str, bool | None, str]:
    """`pixie doctor`'s line on the secret key: where it is, and whether it is usable (makes nothing)."""
    name = "secret key"
    path = key_file(settings.data_dir)
    try:
        if settings.secret_key and settings.secret_key.strip():
            n = len(_parse(settings.secret_key, "PIXIE_SECRET_KEY"))
            detail = "PIXIE_SECRET_KEY" + (f" ({n} keys: the first encrypts, all decrypt)" if n > 1 else "")
            if path.exists():
                detail += f"; {path} still decrypts what was stored before"
            return name, True, detail
        if not path.exists():
            return name, None, f"not made yet: Pixie makes {path} (owner-only) when an account is first connected"
        _parse(path.read_text(), str(path))
    except (SecretKeyError, OSError) as exc:
        return name, False, str(exc)
    if _loose(path):
        return name, False, f"{path} is readable by other users: chmod 600 {path}"
    return name, True, f"{path} (made by Pixie; back it up, or set PIXIE_SECRET_KEY to its content)"
