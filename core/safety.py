"""Asking before a destructive request touches more than one item (pure: no I/O).

How many items a call touches is the tools' to say (`core.tools.items_touched`); this asks and reads the answer.
"""

from __future__ import annotations

import re
from typing import Any

from core.brain import Thought, ToolCall

_YES = re.compile(r"^\s*(y|yes|yeah|yep|yup|sure|ok|okay|confirm(ed)?|do it|go ahead|please do|correct)\b", re.I)
_NO = re.compile(r"^\s*(n|no|nope|nah|cancel|stop|don'?t|never ?mind|wait)\b", re.I)


def _label(call: ToolCall) -> str:
    a = call.args
    ref = a.get("task_ref") or a.get("event_ref") or a.get("title") or a.get("task_id") or a.get("event_id") or "?"
    ref = a.get("query") or ref if call.name == "forget" else ref
    verb = {"delete_task": "delete", "cancel_event": "cancel", "forget": "forget"}.get(call.name, call.name)
    return f"{verb} “{ref}”"


def ask(calls: list[ToolCall], items: int) -> tuple[str, dict[str, Any]]:
    """The question to ask about calls that would touch `items` things, and what to keep until the answer."""
    lines = [f"That would change {items} items — are you sure? (yes / no)"]
    lines += [f"• {_label(c)}" for c in calls]
    return "\n".join(lines), {"confirm": [{"name": c.name, "args": c.args} for c in calls]}


def answer(pending: dict[str, Any], text: str) -> Thought | None:
    """Read the answer to `ask`: the calls on yes, a no-op on no, None when it is something else."""
    if _YES.search(text):
        return Thought(calls=[ToolCall(c["name"], dict(c["args"])) for c in pending["confirm"]], confirmed=True)
    if _NO.search(text):
        return Thought(text="OK — I left everything as it was.")
    return None  # a new request: the question lapses and nothing is deleted


__all__ = ["answer", "ask"]
