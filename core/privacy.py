"""What may be said where: a group, a channel or a thread is a public place, a direct message is not.

The rule, for a message said in a public place (`IncomingMessage.public`):
- A stranger is answered nothing there, and nothing of theirs is recorded (core/access.py): a
  refusal names their id, and a code typed where others read it is not taken. They get the usual
  one refusal when they write to Pixie directly.
- Someone Pixie serves is answered in their direct messages whenever the answer could show
  anything of theirs: any tool's result (tasks, events, availability, memory — and a "created"
  reply echoes the title), any text a brain wrote (it may quote memory it was shown), codes and
  ids from access commands. The place gets a short note instead: "Done — …" after changes, "I've
  sent you the answer…" otherwise.
- Only what is the same for everyone is said in the place: the help text, the canned "I didn't
  understand" replies, and "something went wrong".
Deciding is pure (here); sending to a DM is the adapter's (`Reply.private`, bots/common.py).
"""

from __future__ import annotations

from dataclasses import replace

from core.tools import TOOLS
from core.types import IncomingMessage, Reply

ANSWERED_IN_DM = "I've sent you the answer in a direct message."
DONE_IN_DM = "Done — I've sent you the details in a direct message."
SHAREABLE_COMMANDS = frozenset({"help", "start"})  # their answer is the same for everyone


def placed(msg: IncomingMessage, reply: Reply, shareable: bool = False) -> Reply:
    """`reply` as it may be given where `msg` was said: from a public place, anything personal goes to a DM."""
    if not msg.public or shareable or reply.duplicate or not reply.text.strip():
        return reply
    tools = [TOOLS.get(a.tool) for a in reply.actions]
    changed = bool(tools) and all(t is not None and t.changes for t in tools) and all(a.ok for a in reply.actions)
    return replace(reply, private=True, note=DONE_IN_DM if changed else ANSWERED_IN_DM)
