"""`/release slot` over the Slack wire: the next three free windows inside the release
hours (across a DST change), outside a weekly and a one-off freeze, and clear of the
releases a window would conflict with; each shown in the reader's own time zone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.sandbox.slack_standin import FakeSlack
from tests.support.harness import Harness

pytestmark = pytest.mark.clock

PM = "U_PM"
NOW = datetime(2026, 10, 20, 6, 0, tzinfo=UTC)  # a Tuesday; Berlin leaves CEST on Oct 25
HOURS = "mon-fri 09:00-16:00 Europe/Berlin"


@pytest.fixture
def harness(database_url: str, fake_slack: FakeSlack) -> Iterator[Harness]:
    with Harness(database_url, fake_slack, RELEASEBOT_RELEASE_MANAGERS=PM) as running:
        running.clock.pin(NOW)
        yield running


def said(harness: Harness, text: str, user_id: str = "U_OWNER") -> str:
    return harness.private_reply(harness.command(text, user_id=user_id))


def windows(answer: str) -> list[str]:
    """The windows' starts, as the `<!date>` tokens' fallbacks say them (UTC)."""
    return [
        line.split("|", 1)[1].split(">", 1)[0]
        for line in answer.splitlines()
        if line.startswith("• <!date^")
    ]


def test_slots_skip_a_weekly_freeze_and_follow_the_hours_across_a_dst_change(
    harness: Harness,
) -> None:
    said(harness, f"policy set release-hours {HOURS}", PM)
    said(harness, 'freeze add "Weekend" every fri 12:00 to mon 10:00 tz Europe/Berlin', PM)
    # Friday 11:00 CEST: an hour before the freeze, too short for two hours; Monday is
    # CET: the hours open at 08:00 UTC, the freeze ends at 10:00 Berlin, 09:00 UTC.
    answer = said(harness, "slot payments 2h after 2026-10-23T09:00Z")
    assert windows(answer) == [
        "2026-10-26 09:00 UTC",
        "2026-10-26 11:00 UTC",
        "2026-10-26 13:00 UTC",
    ], answer
    assert "Next free windows for payments" in answer


def test_slots_skip_a_one_off_freeze_and_a_release_of_the_service(harness: Harness) -> None:
    said(harness, f"policy set release-hours {HOURS}", PM)
    said(harness, 'freeze add "Launch" 2026-10-21T08:00Z to 2026-10-21T12:00Z', PM)
    harness.command("propose payments 1.0 2026-10-21T12:00Z")
    # The service's window (60 minutes) by default; from now, Tuesday 08:00 Berlin.
    answer = said(harness, "slot payments after 2026-10-21T06:00Z")
    assert windows(answer) == [
        "2026-10-21 07:00 UTC",
        "2026-10-21 13:00 UTC",
        "2026-10-22 07:00 UTC",
    ], answer
    # Another service is not held by that release, only by the workspace's hours.
    other = said(harness, "slot search 1h after 2026-10-21T12:00Z")
    assert windows(other)[0] == "2026-10-21 12:00 UTC", other


def test_a_bad_slot_command_is_refused_privately(harness: Harness) -> None:
    assert "is not a length" in said(harness, "slot payments forever")
    assert "Name the service" in said(harness, "slot")
