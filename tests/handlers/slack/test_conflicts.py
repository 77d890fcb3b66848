"""Conflicts and release hours over the Slack wire and the API: a release's window against
the other open releases (same service, dependencies, max-concurrent in its channel) and the
channel's or service's release hours. Each is a warning, never a refusal; a release the
reader may not see is "another release you can't see"."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.sandbox.slack_standin import FakeSlack
from handlers.slack_kit import ids
from models.release.records import Release
from tests.handlers.api.conftest import api, make_token
from tests.support.harness import Harness, iso, rendered_text

# Weekdays, times of day and a DST change: pinned clock.
pytestmark = pytest.mark.clock

PM = "U_PM"
PRIVATE = "G_SECRET"
NOW = datetime(2026, 10, 20, 6, 0, tzinfo=UTC)  # a Tuesday; Berlin leaves CEST on Oct 25
AT = datetime(2026, 10, 21, 10, 0, tzinfo=UTC)
HIDDEN = "another release you can't see"


@pytest.fixture
def harness(database_url: str, fake_slack: FakeSlack) -> Iterator[Harness]:
    with Harness(database_url, fake_slack, RELEASEBOT_RELEASE_MANAGERS=PM) as running:
        running.clock.pin(NOW)
        yield running


def said(
    harness: Harness, text: str, user_id: str = "U_OWNER", channel_id: str = "C_RELEASES"
) -> str:
    return harness.private_reply(harness.command(text, user_id=user_id, channel_id=channel_id))


def card(harness: Harness, ref: str) -> str:
    return rendered_text(harness.card(harness.release(ref)))


def propose(
    harness: Harness,
    ref: str,
    when: datetime = AT,
    user_id: str = "U_OWNER",
    channel_id: str = "C_RELEASES",
) -> str:
    """Propose `ref` at `when`; what the proposer alone read ("" when nothing)."""
    service, version = ref.split("@")
    before = len(harness.slack.calls("response_url"))
    harness.command(
        f"propose {service} {version} {iso(when)}", user_id=user_id, channel_id=channel_id
    )
    release: Release = harness.release(ref)  # proposed, whatever it conflicts with
    assert release.message_ts
    posts = harness.slack.calls("response_url")[before:]
    return "\n".join(rendered_text(p.args) for p in posts)


def test_two_releases_of_one_service_in_one_window_are_warned_about_not_refused(
    harness: Harness,
) -> None:
    assert propose(harness, "payments@2.4.0") == ""
    assert ":warning:" not in card(harness, "payments@2.4.0")
    answer = propose(harness, "payments@2.5.0", AT + timedelta(minutes=30))
    assert "payments@2.4.0" in answer and "same service" in answer
    shown = card(harness, "payments@2.5.0")
    assert "payments@2.4.0" in shown and "same service" in shown
    assert "payments@2.5.0" in card(harness, "payments@2.4.0")  # the other's card too
    # Right after the other's window: no conflict.
    assert propose(harness, "payments@2.6.0", AT + timedelta(minutes=90)) == ""


def test_depends_on_warns_both_ways(harness: Harness) -> None:
    said(harness, "policy checkout set depends-on payments, search", PM)
    propose(harness, "payments@1.0")
    answer = propose(harness, "checkout@2.0", AT + timedelta(minutes=15))
    assert "payments@1.0" in answer and "checkout depends on payments" in answer
    # search is proposed later: checkout, which depends on it, overlaps.
    answer = propose(harness, "search@3.0", AT + timedelta(minutes=45))
    assert "checkout@2.0" in answer and "checkout depends on search" in answer
    assert "payments" not in answer  # search and payments don't depend on each other


def test_more_than_max_concurrent_in_a_channel_is_warned_about(harness: Harness) -> None:
    said(harness, "policy set max-concurrent 2", PM)
    propose(harness, "a@1")
    assert propose(harness, "b@1", AT + timedelta(minutes=20)) == ""
    answer = propose(harness, "c@1", AT + timedelta(minutes=40))
    assert "more than 2 releases of this channel at once" in answer
    assert "a@1" in answer and "b@1" in answer
    # Elsewhere the limit is not this channel's.
    assert propose(harness, "d@1", channel_id="C_OTHER") == ""


def test_a_release_nobody_may_see_is_named_only_to_those_who_may(harness: Harness) -> None:
    harness.command(f"propose payments 2.4.0 {iso(AT)} <@U_QA|qa>", channel_id=PRIVATE)
    assert harness.release("payments@2.4.0").private
    # An outsider learns of a conflict, not of the release.
    answer = propose(harness, "payments@2.5.0", user_id="U_OTHER")
    assert HIDDEN in answer and "payments@2.4.0" not in answer
    assert HIDDEN in card(harness, "payments@2.5.0")
    # Its approver may see it, in their own answer; the public card still may not.
    answer = propose(harness, "payments@2.6.0", user_id="U_QA")
    assert "payments@2.4.0" in answer
    shown = card(harness, "payments@2.6.0")
    assert HIDDEN in shown and "payments@2.4.0" not in shown


def test_a_reschedule_names_a_private_release_to_its_owner_never_in_the_thread(
    harness: Harness,
) -> None:
    propose(harness, "payments@2.4.0", channel_id=PRIVATE)
    assert harness.release("payments@2.4.0").private
    propose(harness, "payments@2.5.0", AT + timedelta(days=1))
    # Its owner may see the private one, in their own answer; the public thread may not.
    answer = said(harness, f"update payments@2.5.0 when={iso(AT + timedelta(minutes=10))}")
    assert "payments@2.4.0" in answer
    thread = harness.thread(harness.release("payments@2.5.0"))[-1]
    assert HIDDEN in thread and "payments@2.4.0" not in thread


def test_release_hours_follow_the_wall_clock_across_a_dst_change(harness: Harness) -> None:
    said(harness, "policy set release-hours mon-fri 09:00-16:00 Europe/Berlin", PM)
    # 07:30 UTC is 09:30 in Berlin on Friday 23 October (CEST) ...
    assert propose(harness, "a@1", datetime(2026, 10, 23, 7, 30, tzinfo=UTC)) == ""
    # ... but 08:30 on Monday 26 October (CET): before the hours.
    answer = propose(harness, "b@1", datetime(2026, 10, 26, 7, 30, tzinfo=UTC))
    assert "outside the release hours" in answer and "Mon–Fri 09:00–16:00 (Europe/Berlin)" in answer
    # 14:30 UTC on that Monday is 15:30 CET: its hour ends at 16:30, past the hours.
    assert "outside the release hours" in propose(
        harness, "c@1", datetime(2026, 10, 26, 14, 30, tzinfo=UTC)
    )
    assert propose(harness, "d@1", datetime(2026, 10, 26, 14, 0, tzinfo=UTC)) == ""
    # A Saturday is outside; a service's own hours win over the channel's.
    assert "outside the release hours" in propose(
        harness, "e@1", datetime(2026, 10, 24, 10, 0, tzinfo=UTC)
    )
    said(harness, "policy weekend set release-hours sat-sun 08:00-20:00 UTC", PM)
    assert propose(harness, "weekend@1", datetime(2026, 10, 24, 10, 0, tzinfo=UTC)) == ""


def test_a_reschedule_is_checked_and_the_card_follows(harness: Harness) -> None:
    propose(harness, "payments@2.4.0")
    propose(harness, "payments@2.5.0", AT + timedelta(days=1))
    assert "same service" not in card(harness, "payments@2.5.0")
    answer = said(harness, f"update payments@2.5.0 when={iso(AT + timedelta(minutes=10))}")
    assert "payments@2.4.0" in answer and "same service" in answer
    assert "same service" in card(harness, "payments@2.5.0")
    assert "same service" in harness.thread(harness.release("payments@2.5.0"))[-1]
    status = said(harness, "status payments@2.4.0")
    assert "payments@2.5.0" in status and "same service" in status
    # `/release list` marks both releases of the clash.
    listed = said(harness, "list")
    assert listed.count(":warning: conflicts") == 2
    # The other's card says the clash as well, and stops when it is gone.
    assert "payments@2.5.0" in card(harness, "payments@2.4.0")
    harness.command(f"update payments@2.5.0 when={iso(AT + timedelta(days=2))}")
    assert "same service" not in card(harness, "payments@2.5.0")
    assert "same service" not in card(harness, "payments@2.4.0")
    assert ":warning: conflicts" not in said(harness, "list")


def test_bad_values_and_non_managers_are_refused_privately(harness: Harness) -> None:
    for value, accepts in (
        ("release-hours whenever", "mon-fri 09:00-16:00 Europe/Berlin"),
        ("release-hours mon-fri 16:00-09:00 UTC", "mon-fri 09:00-16:00 Europe/Berlin"),
        ("release-hours mon-fri 09:00-16:00 Mars/Olympus", "mon-fri 09:00-16:00 Europe/Berlin"),
        ("max-concurrent 0", "a number from 1"),
        ("depends-on Not A Service!", "service names"),
    ):
        answer = said(harness, f"policy set {value}", PM)
        assert "isn't a value" in answer or "accepts" in answer, answer
        assert accepts in answer, answer
    assert "Only release managers" in said(harness, "policy set max-concurrent 2")
    shown = said(harness, "policy")
    assert "*release-hours*: any time" in shown and "*max-concurrent*: unlimited" in shown


def test_the_api_answers_the_warnings_as_a_token_may_read_them(harness: Harness) -> None:
    harness.command(f"propose payments 2.4.0 {iso(AT)}", channel_id=PRIVATE)
    propose(harness, "search@1.0")
    said(harness, "policy payments set depends-on search", PM)
    client = api(harness, make_token(harness))
    answer = client.post(
        "/releases",
        json={
            "service": "payments",
            "version": "2.5.0",
            "channel": "C_RELEASES",
            "target_at": AT.isoformat(),
        },
    )
    assert answer.status_code == 201, answer.text
    warnings = answer.json()["warnings"]
    assert any(HIDDEN in w for w in warnings) and not any("payments@2.4.0" in w for w in warnings)
    assert any("search@1.0" in w and "payments depends on search" in w for w in warnings)


def test_the_propose_form_tells_the_proposer_of_its_conflicts(harness: Harness) -> None:
    propose(harness, "payments@2.4.0")
    harness.command("propose")
    view = harness.slack.last_view(ids.PROPOSE_FORM)
    before = len(harness.slack.calls("chat.postEphemeral"))
    response = harness.client.view_submission(
        view,
        user_id="U_OWNER",
        values={"service": "payments", "version": "2.5.0", "when": int(AT.timestamp())},
    )
    assert response.status_code == 200
    harness.wait()
    [told] = harness.slack.calls("chat.postEphemeral")[before:]
    assert told.args["user"] == "U_OWNER" and told.args["channel"] == "C_RELEASES"
    assert "payments@2.4.0" in rendered_text(told.args) and "same service" in rendered_text(
        told.args
    )
    assert "same service" in card(harness, "payments@2.5.0")
