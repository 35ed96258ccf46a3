"""Telling a database that is away (or full) from a bug: the first is waited out, the second fails loudly."""

from __future__ import annotations

import asyncio
import errno
import logging

log = logging.getLogger(__name__)

UNREACHABLE = "I can't reach my database right now, I'll answer as soon as it's back."
DISK_FULL = ("My database's disk is full, so I can't save anything right now; "
             "I'll answer as soon as there is room again (whoever runs me needs to free some space).")

# SQLSTATE classes and codes that mean "the server is away, try again": connection exceptions (08),
# shutdown and crash (57P01–57P03), insufficient resources (53: disk full 53100, out of memory 53200).
_AWAY = ("08", "57P01", "57P02", "57P03", "53")


class DatabaseUnavailable(Exception):
    """The database cannot take work right now; what was asked is kept and retried, the user told once."""

    def __init__(self, cause: BaseException, disk_full: bool = False) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.disk_full = disk_full

    @property
    def notice(self) -> str:
        """What the person waiting is told (once)."""
        return DISK_FULL if self.disk_full else UNREACHABLE


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or any(e is s for s in seen) or len(seen) > 20:
            continue
        seen.append(e)
        todo += [e.__cause__, e.__context__, getattr(e, "orig", None)]
    return seen


def classify(exc: BaseException) -> DatabaseUnavailable | None:
    """A `DatabaseUnavailable` when `exc` says the database is away or full; None for anything else."""
    if isinstance(exc, DatabaseUnavailable):
        return exc
    chain = _chain(exc)
    for e in chain:
        state = str(getattr(e, "sqlstate", "") or getattr(e, "pgcode", "") or "")
        if state == "53100" or (isinstance(e, OSError) and e.errno == errno.ENOSPC) \
                or "no space left on device" in str(e).lower():
            return DatabaseUnavailable(exc, disk_full=True)
        if state and state.startswith(_AWAY):
            return DatabaseUnavailable(exc)
    for e in chain:
        if getattr(e, "connection_invalidated", False) or isinstance(e, ConnectionError | TimeoutError):
            return DatabaseUnavailable(exc)
        if isinstance(e, OSError) and not isinstance(e, PermissionError):  # a socket that is gone
            return DatabaseUnavailable(exc)
        name = type(e).__name__
        if name in ("ConnectionDoesNotExistError", "CannotConnectNowError", "ConnectionFailureError") \
                or (name == "InterfaceError" and "closed" in str(e)) \
                or (name == "InternalClientError" and "another operation" in str(e)) \
                or name == "PendingRollbackError":  # a connection cut mid-call, or mid-transaction
            return DatabaseUnavailable(exc)
    return None


class Backoff:
    """Waits 0.25 s, 0.5 s, 1 s … up to `longest` between tries, so a returning database is used within seconds."""

    def __init__(self, first: float = 0.25, longest: float = 2.0) -> None:
        self.first, self.longest, self.tries = first, longest, 0

    async def wait(self) -> None:
        """Sleep for the next step."""
        await asyncio.sleep(min(self.longest, self.first * 2 ** self.tries))
        self.tries += 1

    def reset(self) -> None:
        """The dependency answered: start from the shortest wait next time."""
        self.tries = 0
