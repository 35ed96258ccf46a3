"""The worker pushes reminders and digests to a (fake) chat platform: on time, once, across DST and outages."""

from __future__ import annotations

import pytest
from arq.connections import RedisSettings
from sqlalchemy import select

from bots.app import Runtime
from bots.doctor import delivery_check
from core.types import OutgoingNotification
from db.models import Identity, Notification, User
from jobs import reminders
from tests.conftest import at
from tests.fakes.chat_platform import FakeChatPlatform
from tests.jobs_support import Clock, burst, call, job_context, platform_user


async def _rows(rt: Runtime) -> list[Notification]:
    async with rt.sessions() as session:
        return list(await session.scalars(select(Notification).order_by(Notification.due_at)))


async def test_reminder_reaches_the_platform_once_and_on_time(rt: Runtime, redis: RedisSettings,
                                                              fake: FakeChatPlatform) -> None:
    clock = Clock(at("2026-03-27T09:00:00+01:00"))
    ada = await platform_user(rt, "ada", "Europe/Berlin", clock())
    await call(rt, ada, "create_task", {"title": "Call mom", "remind_at": "2026-03-27T18:00:00+01:00"}, clock())
    jc = job_context(rt, fake.url, clock)

    clock.set("2026-03-27T17:59:00+01:00")
    await burst(jc, redis)
    assert fake.texts() == []

    clock.set("2026-03-27T18:00:20+01:00")
    await burst(jc, redis)
    [msg] = fake.messages
    assert "Call mom" in msg.text and "late" not in msg.text
    assert msg.user_id == str(ada.id) and msg.platform == "telegram" and msg.chat_id == "ada-chat"
    assert msg.buttons == ["Done", "Snooze 1h"]

    clock.set("2026-03-27T18:05:00+01:00")
    await burst(jc, redis)
    assert len(fake.posts) == 1  # nothing was sent again
    [row] = await _rows(rt)
    assert row.status == "sent" and row.attempts == 1 and row.platform == "telegram"


@pytest.mark.parametrize(("tz", "created", "remind_at", "before", "after"), [
    # New York falls back on 1 Nov 2026: 09:00 that morning is UTC-5, not UTC-4.
    ("America/New_York", "2026-10-31T12:00:00-04:00", "2026-11-01T09:00:00",
     "2026-11-01T08:30:00-05:00", "2026-11-01T09:00:30-05:00"),
    # Berlin springs forward on 29 Mar 2026: 09:00 that morning is UTC+2.
    ("Europe/Berlin", "2026-03-28T10:00:00+01:00", "2026-03-29T09:00:00",
     "2026-03-29T08:59:00+02:00", "2026-03-29T09:00:40+02:00"),
])
async def test_reminder_after_a_dst_change_comes_at_the_local_time(
        rt: Runtime, redis: RedisSettings, fake: FakeChatPlatform,
        tz: str, created: str, remind_at: str, before: str, after: str) -> None:
    clock = Clock(at(created))
    user = await platform_user(rt, "sam", tz, clock())
    await call(rt, user, "create_task", {"title": "Feed the cat", "remind_at": remind_at}, clock())
    jc = job_context(rt, fake.url, clock)
    clock.set(before)
    await burst(jc, redis)
    assert not any("cat" in t for t in fake.texts())
    clock.set(after)
    await burst(jc, redis)
    [text] = [t for t in fake.texts() if "cat" in t]
    assert "late" not in text


async def test_a_worker_back_after_an_outage_catches_up_and_says_it_is_late(
        rt: Runtime, redis: RedisSettings, fake: FakeChatPlatform) -> None:
    clock = Clock(at("2026-05-11T14:00:00-04:00"))
    ny = await platform_user(rt, "ny", "America/New_York", clock())
    await call(rt, ny, "create_task", {"title": "Move the car", "remind_at": "2026-05-12T09:00:00-04:00"}, clock())
    await call(rt, ny, "create_task", {"title": "Pay the electricity bill", "due": "2026-05-12",
                                       "remind_at": "2026-05-12T10:00:00-04:00"}, clock())
    await call(rt, ny, "create_event", {"title": "Dentist", "start": "2026-05-12T15:30:00-04:00"}, clock())
    jc = job_context(rt, fake.url, clock)

    clock.set("2026-05-12T13:00:00-04:00")  # no worker ran all morning
    await burst(jc, redis)
    reminders = [t for t in fake.texts() if t.startswith("⏰")]
    digests = [t for t in fake.texts() if "Good morning" in t]
    assert len(reminders) == 2 and all("late" in t for t in reminders)
    assert any("09:00" in t and "car" in t for t in reminders)
    [digest] = digests
    assert "Dentist" in digest and "electricity bill" in digest

    clock.set("2026-05-15T09:00:00-04:00")  # down again for three days: one digest, today's
    await burst(jc, redis)
    later = [t for t in fake.texts() if "Good morning" in t][1:]
    assert len(later) == 1 and "15 May" in later[0]
    assert len(fake.posts) == len(fake.messages) == 4


async def test_transient_platform_errors_are_retried_with_backoff(rt: Runtime, redis: RedisSettings,
                                                                  fake: FakeChatPlatform) -> None:
    clock = Clock(at("2026-02-01T08:00:00+00:00"))
    user = await platform_user(rt, "kim", "UTC", clock())
    await call(rt, user, "create_task", {"title": "Stand-up notes", "remind_at": "2026-02-01T09:00:00+00:00"},
               clock())
    fake.failures = [(503, None), (429, 0.4)]
    clock.set("2026-02-01T09:00:05+00:00")
    worker = await burst(job_context(rt, fake.url, clock), redis)
    assert fake.texts() == ["⏰ Reminder: Stand-up notes"]
    # the batch hands its failure to a deferred single delivery, which then retries with arq Retry
    assert len(fake.posts) == 3 and worker.jobs_retried == 1
    assert fake.post_times[2] - fake.post_times[1] >= 0.4  # the platform's retry_after was honoured
    [row] = await _rows(rt)
    assert row.status == "sent" and row.attempts == 3 and row.last_error is None


async def test_a_permanent_refusal_is_recorded_not_retried_and_shown_by_doctor(
        rt: Runtime, redis: RedisSettings, fake: FakeChatPlatform) -> None:
    clock = Clock(at("2026-02-01T08:00:00+00:00"))
    user = await platform_user(rt, "lee", "UTC", clock())
    await call(rt, user, "create_task", {"title": "Renew passport", "remind_at": "2026-02-01T09:00:00+00:00"},
               clock())
    fake.failures = [(403, None)]
    clock.set("2026-02-01T09:00:05+00:00")
    await burst(job_context(rt, fake.url, clock), redis)
    clock.set("2026-02-01T09:05:00+00:00")
    await burst(job_context(rt, fake.url, clock), redis)
    assert fake.texts() == [] and len(fake.posts) == 1
    [row] = await _rows(rt)
    assert row.status == "failed" and "blocked" in (row.last_error or "")
    name, ok, detail = await delivery_check(rt.sessions, clock())
    assert ok is False and "lee" in detail and "blocked by the user" in detail


async def test_a_platform_that_keeps_failing_is_given_up_on_and_recorded(
        rt: Runtime, redis: RedisSettings, fake: FakeChatPlatform) -> None:
    clock = Clock(at("2026-02-01T08:00:00+00:00"))
    user = await platform_user(rt, "max", "UTC", clock())
    await call(rt, user, "create_task", {"title": "Water plants", "remind_at": "2026-02-01T09:00:00+00:00"},
               clock())
    fake.failures = [(503, None)] * 5
    clock.set("2026-02-01T09:00:05+00:00")
    await burst(job_context(rt, fake.url, clock, max_attempts=3), redis)
    assert fake.texts() == [] and len(fake.posts) == 3
    [row] = await _rows(rt)
    assert row.status == "failed" and "gave up after 3 attempts" in (row.last_error or "")


async def test_the_digest_comes_at_the_chosen_time_in_the_chosen_slack_channel(
        rt: Runtime, redis: RedisSettings, fake: FakeChatPlatform) -> None:
    clock = Clock(at("2026-01-12T20:00:00+01:00"))
    ada = await platform_user(rt, "ada", "Europe/Berlin", clock())
    async with rt.sessions() as session, session.begin():
        session.add(Identity(user_id=ada.id, platform="slack", platform_user_id="T1/U1", chat_id="D1",
                             created_at=clock()))
    result = await call(rt, ada, "set_digest", {"time": "8", "platform": "slack", "channel": "#general"}, clock())
    assert result["digest_time"] == "08:00" and result["next_digest"] == "2026-01-13T08:00:00+01:00"
    await call(rt, ada, "create_task", {"title": "Send the invoice", "due": "2026-01-13"}, clock())
    jc = job_context(rt, fake.url, clock)
    clock.set("2026-01-13T07:45:00+01:00")  # the old 07:30 default no longer applies
    await burst(jc, redis)
    assert fake.messages == []
    clock.set("2026-01-13T08:00:30+01:00")
    await burst(jc, redis)
    [digest] = fake.messages
    assert digest.platform == "slack" and digest.chat_id == "#general" and digest.kind == "digest"
    assert "Send the invoice" in digest.text

    await call(rt, ada, "set_digest", {"time": "off"}, clock())
    clock.set("2026-01-14T08:00:30+01:00")
    await burst(jc, redis)
    assert len(fake.messages) == 1


async def test_terminal_only_users_get_theirs_in_pixie_chat_not_from_the_worker(
        rt: Runtime, redis: RedisSettings, fake: FakeChatPlatform) -> None:
    clock = Clock(at("2026-03-27T09:00:00+01:00"))
    async with rt.sessions() as session, session.begin():
        await rt.assistant.user_for(session, "terminal", "ada", clock(), "Europe/Berlin", name="ada")
        user = await session.scalar(select(User).where(User.name == "ada"))
    assert user is not None
    await call(rt, user, "create_task", {"title": "Call mom", "remind_at": "2026-03-27T18:00:00+01:00"}, clock())
    clock.set("2026-03-27T18:00:10+01:00")
    await burst(job_context(rt, fake.url, clock), redis)
    assert fake.messages == []
    [note] = await rt.assistant.tick("terminal", "ada", clock())
    assert "Call mom" in note.text and "late" not in note.text  # queued on time by the worker
    assert await rt.assistant.tick("terminal", "ada", clock()) == []


async def test_many_users_due_at_once_are_each_told_once(rt: Runtime, redis: RedisSettings,
                                                         fake: FakeChatPlatform) -> None:
    clock = Clock(at("2026-02-01T08:00:00+00:00"))
    users = [await platform_user(rt, f"u{i}", "UTC", clock()) for i in range(30)]
    for u in users:
        await call(rt, u, "create_task", {"title": f"Ping {u.name}", "remind_at": "2026-02-01T09:00:00+00:00"},
                   clock())
    clock.set("2026-02-01T09:00:02+00:00")
    await burst(job_context(rt, fake.url, clock, step_batch=7), redis)
    assert sorted(fake.texts()) == sorted(f"⏰ Reminder: Ping u{i}" for i in range(30))
    assert len(fake.posts) == 30


async def test_a_configured_model_polishes_the_digest_and_a_failing_one_changes_nothing(
        rt: Runtime, redis: RedisSettings, fake: FakeChatPlatform) -> None:
    clock = Clock(at("2026-05-11T14:00:00-04:00"))
    ana = await platform_user(rt, "ana", "America/New_York", clock())
    bob = await platform_user(rt, "bob", "America/New_York", clock())
    calls: list[str] = []

    async def polish(note: OutgoingNotification) -> str:
        calls.append(note.user_id)
        if note.user_id == str(bob.id):
            raise RuntimeError("the model is down")
        return note.text.replace("Good morning!", "Morning, Ana!")

    jc = job_context(rt, fake.url, clock, polish=polish)
    clock.set("2026-05-12T07:31:00-04:00")
    await burst(jc, redis)
    texts = {m.user_id: m.text for m in fake.messages}
    assert texts[str(ana.id)].startswith("☀️ Morning, Ana!") and texts[str(bob.id)].startswith("☀️ Good morning!")
    assert sorted(calls) == sorted([str(ana.id), str(bob.id)])  # one call each
    stored = {str(n.user_id): n.text for n in await _rows(rt)}
    assert stored[str(ana.id)] == texts[str(ana.id)]  # a retry would send the same words


async def test_one_users_broken_step_costs_nobody_else_their_reminder(
        rt: Runtime, redis: RedisSettings, fake: FakeChatPlatform, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(at("2026-02-01T08:00:00+00:00"))
    users = [await platform_user(rt, f"u{i}", "UTC", clock()) for i in range(12)]
    for u in users:
        await call(rt, u, "create_task", {"title": f"Ping {u.name}", "remind_at": "2026-02-01T09:00:00+00:00"},
                   clock())
    real_step, real_batch = reminders.step_user, reminders.step_batch

    async def step_user(session, user, now):  # type: ignore[no-untyped-def]
        if user.name == "u0":
            raise RuntimeError("a row this version cannot read")
        await real_step(session, user, now)

    async def step_batch(session, users, now):  # type: ignore[no-untyped-def]
        if any(u.name == "u0" for u in users):
            raise RuntimeError("a row this version cannot read")
        return await real_batch(session, users, now)

    monkeypatch.setattr(reminders, "step_user", step_user)
    monkeypatch.setattr(reminders, "step_batch", step_batch)
    clock.set("2026-02-01T09:00:02+00:00")
    await burst(job_context(rt, fake.url, clock, step_batch=3), redis)  # ends: no endless retry chain
    assert sorted(fake.texts()) == sorted(f"⏰ Reminder: Ping u{i}" for i in range(1, 12))
