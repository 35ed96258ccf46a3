"""The tool schema a model sees, generated from the pydantic argument models in core/tools.py.

There is one schema: the `Tool` records in core/tools.py. This module only turns each argument
model's JSON schema into the compact form providers take (optional fields simply not required, no
pydantic titles) and adds a sentence per field where its name is not enough. `check_call` validates (and where it
is safe, repairs) what a model asked for before anything runs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from core.llm import ModelToolCall, ToolSpec
from core.tools import TOOLS, offered_tools, validation_message

# Only what a field's name does not already say; the time format is stated once, in the system prompt.
FIELDS: dict[str, str] = {
    "shift": "move the due date, e.g. {\"weeks\": 1}",
    "recurrence": "RRULE, e.g. FREQ=WEEKLY;BYDAY=MO",
}
# Limits and defaults the tools apply anyway; leaving them out keeps the prompt small.
_DROP = ("title", "maxLength", "minLength", "maximum", "minimum", "default")
# Fields for the offline brain, which sees no ids: a model names an event by the id its context shows, gives
# a move as the new start and reads `completed_at` in a done list, so these would only lengthen every prompt.
OFFLINE_ONLY = frozenset({"event_at", "new_date", "new_time", "either_half", "shift_minutes", "done_after",
                          "done_before", "more_notes"})


def _compact(schema: dict[str, Any], said: set[str] | None = None) -> dict[str, Any]:
    """Drop pydantic's titles and `X | None` wrappers: an optional field is one that is not required.

    A field's sentence (FIELDS) is said once, on the first tool that has it (`said` collects them).
    """
    said = set() if said is None else said
    props: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        if name in OFFLINE_ONLY:
            continue
        prop = dict(prop)
        options = prop.pop("anyOf", None)
        if options:
            real = [o for o in options if o.get("type") != "null"]
            prop.update(real[0] if len(real) == 1 else {"anyOf": real})
        for key in _DROP:
            prop.pop(key, None)
        if name in FIELDS and name not in said:
            prop["description"] = FIELDS[name]
            said.add(name)
        props[name] = prop
    out: dict[str, Any] = {"type": "object", "properties": props}
    if schema.get("required"):
        out["required"] = schema["required"]
    return out


def tool_specs() -> tuple[ToolSpec, ...]:
    """Every offered tool as a model sees it, in a fixed order (so the prompt prefix never changes)."""
    said: set[str] = set()
    return tuple(ToolSpec(t.name, t.description, _compact(t.args.model_json_schema(), said)) for t in offered_tools())


# ---------------------------------------------------------------- checking what a model asked for

ALIASES: dict[str, str | None] = {"name": "title", "task": "title", "description": "notes", "note": "notes",
                           "due_date": "due", "deadline": "due", "date": "due", "reminder": "remind_at",
                           "remind": "remind_at", "start_time": "start", "end_time": "end",
                           "rrule": "recurrence", "content": "text", "fact": "text", "id": None}
PRIORITY = {"urgent": "high", "important": "high", "asap": "high", "normal": "medium", "med": "medium",
            "no rush": "low", "someday": "low"}
MAX_CALLS = 8


@dataclass(frozen=True)
class Checked:
    """A call that passed validation (`args`), or why it was refused (`problem`)."""

    name: str
    args: dict[str, Any] | None
    problem: str | None = None
    repaired: bool = False


def _parse_loose_json(raw: str) -> dict[str, Any] | None:
    """Read arguments a model wrote as slightly broken JSON (code fences, trailing commas)."""
    text = raw.strip()
    text = re.sub(r"^```(?:json)?\s*|\s*```$", "", text)
    text = re.sub(r",\s*([}\]])", r"\1", text)
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _repair(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Fix what is unambiguous: known aliases, priority words, a null where only the default makes sense."""
    model = TOOLS[name].args
    fields = model.model_fields
    known = set(fields)
    out: dict[str, Any] = {}
    for key, value in args.items():
        # An explicit null can mean something ("digest time: off"), so it is only dropped where
        # the field cannot be null at all and dropping it restores the default.
        if value is None and (key not in fields or fields[key].default is not None) and key not in ALIASES:
            continue
        if key not in known and key in ALIASES:
            alias = ALIASES[key]
            if alias is None:  # a bare "id": which kind of id depends on the tool
                alias = next((k for k in ("task_id", "event_id") if k in known), key)
            key = alias
        if key == "priority" and isinstance(value, str):
            value = PRIORITY.get(value.strip().lower(), value.strip().lower())
        out[key] = value
    return out


def check_call(call: ModelToolCall) -> Checked:
    """Validate one model tool call against its argument model; repair only what is unambiguous.

    Unknown tools, unreadable arguments and unknown fields are refused, never guessed: a field
    we do not know (say `"all": true` on a delete) could change what the call means.
    """
    if call.name not in TOOLS or not TOOLS[call.name].offered:
        return Checked(call.name, None, f"there is no tool called {call.name!r}")
    args = call.args if call.args is not None else _parse_loose_json(call.raw)
    if args is None:
        return Checked(call.name, None, "its arguments were not readable JSON")
    model = TOOLS[call.name].args
    try:
        model.model_validate(args)
        return Checked(call.name, dict(args))
    except ValidationError:
        pass
    fixed = _repair(call.name, args)
    try:
        model.model_validate(fixed)
    except ValidationError as exc:
        return Checked(call.name, None, validation_message(exc))
    return Checked(call.name, fixed, repaired=True)


__all__ = ["FIELDS", "MAX_CALLS", "Checked", "check_call", "tool_specs"]
