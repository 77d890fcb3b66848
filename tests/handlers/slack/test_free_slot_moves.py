"""The "Move to next free slot" button over the Slack wire: under a conflict warning and a
freeze refusal, for the owner alone (others are refused privately), confirmed first, a
reschedule that keeps sign-offs and bumps SEQUENCE, and a second click moves it no more."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.sandbox.slack_standin import FakeSlack
from handlers.slack_kit import ids
from models.release.records import ReleaseStatus
from tests.support.harness import CHANNEL, OWNER, Harness, iso, rendered_text

pytestmark = pytest.mark.clock

PM = "U_PM"
NOW = datetime(2026, 10, 20, 6, 0, tzinfo=UTC)  # a Tuesday
AT = datetime(2026, 10, 21, 10, 0, tzinfo=UTC)


@pytest.fixture
def harness(database_url: str, fake_slack: FakeSlack) -> Iterator[Harness]:
    with Harness(database_url, fake_slack, RELEASEBOT_RELEASE_MANAGERS=PM) as running:
        running.clock.pin(NOW)
        yield running


def private_message(harness: Harness, text: str, user_id: str = OWNER) -> dict[str, Any]:
    """Run `text`; the last message the person alone was shown, as Slack holds it."""
    url = harness.slack.new_response_url(channel_id=CHANNEL, user_id=user_id)
    harness.command(text, user_id=user_id, response_url=url)
    message: dict[str, Any] = harness.slack.ephemerals(CHANNEL, user_id)[-1]["message"]
    return message


def move_button(message: dict[str, Any]) -> dict[str, Any]:
    return next(
        element
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element.get("action_id") == ids.MOVE_TO_FREE_SLOT
    )


def click_move(harness: Harness, message: dict[str, Any], user_id: str) -> str:
    url = harness.slack.new_response_url(channel_id=CHANNEL, user_id=user_id)
    harness.click(
        message,
        ids.MOVE_TO_FREE_SLOT,
        user_id=user_id,
        is_ephemeral=True,
        response_url=url,
    )
    return rendered_text(harness.slack.ephemerals(CHANNEL, user_id)[-1]["message"])


def test_a_conflict_warning_moves_the_owners_release_once(harness: Harness) -> None:
    harness.command(f"propose payments 2.4.0 {iso(AT)}")
    warned = private_message(
        harness, f"propose payments 2.5.0 {iso(AT + timedelta(minutes=30))} <@U_QA>"
    )
    assert "same service" in rendered_text(warned)
    button = move_button(warned)
    # The confirm dialog names the new time: right after the other's window.
    free = AT + timedelta(minutes=60)
    assert f"<!date^{int(free.timestamp())}^" in json.dumps(button["confirm"])
    release = harness.release("payments@2.5.0")
    harness.click(
        harness.slack.message(CHANNEL, release.message_ts or ""), ids.APPROVE, user_id="U_QA"
    )
    # Someone else is refused, privately; nothing moves.
    refused = click_move(harness, warned, "U_OTHER")
    assert "Only <@U_OWNER>" in refused
    assert harness.release("payments@2.5.0").target_at == AT + timedelta(minutes=30)
    moved = click_move(harness, warned, OWNER)
    assert "is moved to" in moved
    after = harness.release("payments@2.5.0")
    assert after.target_at == free
    assert after.sequence == release.sequence + 1
    assert after.status == ReleaseStatus.APPROVED  # the sign-off is kept
    assert "same service" not in rendered_text(harness.card(after))
    # A second click of the same offer moves it no more.
    again = click_move(harness, warned, OWNER)
    assert "was moved since" in again
    assert harness.release("payments@2.5.0").target_at == free
    assert harness.release("payments@2.5.0").sequence == after.sequence


def test_a_freeze_refusal_offers_the_owner_the_next_slot_after_it(harness: Harness) -> None:
    harness.command(f"propose payments 2.4.0 {iso(NOW + timedelta(hours=1))}")
    release = harness.release("payments@2.4.0")
    for position in range(5):
        harness.tick(release, position)
    assert harness.release("payments@2.4.0").status == ReleaseStatus.APPROVED
    until = NOW + timedelta(hours=3)
    harness.command(f'freeze add "Incident" now to {iso(until)}', user_id=PM)
    refused = private_message(harness, "go payments@2.4.0")
    assert "Can't give the go" in rendered_text(refused)
    assert f"<!date^{int(until.timestamp())}^" in json.dumps(move_button(refused)["confirm"])
    assert "is moved to" in click_move(harness, refused, OWNER)
    assert harness.release("payments@2.4.0").target_at == until
