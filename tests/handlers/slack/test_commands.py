"""`/release` by text: help, propose, list, status, cancel — and everything people get wrong."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from handlers.slack_kit import ids
from handlers.slack_kit.mrkdwn import escape
from models.audit import AuditEvent
from models.release import proposing
from models.release.proposing import Proposal
from models.release.records import Approver, ChecklistItem, ReleaseStatus
from tests.support.harness import CHANNEL, OWNER, TEAM, Harness, ahead, iso, rendered_text


def propose(harness: Harness, text: str = "", user_id: str = OWNER) -> str:
    when = iso(ahead())
    response = harness.command(text or f"propose payments 2.4.0 {when} <@U_QA|qa>", user_id=user_id)
    return harness.private_reply(response)


def test_help_is_private_and_lists_every_command(harness: Harness) -> None:
    response = harness.command("help")
    body = response.json()
    assert body["response_type"] == "ephemeral"
    text = rendered_text(body)
    for sub in ("propose", "list", "status", "cancel"):
        assert f"/release {sub}" in text
    assert harness.slack.calls("chat.postMessage") == []


def test_empty_text_answers_with_help(harness: Harness) -> None:
    assert "/release propose" in harness.private_reply(harness.command(""))


@pytest.mark.both_databases
def test_propose_posts_the_card_and_records_everything(harness: Harness) -> None:
    when = ahead(days=3)
    harness.command(
        f"propose Payments 2.4.0 {iso(when)} <@U_QA|qa> <!subteam^S_QA|@qa> "
        "phased 10,50 notes: see https://wiki.example.com/rel"
    )
    [release] = harness.releases()
    assert (release.service, release.version, release.target_at) == ("payments", "2.4.0", when)
    assert release.status == ReleaseStatus.PROPOSED
    assert release.rollout_stages == "10,50,100"
    assert release.owner_id == OWNER and release.channel_id == CHANNEL
    assert release.message_ts and release.permalink

    card = harness.card(release)
    text = rendered_text(card)
    assert f"<!date^{int(when.timestamp())}^" in text
    assert "<@U_QA>" in text and "<!subteam^S_QA>" in text and "<@U_OWNER>" in text
    assert "Phased 10% → 50% → 100%" in text
    assert "https://wiki.example.com/rel" in text

    with harness.session() as session:
        approvers = session.exec(select(Approver)).all()
        assert {(a.slack_id, a.kind, a.state) for a in approvers} == {
            ("U_QA", "user", "pending"),
            ("S_QA", "usergroup", "pending"),
        }
        [event] = session.exec(select(AuditEvent)).all()
        assert (event.action, event.actor_id, event.release_id) == ("proposed", OWNER, release.id)
        assert event.after and event.after["version"] == "2.4.0"
        assert len(session.exec(select(ChecklistItem)).all()) == 5


@pytest.mark.clock
def test_local_time_is_read_in_the_proposers_slack_time_zone(harness: Harness) -> None:
    # U_OWNER lives in America/New_York: 14:00 there on a winter day is 19:00 UTC.
    day = (datetime.now(UTC) + timedelta(days=400)).replace(month=1, day=15)
    harness.command(f"propose payments 2.4.0 {day:%Y-%m-%d} 14:00")
    [release] = harness.releases()
    assert release.target_at == datetime(day.year, 1, 15, 19, 0, tzinfo=UTC)


@pytest.mark.clock
def test_a_time_skipped_by_daylight_saving_is_refused(harness: Harness) -> None:
    year = datetime.now(UTC).year + 1
    # 2:30 on the second Sunday of March does not exist in New York.
    march = datetime(year, 3, 1)
    second_sunday = march + timedelta(days=(6 - march.weekday()) % 7 + 7)
    reply = propose(harness, f"propose payments 2.4.0 {second_sunday:%Y-%m-%d} 02:30")
    assert "does not exist in America/New_York" in reply
    assert harness.releases() == []


@pytest.mark.clock
def test_natural_times_in_two_time_zones(harness: Harness) -> None:
    # A winter Thursday, 15:30 UTC: 10:30 for U_OWNER in New York, already Friday 00:30
    # for U_SEC in Tokyo. "tomorrow 14:00" is a different day and hour for each.
    thursday = datetime(datetime.now(UTC).year + 1, 1, 1, 15, 30, tzinfo=UTC)
    thursday += timedelta(days=(3 - thursday.weekday()) % 7)
    harness.clock.pin(thursday)
    harness.command("propose payments 2.4.0 tomorrow 14:00 <@U_QA|qa>")
    harness.command("propose search 1.0.0 tomorrow 14:00 <@U_QA|qa>", user_id="U_SEC")
    new_york, tokyo = harness.releases()
    assert (new_york.owner_id, tokyo.owner_id) == (OWNER, "U_SEC")
    assert new_york.target_at == thursday.replace(hour=19, minute=0) + timedelta(days=1)
    assert tokyo.target_at == thursday.replace(hour=5, minute=0) + timedelta(days=2)
    # Moved in words: read in the zone of whoever moves it.
    harness.command("update payments when=next monday 9am")
    monday = thursday + timedelta(days=4)
    assert harness.release("payments@2.4.0").target_at == monday.replace(hour=14, minute=0)


@pytest.mark.clock
def test_a_natural_time_in_the_past_is_refused_privately_and_writes_nothing(
    harness: Harness,
) -> None:
    thursday = datetime(datetime.now(UTC).year + 1, 1, 1, 15, 30, tzinfo=UTC)
    thursday += timedelta(days=(3 - thursday.weekday()) % 7)
    harness.clock.pin(thursday)
    reply = propose(harness, "propose payments 2.4.0 9am <@U_QA|qa>")
    assert f"Thursday {thursday.day} Jan 09:00 America/New_York is in the past" in reply
    assert harness.releases() == []
    assert harness.slack.calls("chat.postMessage") == []
    # Tokyo's 9am is still ahead (it is Friday 00:30 there).
    harness.command("propose payments 2.4.0 9am <@U_QA|qa>", user_id="U_SEC")
    [release] = harness.releases()
    assert release.target_at == thursday.replace(hour=0, minute=0) + timedelta(days=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("propose payments", "Name the service, the version and when"),
        ("propose payments 2.4.0 tomorrow", "“tomorrow” has no time of day"),
        ("propose payments 2.4.0 soonish", "can't read “soonish” as a time"),
        ("propose payments 2.4.0 3/4 14:00", "could be 3 Apr or 4 Mar"),
        ("propose payments 2.4.0 2026-13-45T25:00Z", "as a time"),
        ("propose payments 2.4.0 2020-01-01T10:00Z", "in the past"),
        ("propose payments 2.4.0 2026-12-03", "has no time of day"),
        ("propose pay/ments 2.4.0 {when}", "is not a service name"),
        ("propose payments 2.4.0;rm {when}", "is not a version"),
        ("propose payments 2.4.0 {when} @bob", "@bob is not someone I can find"),
        ("propose payments 2.4.0 {when} phased 50,10", "must go up"),
        ("propose payments 2.4.0 {when} phased lots", "is not a list of percentages"),
        ("propose payments 2.4.0 {when} whatever", "I don't understand “whatever”"),
        ("propose payments 2.4.0 {when} <@U_OWNER|me>", "can't approve your own release"),
        ("deploy payments", "I don't know `/release deploy`"),
        ("status", "Name one release as service@version"),
        ("status nothing@1.0", "No release “nothing@1.0”"),
        ("cancel", "Name one release"),
    ],
)
def test_malformed_commands_get_a_private_answer_and_write_nothing(
    harness: Harness, text: str, expected: str
) -> None:
    reply = propose(harness, text.format(when=iso(ahead())))
    assert expected in reply
    assert harness.releases() == []
    assert harness.slack.calls("chat.postMessage") == []


def test_unknown_and_deactivated_approvers_are_refused(harness: Harness) -> None:
    harness.slack.add_user("U_GONE", name="gone", deleted=True)
    reply = propose(harness, f"propose payments 2.4.0 {iso(ahead())} <@U_NOBODY|nobody>")
    assert "can't find <@U_NOBODY>" in reply
    reply = propose(harness, f"propose payments 2.4.0 {iso(ahead())} <@U_GONE|gone>")
    assert "deactivated" in reply
    reply = propose(harness, f"propose payments 2.4.0 {iso(ahead())} <!subteam^S_NONE|@x>")
    assert "can't find that user group" in reply
    assert harness.releases() == []
    assert harness.slack.calls("chat.postMessage") == []


def test_huge_text_is_refused_before_anything_happens(harness: Harness) -> None:
    reply = propose(harness, f"propose payments 2.4.0 {iso(ahead())} notes: " + "x" * 5000)
    assert "characters long" in reply
    assert harness.releases() == []


def test_command_length_counts_what_was_typed_not_slacks_escaping(harness: Harness) -> None:
    head = f"propose payments 2.4.0 {iso(ahead())} notes: "
    # Slack sends & < > as entities: 1,800 typed characters arrive as about 7,000.
    notes = "a<b & c>d " * 180
    harness.command(head + escape(notes))
    [release] = harness.releases()
    assert release.notes == notes.strip()
    typed = head + "&" * 3100
    reply = propose(harness, escape(typed))
    assert f"That command is {len(typed)} characters long" in reply
    assert "at most 3000 characters" in reply


def test_notes_too_long_for_a_release_are_refused(harness: Harness) -> None:
    reply = propose(harness, f"propose payments 2.4.0 {iso(ahead())} notes: " + "y" * 2500)
    assert "keep them under 2000" in reply
    assert harness.releases() == []


def test_hostile_text_cannot_ping_or_break_the_card(harness: Harness) -> None:
    hostile = (
        "&lt;!channel&gt; <!here> <!everyone> *bold* `code` <@U_OTHER|victim> "
        "\u202eevil\x07 " + "<https://evil.example.com|click me>"
    )
    harness.command(f"propose payments 2.4.0 {iso(ahead())} notes: {hostile}")
    [release] = harness.releases()
    assert "\x07" not in release.notes and "\u202e" not in release.notes
    card = rendered_text(harness.card(release))
    for ping in ("<!channel>", "<!here>", "<!everyone>", "<@U_OTHER"):
        assert ping not in card
    assert "&lt;!channel&gt;" in card
    assert "https://evil.example.com" in card  # shown as text, not a disguised link
    assert "|click me>" not in card


@pytest.mark.both_databases
def test_duplicate_release_is_refused_with_a_pointer(harness: Harness) -> None:
    harness.command(f"propose payments 2.4.0 {iso(ahead())}")
    [release] = harness.releases()
    reply = propose(harness, f"propose payments 2.4.0 {iso(ahead(days=5))}")
    assert "payments@2.4.0 already exists" in reply
    assert release.permalink and release.permalink in reply
    assert len(harness.releases()) == 1


def test_a_slack_retry_of_a_handled_command_creates_nothing_more(harness: Harness) -> None:
    text = f"propose payments 2.4.0 {iso(ahead())}"
    harness.command(text, trigger_id="trigger-1")
    retry = harness.command(text, trigger_id="trigger-1", retry_num=1)
    assert retry.status_code == 200
    assert len(harness.releases()) == 1
    assert harness.cards_posted() == 1
    assert harness.slack.calls("response_url") == []  # no "already exists" either


def test_card_that_slack_refuses_leaves_no_release(harness: Harness) -> None:
    harness.slack.fail_next("chat.postMessage", error="not_in_channel")
    reply = propose(harness, f"propose payments 2.4.0 {iso(ahead())}")
    assert "/invite @releasebot" in reply
    assert harness.releases() == []


@pytest.mark.clock
@pytest.mark.both_databases
def test_list_shows_open_releases_soonest_first(harness: Harness) -> None:
    harness.command(f"propose later 1.0 {iso(ahead(days=6))}")
    harness.command(f"propose sooner 1.0 {iso(ahead(days=2))}")
    harness.command(f"propose gone 1.0 {iso(ahead(days=3))}")
    harness.command("cancel gone@1.0")
    text = harness.private_reply(harness.command("list"))
    assert text.index("sooner@1.0") < text.index("later@1.0")
    assert "gone@1.0" not in text


def test_a_long_list_says_what_it_left_out_and_shows_more(harness: Harness) -> None:
    with harness.session() as session:
        for i in range(63):
            proposing.write_release(
                session,
                Proposal(
                    team_id=TEAM,
                    owner_id=OWNER,
                    channel_id=CHANNEL,
                    service=f"svc{i:02d}",
                    version="1.0",
                    target_at=ahead(days=1) + timedelta(hours=i),
                ),
            )
    url = harness.slack.new_response_url(channel_id=CHANNEL, user_id=OWNER)
    harness.command("list", response_url=url)
    first = harness.slack.ephemerals(CHANNEL, OWNER)[-1]["message"]
    text = rendered_text(first)
    assert "svc00@1.0" in text and "svc49@1.0" in text and "svc50@1.0" not in text
    assert "Showing 1–50 of 63, soonest first" in text
    harness.click(first, ids.LIST_MORE, user_id=OWNER, is_ephemeral=True)
    second = harness.slack.ephemerals(CHANNEL, OWNER)[-1]["message"]
    text = rendered_text(second)
    assert "svc49@1.0" not in text and "svc50@1.0" in text and "svc62@1.0" in text
    assert "Showing 51–63 of 63" in text
    assert ids.LIST_MORE not in json.dumps(second["blocks"])


def test_list_with_nothing_planned_says_so(harness: Harness) -> None:
    assert "No releases are planned" in harness.private_reply(harness.command("list"))


def test_status_shows_sign_offs_and_history(harness: Harness) -> None:
    harness.command(f"propose payments 2.4.0 {iso(ahead())} <@U_QA|qa>")
    text = harness.private_reply(harness.command("status payments@2.4.0"))
    assert "<@U_QA> pending" in text
    assert "proposed the release" in text
    # The service alone is enough while it has one open release.
    assert "payments@2.4.0" in harness.private_reply(harness.command("status payments"))


def test_cancel_by_the_owner_updates_the_card_and_thread(harness: Harness) -> None:
    harness.command(f"propose payments 2.4.0 {iso(ahead())}")
    harness.command("cancel payments@2.4.0 found a *blocker* <!channel>")
    [release] = harness.releases()
    assert release.status == ReleaseStatus.CANCELLED
    card = rendered_text(harness.card(release))
    # Slack's <!channel> markup arrives in command text; it is shown, never sent, as a ping.
    assert "Cancelled* by <@U_OWNER>: found a *blocker* @channel" in card
    assert "<!channel>" not in card
    reply = harness.slack.last("chat.postMessage")
    assert reply.args.get("thread_ts") == release.message_ts
    # Cancelled releases free their name for a new proposal.
    harness.command(f"propose payments 2.4.0 {iso(ahead())}")
    assert len(harness.releases()) == 2


def test_only_the_owner_may_cancel(harness: Harness) -> None:
    harness.command(f"propose payments 2.4.0 {iso(ahead())} <@U_QA|qa>")
    reply = propose(harness, "cancel payments@2.4.0", user_id="U_OTHER")
    assert "Only <@U_OWNER>" in reply
    [release] = harness.releases()
    assert release.status == ReleaseStatus.PROPOSED


def test_cancelling_twice_says_it_is_already_cancelled(harness: Harness) -> None:
    harness.command(f"propose payments 2.4.0 {iso(ahead())}")
    harness.command("cancel payments@2.4.0")
    assert "is cancelled" in propose(harness, "cancel payments@2.4.0")
