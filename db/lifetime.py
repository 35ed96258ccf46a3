"""Embedded servers outlive no one: each stops when the last Pixie process using it ends, however it ends.

Who uses a server is a JSON list of pids beside it (pgserver's own `.handle_pids.json` for Postgres),
changed only under an inter-process lock. A process leaves the list at exit; a process that dies
without exiting (SIGKILL, a crash) is taken off by its watchdog: a small child that waits for the
end of a pipe only its parent holds, then gives the parent's servers back. Whoever takes the last
live pid off stops the server. Run as `python -m db.lifetime PID`, this module is that watchdog.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

import fasteners
import psutil

STOP_TIMEOUT = 10.0  # seconds a server may take to shut down cleanly before it is killed


@dataclass(frozen=True)
class Server:
    """An embedded server as its users and the watchdog see it."""

    users: Path  # JSON list of the pids of the processes using it
    lock: Path  # the inter-process lock that guards `users`, starting and stopping
    pid_file: Path  # its first line is the server's pid
    marker: str  # a word of the server's command line, so that a reused pid is never signalled
    stop_signal: int  # the signal that shuts it down cleanly
    leftovers: tuple[Path, ...] = ()  # removed once it has stopped

    def to_json(self) -> str:
        """One line for the watchdog's pipe."""
        return json.dumps({k: (str(v) if isinstance(v, Path) else [str(p) for p in v] if isinstance(v, tuple) else v)
                           for k, v in asdict(self).items()})

    @classmethod
    def from_json(cls, line: str) -> Server:
        """The server a `to_json` line describes."""
        d = json.loads(line)
        return cls(Path(d["users"]), Path(d["lock"]), Path(d["pid_file"]), d["marker"], int(d["stop_signal"]),
                   tuple(Path(p) for p in d["leftovers"]))


@contextmanager
def locked(lock: Path) -> Iterator[None]:
    """Hold the inter-process lock at `lock`."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with fasteners.InterProcessLock(str(lock)):
        yield


def _read_users(server: Server) -> list[int]:
    try:
        return [int(p) for p in json.loads(server.users.read_text())]
    except (FileNotFoundError, ValueError, TypeError):
        return []


def add_user(server: Server, pid: int) -> None:
    """Count `pid` among the server's users (call with the lock held)."""
    pids = _read_users(server)
    if pid not in pids:
        server.users.write_text(json.dumps([*pids, pid]))


def release(server: Server, pid: int) -> bool:
    """`pid` no longer uses the server; stop it if no live process does. True when it was stopped here."""
    with locked(server.lock):
        alive = [p for p in _read_users(server) if p != pid and psutil.pid_exists(p)]
        if server.users.exists():
            server.users.write_text(json.dumps(alive))
        if alive:
            return False
        return stop(server)


def server_process(server: Server) -> psutil.Process | None:
    """The running server, or None."""
    try:
        pid = int(server.pid_file.read_text().split()[0])
        proc = psutil.Process(pid)
        if f" {server.marker} " in f" {' '.join(proc.cmdline())} " and proc.status() != psutil.STATUS_ZOMBIE:
            return proc
    except (FileNotFoundError, IndexError, ValueError, psutil.Error):
        pass
    return None


def stop(server: Server) -> bool:
    """Shut the server down cleanly (killed if it will not), then clear its leftovers. True if it was running."""
    proc = server_process(server)
    if proc is not None:
        try:
            proc.send_signal(server.stop_signal)
            proc.wait(STOP_TIMEOUT)
        except psutil.TimeoutExpired:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    for path in server.leftovers:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return proc is not None


# ---------------------------------------------------------------- this process's side

_watchdog: subprocess.Popen[bytes] | None = None
_watched: list[Server] = []


def watch(server: Server) -> None:
    """Make sure `server` is given back when this process ends: at exit, or by the watchdog if it dies.

    Call it before starting or joining the server, so that dying halfway is covered too.
    """
    global _watchdog
    if server in _watched:
        return
    if _watchdog is None:
        # A session of its own: Ctrl-C and a closing terminal signal the chat's process group, not the watchdog.
        _watchdog = subprocess.Popen([sys.executable, "-m", "db.lifetime", str(os.getpid())],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, start_new_session=True,
                                     cwd=Path(__file__).resolve().parent.parent)
        atexit.register(_leave_all)
    pipe: IO[bytes] | None = _watchdog.stdin
    assert pipe is not None
    pipe.write(server.to_json().encode() + b"\n")
    pipe.flush()
    _watched.append(server)


def leave(server: Server) -> bool:
    """This process stops using `server` now; True when that stopped it."""
    if server in _watched:
        _watched.remove(server)
    return release(server, os.getpid())


def _leave_all() -> None:
    while _watched:
        leave(_watched[-1])
    if _watchdog is not None and _watchdog.stdin is not None:  # nothing left to guard: let it finish now
        _watchdog.stdin.close()
        try:
            _watchdog.wait(5)
        except subprocess.TimeoutExpired:
            pass


def main(argv: list[str]) -> None:
    """The watchdog: read servers from stdin until the parent is gone (EOF), then give them back for it."""
    parent = int(argv[0])
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    servers = [Server.from_json(line) for line in sys.stdin if line.strip()]
    for server in dict.fromkeys(servers):
        try:
            release(server, parent)
        except Exception as exc:  # one server failing to stop must not keep the others running
            print(f"pixie watchdog: could not release {server.pid_file.parent}: {exc}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
