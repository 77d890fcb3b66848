"""The weekly digest (policy key `digest`) is posted at its time in its channel, once a
week: two processes sharing one database post it once, and a restart posts no second one;
it names only what the channel it is posted in may see."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.sandbox.slack_standin import FakeSlack
from tests.support.harness import Harness, iso, rendered_text

pytestmark = [pytest.mark.both_databases, pytest.mark.clock]

PM = "U_PM"
ANNOUNCE = "C_ANNOUNCE"
BEFORE = datetime(2026, 10, 19, 6, 0, tzinfo=UTC)  # Monday 08:00 in Berlin
DUE = datetime(2026, 10, 19, 7, 1, tzinfo=UTC)  # Monday 09:01 in Berlin
AT = datetime(2026, 10, 21, 10, 0, tzinfo=UTC)


def bot(database_url: str, fake_slack: FakeSlack) -> Harness:
    return Harness(database_url, fake_slack, RELEASEBOT_RELEASE_MANAGERS=PM)


@pytest.fixture
def harness(database_url: str, fake_slack: FakeSlack) -> Iterator[Harness]:
    with bot(database_url, fake_slack) as running:
        running.clock.pin(BEFORE)
        yield running


def digests(harness: Harness) -> list[str]:
    return [
        rendered_text(m) for m in harness.slack.messages(ANNOUNCE) if "The week ahead" in str(m)
    ]


def run_sweeps(*harnesses: Harness) -> None:
    """Start each bot's scheduler at once (a start runs every sweep), then stop them."""
    starts = [threading.Thread(target=h.bot.scheduler.start) for h in harnesses]
    for thread in starts:
        thread.start()
    for thread in starts:
        thread.join()
    for h in harnesses:
        h.bot.scheduler.shutdown()


def test_the_digest_is_posted_once_by_two_processes_and_not_again_after_a_restart(
    harness: Harness, database_url: str, fake_slack: FakeSlack
) -> None:
    fake_slack.add_channel(ANNOUNCE, "eng-announce")
    harness.command(
        f"policy set digest <#{ANNOUNCE}|eng-announce> mon 09:00 Europe/Berlin", user_id=PM
    )
    harness.command(f"propose payments 2.4.0 {iso(AT)}")
    harness.command(f"propose vault 1.0 {iso(AT)} <@U_QA>", channel_id="G_SECRET")
    with bot(database_url, fake_slack) as other:
        # Before its time: nothing.
        other.clock.pin(BEFORE)
        run_sweeps(other)
        assert digests(harness) == []
    with bot(database_url, fake_slack) as first, bot(database_url, fake_slack) as second:
        first.clock.pin(DUE)
        second.clock.pin(DUE)
        run_sweeps(first, second)
    posted = digests(harness)
    assert len(posted) == 1, posted
    assert "payments@2.4.0" in posted[0]
    assert "vault@1.0" not in posted[0]  # #eng-announce may not see a private release
    # A restart later that day posts nothing more; the next week's time posts again.
    with bot(database_url, fake_slack) as restarted:
        restarted.clock.pin(DUE + timedelta(hours=3))
        run_sweeps(restarted)
    assert len(digests(harness)) == 1
    # Next Monday Berlin is on CET: 09:00 is an hour later in UTC.
    with bot(database_url, fake_slack) as next_week:
        next_week.clock.pin(DUE + timedelta(days=7))
        run_sweeps(next_week)
        assert len(digests(harness)) == 1
    with bot(database_url, fake_slack) as next_week:
        next_week.clock.pin(DUE + timedelta(days=7, hours=1))
        run_sweeps(next_week)
    assert len(digests(harness)) == 2
