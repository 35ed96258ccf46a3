"""What the offline brain understood from one message: a tool to call, or a reply kind."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ReplyKind = Literal["greeting", "thanks", "bye", "time_now", "help", "out_of_scope", "unknown", "ack", "date_range",
                    "left_alone"]


@dataclass(frozen=True)
class Intent:
    """One understood request.

    ``tool`` is one of the tool names of DESIGN.md, or ``None`` when no tool applies
    (then ``reply_kind`` says what kind of reply fits). ``args`` holds the tool's
    arguments as the tool schema takes them: times as ISO 8601 strings with the user's
    offset, date-only values as ``YYYY-MM-DD``. A task named by words instead of an id
    comes as ``args["task_ref"]`` (the words), which the tool layer resolves.
    """

    tool: str | None
    args: dict[str, Any] = field(default_factory=dict)
    reply_kind: ReplyKind | None = None
