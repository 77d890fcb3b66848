"""Releases proposed in a private channel stay among the people who may see them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tests.handlers.calendar_feed.test_calendar_feed import LINK, fetch, subscribe
from tests.support.harness import Harness, ahead, iso, rendered_text

PRIVATE = "G_SECRET"


def propose_in_private(harness: Harness) -> None:
    harness.command(f"propose payments 2.4.0 {iso(ahead())} <@U_QA|qa>", channel_id=PRIVATE)
    assert harness.release("payments@2.4.0").private


def listed(harness: Harness, user_id: str, channel_id: str = "C_RELEASES") -> bool:
    reply = harness.private_reply(harness.command("list", user_id=user_id, channel_id=channel_id))
    return "payments@2.4.0" in reply


def test_a_private_release_is_listed_only_for_those_involved_and_in_its_channel(
    harness: Harness,
) -> None:
    propose_in_private(harness)
    harness.command(f"propose checkout 1.0 {iso(ahead())}")  # public, for contrast
    assert not harness.release("checkout@1.0").private
    assert listed(harness, "U_OWNER") and listed(harness, "U_QA")
    assert listed(harness, "U_OTHER", channel_id=PRIVATE)
    assert not listed(harness, "U_OTHER")
    reply = harness.private_reply(harness.command("list", user_id="U_OTHER"))
    assert "checkout@1.0" in reply


def test_status_and_actions_act_as_if_a_hidden_release_did_not_exist(harness: Harness) -> None:
    propose_in_private(harness)
    status = harness.private_reply(harness.command("status payments@2.4.0", user_id="U_OTHER"))
    assert "No release “payments@2.4.0”" in status
    checklist = harness.private_reply(
        harness.command("checklist payments@2.4.0 add peek", user_id="U_OTHER")
    )
    assert "No release “payments@2.4.0”" in checklist
    mine = harness.private_reply(harness.command("status payments@2.4.0", user_id="U_QA"))
    assert "<@U_QA> pending" in mine


def test_home_and_feeds_leave_out_what_the_person_may_not_see(harness: Harness) -> None:
    propose_in_private(harness)
    harness.client.app_home_opened("U_OTHER")
    harness.client.app_home_opened("U_QA")
    harness.wait()
    assert "payments@2.4.0" not in rendered_text(harness.slack.home_view("U_OTHER"))
    assert "payments@2.4.0" in rendered_text(harness.slack.home_view("U_QA"))

    everything = fetch(harness, subscribe(harness, user_id="U_OTHER"))
    assert b"payments 2.4.0" not in everything.content
    approver = fetch(harness, subscribe(harness, user_id="U_QA"))
    assert b"payments 2.4.0" in approver.content
    # The channel's own feed shows its private releases to its members only.
    harness.slack.set_channel_members(PRIVATE, ["U_OWNER", "U_PM"])
    member = fetch(harness, subscribe(harness, f"calendar <#{PRIVATE}|secret>", user_id="U_PM"))
    assert b"payments 2.4.0" in member.content
    outsider = fetch(
        harness, subscribe(harness, f"calendar <#{PRIVATE}|secret>", user_id="U_OTHER")
    )
    assert outsider.status_code == 200 and b"payments 2.4.0" not in outsider.content


def test_when_slack_will_not_say_the_channel_counts_as_private(harness: Harness) -> None:
    harness.slack.fail_next("conversations.info", error="missing_scope")
    harness.command(f"propose payments 2.4.0 {iso(ahead())}")
    assert harness.release("payments@2.4.0").private
    assert not listed(harness, "U_OTHER", channel_id="C_ELSEWHERE")
    assert listed(harness, "U_OTHER")  # in its own channel it shows


# --- the calendar: links, notes and feeds ----------------------------------------------


def channel_link(harness: Harness, user_id: str) -> tuple[str, str]:
    """(the reply, the feed's path) for `/release calendar #<the private channel>`."""
    reply = harness.private_reply(
        harness.command(f"calendar <#{PRIVATE}|secret-launch>", user_id=user_id)
    )
    match = LINK.search(reply)
    assert match, reply
    return reply, match.group(1)


def test_a_channel_feed_shows_private_releases_only_while_the_person_is_in_it(
    harness: Harness,
) -> None:
    propose_in_private(harness)
    # Slack lists a big channel a page at a time: the person is on the third page.
    harness.slack.members_page_size = 100
    harness.slack.set_channel_members(PRIVATE, [f"U_{n:04}" for n in range(250)] + ["U_PM"])
    reply, path = channel_link(harness, "U_PM")
    assert "doesn't list you" not in reply
    harness.clock.pin(datetime.now(UTC))
    asked = len(harness.slack.calls("conversations.members"))

    first = fetch(harness, path)
    assert b"payments 2.4.0" in first.content
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    # Calendar apps poll often; Slack is asked again only every few minutes.
    for _ in range(3):
        assert fetch(harness, path, **{"If-None-Match": etag}).status_code == 304
    assert len(harness.slack.calls("conversations.members")) == asked + 3  # one look, 3 pages

    # U_PM leaves the channel: the release goes once the remembered answer is too old.
    harness.slack.set_channel_members(PRIVATE, ["U_OWNER"])
    harness.clock.advance(timedelta(minutes=4))
    assert fetch(harness, path, **{"If-None-Match": etag}).status_code == 304
    harness.clock.advance(timedelta(minutes=2))
    for conditions in ({"If-None-Match": etag}, {"If-Modified-Since": last_modified}):
        gone = fetch(harness, path, **conditions)
        assert gone.status_code == 200, conditions
        assert b"payments 2.4.0" not in gone.content


def test_when_slack_will_not_say_who_is_in_the_channel_its_private_releases_stay_out(
    harness: Harness,
) -> None:
    propose_in_private(harness)
    harness.slack.set_channel_members(PRIVATE, ["U_OWNER", "U_PM"])
    harness.slack.fail_next("conversations.members", error="internal_error")
    reply, path = channel_link(harness, "U_PM")
    assert "Slack doesn't list you as a member of <#G_SECRET>" in reply
    harness.clock.pin(datetime.now(UTC))
    harness.slack.fail_next("conversations.members", error="ratelimited")
    assert b"payments 2.4.0" not in fetch(harness, path).content
    harness.clock.advance(timedelta(minutes=2))  # an unanswered question is asked again soon
    assert b"payments 2.4.0" in fetch(harness, path).content


def test_a_channel_feed_asks_slack_only_when_membership_could_show_more(
    harness: Harness,
) -> None:
    harness.command(f"propose checkout 1.0 {iso(ahead())}", channel_id="C_OTHER")
    path = subscribe(harness, "calendar <#C_OTHER|other>", user_id="U_OTHER")
    asked = len(harness.slack.calls("conversations.members"))
    for _ in range(3):
        assert b"checkout 1.0" in fetch(harness, path).content
    assert len(harness.slack.calls("conversations.members")) == asked  # nothing to hide


def _without_link(reply: str, service: str) -> str:
    return re.sub(r"/calendar/[\w-]+(\.ics)?", "<link>", reply).replace(service, "<service>")


def test_asking_for_a_link_a_hidden_release_reads_exactly_like_no_release(
    harness: Harness,
) -> None:
    propose_in_private(harness)

    def reply(text: str, user_id: str) -> str:
        return harness.private_reply(harness.command(text, user_id=user_id))

    hidden = reply("calendar payments", "U_OTHER")
    assert "(none yet: check the spelling)" in hidden
    assert _without_link(hidden, "payments") == _without_link(
        reply("calendar billing", "U_OTHER"), "billing"
    )
    assert "none yet" not in reply("calendar payments", "U_QA")
    # Naming the channel from outside it: its private releases are not there either.
    harness.slack.set_channel_members(PRIVATE, ["U_OWNER", "U_PM"])
    outsider, _ = channel_link(harness, "U_OTHER")
    assert "(none yet)" in outsider
    member, _ = channel_link(harness, "U_PM")
    assert "none yet" not in member


def test_two_people_polling_one_feed_each_get_their_own_validators(harness: Harness) -> None:
    harness.command(f"propose checkout 1.0 {iso(ahead())}")  # public: both see it
    outsider, approver = subscribe(harness, user_id="U_OTHER"), subscribe(harness, user_id="U_QA")
    outsider_etag = fetch(harness, outsider).headers["etag"]
    approver_etag = fetch(harness, approver).headers["etag"]
    assert fetch(harness, outsider, **{"If-None-Match": outsider_etag}).status_code == 304

    propose_in_private(harness)  # U_QA approves it; U_OTHER may not see it
    for _ in range(3):  # the outsider keeps polling
        polled = fetch(harness, outsider, **{"If-None-Match": outsider_etag})
        assert polled.status_code == 304
    changed = fetch(harness, approver, **{"If-None-Match": approver_etag})
    assert changed.status_code == 200 and b"payments 2.4.0" in changed.content
    assert fetch(harness, outsider, **{"If-None-Match": outsider_etag}).status_code == 304
    assert b"payments 2.4.0" not in fetch(harness, outsider).content


def test_links_and_feeds_never_name_a_private_channel(harness: Harness) -> None:
    harness.slack.add_channel(PRIVATE, "secret-launch", is_private=True)
    propose_in_private(harness)
    harness.slack.set_channel_members(PRIVATE, ["U_OWNER"])
    for user_id in ("U_OTHER", "U_OWNER"):
        reply, path = channel_link(harness, user_id)
        assert "secret-launch" not in reply and f"<#{PRIVATE}>" in reply
        feed = fetch(harness, path)
        assert b"secret-launch" not in feed.content
        assert re.search(rb"X-WR-CALNAME:Releases: channel G_SECRET\r\n", feed.content)
