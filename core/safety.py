"""Asking before a write the user may not want (pure: no I/O).

Two questions: before a destructive request touches more than one item (how many is the tools' to say,
`core.tools.items_touched`), and before a change the brain is unsure of (`confirm`). Both keep the calls in
`user.pending`; `answer` reads the yes or no, and a yes runs exactly the calls that were asked about.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from core.brain import Thought, ToolCall

# Below this confidence (core.brain.Thought.confidence) a call that changes data is asked about, not run.
# Chosen on held-back folds of the training data (scripts/build_intent_model.py --cv 5): about 1 write in 20
# is asked about, against 1 in 12 at 0.6.
CONFIDENT = 0.5

_YES = re.compile(r"^\s*(y|yes|yeah|yep|yup|sure|ok|okay|confirm(ed)?|do it|go ahead|please do|correct)\b", re.I)
# "undo", "undo that", "actually, undo that please", "/undo", "take that back": the user's last change, reverted.
_UNDO = re.compile(r"^\s*/?(?:(?:no,?\s+|oops,?\s+|actually,?\s+)?(?:please\s+)?(?:undo|revert)(?:\s+(?:that|it|this|"
                   r"the last (?:change|one|thing)|my last change))?|take (?:that|it) back)\s*(?:please|pls)?[\s.!]*$",
                   re.I)
# "no" however said; "cancel", "stop", "don't" and "wait" only on their own ("cancel lunch with tom" is a new request).
_NO = re.compile(r"^\s*(?:(?:n|no|nope|nah|never ?mind)\b|(?:don'?t|do not)\b(?!\s+forget)|(?:cancel|stop|wait)"
                 r"(?:\s+(?:it|that|this|please|pls|then|now))*[\s.!]*$)", re.I)


def _label(call: ToolCall) -> str:
    a = call.args
    ref = a.get("task_ref") or a.get("event_ref") or a.get("title") or a.get("task_id") or a.get("event_id") or "?"
    ref = a.get("query") or ref if call.name == "forget" else ref
    verb = {"delete_task": "delete", "cancel_event": "cancel", "forget": "forget",
            "cancel_events": "cancel"}.get(call.name, call.name)
    return f"{verb} “{ref}”"


def ask(calls: list[ToolCall], items: int, shown: list[str] | None = None) -> tuple[str, dict[str, Any]]:
    """The question to ask about calls that would touch `items` things (`shown`: those things, one a line)."""
    lines = [f"That would change {items} {'item' if items == 1 else 'items'} — are you sure? (yes / no)"]
    lines += [f"• {line}" for line in shown] if shown else [f"• {_label(c)}" for c in calls]
    return "\n".join(lines), held(calls)


def held(calls: list[ToolCall]) -> dict[str, Any]:
    """What `user.pending` keeps while a question about `calls` waits: the calls, and an id its buttons carry."""
    return {"confirm": [{"name": c.name, "args": c.args} for c in calls], "id": uuid.uuid4().hex}


def _quoted(value: object) -> str:
    text = str(value or "?").strip()
    return f"“{text[:80]}…”" if len(text) > 80 else f"“{text}”"


def _offer(call: ToolCall) -> str:
    """One call said as the question of whether to do it ("Add a task “Book a table”")."""
    a = call.args
    ref = a.get("task_ref") or a.get("event_ref") or a.get("task_id") or a.get("event_id")
    when = a.get("due") or a.get("start") or a.get("remind_at") or " ".join(
        str(a[k]) for k in ("new_date", "new_time") if a.get(k))  # an event moved to a day or a time of day
    at = f" ({str(when).replace('T', ' ')[:16]})" if when else ""
    said = {
        "create_task": lambda: f"Add a task {_quoted(a.get('title'))}{at}",
        "create_event": lambda: f"Add {_quoted(a.get('title'))} to your calendar{at}",
        "complete_task": lambda: f"Mark {_quoted(ref)} as done",
        "delete_task": lambda: f"Delete the task {_quoted(ref)}",
        "update_task": lambda: f"Change the task {_quoted(ref)}{at}",
        "update_event": lambda: f"Change {_quoted(ref)} in your calendar{at}",
        "cancel_event": lambda: f"Cancel {_quoted(ref)}",
        "remember": lambda: f"Remember {_quoted(a.get('text'))}",
        "forget": lambda: f"Forget what I know about {_quoted(a.get('query'))}",
        "set_digest": lambda: "Change your daily digest" + (f" to {a['time']}" if a.get("time") else ""),
        "set_timezone": lambda: f"Set your time zone to {a.get('zone')}",
        "cancel_events": lambda: "Cancel everything " + f"from {a.get('start')} to {a.get('end')}".replace("T", " "),
        "correct_last": lambda: "Change what I just made to " + " ".join(
            str(a[k]) for k in ("date", "time") if a.get(k)),
    }.get(call.name)
    return said() if said else f"Run {call.name}"


def confirm(calls: list[ToolCall], preface: str | None = None) -> tuple[str, dict[str, Any]]:
    """The question to ask about calls the brain is unsure of, and what to keep until the answer."""
    offers = [_offer(c) for c in calls]
    question = f"{offers[0]}? (yes / no)" if len(offers) == 1 else \
        "Shall I do this? (yes / no)\n" + "\n".join(f"• {o}" for o in offers)
    if preface:
        question = f"{preface}\n{question}"
    return question, held(calls)


def undo_request(text: str) -> Thought | None:
    """"undo" and its everyday forms: the undo tool for the user's last change; None for anything else."""
    if _UNDO.match(text):
        return Thought(calls=[ToolCall("undo", {})], confirmed=True)
    return None


def answer(pending: dict[str, Any], text: str) -> Thought | None:
    """Read the answer to `ask`: the calls on yes, a no-op on no, None when it is something else."""
    if _YES.search(text):
        return Thought(calls=[ToolCall(c["name"], dict(c["args"])) for c in pending["confirm"]], confirmed=True)
    if _NO.search(text):
        return Thought(text="OK — I left everything as it was.")
    return None  # a new request: the question lapses and nothing is deleted


__all__ = ["CONFIDENT", "answer", "ask", "confirm", "held", "undo_request"]
