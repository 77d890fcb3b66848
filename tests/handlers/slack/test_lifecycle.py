"""The release lifecycle through Slack's wire: clicks on what the bot posted, modals it opened."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlmodel import col, select

from bot.sandbox.slack_standin import FakeSlack, blocks_text_length, validate_message
from handlers.slack_kit import ids
from models.audit import AuditEvent
from models.release.production import ProductionRecord
from models.release.records import Approver, ReleaseStatus
from tests.support.harness import OWNER, Harness, ahead, iso, rendered_text

ANNOUNCE = "CANNOUNCE"


@pytest.fixture
def harness(database_url: str, fake_slack: FakeSlack) -> Iterator[Harness]:
    with Harness(database_url, fake_slack, RELEASEBOT_ANNOUNCE_CHANNEL=ANNOUNCE) as running:
        yield running


def propose(harness: Harness, extra: str = "<@U_QA|qa> <@U_PM|pm>", ref: str = "payments@2.4.0"):
    service, version = ref.split("@")
    harness.command(f"propose {service} {version} {iso(ahead())} {extra}")
    return harness.release(ref)


def approve_all(harness: Harness, ref: str = "payments@2.4.0", users=("U_QA", "U_PM")) -> None:
    for user in users:
        harness.click(harness.card(harness.release(ref)), ids.APPROVE, user_id=user)


def tick_all(harness: Harness, ref: str = "payments@2.4.0") -> None:
    for position in range(5):
        harness.tick(harness.release(ref), position)


def private(harness: Harness) -> str:
    posts = harness.slack.calls("response_url") + harness.slack.calls("chat.postEphemeral")
    assert posts, "nothing was said privately"
    return rendered_text(posts[-1].args)


@pytest.mark.both_databases
def test_big_bang_release_end_to_end(harness: Harness) -> None:
    release = propose(harness)
    assert "Go/no-go checklist" in rendered_text(harness.checklist(release))

    harness.click(harness.card(release), ids.APPROVE, user_id="U_QA")
    release = harness.release("payments@2.4.0")
    assert release.status == ReleaseStatus.PROPOSED
    card = rendered_text(harness.card(release))
    assert "<@U_QA> approved" in card and "<@U_PM> pending" in card
    assert any("<@U_QA> signed off" in t for t in harness.thread(release))

    harness.click(harness.card(release), ids.APPROVE, user_id="U_PM")
    release = harness.release("payments@2.4.0")
    assert release.status == ReleaseStatus.APPROVED
    assert any("Every sign-off is in: <@U_OWNER>" in t for t in harness.thread(release))

    tick_all(harness)
    checklist = rendered_text(harness.checklist(release))
    assert "5/5 items done" in checklist and "*5* by <@U_OWNER>" in checklist

    harness.click(harness.checklist(release), ids.GO, user_id=OWNER)
    release = harness.release("payments@2.4.0")
    assert release.status == ReleaseStatus.GO
    announcement = harness.announcement(release)
    assert release.announcement_channel == ANNOUNCE
    assert "is being released now" in rendered_text(announcement)
    assert any("announced" in t and f"<#{ANNOUNCE}>" in t for t in harness.thread(release))

    harness.click(announcement, ids.MARK_RELEASED, user_id=OWNER, channel_id=ANNOUNCE)
    release = harness.release("payments@2.4.0")
    assert release.status == ReleaseStatus.RELEASED
    assert "is released" in rendered_text(harness.announcement(release))
    with harness.session() as session:
        [record] = session.exec(select(ProductionRecord)).all()
        assert (record.service, record.version, record.released_by) == (
            "payments",
            "2.4.0",
            OWNER,
        )
    timeline = harness.private_reply(harness.command("status payments@2.4.0"))
    assert "In production: *payments 2.4.0* since" in timeline
    for step in (
        "proposed the release",
        "approved",
        "every sign-off is in",
        "ticked",
        "gave the go",
        "marked it released",
    ):
        assert step in timeline


@pytest.mark.both_databases
def test_phased_rollout_end_to_end(harness: Harness) -> None:
    propose(harness, "<@U_QA|qa> phased 10,50")
    approve_all(harness, users=("U_QA",))
    tick_all(harness)
    release = harness.release("payments@2.4.0")
    harness.click(harness.checklist(release), ids.GO, user_id=OWNER)
    release = harness.release("payments@2.4.0")
    assert (release.status, release.current_percentage) == (ReleaseStatus.ROLLING_OUT, 10)
    assert "rolling out: 10% (stage 1 of 3)" in rendered_text(harness.announcement(release))

    stale = harness.announcement(release)
    harness.click(stale, ids.ADVANCE, user_id=OWNER, channel_id=ANNOUNCE)
    release = harness.release("payments@2.4.0")
    assert release.current_percentage == 50
    # A second click on the same "Advance to 50%" button must not skip to 100%.
    harness.click(stale, ids.ADVANCE, user_id=OWNER, channel_id=ANNOUNCE)
    assert harness.release("payments@2.4.0").current_percentage == 50
    assert "already at 50%" in private(harness)
    assert "Advance to 100%" in rendered_text(harness.announcement(release))

    harness.click(harness.announcement(release), ids.PAUSE, user_id=OWNER, channel_id=ANNOUNCE)
    assert harness.release("payments@2.4.0").status == ReleaseStatus.PAUSED
    reply = harness.private_reply(harness.command("advance payments@2.4.0"))
    assert "paused" in reply
    harness.click(harness.announcement(release), ids.RESUME, user_id=OWNER, channel_id=ANNOUNCE)
    harness.command("advance payments@2.4.0")
    release = harness.release("payments@2.4.0")
    assert (release.status, release.current_percentage) == (ReleaseStatus.RELEASED, 100)
    assert any("completed the rollout" in t for t in harness.thread(release))
    assert "is released" in rendered_text(harness.announcement(release))


def test_someone_who_is_not_an_approver_is_refused_privately(harness: Harness) -> None:
    release = propose(harness, "<@U_QA|qa> <!subteam^S_QA|@qa>")
    harness.click(harness.card(release), ids.APPROVE, user_id="U_OTHER")
    assert "Only <@U_QA>, <!subteam^S_QA> can sign off" in private(harness)
    harness.click(harness.card(release), ids.APPROVE, user_id=OWNER)
    assert "You own payments@2.4.0" in private(harness)
    with harness.session() as session:
        assert {a.state for a in session.exec(select(Approver))} == {"pending"}


def test_any_member_of_a_user_group_signs_for_it(harness: Harness) -> None:
    release = propose(harness, "<!subteam^S_QA|@qa>")
    harness.click(harness.card(release), ids.APPROVE, user_id="U_QA2")
    release = harness.release("payments@2.4.0")
    assert release.status == ReleaseStatus.APPROVED
    card = rendered_text(harness.card(release))
    assert "<!subteam^S_QA> approved by <@U_QA2>" in card


def test_reject_update_and_approve_again(harness: Harness) -> None:
    release = propose(harness, "<@U_QA|qa>")
    stale_card = harness.card(release)
    harness.click(harness.card(release), ids.REQUEST_CHANGES, user_id="U_QA")
    empty = harness.submit_modal(ids.REQUEST_CHANGES_FORM, user_id="U_QA", reason="   ")
    assert empty.json()["response_action"] == "errors"
    harness.submit_modal(
        ids.REQUEST_CHANGES_FORM, user_id="U_QA", reason="Migrations <!here> untested"
    )
    release = harness.release("payments@2.4.0")
    assert release.status == ReleaseStatus.CHANGES_REQUESTED
    card = rendered_text(harness.card(release))
    assert "Changes requested* by <@U_QA>: Migrations &lt;!here&gt; untested" in card

    assert "Approve" not in str(harness.card(release)["blocks"])
    # A click on the card as it looked before (a phone that has not refreshed) is refused.
    harness.click(stale_card, ids.APPROVE, user_id="U_QA")
    assert "Changes were requested" in private(harness)

    harness.command(f"update payments@2.4.0 when={iso(ahead(days=3))}")
    release = harness.release("payments@2.4.0")
    assert release.status == ReleaseStatus.PROPOSED
    assert any("Sign-off needed again from <@U_QA>" in t for t in harness.thread(release))
    harness.click(harness.card(release), ids.APPROVE, user_id="U_QA")
    assert harness.release("payments@2.4.0").status == ReleaseStatus.APPROVED


def test_a_new_version_clears_sign_offs_and_a_new_time_keeps_them(harness: Harness) -> None:
    propose(harness)
    approve_all(harness)
    harness.command(f"update payments@2.4.0 when={iso(ahead(days=5))}")
    release = harness.release("payments@2.4.0")
    assert release.status == ReleaseStatus.APPROVED and release.sequence == 1
    assert any("Sign-offs stand" in t and "<@U_QA>" in t for t in harness.thread(release))

    harness.command("update payments@2.4.0 version=2.4.1")
    release = harness.release("payments@2.4.1")
    assert release.status == ReleaseStatus.PROPOSED
    with harness.session() as session:
        assert {a.state for a in session.exec(select(Approver))} == {"pending"}
    assert any("every sign-off starts again" in t for t in harness.thread(release))
    assert "Release payments@2.4.1" in rendered_text(harness.card(release))


def test_only_the_owner_may_update(harness: Harness) -> None:
    propose(harness)
    reply = harness.private_reply(
        harness.command("update payments@2.4.0 version=9.9.9", user_id="U_QA")
    )
    assert "Only <@U_OWNER>" in reply
    assert harness.release("payments@2.4.0").version == "2.4.0"


def test_a_release_without_approvers_needs_no_sign_off(harness: Harness) -> None:
    propose(harness, "")
    for user_id in ("U_QA", OWNER):
        reply = harness.private_reply(harness.command("withdraw payments@2.4.0", user_id=user_id))
        assert "payments@2.4.0 needs no sign-off" in reply and "nobody" not in reply


def test_a_signer_may_withdraw_before_go(harness: Harness) -> None:
    propose(harness, "<@U_QA|qa>")
    approve_all(harness, users=("U_QA",))
    harness.click(harness.card(harness.release("payments@2.4.0")), ids.WITHDRAW, user_id="U_QA")
    assert harness.release("payments@2.4.0").status == ReleaseStatus.PROPOSED
    harness.click(harness.card(harness.release("payments@2.4.0")), ids.WITHDRAW, user_id="U_QA")
    assert "no sign-off" in private(harness)


def test_go_is_refused_with_what_is_missing(harness: Harness) -> None:
    release = propose(harness, "<@U_QA|qa>")
    harness.tick(release, 0)
    harness.click(harness.checklist(release), ids.GO, user_id=OWNER)
    reply = private(harness)
    assert "can't go yet" in reply
    assert "sign-off from <@U_QA>" in reply and "“Rollback plan ready”" in reply
    assert "“Release notes written”" not in reply
    approve_all(harness, users=("U_QA",))
    harness.click(harness.checklist(release), ids.GO, user_id=OWNER)
    assert "Rollback plan ready" in private(harness)
    assert harness.release("payments@2.4.0").status == ReleaseStatus.APPROVED
    harness.click(harness.checklist(release), ids.GO, user_id="U_QA")
    assert "Only <@U_OWNER>" in private(harness)


@pytest.mark.both_databases
def test_unticking_is_recorded_and_ticks_by_two_people_do_not_clobber(harness: Harness) -> None:
    release = propose(harness, "<@U_QA|qa>")
    stale = harness.checklist(release)  # what the approver still sees
    harness.tick(release, 0)
    # The approver ticks item 1 on the stale message: item 0 must stay ticked.
    harness.client.toggle_checkboxes(
        stale,
        release.channel_id,
        user_id="U_QA",
        action_id=ids.CHECKLIST,
        selected_values=["1"],
    )
    harness.wait()
    harness.tick(release, 0, checked=False)
    with harness.session() as session:
        actions = [e.action for e in session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))]
    assert actions.count("checklist_ticked") == 2 and actions.count("checklist_unticked") == 1
    text = rendered_text(harness.checklist(release))
    assert "1/5 items done" in text and "*2* by <@U_QA>" in text


def checkboxes(message: dict) -> list[dict]:
    return [
        e
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["type"] == "checkboxes"
    ]


def ticked(message: dict) -> set[str]:
    return {o["value"] for e in checkboxes(message) for o in e.get("initial_options") or []}


def test_ticks_by_several_people_show_on_the_checklist(harness: Harness) -> None:
    release = propose(harness)
    harness.tick(release, 0)
    harness.tick(release, 2, user_id="U_QA")
    message = harness.checklist(release)
    assert ticked(message) == {"0", "2"}
    text = rendered_text(message)
    assert "2/5 items done" in text
    assert "*1* by <@U_OWNER> <!date^" in text and "*3* by <@U_QA> <!date^" in text
    harness.tick(release, 4, user_id="U_PM")
    harness.tick(release, 0, user_id="U_QA", checked=False)
    message = harness.checklist(release)
    assert ticked(message) == {"2", "4"}
    text = rendered_text(message)
    assert "2/5 items done" in text and "*5* by <@U_PM>" in text and "<@U_OWNER>" not in text
    # Who ticked what and when stays in the history too.
    status = harness.private_reply(harness.command("status payments@2.4.0"))
    assert "<@U_OWNER> ticked: Release notes written" in status
    assert "<@U_QA> unticked: Release notes written" in status


def test_checklist_add_item(harness: Harness) -> None:
    propose(harness)
    harness.command("checklist payments@2.4.0 add Feature flag *off* <!channel>")
    release = harness.release("payments@2.4.0")
    text = rendered_text(harness.checklist(release))
    assert "Feature flag *off* @channel" in text and "0/6 items done" in text
    reply = harness.private_reply(
        harness.command("checklist payments@2.4.0 add Sneaky", user_id="U_OTHER")
    )
    assert "Only <@U_OWNER> and the approvers" in reply


def test_no_go_with_a_reason(harness: Harness) -> None:
    release = propose(harness)
    harness.click(harness.checklist(release), ids.NO_GO, user_id="U_QA")
    # Not the owner: refused before any modal opens.
    assert "Only <@U_OWNER>" in private(harness)
    assert harness.slack.views(ids.NO_GO_FORM) == []
    harness.click(harness.checklist(release), ids.NO_GO, user_id=OWNER)
    harness.submit_modal(ids.NO_GO_FORM, user_id=OWNER, reason="Black Friday freeze")
    release = harness.release("payments@2.4.0")
    assert release.status == ReleaseStatus.NO_GO
    assert "No-go* by <@U_OWNER>: Black Friday freeze" in rendered_text(harness.checklist(release))


def test_roll_back_from_the_announcement(harness: Harness) -> None:
    propose(harness, "phased 25")
    tick_all(harness)
    harness.command("go payments@2.4.0")
    release = harness.release("payments@2.4.0")
    harness.click(harness.announcement(release), ids.ROLL_BACK, user_id=OWNER, channel_id=ANNOUNCE)
    harness.submit_modal(ids.ROLL_BACK_FORM, user_id=OWNER, reason="Error rate 5%")
    release = harness.release("payments@2.4.0")
    assert release.status == ReleaseStatus.ROLLED_BACK
    assert "rolled back by <@U_OWNER>: Error rate 5%" in rendered_text(
        harness.announcement(release)
    )
    assert "Roll back" not in str(harness.announcement(release)["blocks"])


def test_text_commands_for_people_who_type(harness: Harness) -> None:
    propose(harness, "")
    tick_all(harness)
    assert "nogo" in harness.private_reply(harness.command("nogo payments@2.4.0"))
    harness.command("go payments@2.4.0")
    assert harness.release("payments@2.4.0").status == ReleaseStatus.GO
    reply = harness.private_reply(harness.command("cancel payments@2.4.0"))
    assert "Roll it back instead" in reply
    harness.command("rollback payments@2.4.0 smoke tests failed")
    assert harness.release("payments@2.4.0").status == ReleaseStatus.ROLLED_BACK
    reply = harness.private_reply(harness.command("done payments@2.4.0"))
    assert "was rolled back" in reply


def test_home_tab_for_an_approver_and_an_owner(harness: Harness) -> None:
    propose(harness, "<@U_QA|qa>")
    harness.client.app_home_opened("U_QA")
    harness.wait()
    home = harness.slack.home_view("U_QA")
    text = rendered_text(home)
    assert "Waiting for your sign-off" in text and "payments@2.4.0" in text
    response = harness.client.click_button_in_view(home, user_id="U_QA", action_id=ids.APPROVE)
    assert response.status_code == 200
    harness.wait()
    assert harness.release("payments@2.4.0").status == ReleaseStatus.APPROVED
    assert "Nothing needs your sign-off" in rendered_text(harness.slack.home_view("U_QA"))

    owner_home = rendered_text(harness.slack.home_view(OWNER))
    assert "still missing: “Release notes written”" in owner_home


def test_a_private_release_is_announced_in_its_own_channel(harness: Harness) -> None:
    harness.command(f"propose payments 2.4.0 {iso(ahead())}", channel_id="G_SECRET")
    tick_all(harness)
    harness.command("go payments@2.4.0", channel_id="G_SECRET")
    release = harness.release("payments@2.4.0")
    assert release.announcement_channel == "G_SECRET"
    assert all(c.args["channel"] != ANNOUNCE for c in harness.slack.calls("chat.postMessage"))


def test_after_go_the_checklist_and_sign_offs_are_closed(harness: Harness) -> None:
    release = propose(harness, "<@U_QA|qa>")
    approve_all(harness, users=("U_QA",))
    tick_all(harness)
    stale_checklist = harness.checklist(harness.release("payments@2.4.0"))
    stale_card = harness.card(harness.release("payments@2.4.0"))
    harness.command("go payments@2.4.0")
    release = harness.release("payments@2.4.0")
    assert "checkboxes" not in str(harness.checklist(release)["blocks"])
    # Clicks on the messages as they looked before the go are refused, privately.
    harness.client.toggle_checkboxes(
        stale_checklist,
        release.channel_id,
        user_id=OWNER,
        action_id=ids.CHECKLIST,
        selected_values=["0", "1", "2", "3"],
    )
    harness.wait()
    assert "checklist of payments@2.4.0 is closed" in private(harness)
    harness.click(stale_card, ids.WITHDRAW, user_id="U_QA")
    assert "before the go decision" in private(harness)
    harness.click(stale_checklist, ids.GO, user_id=OWNER)
    assert "Can't give the go for payments@2.4.0" in private(harness)
    assert harness.release("payments@2.4.0").status == ReleaseStatus.GO


def test_only_the_owner_may_move_the_rollout(harness: Harness) -> None:
    propose(harness, "phased 50")
    tick_all(harness)
    harness.command("go payments@2.4.0")
    announcement = harness.announcement(harness.release("payments@2.4.0"))
    for action in (ids.PAUSE, ids.ADVANCE):
        harness.click(announcement, action, user_id="U_OTHER", channel_id=ANNOUNCE)
        assert "Only <@U_OWNER>" in private(harness)
    release = harness.release("payments@2.4.0")
    assert (release.status, release.current_percentage) == (ReleaseStatus.ROLLING_OUT, 50)


def test_the_owner_edits_the_release_in_a_form(harness: Harness) -> None:
    release = propose(harness, "<@U_QA|qa>")
    approve_all(harness, users=("U_QA",))
    card = harness.card(harness.release("payments@2.4.0"))

    harness.click(card, ids.EDIT, user_id="U_QA")
    assert "Only <@U_OWNER>" in private(harness)
    assert harness.slack.views(ids.EDIT_FORM) == []

    harness.click(card, ids.EDIT, user_id=OWNER)
    form = harness.slack.last_view(ids.EDIT_FORM)
    assert "2.4.0" in str(form["blocks"])
    past = harness.submit_modal(
        ids.EDIT_FORM, user_id=OWNER, when=int(datetime(2020, 1, 1, tzinfo=UTC).timestamp())
    )
    assert "in the past" in past.json()["errors"]["when"]
    unchanged = harness.submit_modal(ids.EDIT_FORM, user_id=OWNER)
    assert "Nothing changed" in unchanged.json()["errors"]["version"]

    later = ahead(days=6)
    harness.submit_modal(ids.EDIT_FORM, user_id=OWNER, when=int(later.timestamp()))
    release = harness.release("payments@2.4.0")
    assert (release.target_at, release.sequence, release.status) == (
        later,
        1,
        ReleaseStatus.APPROVED,
    )
    assert any("Sign-offs stand" in t for t in harness.thread(release))


def test_home_tabs_do_not_ask_slack_for_group_members_each_time(harness: Harness) -> None:
    # usergroups.users.list allows ~20 calls a minute: membership is remembered briefly.
    propose(harness, "<!subteam^S_QA|@qa>")
    harness.slack.clear()
    for user in ("U_OTHER", "U_PM", "U_SEC", "U_QA2"):
        harness.client.app_home_opened(user)
    harness.wait()
    assert "payments@2.4.0" in rendered_text(harness.slack.home_view("U_QA2"))
    assert len(harness.slack.calls("usergroups.users.list")) <= 1
    # Who may sign is always asked afresh.
    harness.click(harness.card(harness.release("payments@2.4.0")), ids.APPROVE, user_id="U_QA2")
    assert harness.slack.calls("usergroups.users.list")


def test_buttons_for_a_release_that_is_gone_or_forged_are_answered_privately(
    harness: Harness,
) -> None:
    release = propose(harness, "<@U_QA|qa>")
    card = harness.card(release)
    for value, expected in (("Zz9" * 6, "no longer exists"), ("nonsense!", "out of date")):
        forged = json.loads(json.dumps(card))
        for block in forged["blocks"]:
            for element in block.get("elements", []):
                if element.get("action_id") == ids.APPROVE:
                    element["value"] = value
        harness.click(forged, ids.APPROVE, user_id="U_QA")
        assert expected in private(harness)
    with harness.session() as session:
        assert {a.state for a in session.exec(select(Approver))} == {"pending"}


def test_an_edit_form_saved_after_the_go_is_refused(harness: Harness) -> None:
    propose(harness, "")
    tick_all(harness)
    harness.click(harness.card(harness.release("payments@2.4.0")), ids.EDIT, user_id=OWNER)
    harness.command("go payments@2.4.0")
    harness.submit_modal(ids.EDIT_FORM, user_id=OWNER, notes="too late")
    assert "can't be changed now" in private(harness)
    assert harness.release("payments@2.4.0").notes == ""


def slack_escaped(text: str) -> str:
    """What Slack sends for text a person typed: & < > as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def assert_within_slack_limits(message: dict) -> None:
    """Beyond what the fake refuses: the message keeps clear of Slack's fuzzy total."""
    assert validate_message({"text": "x", "blocks": message["blocks"]}) is None
    assert blocks_text_length(message["blocks"]) <= 10_000
    assert len(message["blocks"]) <= 50


def test_thirty_long_items_full_of_markup_fit_every_message(harness: Harness) -> None:
    release = propose(harness)
    # The largest checklist: 30 items (5 defaults + 25) of 150 typed characters, each a
    # run of & < > that escaping makes four times as long.
    items = [f"{i:02d} " + ("&<>" * 50)[:147] for i in range(25)]
    for item in items:
        harness.command(f"checklist payments@2.4.0 add {slack_escaped(item)}")
    one_more = harness.command("checklist payments@2.4.0 add one too many")
    assert "at most 30 items" in harness.private_reply(one_more)
    people = (OWNER, "U_QA", "U_PM")
    for position in range(30):
        harness.tick(release, position, user_id=people[position % 3])
    message = harness.checklist(release)
    assert_within_slack_limits(message)
    assert ticked(message) == {str(p) for p in range(30)}
    text = rendered_text(message)
    assert "30/30 items done" in text
    for number in (1, 6, 30):
        assert f"*{number}* by <@{people[(number - 1) % 3]}> <!date^" in text
    labels = [o["text"]["text"] for e in checkboxes(message) for o in e["options"]]
    assert labels[0] == "1. Release notes written"
    assert labels[29].startswith("30. 24 &amp;&lt;&gt;") and labels[29].endswith("…")
    assert all(len(label) <= 75 for label in labels)
    # A long item's whole text (or as much as Slack takes) is above its checkbox.
    assert "*30.* 24 &amp;&lt;&gt;&amp;" in text

    approve_all(harness)
    harness.command("nogo payments@2.4.0 " + slack_escaped(("<!channel> & " * 50)[:500]))
    assert harness.release("payments@2.4.0").status == ReleaseStatus.NO_GO
    assert_within_slack_limits(harness.checklist(release))
    status = harness.command("status payments@2.4.0")
    harness.private_reply(status)
    assert_within_slack_limits(harness.slack.calls("response_url")[-1].args)
    status_text = rendered_text(harness.slack.calls("response_url")[-1].args)
    assert "*30.* 24 &amp;" in status_text and "— <@U_PM>" in status_text

    harness.command(f"update payments@2.4.0 when={iso(ahead(days=3))}")
    approve_all(harness)
    harness.command("go payments@2.4.0")
    release = harness.release("payments@2.4.0")
    assert release.status == ReleaseStatus.GO
    for message in (harness.checklist(release), harness.card(release)):
        assert_within_slack_limits(message)
    assert "*30.* 24 &amp;" in rendered_text(harness.checklist(release))
    assert all(c.ok for c in harness.slack.calls("chat.update"))


def test_a_long_default_checklist_item(database_url: str, fake_slack: FakeSlack) -> None:
    long = (
        "Release notes written & reviewed by product, support and legal, customer-facing "
        "changes announced on the status page <before> the window opens"
    )
    assert len(long) <= 150
    with Harness(database_url, fake_slack, RELEASEBOT_CHECKLIST=f"{long};On-call aware") as h:
        release = propose(h, "<@U_QA|qa>")
        message = h.checklist(release)
        labels = [o["text"]["text"] for e in checkboxes(message) for o in e["options"]]
        assert labels == ["1. Release notes written &amp; reviewed…", "2. On-call aware"]
        assert "*1.* " + slack_escaped(long) in rendered_text(message)
        h.tick(release, 0, user_id="U_QA")
        h.tick(release, 1)
        approve_all(h, users=("U_QA",))
        assert "2/2 items done" in rendered_text(h.checklist(release))
        h.command("go payments@2.4.0")
        assert h.release("payments@2.4.0").status == ReleaseStatus.GO
        assert h.cards_posted() == 2  # the card and the announcement; nothing left behind


def test_a_checklist_item_too_long_is_refused_in_typed_characters(harness: Harness) -> None:
    release = propose(harness)
    # 150 typed characters are fine, however long Slack's escaping makes them.
    harness.command("checklist payments@2.4.0 add " + slack_escaped("&" * 150))
    assert "0/6 items done" in rendered_text(harness.checklist(release))
    reply = harness.private_reply(
        harness.command("checklist payments@2.4.0 add " + slack_escaped("<" * 151))
    )
    assert "at most 150 characters" in reply and "151" in reply
    assert "0/6 items done" in rendered_text(harness.checklist(release))
