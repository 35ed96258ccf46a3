"""Short, friendly replies composed from what the tools did (pure: no I/O, no model)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from core import clock
from core.types import Action

CANNED = {
    "greeting": "Hi! I keep your tasks, calendar and notes. Try “remind me to call mom at 6pm” "
                "or “what's on my calendar tomorrow?”.",
    "ack": "👍",
    "left_alone": "OK — I've left everything as it is.",
    "thanks": "You're welcome!",
    "bye": "Talk soon! 👋 I'll keep everything safe till then.",
    "help": "I can add tasks (“fix the auth bug by Friday”), put events in your calendar "
            "(“lunch with Priya Friday 12:30–1:30”), check if you're free, remind you, "
            "and remember things for you (“remember that Sarah's birthday is May 3”).",
    "out_of_scope": "I can't look that up — I keep your tasks, calendar and notes. "
                    "Ask me about those, or tell me something to remember.",
    "unknown": "Sorry, I didn't understand that. Try “add buy milk tomorrow” or “what's on my calendar today?”.",
    "date_range": f"{clock.OUT_OF_RANGE} Could you give me a date in that span?",
    "empty": "Say something and I'll help — for example “add buy milk tomorrow”.",
}


class Speaker:
    """Says tool results back in the user's zone, relative to their today."""

    def __init__(self, tz: ZoneInfo, now: dt.datetime) -> None:
        self.tz = tz
        self.today = now.astimezone(tz).date()

    def when(self, iso: str | None) -> str:
        if not iso:
            return ""
        value = clock.parse_when(iso, self.tz)
        day = value.astimezone(self.tz).date() if isinstance(value, dt.datetime) else value
        label = clock.fmt_day(day, self.today)
        if day == self.today:
            label = "today"
        elif day == self.today + dt.timedelta(days=1):
            label = "tomorrow"
        if isinstance(value, dt.datetime):
            label += f" {clock.fmt_time(value, self.tz)}"
        return label

    def span(self, ev: dict[str, Any], with_day: bool = False) -> str:
        if ev.get("all_day"):
            if ev.get("end") and ev["end"] != ev["start"]:  # several days: say which (the end is the last day)
                return f"{self.when(ev['start'])} – {self.when(ev['end'])}"
            return ("all day " + self.when(ev["start"])) if with_day else "all day"
        s, e = clock.parse_when(ev["start"], self.tz), clock.parse_when(ev["end"], self.tz)
        assert isinstance(s, dt.datetime) and isinstance(e, dt.datetime)
        text = f"{clock.fmt_time(s, self.tz)}–{clock.fmt_time(e, self.tz)}"
        return f"{self.when(ev['start']).rsplit(' ', 1)[0]} {text}" if with_day else text

    def task_line(self, t: dict[str, Any]) -> str:
        bits = [t["title"]]
        extra = []
        if t.get("project"):
            extra.append(t["project"])
        if t.get("due"):
            due = clock.parse_when(t["due"], self.tz)
            day = due.astimezone(self.tz).date() if isinstance(due, dt.datetime) else due
            extra.append(("overdue since " if day < self.today and t["status"] == "open" else "due ")
                         + self.when(t["due"]))
        if extra:
            bits.append(" — " + ", ".join(extra))
        if t.get("priority") == "high":
            bits.append(" ‼️")
        if t.get("status") == "done":
            bits.append(" ✓")
        return "".join(bits)

    def event_line(self, ev: dict[str, Any], with_day: bool = False) -> str:
        text = f"{self.span(ev, with_day)} {ev['title']}"
        if ev.get("location"):
            text += f" @ {ev['location']}"
        return text

    # -------------------------------------------------------------- per tool (each registered with its tool)

    def failure(self, a: Action) -> str:
        candidates = a.result.get("candidates")
        if candidates:
            lines = [a.result["error"] + " Which one did you mean?"]
            for i, c in enumerate(candidates, 1):
                label = self.task_line(c) if "due" in c else self.event_line(c, with_day=True)
                lines.append(f"{i}. {label}")
            return "\n".join(lines)
        return a.result.get("error") or "That didn't work; nothing was changed."

    def create_task(self, args: dict[str, Any], r: dict[str, Any]) -> str:
        t = r["task"]
        text = f"Added: {self.task_line(t)}."
        if t.get("remind_at"):
            text += f" I'll remind you {self.when(t['remind_at'])}"
            if r.get("anchor"):
                text += f" ({r['anchor']}, and move it if that moves)"
            text += "."
        if t.get("recurrence"):
            text += f" Repeats {describe_rrule(t['recurrence'])}."
        return text

    def update_task(self, args: dict[str, Any], r: dict[str, Any]) -> str:
        if args.get("more_notes"):
            return f"Noted on {r['task']['title']}: {args['more_notes']}"
        return f"Updated: {self.task_line(r['task'])}."

    def complete_task(self, args: dict[str, Any], r: dict[str, Any]) -> str:
        if r.get("already_done"):
            return f"“{r['task']['title']}” was already done."
        if r.get("next"):
            return f"Done: {r['task']['title']} ✓ — next time {self.when(r['next'])}."
        return f"Done: {r['task']['title']} ✓"

    def delete_task(self, args: dict[str, Any], r: dict[str, Any]) -> str:
        return f"Deleted: {r['task']['title']}."

    def list_tasks(self, args: dict[str, Any], r: dict[str, Any]) -> str:
        tasks = r["tasks"]
        scope = f"{args['project']} " if args.get("project") else ""
        if not tasks:
            return f"Nothing on your {scope}list. 🎉" if scope else "Nothing on your list. 🎉"
        head = f"Your {scope}tasks ({len(tasks)}):"
        return "\n".join([head] + [f"• {self.task_line(t)}" for t in tasks[:50]])

    def create_event(self, args: dict[str, Any], r: dict[str, Any]) -> str:
        ev = r["event"]
        text = f"Added to your calendar: {ev['title']} — {self.span(ev, with_day=True)}"
        if ev.get("location"):
            text += f" @ {ev['location']}"
        if ev.get("recurrence"):
            text += f" (repeats: {describe_rrule(ev['recurrence'])})"
        text += "."
        if r.get("conflicts"):
            clashes = ", ".join(f"{c['title']} {self.span(c)}" for c in r["conflicts"][:3])
            text += f" Heads up: that overlaps {clashes}."
        return text

    def update_event(self, args: dict[str, Any], r: dict[str, Any]) -> str:
        text = f"Updated: {self.event_line(r['event'], with_day=True)}."
        if args.get("recurrence") and r["event"].get("recurrence"):  # new days for a series: say them
            text = text[:-1] + f" (repeats: {describe_rrule(r['event']['recurrence'])})."
        if r.get("conflicts"):
            text += " Heads up: that overlaps " + ", ".join(
                f"{c['title']} {self.span(c)}" for c in r["conflicts"][:3]) + "."
        return text

    def cancel_event(self, args: dict[str, Any], r: dict[str, Any]) -> str:
        return f"Cancelled: {self.event_line(r['event'], with_day=True)}."

    def _window(self, r: dict[str, Any]) -> str:
        s = clock.parse_when(r["start"], self.tz)
        e = clock.parse_when(r["end"], self.tz)
        assert isinstance(s, dt.datetime) and isinstance(e, dt.datetime)
        s_l, e_l = s.astimezone(self.tz), e.astimezone(self.tz)
        whole_days = s_l.time() == dt.time() and e_l.time() == dt.time()
        if whole_days and (e_l.date() - s_l.date()).days == 1:
            return self.when(s_l.date().isoformat())
        if whole_days:
            return f"{clock.fmt_day(s_l.date(), self.today)} – {clock.fmt_day(e_l.date() - dt.timedelta(days=1))}"
        if s_l.date() == e_l.date() or e_l.time() == dt.time():
            return f"{self.when(s_l.date().isoformat())} {s_l:%H:%M}–{e_l:%H:%M}"
        return f"{self.when(r['start'])} – {self.when(r['end'])}"

    def list_events(self, args: dict[str, Any], r: dict[str, Any]) -> str:
        events, tasks = r["events"], r.get("tasks") or []
        window = self._window(r)
        due = [f"Tasks due {_for(window).removeprefix('for ')}:"] + [f"• {self.task_line(t)}" for t in tasks[:50]]
        if not events:
            return "\n".join([f"Nothing on your calendar {_for(window)}."] + (due if tasks else []))
        days = {clock.parse_when(e["start"], self.tz).__str__()[:10] for e in events}
        many_days = len(days) > 1
        lines = [f"Your calendar {_for(window)}:"]
        lines += [f"• {self.event_line(e, with_day=many_days)}" for e in events[:50]]
        return "\n".join(lines + (due if tasks else []))

    def check_availability(self, args: dict[str, Any], r: dict[str, Any]) -> str:
        window = self._window(r)
        if r["free"]:
            return f"You're free {window}."
        clashes = ", ".join(self.event_line(c) for c in r["conflicts"][:5])
        return f"You're not free {window}: {clashes}."

    def remember(self, args: dict[str, Any], r: dict[str, Any]) -> str:
        if r.get("duplicate"):
            return f"I already have that: “{r['text']}”."
        return f"Got it, I'll remember: “{r['text']}”."

    def set_digest(self, args: dict[str, Any], r: dict[str, Any]) -> str:
        if r["digest_time"] is None:
            return "OK, no more daily digest. Say “send my digest at 7:30” to bring it back."
        where = ""
        if r.get("platform"):
            where = f" on {r['platform'].capitalize()}" + (f" in {r['channel']}" if r.get("channel") else "")
        return f"Your daily digest comes at {r['digest_time']}{where} — next one {self.when(r['next_digest'])}."

    def snooze_task(self, args: dict[str, Any], r: dict[str, Any]) -> str:
        at = clock.parse_when(r["task"]["remind_at"], self.tz)
        assert isinstance(at, dt.datetime)
        day = at.astimezone(self.tz).date()
        when = clock.fmt_time(at, self.tz) if day == self.today else self.when(r["task"]["remind_at"])
        return f"Snoozed: I'll remind you about “{r['task']['title']}” at {when}."

    def undo(self, args: dict[str, Any], r: dict[str, Any]) -> str:
        parts = []
        if r["removed"]:
            parts.append("removed " + ", ".join(r["removed"]))
        if r["restored"]:
            parts.append("put back " + ", ".join(r["restored"]))
        if r["settings"]:
            parts.append("back to " + ", ".join(r["settings"]))
        return "Undone: " + ("; ".join(parts) if parts else "that change") + "."

    def set_timezone(self, args: dict[str, Any], r: dict[str, Any]) -> str:
        local = dt.datetime.fromisoformat(r["local_time"])
        text = f"Done — I'm on {r['tz']} time for you now (it's {local:%H:%M} there)."
        if r["previous"] != r["tz"]:
            text += " Reminders you already set still come at the same moment."
        return text

    def _memory_line(self, h: dict[str, Any]) -> str:
        """A found memory, quoted; a remark says when it was made, since it may have changed since."""
        quoted = f"“{h['text']}”"
        if h.get("kind") == "message" and h.get("created_at"):
            day = self.when(h["created_at"][:10])  # the local day (created_at is in the user's zone)
            quoted = f"you said {day if day in ('today', 'tomorrow') else 'on ' + day}: {quoted}"
        return quoted

    def search_memory(self, args: dict[str, Any], r: dict[str, Any]) -> str:
        hits = r["hits"]
        if not hits:
            return "I don't have anything about that yet."
        # Quote what clearly fits: the best hit, and the next ones only while they score close to it.
        best = [h for h in hits[:3] if h["score"] >= hits[0]["score"] * 0.75]
        followed = [f"  ↳ {self._memory_line(h)}" for h in r.get("followed") or []]
        if len(best) == 1:
            return "\n".join([f"Here's what I have: {self._memory_line(best[0])}"] + followed)
        return "\n".join(["Here's what I have:"] + [f"• {self._memory_line(h)}" for h in best] + followed)

    def forget(self, args: dict[str, Any], r: dict[str, Any]) -> str:
        # Never quote what was forgotten: this reply is kept in the conversation log.
        what = f" about “{args['query']}”" if args.get("query") else ""
        if not r["forgotten"]:
            return f"I couldn't find anything{what} to forget."
        n = len(r["forgotten"])
        return f"Done — I've forgotten {'it' if n == 1 else f'{n} things'}{what}."


def _for(window: str) -> str:
    return window if window in ("today", "tomorrow") else f"for {window}"


_DAYS = {"MO": "Monday", "TU": "Tuesday", "WE": "Wednesday", "TH": "Thursday", "FR": "Friday",
         "SA": "Saturday", "SU": "Sunday"}


_NTH = {"1": "first", "2": "second", "3": "third", "4": "fourth", "-1": "last"}


def describe_rrule(rule: str) -> str:
    """'every Monday', 'every day', 'monthly' … for the common RRULEs."""
    parts = dict(p.split("=", 1) for p in rule.split(";") if "=" in p)
    freq = parts.get("FREQ", "")
    interval = int(parts.get("INTERVAL", "1") or 1)
    days = [d for d in parts.get("BYDAY", "").split(",") if d]
    if freq == "DAILY":
        return "every day" if interval == 1 else f"every {interval} days"
    if freq == "WEEKLY":
        plain = sorted(d[-2:] for d in days)
        named = [_DAYS.get(d[-2:], d) for d in days]
        if plain == sorted(["MO", "TU", "WE", "TH", "FR"]):
            names = "weekday"
        else:
            names = ", ".join(named[:-1]) + (" and " if len(named) > 1 else "") + named[-1] if named else "week"
        if interval == 1:
            return f"every {names}"
        return f"every {interval} weeks on {'weekdays' if names == 'weekday' else names}"
    if freq == "MONTHLY":
        if days and days[0][:-2]:
            nth = _NTH.get(days[0][:-2], days[0][:-2])
            return f"the {nth} {_DAYS.get(days[0][-2:], '')} of each month"
        return "every month"
    if freq == "YEARLY":
        return "every year"
    return rule.lower()


def notice(kind: str) -> str:
    """A canned reply for a message that needs no tool."""
    return CANNED.get(kind, CANNED["unknown"])
