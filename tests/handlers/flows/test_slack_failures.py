"""When Slack fails mid-change: the change stands, what it owes Slack is sent later, none
of it twice, and the person is told the truth. No database transaction waits on Slack."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import col, select

from bot.sandbox.slack_standin import FakeSlack
from handlers.slack_kit import ids
from models.audit import AuditEvent
from models.outbox import OutboxMessage, OutboxStatus
from models.release.records import Release, ReleaseStatus
from tests.support.harness import CHANNEL, OWNER, Harness, ahead, iso, rendered_text

# On PostgreSQL too: the outbox's claims and retries.
pytestmark = pytest.mark.both_databases

ANNOUNCE = "CANNOUNCE"


@pytest.fixture
def harness(database_url: str, fake_slack: FakeSlack) -> Iterator[Harness]:
    with Harness(database_url, fake_slack, RELEASEBOT_ANNOUNCE_CHANNEL=ANNOUNCE) as running:
        yield running


def retry_later(harness: Harness) -> None:
    """Let the retry pauses pass, then run the outbox's sweep (the scheduler's job)."""
    harness.clock.advance(timedelta(minutes=1))
    harness.bot.deps.messages.deliver_due()


def private_answer(harness: Harness) -> str:
    posts = harness.slack.calls("response_url") + harness.slack.calls("chat.postEphemeral")
    assert posts, "nothing was said privately"
    return rendered_text(posts[-1].args)


def cards(harness: Harness) -> list[dict]:
    return [
        m
        for m in harness.slack.messages(CHANNEL)
        if m.get("thread_ts") in (None, m["ts"]) and "Release " in rendered_text(m)
    ]


def assert_every_card_has_its_release_and_back(harness: Harness) -> None:
    posted = {m["ts"] for m in cards(harness)}
    recorded = {r.message_ts for r in harness.releases()}
    assert posted == recorded, (posted, recorded)


def unsent(harness: Harness) -> list[OutboxMessage]:
    with harness.session() as session:
        return list(
            session.exec(
                select(OutboxMessage).where(OutboxMessage.status != OutboxStatus.SENT.value)
            )
        )


@pytest.mark.clock
def test_a_card_slack_does_not_take_is_posted_later_with_its_checklist(
    harness: Harness,
) -> None:
    harness.clock.pin(ahead(days=0.5))
    harness.slack.fail_next("chat.postMessage", error="internal_error")
    harness.command(f"propose payments 2.4.0 {iso(ahead())} <@U_QA|qa>")
    release = harness.release("payments@2.4.0")
    assert release.message_ts is None and release.status == ReleaseStatus.PROPOSED
    told = private_answer(harness)
    assert "Slack didn't take its card yet" in told and "keep trying" in told

    retry_later(harness)
    release = harness.release("payments@2.4.0")
    assert release.message_ts and release.checklist_ts
    assert harness.checklist(release)["thread_ts"] == release.message_ts
    assert_every_card_has_its_release_and_back(harness)
    assert unsent(harness) == []


def test_a_checklist_slack_does_not_take_after_the_card_is_posted_later(
    harness: Harness,
) -> None:
    """The review's case: the card went out, the checklist post failed. The release stays
    with its card (live buttons on a release that exists), and the checklist follows."""
    harness.clock.pin(ahead(days=0.5))
    harness.slack.fail_next("chat.postMessage", error="internal_error", after=1)
    harness.command(f"propose payments 2.4.0 {iso(ahead())} <@U_QA|qa>")
    release = harness.release("payments@2.4.0")
    assert release.message_ts and release.checklist_ts is None
    assert "Slack didn't take its checklist yet" in private_answer(harness)
    assert_every_card_has_its_release_and_back(harness)

    harness.click(harness.card(release), ids.APPROVE, user_id="U_QA")  # the card works
    retry_later(harness)
    release = harness.release("payments@2.4.0")
    assert release.status == ReleaseStatus.APPROVED and release.checklist_ts
    assert unsent(harness) == []


def test_a_card_slack_refuses_for_good_leaves_no_release_and_no_card(harness: Harness) -> None:
    harness.slack.fail_next("chat.postMessage", error="not_in_channel")
    harness.command(f"propose payments 2.4.0 {iso(ahead())}")
    assert "/invite @releasebot" in private_answer(harness)
    assert harness.releases() == []
    assert cards(harness) == []


def test_a_failed_announcement_after_go_is_retried_and_the_owner_told_the_truth(
    harness: Harness,
) -> None:
    harness.clock.pin(ahead(days=0.5))
    harness.command(f"propose payments 2.4.0 {iso(ahead())}")
    release = harness.release("payments@2.4.0")
    for position in range(5):
        harness.tick(release, position)
    harness.slack.fail_next("chat.postMessage", error="internal_error")
    harness.click(harness.checklist(release), ids.GO, user_id=OWNER)

    release = harness.release("payments@2.4.0")
    assert release.status == ReleaseStatus.GO and release.announcement_ts is None
    told = private_answer(harness)
    assert "recorded as go" in told and "keep trying" in told
    assert "nothing was changed" not in told.lower()

    retry_later(harness)
    release = harness.release("payments@2.4.0")
    assert release.announcement_channel == ANNOUNCE and release.announcement_ts
    announcement = harness.announcement(release)
    harness.click(announcement, ids.MARK_RELEASED, user_id=OWNER, channel_id=ANNOUNCE)
    assert harness.release("payments@2.4.0").status == ReleaseStatus.RELEASED
    assert any("announced" in t for t in harness.thread(release))


def test_a_post_whose_answer_was_lost_is_found_not_posted_twice(harness: Harness) -> None:
    harness.clock.pin(datetime.now(UTC))  # Slack's message times are real ones
    harness.slack.drop_reply_next("chat.postMessage")  # the card arrives; its answer doesn't
    harness.command(f"propose payments 2.4.0 {iso(ahead())}")
    assert len(cards(harness)) == 1
    assert harness.release("payments@2.4.0").message_ts is None

    retry_later(harness)
    release = harness.release("payments@2.4.0")
    assert len(cards(harness)) == 1, "the card was posted twice"
    assert release.message_ts == cards(harness)[0]["ts"]
    assert harness.checklist(release)["thread_ts"] == release.message_ts
    assert harness.slack.calls("conversations.history")
    assert unsent(harness) == []


def test_no_transaction_waits_on_slack(harness: Harness) -> None:
    """While Slack holds the card's post, another person's command that writes (a calendar
    link) is answered: the proposal's transaction committed before it called Slack."""
    gate = harness.slack.hold_next("chat.postMessage")
    try:
        proposed = harness.client.command(f"propose payments 2.4.0 {iso(ahead())}")
        assert proposed.status_code == 200
        for _ in range(200):  # until the proposal is written (the post is then held)
            if harness.releases():
                break
            threading.Event().wait(0.05)
        try:
            calendar = harness.client.command("calendar", user_id="U_QA", channel_id=CHANNEL)
        except httpx.TimeoutException:
            pytest.fail("the calendar command waited for Slack to answer another's post")
    finally:
        gate.set()
    assert calendar.status_code == 200
    harness.wait()
    assert "calendar" in harness.private_reply(calendar).lower()
    assert harness.release("payments@2.4.0").message_ts


def audit_actions(harness: Harness, release_id: int | None) -> list[tuple[str, str]]:
    with harness.session() as session:
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.release_id == release_id)
            .order_by(col(AuditEvent.id))
        )
        return [(e.action, e.actor_id) for e in events]


@pytest.mark.clock
def test_a_touched_release_whose_card_is_refused_for_good_is_cancelled_on_the_record(
    harness: Harness,
) -> None:
    harness.clock.pin(ahead(days=0.5))
    harness.slack.fail_next("chat.postMessage", error="internal_error")
    harness.command(f"propose payments 2.4.0 {iso(ahead())}")
    harness.command("update payments@2.4.0 notes=first")  # touched: on the record now
    harness.slack.fail_next("chat.postMessage", error="channel_not_found")
    retry_later(harness)
    release = harness.release("payments@2.4.0")
    assert release.status == ReleaseStatus.CANCELLED
    assert release.status_reason == "its card could not be posted (channel_not_found)"
    assert release.status_by is None
    cancelled = [a for a in audit_actions(harness, release.id) if a[0] == "cancelled"]
    assert cancelled == [("cancelled", "system")]
    with harness.session() as session:
        event = session.exec(
            select(AuditEvent).where(
                AuditEvent.release_id == release.id, AuditEvent.action == "cancelled"
            )
        ).one()
    # The lifecycle's record: the release as it was and as it is (not just its status).
    assert event.before is not None and event.after is not None
    assert (event.before["status"], event.after["status"]) == ("approved", "cancelled")
    assert event.after["notes"] == "first"


@pytest.mark.clock
def test_a_release_past_its_go_stays_when_its_card_is_refused_for_good(
    harness: Harness,
) -> None:
    """The state rules say a release given the go may no longer be cancelled: it stays."""
    harness.clock.pin(ahead(days=0.5))
    harness.slack.fail_next("chat.postMessage", error="internal_error")
    harness.command(f"propose payments 2.4.0 {iso(ahead())}")
    assert harness.release("payments@2.4.0").message_ts is None
    # Given the go meanwhile (its checklist waits for the card, so it is set here).
    with harness.session() as session:
        row = session.exec(select(Release)).one()
        row.status = ReleaseStatus.GO.value
        session.add(row)
    harness.slack.fail_next("chat.postMessage", error="channel_not_found", times=5)
    retry_later(harness)
    release = harness.release("payments@2.4.0")
    assert release.status == ReleaseStatus.GO
    assert "cancelled" not in [a for a, _ in audit_actions(harness, release.id)]
