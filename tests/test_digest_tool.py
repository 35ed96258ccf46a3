"""`set_digest`: "send my digest at 8", "turn off the digest", "post my digest in #general on Slack"."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bots.app import Runtime
from core.replies import Speaker
from core.tools import ToolContext, run_tool, say
from core.types import Action
from db.models import Identity, User
from tests.conftest import at
from tests.jobs_support import platform_user

NOW = at("2026-01-12T20:00:00+01:00")


async def _set(rt: Runtime, user: User, args: dict[str, object], now: dt.datetime = NOW) -> tuple[Action, User]:
    async with rt.sessions() as session, session.begin():
        fresh = await session.get(User, user.id)
        assert fresh is not None
        action = await run_tool(ToolContext(session, fresh, now, ZoneInfo(fresh.tz), rt.memory), "set_digest", args)
    async with rt.sessions() as session:
        stored = await session.get(User, user.id)
        assert stored is not None
        return action, stored


def _say(action: Action, now: dt.datetime = NOW) -> str:
    return say(Speaker(ZoneInfo("Europe/Berlin"), now), action)


async def test_send_my_digest_at_8(rt: Runtime) -> None:
    ada = await platform_user(rt, "ada", "Europe/Berlin", NOW)
    action, user = await _set(rt, ada, {"time": "8"})
    assert action.ok and user.digest_time == dt.time(8, 0)
    assert user.next_digest_at == at("2026-01-13T08:00:00+01:00")
    assert _say(action) == "Your daily digest comes at 08:00 — next one tomorrow 08:00."


async def test_times_people_write(rt: Runtime) -> None:
    ada = await platform_user(rt, "ada", "Europe/Berlin", NOW)
    for said, meant in (("07:45", dt.time(7, 45)), ("6.30", dt.time(6, 30)), ("7:30pm", dt.time(19, 30)),
                        ("12am", dt.time(0, 0)), ("9 AM", dt.time(9, 0))):
        action, user = await _set(rt, ada, {"time": said})
        assert action.ok and user.digest_time == meant, said


async def test_a_time_that_is_not_a_time_changes_nothing(rt: Runtime) -> None:
    ada = await platform_user(rt, "ada", "Europe/Berlin", NOW)
    for bad in ("25:00", "8:75", "13pm", "soon"):
        action, user = await _set(rt, ada, {"time": bad})
        assert not action.ok and "time of day" in action.result["error"]
        assert user.digest_time == dt.time(7, 30)


async def test_turn_off_the_digest_and_back_on(rt: Runtime) -> None:
    ada = await platform_user(rt, "ada", "Europe/Berlin", NOW)
    for off in ({"time": "off"}, {"time": None}):
        action, user = await _set(rt, ada, off)
        assert action.ok and user.digest_time is None and user.next_digest_at is None
        assert "no more daily digest" in _say(action)
        await _set(rt, ada, {"time": "07:30"})


async def test_the_digest_in_a_slack_channel_needs_slack(rt: Runtime) -> None:
    ada = await platform_user(rt, "ada", "Europe/Berlin", NOW)
    action, user = await _set(rt, ada, {"platform": "slack", "channel": "#general"})
    assert not action.ok and "can't reach you on Slack" in action.result["error"]
    assert user.digest_platform is None
    action, _ = await _set(rt, ada, {"channel": "#general"})
    assert not action.ok and "Which platform" in action.result["error"]

    async with rt.sessions() as session, session.begin():
        session.add(Identity(user_id=ada.id, platform="slack", platform_user_id="T1/U1", created_at=NOW))
    action, user = await _set(rt, ada, {"platform": "slack", "channel": "#general"})
    assert action.ok and (user.digest_platform, user.digest_channel) == ("slack", "#general")
    assert user.digest_time == dt.time(7, 30)  # the time stays as it was
    assert _say(action) == "Your daily digest comes at 07:30 on Slack in #general — next one tomorrow 07:30."


async def test_choosing_a_platform_while_the_digest_is_off_turns_it_back_on(rt: Runtime) -> None:
    ada = await platform_user(rt, "ada", "Europe/Berlin", NOW, digest=False)
    action, user = await _set(rt, ada, {"platform": "telegram"})
    assert action.ok and user.digest_time == dt.time(7, 30) and user.digest_platform == "telegram"
