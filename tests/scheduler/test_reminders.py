"""Reminders: due times, delivery through Slack, exactly once across restarts and replicas."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient
from sqlmodel import col, select

from bot.sandbox.slack_standin import FakeSlack
from bot.settings import parse_offsets
from handlers.delivery.outbox_sender import MessageSender
from handlers.rendering import reminder_messages
from models.db import Database
from models.outbox import MessageKind, OutboxMessage, OutboxStatus
from models.release.proposing import Proposal, write_release
from models.release.records import Release
from models.reminders import planning
from models.reminders.table import Reminder, ReminderKind, ReminderStatus
from scheduler.clock import ReminderScheduler
from tests.support.harness import OWNER, Harness, rendered_text

# On PostgreSQL too: reminders claimed by due time in the database.
pytestmark = [pytest.mark.both_databases, pytest.mark.clock]


@pytest.fixture
def harness(database_url: str, fake_slack: FakeSlack) -> Iterator[Harness]:
    with Harness(database_url, fake_slack, RELEASEBOT_REMINDER_OFFSETS="24h,1h") as running:
        yield running


def target_in(days: int = 3) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(
        hour=14, minute=0, second=0, microsecond=0
    )


def propose_release(harness: Harness, target: datetime, extra: str = "<@U_QA|qa>") -> Release:
    harness.command(f"propose payments 2.4.0 {target:%Y-%m-%dT%H:%MZ} {extra}")
    return harness.release("payments@2.4.0")


def rows(harness: Harness) -> dict[tuple[str, int], Reminder]:
    with harness.session() as session:
        return {(r.kind, r.offset_minutes): r for r in session.exec(select(Reminder))}


def reminder_posts(harness: Harness) -> list[str]:
    return [
        rendered_text(c.args)
        for c in harness.slack.calls("chat.postMessage")
        if c.ok
        if "is due" in str(c.args.get("text"))
        or "window" in str(c.args.get("text"))
        or "was due" in str(c.args.get("text"))
    ]


# --- due times ----------------------------------------------------------------------------


def test_due_times_follow_the_offsets() -> None:
    release = Release(
        team_id="T",
        service="s",
        version="1",
        channel_id="C",
        owner_id="U",
        target_at=datetime(2027, 6, 1, 12, 0, tzinfo=UTC),
    )
    due = {
        (s.kind, s.offset_minutes): s.due_at
        for s in planning.slots(release, parse_offsets("24h,1h,15m"))
    }
    assert due == {
        (ReminderKind.BEFORE, 1440): datetime(2027, 5, 31, 12, 0, tzinfo=UTC),
        (ReminderKind.BEFORE, 60): datetime(2027, 6, 1, 11, 0, tzinfo=UTC),
        (ReminderKind.BEFORE, 15): datetime(2027, 6, 1, 11, 45, tzinfo=UTC),
        (ReminderKind.WINDOW_OPEN, 0): datetime(2027, 6, 1, 12, 0, tzinfo=UTC),
        (ReminderKind.OVERDUE, -120): datetime(2027, 6, 1, 14, 0, tzinfo=UTC),
    }


def test_a_day_before_across_a_dst_change_is_24_real_hours(harness: Harness) -> None:
    # 2027-03-14 is the day New York springs forward. U_OWNER lives there.
    harness.command("propose payments 2.4.0 2027-03-14 14:00 <@U_QA|qa>")
    release = harness.release("payments@2.4.0")
    assert release.target_at == datetime(2027, 3, 14, 18, 0, tzinfo=UTC)  # 14:00 EDT
    day_before = rows(harness)[("before", 1440)].due_at
    assert day_before == datetime(2027, 3, 13, 18, 0, tzinfo=UTC)  # 13:00 EST: 24 h earlier


def test_proposing_plans_every_reminder(harness: Harness) -> None:
    target = target_in()
    propose_release(harness, target)
    planned = rows(harness)
    assert {k: (r.due_at, r.status) for k, r in planned.items()} == {
        ("before", 1440): (target - timedelta(hours=24), "pending"),
        ("before", 60): (target - timedelta(hours=1), "pending"),
        ("window_open", 0): (target, "pending"),
        ("overdue", -120): (target + timedelta(hours=2), "pending"),
    }


# --- delivery -----------------------------------------------------------------------------


def test_reminders_say_what_is_missing_and_dm_pending_approvers(harness: Harness) -> None:
    target = target_in()
    propose_release(harness, target, "<@U_QA|qa> <@U_PM|pm> <!subteam^S_QA|@qa>")
    scheduler = harness.bot.scheduler
    harness.slack.clear()

    harness.clock.pin(target - timedelta(hours=24) + timedelta(seconds=1))
    assert scheduler.run_due() == 1
    assert scheduler.run_due() == 0  # exactly once
    [thread] = [c for c in harness.slack.calls("chat.postMessage") if c.args.get("thread_ts")]
    text = rendered_text(thread.args)
    assert "Still missing" in text and "<@U_QA>" in text and "<!subteam^S_QA>" in text
    assert "“Rollback plan ready” is not ticked" in text
    dms = {
        c.args["channel"]
        for c in harness.slack.calls("chat.postMessage")
        if not c.args.get("thread_ts")
    }
    assert dms == {"U_QA", "U_PM"}

    # At the target both the 1-hour reminder and the window are due: only the window is
    # worth sending, the other is recorded as skipped.
    harness.slack.clear()
    harness.clock.pin(target + timedelta(minutes=1))
    assert scheduler.run_due() == 1
    assert rows(harness)[("before", 60)].status == "skipped"
    [window] = harness.slack.calls("chat.postMessage")
    assert "release window for *payments@2.4.0* is open" in rendered_text(window.args)

    harness.slack.clear()
    harness.clock.pin(target + timedelta(hours=2, seconds=1))
    assert scheduler.run_due() == 1
    [nudge] = harness.slack.calls("chat.postMessage")
    assert nudge.args["channel"] == OWNER and "not released yet" in rendered_text(nudge.args)


def test_rescheduling_moves_reminders_and_cancelling_removes_them(harness: Harness) -> None:
    target = target_in()
    propose_release(harness, target)
    harness.clock.pin(target - timedelta(hours=24) + timedelta(seconds=1))
    assert harness.bot.scheduler.run_due() == 1
    assert rows(harness)[("before", 1440)].status == "sent"

    later = target + timedelta(days=2)
    harness.command(f"update payments@2.4.0 when={later:%Y-%m-%dT%H:%MZ}")
    moved = rows(harness)
    assert moved[("before", 1440)].due_at == later - timedelta(hours=24)
    assert moved[("before", 1440)].status == "pending"  # sent for the old time, due again
    assert moved[("window_open", 0)].due_at == later

    harness.command("cancel payments@2.4.0")
    assert all(r.status != "pending" for r in rows(harness).values())
    harness.clock.pin(later + timedelta(minutes=1))
    harness.slack.clear()
    assert harness.bot.scheduler.run_due() == 0
    assert harness.slack.calls("chat.postMessage") == []


def test_finishing_a_release_removes_its_reminders(harness: Harness) -> None:
    target = target_in()
    propose_release(harness, target, "")
    for position in range(5):
        harness.tick(harness.release("payments@2.4.0"), position)
    harness.command("go payments@2.4.0")
    harness.command("done payments@2.4.0")
    assert [r for r in rows(harness).values() if r.status == "pending"] == []


def new_scheduler(harness: Harness) -> ReminderScheduler:
    messages = harness.bot.deps.messages
    return ReminderScheduler(
        harness.bot.db,
        reminder_messages.said,
        messages.flush,
        clock=harness.clock,
        sweep_interval=None,
    )


def owed(harness: Harness) -> list[OutboxMessage]:
    """The reminders' messages the outbox holds (thread replies and direct messages)."""
    with harness.session() as session:
        return [
            m
            for m in session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))
            if m.kind == MessageKind.DIRECT or "due" in m.text or "window" in m.text
        ]


def test_restart_sends_a_missed_reminder_once_and_skips_useless_ones(harness: Harness) -> None:
    target = target_in()
    propose_release(harness, target)
    harness.slack.clear()
    # The bot was down when the 24 h reminder was due; the release is still ahead.
    harness.clock.pin(target - timedelta(hours=3))
    first = new_scheduler(harness)
    first.start()
    assert first.scheduled_job_count() == 3  # 1 h, window, overdue still ahead
    first.shutdown()
    second = new_scheduler(harness)
    second.start()  # a second start (or replica) sends nothing more
    second.shutdown()
    assert len([c for c in harness.slack.calls("chat.postMessage") if c.args.get("thread_ts")]) == 1
    assert rows(harness)[("before", 1440)].status == "sent"

    # Down again until after the window closed: the 1 h and window reminders are useless.
    harness.clock.pin(target + timedelta(hours=1, minutes=30))
    third = new_scheduler(harness)
    third.start()
    third.shutdown()
    planned = rows(harness)
    assert planned[("before", 60)].status == "skipped"
    assert planned[("window_open", 0)].status == "skipped"
    assert planned[("overdue", -120)].status == "pending"


def test_apscheduler_fires_an_exact_time_job(harness: Harness) -> None:
    # Real time: the 1 h reminder falls due a second from now.
    target = datetime.now(UTC) + timedelta(hours=1, seconds=1)
    harness.command(f"propose payments 2.4.0 {target.isoformat()} <@U_QA|qa>")
    messages = harness.bot.deps.messages
    scheduler = ReminderScheduler(
        harness.bot.db, reminder_messages.said, messages.flush, sweep_interval=None
    )
    scheduler.start()
    try:
        harness.slack.wait_for(
            "chat.postMessage", lambda c: "is due" in str(c.args.get("text")), timeout=10
        )
    finally:
        scheduler.shutdown()
    assert rows(harness)[("before", 60)].status == "sent"


# --- Slack failures -----------------------------------------------------------------------


def test_a_permanent_slack_error_is_not_retried_and_the_scheduler_goes_on(
    harness: Harness,
) -> None:
    target = target_in()
    propose_release(harness, target)
    harness.slack.fail_next("chat.postMessage", error="channel_not_found")
    harness.clock.pin(target - timedelta(hours=24) + timedelta(seconds=1))
    assert harness.bot.scheduler.run_due() == 1
    refused, dm = owed(harness)
    assert (refused.status, refused.last_error) == ("failed", "channel_not_found")
    assert (dm.kind, dm.status) == ("direct", "sent")  # the approver still hears of it
    assert rows(harness)[("before", 1440)].status == "sent"
    harness.slack.clear()
    harness.clock.advance(timedelta(days=2))
    harness.bot.deps.messages.deliver_due()
    assert reminder_posts(harness) == []  # refused for good: never tried again
    harness.clock.pin(target - timedelta(minutes=59))
    assert harness.bot.scheduler.run_due() == 1  # the next one still goes
    assert len([p for p in reminder_posts(harness) if "is due" in p]) == 2  # thread and DM


def test_a_temporary_error_is_retried_by_the_outbox(harness: Harness) -> None:
    target = target_in()
    propose_release(harness, target)
    harness.slack.fail_next("chat.postMessage", error="internal_error")
    due_at = target - timedelta(hours=24) + timedelta(seconds=1)
    harness.clock.pin(due_at)
    assert harness.bot.scheduler.run_due() == 1
    retry, _dm = owed(harness)
    assert (retry.status, retry.attempts) == ("pending", 1)
    assert retry.due_at == due_at + timedelta(seconds=5)
    assert harness.bot.scheduler.run_due() == 0  # the reminder is done: the outbox has it
    harness.clock.advance(timedelta(seconds=6))
    harness.bot.deps.messages.deliver_due()
    assert [m.status for m in owed(harness)] == ["sent", "sent"]
    assert len(reminder_posts(harness)) == 2  # the thread reply and the approver's DM


def test_a_rate_limited_reminder_is_retried_by_the_outbox_and_posted_once(
    harness: Harness,
) -> None:
    target = target_in()
    propose_release(harness, target, "<@U_QA|qa>")
    harness.slack.clear()
    # More 429s than the Slack client's own retries wait out: the outbox tries again.
    harness.slack.rate_limit_next("chat.postMessage", times=4, retry_after=0)
    harness.clock.pin(target - timedelta(hours=24) + timedelta(seconds=1))
    assert harness.bot.scheduler.run_due() == 1
    assert [m.status for m in owed(harness)] == ["pending", "pending"]  # the DM waits its turn
    assert reminder_posts(harness) == []
    harness.clock.advance(timedelta(seconds=6))
    harness.bot.deps.messages.deliver_due()
    assert [m.status for m in owed(harness)] == ["sent", "sent"]
    [thread] = [
        c for c in harness.slack.calls("chat.postMessage") if c.ok and c.args.get("thread_ts")
    ]
    assert "is due" in rendered_text(thread.args)
    assert [c.args["channel"] for c in harness.slack.calls("chat.postMessage") if c.ok] == [
        thread.args["channel"],
        "U_QA",
    ]


def test_an_inactive_approver_does_not_block_the_others(harness: Harness) -> None:
    target = target_in()
    propose_release(harness, target, "<@U_QA|qa> <@U_PM|pm>")
    harness.clock.pin(target - timedelta(hours=24) + timedelta(seconds=1))
    harness.slack.fail_next("chat.postMessage", error="account_inactive", after=1)
    assert harness.bot.scheduler.run_due() == 1
    assert [m.status for m in owed(harness)] == ["sent", "failed", "sent"]
    assert "U_PM" in {c.args["channel"] for c in harness.slack.calls("chat.postMessage") if c.ok}


# --- two processes, one database ----------------------------------------------------------


def test_two_schedulers_on_postgresql_deliver_200_reminders_exactly_once(
    postgres_url: str, fake_slack: FakeSlack
) -> None:
    now = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
    db = Database(postgres_url)
    with db.session() as session:
        for n in range(200):
            release = write_release(
                session,
                Proposal(
                    team_id="T0001",
                    owner_id="U_OWNER",
                    channel_id="C_RELEASES",
                    service=f"svc{n}",
                    version="1.0",
                    target_at=now + timedelta(hours=2),
                ),
                now=now - timedelta(minutes=5),
            )
            release.message_ts = f"1700000000.{n:06d}"
            planning.plan(session, release, [timedelta(hours=2)], now - timedelta(minutes=5))
    db.dispose()

    def replica(sent: list[int]) -> None:
        own_db = Database(postgres_url)
        client = WebClient(token=fake_slack.token, base_url=fake_slack.api_url)
        clock = lambda: now + timedelta(seconds=1)  # noqa: E731
        messages = MessageSender(own_db, client, announce_channel=None, clock=clock)
        scheduler = ReminderScheduler(
            own_db, reminder_messages.said, messages.flush, clock=clock, sweep_interval=None
        )
        sent.append(scheduler.run_due())
        own_db.dispose()

    counts: list[int] = []
    threads = [threading.Thread(target=replica, args=(counts,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(counts) == 200
    posted = [c.args["thread_ts"] for c in fake_slack.calls("chat.postMessage")]
    assert len(posted) == 200 and len(set(posted)) == 200
    db = Database(postgres_url)
    with db.session() as session:
        statuses = [r.status for r in session.exec(select(Reminder)) if r.kind == "before"]
        replies = list(session.exec(select(OutboxMessage)))
    db.dispose()
    assert statuses == [ReminderStatus.SENT.value] * 200
    # Each reminder owed once, through the outbox, and sent.
    assert len(replies) == 200 and {m.status for m in replies} == {OutboxStatus.SENT.value}
    assert len({m.release_id for m in replies}) == 200
