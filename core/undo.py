"""Undo: put a user's rows back as they were before one change they made through Pixie.

What a change did is in the `changes` table, written by a database trigger (migration 0014) while a
tool the user asked for runs: every insert, update and delete of the user's tasks, events, notes,
reminders and settings, whoever wrote it (ORM or plain SQL, foreign-key cascades included). Undo
reads one change set back: a row it made is removed, a row it changed or deleted gets its earlier
fields again (a deleted task returns with the same id, its reminders and its memory). A row that
was changed again since is never trampled: the undo is refused and says which item moved on.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from db.models import Base

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

# Sources whose tool calls are the user's own changes (a calendar sync's are not: undo never reverts one).
UNDOABLE_SOURCES = frozenset({"chat", "button", "email", "cli"})
# Changes undo does not take back: undo itself, and choices about outside accounts (disconnecting removes the
# account's tokens, which no undo can bring back; the calendar for new events is chosen again just as easily).
NOT_RECORDED = frozenset({"undo", "disconnect_calendar", "use_calendar"})
# Parents before children when rows come back; children first when rows go.
ORDER = ("users", "tasks", "events", "memory_items", "reminders")
# Columns other processes keep up to date: not compared when asking "was this changed since?".
_NOISE = frozenset({"updated_at", "embedding", "embedding_model", "embedding_dim", "push", "base", "history",
                    "etag", "pending", "next_digest_at", "completed_at"})
# Columns undo never puts back on a row that still exists (state of the outside world, not of the change).
_KEEP = {"users": frozenset({"pending", "next_digest_at", "mail_token", "role"}),
         "events": frozenset({"etag", "base", "history", "push", "external_id"})}


class NothingToUndo(Exception):
    """There is no change of this user's left to undo (or this one is undone already)."""


class ChangedSince(Exception):
    """An item the change touched was changed again since; undoing would lose that."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


@dataclass
class Undone:
    """What an undo put back, in words the user knows."""

    removed: list[str]  # items the change had made
    restored: list[str]  # items it had changed or deleted, now as they were
    settings: list[str]  # settings back as they were ("time zone Europe/Berlin")


def _columns(table: str) -> list[str]:
    """The columns a row can be written with (generated columns are Postgres' own)."""
    return [c.name for c in Base.metadata.tables[table].columns if c.computed is None]


def _label(table: str, row: dict[str, Any]) -> str | None:
    """How the user knows this row, or None for rows they don't see as items (reminders, derived memory)."""
    if table == "tasks":
        return f"task “{row.get('title')}”"
    if table == "events":
        return f"event “{row.get('title')}”"
    if table == "memory_items" and row.get("kind") == "note":
        return f"note “{row.get('text')}”"
    return None


def _checked(table: str, row: dict[str, Any]) -> bool:
    """Whether a later change to this row stops an undo (rows the user sees as items, and settings)."""
    return table in ("tasks", "events", "users") or (table == "memory_items" and row.get("kind") == "note")


async def latest(session: AsyncSession, user_id: uuid.UUID) -> uuid.UUID | None:
    """The user's most recent change not undone yet, made in chat or by a button."""
    return await session.scalar(text(
        "SELECT change_id FROM changes WHERE user_id = :u AND undone_at IS NULL "
        "AND source IN ('chat', 'button', 'cli') ORDER BY seq DESC LIMIT 1"), {"u": user_id})


async def undo(session: AsyncSession, user_id: uuid.UUID, change_id: uuid.UUID, now: dt.datetime) -> Undone:
    """Revert one change set of this user's, once. Raises NothingToUndo or ChangedSince (nothing changed then)."""
    rows = (await session.execute(text(
        "SELECT seq, tbl, op, row_id, old, new, undone_at FROM changes "
        "WHERE user_id = :u AND change_id = :c ORDER BY seq FOR UPDATE"), {"u": user_id, "c": change_id})).all()
    if not rows:
        raise NothingToUndo("nothing")
    if any(r.undone_at is not None for r in rows):
        raise NothingToUndo("already")
    # Per row: the first image (what to return to) and the last (what the change left behind).
    net: dict[tuple[str, uuid.UUID], dict[str, Any]] = {}
    for r in rows:
        key = (r.tbl, r.row_id)
        entry = net.setdefault(key, {"first_op": r.op, "old": r.old})
        entry["last_op"], entry["new"] = r.op, r.new
    done = Undone([], [], [])
    plan: list[tuple[str, uuid.UUID, dict[str, Any]]] = []
    for (table, row_id), e in net.items():
        current = await session.scalar(text(
            f"SELECT to_jsonb(t) - 'tsv' - 'user_tsv' FROM {table} t WHERE id = :id"), {"id": row_id})
        if isinstance(current, str):
            current = json.loads(current)
        image = e["new"] or e["old"] or {}
        if _checked(table, image):
            if e["last_op"] == "DELETE":
                if current is not None:
                    raise ChangedSince(_label(table, image) or "that item")
            elif current is None or any(current.get(k) != v for k, v in (e["new"] or {}).items()
                                        if k not in _NOISE and (e["first_op"] == "INSERT" or
                                                                (e["old"] or {}).get(k) != v)):
                raise ChangedSince(_label(table, image) or "your settings")
        plan.append((table, row_id, e | {"current": current}))

    async def remove(table: str, row_id: uuid.UUID, e: dict[str, Any]) -> None:
        cur = e["current"]
        if cur is None:
            return
        if table == "events" and cur.get("calendar_id") and cur.get("push") != "create":
            # Already on its calendar: cancel it there too (the push job deletes it), never just forget it.
            await session.execute(text("UPDATE events SET status = 'cancelled', push = 'delete', updated_at = :now "
                                       "WHERE id = :id"), {"id": row_id, "now": now})
        else:
            await session.execute(text(f"DELETE FROM {table} WHERE id = :id"), {"id": row_id})
        label = _label(table, cur)
        if label:
            done.removed.append(label)

    async def put_back(table: str, row_id: uuid.UUID, e: dict[str, Any]) -> None:
        old, cur = e["old"], e["current"]
        if cur is None:
            cols = ", ".join(_columns(table))
            await session.execute(text(
                f"INSERT INTO {table} ({cols}) SELECT {cols} FROM jsonb_populate_record(NULL::{table}, "
                "CAST(:img AS jsonb))"), {"img": json.dumps(old)})
        else:
            changed = [c for c in _columns(table) if c != "id" and c not in _KEEP.get(table, ())
                       and (e["new"] or {}).get(c) != old.get(c)]
            if table == "events" and cur.get("calendar_id"):  # the calendar hears of it like any edit
                await session.execute(text(
                    "UPDATE events SET push = CASE WHEN push = 'create' THEN 'create' ELSE 'update' END "
                    "WHERE id = :id"), {"id": row_id})
            if changed:
                sets = ", ".join(f"{c} = r.{c}" for c in changed)
                await session.execute(text(
                    f"UPDATE {table} t SET {sets} FROM jsonb_populate_record(NULL::{table}, CAST(:img AS jsonb)) r "
                    "WHERE t.id = :id"), {"img": json.dumps(old), "id": row_id})
            if table == "users":
                if "tz" in changed:
                    done.settings.append(f"time zone {old.get('tz')}")
                if {"digest_time", "digest_platform", "digest_channel"} & set(changed):
                    done.settings.append(f"digest at {str(old.get('digest_time'))[:5]}" if old.get("digest_time")
                                         else "digest off")
        label = _label(table, old)
        if label:
            done.restored.append(label)

    for table in reversed(ORDER):  # what the change made goes, children first
        for t, row_id, e in plan:
            if t == table and e["first_op"] == "INSERT":
                await remove(t, row_id, e)
    for table in ORDER:  # what it changed or deleted comes back, parents first
        for t, row_id, e in plan:
            if t == table and e["first_op"] != "INSERT" and e["old"] is not None:
                await put_back(t, row_id, e)
    await session.execute(text("UPDATE changes SET undone_at = :now WHERE user_id = :u AND change_id = :c"),
                          {"now": now, "u": user_id, "c": change_id})
    return done
