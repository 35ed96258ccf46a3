"""Asking before a destructive request touches more than one item (pure: no I/O)."""

from __future__ import annotations

import re
from typing import Any

from core.brain import Thought, ToolCall

DESTRUCTIVE = frozenset({"delete_task", "cancel_event", "forget"})
_YES = re.compile(r"^\s*(y|yes|yeah|yep|yup|sure|ok|okay|confirm(ed)?|do it|go ahead|please do|correct)\b", re.I)
_NO = re.compile(r"^\s*(n|no|nope|nah|cancel|stop|don'?t|never ?mind|wait)\b", re.I)


def needs_confirmation(calls: list[ToolCall]) -> bool:
    """Whether these calls would delete or cancel more than one item."""
    return sum(1 for c in calls if c.name in DESTRUCTIVE) > 1


def _label(call: ToolCall) -> str:
    a = call.args
    ref = a.get("task_ref") or a.get("event_ref") or a.get("title") or a.get("task_id") or a.get("event_id") or "?"
    ref = a.get("query") or ref if call.name == "forget" else ref
    verb = {"delete_task": "delete", "cancel_event": "cancel", "forget": "forget"}.get(call.name, call.name)
    return f"{verb} “{ref}”"


def ask(calls: list[ToolCall]) -> tuple[str, dict[str, Any]]:
    """The question to ask, and what to keep in `user.pending` until the answer comes."""
    lines = [f"That would change {len(calls)} items — are you sure? (yes / no)"]
    lines += [f"• {_label(c)}" for c in calls]
    return "\n".join(lines), {"confirm": [{"name": c.name, "args": c.args} for c in calls]}


def answer(pending: dict[str, Any], text: str) -> Thought | None:
    """Read the answer to `ask`: the calls on yes, a no-op on no, None when it is something else."""
    if _YES.search(text):
        return Thought(calls=[ToolCall(c["name"], dict(c["args"])) for c in pending["confirm"]])
    if _NO.search(text):
        return Thought(text="OK — I left everything as it was.")
    return None  # a new request: the question lapses and nothing is deleted


__all__ = ["DESTRUCTIVE", "answer", "ask", "needs_confirmation"]
