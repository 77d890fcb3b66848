"""`/release digest` over the Slack wire: the week ahead for the person alone, now: the
releases of the next seven days by day with status and owner, conflicts marked, the
freezes, and last week's figures; only what the reader may see."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.sandbox.slack_standin import FakeSlack
from tests.support.harness import Harness, iso

pytestmark = pytest.mark.clock

PM = "U_PM"
NOW = datetime(2026, 10, 19, 6, 0, tzinfo=UTC)  # a Monday
AT = datetime(2026, 10, 21, 10, 0, tzinfo=UTC)  # Wednesday


@pytest.fixture
def harness(database_url: str, fake_slack: FakeSlack) -> Iterator[Harness]:
    with Harness(database_url, fake_slack, RELEASEBOT_RELEASE_MANAGERS=PM) as running:
        running.clock.pin(NOW)
        yield running


def digest(harness: Harness, user_id: str) -> str:
    return harness.private_reply(harness.command("digest", user_id=user_id))


def test_the_digest_shows_the_week_ahead_as_the_reader_may_see_it(harness: Harness) -> None:
    harness.command(f"propose payments 2.4.0 {iso(AT)}")
    harness.command(f"propose payments 2.5.0 {iso(AT + timedelta(minutes=30))}")
    harness.command(
        f"propose vault 1.0 {iso(AT + timedelta(days=1))} <@U_QA>", channel_id="G_SECRET"
    )
    harness.command(f"propose search 3.0 {iso(AT + timedelta(days=10))}")  # not this week
    harness.command(
        f'freeze add "Thursday" {iso(AT + timedelta(days=1))} to '
        f"{iso(AT + timedelta(days=1, hours=4))}",
        user_id=PM,
    )
    shown = digest(harness, "U_OTHER")
    assert "The week ahead" in shown
    assert "Wednesday 21 October" in shown
    assert "*payments@2.4.0*" in shown and "<@U_OWNER>" in shown
    assert shown.count(":warning: conflicts") == 2
    assert "vault@1.0" not in shown  # private: not this reader's
    assert "search@3.0" not in shown  # beyond the week
    assert "Thursday" in shown and "Freezes" in shown
    assert "*Last week*: 0 released · 0 rolled back" in shown
    assert "vault@1.0" in digest(harness, "U_QA")  # its approver sees it


def test_the_digest_key_takes_a_channel_i_am_in_a_weekday_a_time_and_a_zone(
    harness: Harness, fake_slack: FakeSlack
) -> None:
    assert "*digest*: none" in harness.private_reply(harness.command("policy", user_id=PM))
    for value in ("nowhere", "<#C_ANNOUNCE|a> someday 09:00 UTC", "<#C_ANNOUNCE|a> mon 9am UTC"):
        refused = harness.private_reply(harness.command(f"policy set digest {value}", user_id=PM))
        assert "#eng-announce mon 09:00 Europe/Berlin" in refused, refused
    fake_slack.add_channel("C_ANNOUNCE", "eng-announce")
    set_it = harness.private_reply(
        harness.command("policy set digest <#C_ANNOUNCE|a> mon 09:00 Europe/Berlin", user_id=PM)
    )
    assert "<#C_ANNOUNCE> mon 09:00 Europe/Berlin" in set_it, set_it
