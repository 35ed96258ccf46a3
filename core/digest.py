"""The morning digest: today's events, what is due, what is overdue, what arrived by mail (pure)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from core import clock
from core.replies import Speaker


def compose_digest(speaker: Speaker, day: dt.date, events: list[dict[str, Any]],
                   due_today: list[dict[str, Any]], overdue: list[dict[str, Any]],
                   arrived: list[dict[str, Any]]) -> str:
    """The digest text for `day`."""
    lines = [f"☀️ Good morning! Your day — {clock.fmt_day(day)}"]
    if events:
        lines.append("\nCalendar:")
        lines += [f"• {speaker.event_line(e)}" for e in events]
    if due_today:
        lines.append("\nDue today:")
        lines += [f"• {speaker.task_line(t)}" for t in due_today]
    if overdue:
        lines.append("\nOverdue:")
        lines += [f"• {speaker.task_line(t)}" for t in overdue]
    if arrived:
        lines.append("\n📧 Arrived by mail since the last digest:")
        lines += [f"• {speaker.task_line(t)}" if "due" in t
                  else f"• {speaker.event_line(t, True)}" + (" (proposed)" if t.get("status") == "proposed" else "")
                  for t in arrived]
    if len(lines) == 1:
        lines.append("Nothing on the calendar and nothing due. Enjoy the day!")
    return "\n".join(lines)
