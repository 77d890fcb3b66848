"""Four eyes: every required sign-off comes from a different person, none of them the owner;
approver sets that can't get there are refused; the owner may change the approvers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import select

from bot.sandbox.slack_standin import FakeSlack
from handlers.slack_kit import ids
from models import fields
from models.audit import AuditEvent
from models.release.records import Approver, Release, ReleaseStatus
from tests.handlers.slack.test_concurrency import click_all_at_once
from tests.support.harness import OWNER, Harness, ahead, iso, rendered_text

REF = "payments@2.4.0"


def propose(harness: Harness, approvers: str) -> Release:
    harness.command(f"propose payments 2.4.0 {iso(ahead())} {approvers}")
    return harness.release(REF)


def sign_offs(harness: Harness) -> dict[str, tuple[str, str | None]]:
    """approver id -> (state, signed by)"""
    with harness.session() as session:
        rows = session.exec(select(Approver).order_by(Approver.position)).all()  # type: ignore[arg-type]
        return {a.slack_id: (a.state, a.signed_by) for a in rows}


def private(harness: Harness) -> str:
    posts = harness.slack.calls("response_url") + harness.slack.calls("chat.postEphemeral")
    assert posts, "nothing was said privately"
    return rendered_text(posts[-1].args)


def click(harness: Harness, action_id: str, user_id: str) -> None:
    harness.click(harness.card(harness.release(REF)), action_id, user_id=user_id)


def status(harness: Harness) -> ReleaseStatus:
    return ReleaseStatus(harness.release(REF).status)


# --- one person, one sign-off -----------------------------------------------------------


def test_one_click_fills_one_sign_off_his_own_first(harness: Harness) -> None:
    propose(harness, "<!subteam^S_QA|@qa> <@U_QA|qa>")
    click(harness, ids.APPROVE, "U_QA")
    assert sign_offs(harness) == {"S_QA": ("pending", None), "U_QA": ("approved", "U_QA")}
    assert status(harness) == ReleaseStatus.PROPOSED

    # A second click gives nothing more: the group needs another member.
    click(harness, ids.APPROVE, "U_QA")
    assert "Your sign-off on payments@2.4.0 is already in" in private(harness)
    assert sign_offs(harness)["S_QA"] == ("pending", None)
    # Home asks only those who may still sign.
    for user in ("U_QA", "U_QA2"):
        harness.client.app_home_opened(user)
    harness.wait()
    assert "Nothing needs your sign-off" in rendered_text(harness.slack.home_view("U_QA"))
    assert REF in rendered_text(harness.slack.home_view("U_QA2"))

    click(harness, ids.APPROVE, "U_QA2")
    assert sign_offs(harness)["S_QA"] == ("approved", "U_QA2")
    assert status(harness) == ReleaseStatus.APPROVED


@pytest.fixture
def pg_harness(postgres_url: str, fake_slack: FakeSlack) -> Iterator[Harness]:
    with Harness(postgres_url, fake_slack) as running:
        yield running


def test_racing_clicks_of_a_member_and_his_group_give_one_sign_off_each(
    pg_harness: Harness,
) -> None:
    harness = pg_harness
    release = propose(harness, "<@U_QA|qa> <!subteam^S_QA|@qa>")
    card = harness.card(release)
    card["channel"] = release.channel_id
    clicks: list[tuple[dict, str, int | None]] = [
        (card, user, retry) for user in ("U_QA", "U_QA2") for retry in (None, None, 1)
    ]
    click_all_at_once(harness, clicks)
    assert sign_offs(harness) == {"U_QA": ("approved", "U_QA"), "S_QA": ("approved", "U_QA2")}
    assert status(harness) == ReleaseStatus.APPROVED


def test_someone_who_signed_for_a_group_cannot_sign_for_another(harness: Harness) -> None:
    harness.slack.add_usergroup("S_REL", "rel", ["U_QA", "U_SEC"])
    propose(harness, "<!subteam^S_QA|@qa> <!subteam^S_REL|@rel>")
    click(harness, ids.APPROVE, "U_QA")  # in both groups: fills the first one only
    assert sign_offs(harness) == {"S_QA": ("approved", "U_QA"), "S_REL": ("pending", None)}
    click(harness, ids.APPROVE, "U_QA")
    assert "already in" in private(harness)
    assert sign_offs(harness)["S_REL"] == ("pending", None)
    # Another member of @qa has nothing left to sign.
    click(harness, ids.APPROVE, "U_QA2")
    assert "already" in private(harness)
    assert sign_offs(harness)["S_REL"] == ("pending", None)
    click(harness, ids.APPROVE, "U_SEC")
    assert status(harness) == ReleaseStatus.APPROVED


def test_a_member_of_two_groups_signs_the_one_nobody_else_can(harness: Harness) -> None:
    # Approver order says @rel first, but only U_QA can sign @solo: he must take @solo.
    harness.slack.add_usergroup("S_REL", "rel", ["U_QA", "U_SEC"])
    harness.slack.add_usergroup("S_SOLO", "solo", ["U_QA"])
    propose(harness, "<!subteam^S_REL|@rel> <!subteam^S_SOLO|@solo>")
    click(harness, ids.APPROVE, "U_QA")
    assert sign_offs(harness) == {"S_REL": ("pending", None), "S_SOLO": ("approved", "U_QA")}
    click(harness, ids.APPROVE, "U_SEC")
    assert status(harness) == ReleaseStatus.APPROVED


def test_withdraw_takes_back_only_what_that_person_signed(harness: Harness) -> None:
    propose(harness, "<@U_QA|qa> <!subteam^S_QA|@qa>")
    click(harness, ids.APPROVE, "U_QA")
    click(harness, ids.APPROVE, "U_QA2")
    assert status(harness) == ReleaseStatus.APPROVED
    click(harness, ids.WITHDRAW, "U_QA")
    assert sign_offs(harness) == {"U_QA": ("pending", None), "S_QA": ("approved", "U_QA2")}
    assert status(harness) == ReleaseStatus.PROPOSED
    click(harness, ids.APPROVE, "U_QA")
    assert status(harness) == ReleaseStatus.APPROVED


def test_request_changes_speaks_for_one_sign_off(harness: Harness) -> None:
    propose(harness, "<@U_QA|qa> <!subteam^S_QA|@qa> <@U_PM|pm>")
    click(harness, ids.APPROVE, "U_PM")
    # U_QA has signed nothing: the rejection goes where his Approve would have gone.
    click(harness, ids.REQUEST_CHANGES, "U_QA")
    harness.submit_modal(ids.REQUEST_CHANGES_FORM, user_id="U_QA", reason="Migrations untested")
    assert status(harness) == ReleaseStatus.CHANGES_REQUESTED
    rows = sign_offs(harness)
    assert rows["U_QA"] == ("rejected", "U_QA")
    assert rows["S_QA"] == ("pending", None) and rows["U_PM"] == ("approved", "U_PM")


def test_request_changes_after_signing_turns_that_sign_off_into_a_rejection(
    harness: Harness,
) -> None:
    propose(harness, "<@U_QA|qa> <!subteam^S_QA|@qa>")
    click(harness, ids.APPROVE, "U_QA")
    click(harness, ids.REQUEST_CHANGES, "U_QA")
    harness.submit_modal(ids.REQUEST_CHANGES_FORM, user_id="U_QA", reason="Found a bug")
    assert sign_offs(harness) == {"U_QA": ("rejected", "U_QA"), "S_QA": ("pending", None)}


def test_the_card_says_when_nobody_is_left_to_sign_for_a_group(harness: Harness) -> None:
    harness.slack.add_usergroup("S_DUO", "duo", ["U_QA", OWNER, "U_PM"])
    release = propose(harness, "<@U_QA|qa> <!subteam^S_DUO|@duo>")
    assert "nobody can sign" not in rendered_text(harness.card(release))
    harness.slack.add_usergroup("S_DUO", "duo", ["U_QA", OWNER])  # U_PM left the group
    click(harness, ids.APPROVE, "U_QA")
    card = rendered_text(harness.card(harness.release(REF)))
    assert (
        "<!subteam^S_DUO>: <@U_QA> gave another sign-off and its only other member is the "
        "owner, so nobody can sign for it" in card
    )


# --- approver sets that can't reach quorum without the owner ----------------------------


def test_a_group_of_only_the_owner_is_refused(harness: Harness) -> None:
    harness.slack.add_usergroup("S_ME", "me", [OWNER])
    reply = harness.private_reply(
        harness.command(f"propose payments 2.4.0 {iso(ahead())} <!subteam^S_ME|@me>")
    )
    assert "<!subteam^S_ME>" in reply and "only member is you" in reply
    assert harness.releases() == []
    assert harness.slack.calls("chat.postMessage") == []


def test_sign_offs_that_need_more_people_than_there_are_are_refused(harness: Harness) -> None:
    harness.slack.add_usergroup("S_DUO", "duo", ["U_QA", OWNER])
    reply = harness.private_reply(
        harness.command(f"propose payments 2.4.0 {iso(ahead())} <@U_QA|qa> <!subteam^S_DUO|@duo>")
    )
    assert "<@U_QA> and <!subteam^S_DUO> need 2 different people" in reply
    assert harness.releases() == []
    # Another member makes it possible.
    harness.slack.add_usergroup("S_DUO", "duo", ["U_QA", OWNER, "U_PM"])
    harness.command(f"propose payments 2.4.0 {iso(ahead())} <@U_QA|qa> <!subteam^S_DUO|@duo>")
    assert harness.release(REF).status == ReleaseStatus.PROPOSED


def test_the_propose_form_refuses_a_group_nobody_but_the_owner_can_sign(
    harness: Harness,
) -> None:
    harness.slack.add_usergroup("S_ME", "me", [OWNER])
    harness.command("propose")
    view = harness.slack.last_view(ids.PROPOSE_FORM)
    response = harness.client.view_submission(
        view,
        user_id=OWNER,
        values={
            "service": "checkout",
            "version": "3.1.0",
            "when": int(ahead().timestamp()),
            "approvers": ["U_QA"],
            "approver_groups": "@me",
        },
    )
    harness.wait()
    body = response.json()
    assert body["response_action"] == "errors"
    assert "@me" in body["errors"][fields.FIELD_GROUPS]
    assert "<!subteam" not in body["errors"][fields.FIELD_GROUPS]  # plain text on a form
    assert harness.releases() == []


# --- the owner changes the approvers ----------------------------------------------------


def test_the_owner_changes_approvers_by_text(harness: Harness) -> None:
    propose(harness, "<@U_QA|qa> <@U_PM|pm>")
    click(harness, ids.APPROVE, "U_QA")
    click(harness, ids.APPROVE, "U_PM")
    assert status(harness) == ReleaseStatus.APPROVED

    harness.command("update payments@2.4.0 approvers=<@U_QA|qa> <@U_SEC|sec>")
    assert sign_offs(harness) == {"U_QA": ("approved", "U_QA"), "U_SEC": ("pending", None)}
    release = harness.release(REF)
    assert release.status == ReleaseStatus.PROPOSED  # a pending approver joined
    thread = harness.thread(release)
    assert any("added <@U_SEC>" in t and "removed <@U_PM>" in t for t in thread), thread
    with harness.session() as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "updated")).one()
    assert event.before and event.before["approvers"] == ["U_QA", "U_PM"]
    assert event.after and event.after["approvers"] == ["U_QA", "U_SEC"]

    # Removing the last pending approver leaves every sign-off in.
    harness.command("update payments@2.4.0 approvers=<@U_QA|qa>")
    assert status(harness) == ReleaseStatus.APPROVED
    card = rendered_text(harness.card(harness.release(REF)))
    assert "<@U_SEC>" not in card and "(1/1)" in card


def test_changing_approvers_is_for_the_owner_before_go_and_checks_quorum(
    harness: Harness,
) -> None:
    harness.slack.add_usergroup("S_ME", "me", [OWNER])
    propose(harness, "<@U_QA|qa>")
    reply = harness.private_reply(
        harness.command("update payments@2.4.0 approvers=<@U_PM|pm>", user_id="U_QA")
    )
    assert "Only <@U_OWNER>" in reply
    reply = harness.private_reply(
        harness.command("update payments@2.4.0 approvers=<!subteam^S_ME|@me>")
    )
    assert "<!subteam^S_ME>" in reply and "only member is you" in reply
    reply = harness.private_reply(harness.command("update payments@2.4.0 approvers=<@U_OWNER|me>"))
    assert "own release" in reply
    assert sign_offs(harness) == {"U_QA": ("pending", None)}

    click(harness, ids.APPROVE, "U_QA")
    for position in range(5):
        harness.tick(harness.release(REF), position)
    harness.command("go payments@2.4.0")
    reply = harness.private_reply(harness.command("update payments@2.4.0 approvers=<@U_PM|pm>"))
    assert "can't be changed now" in reply
    assert sign_offs(harness) == {"U_QA": ("approved", "U_QA")}


def test_the_owner_changes_approvers_in_the_edit_form(harness: Harness) -> None:
    harness.slack.add_usergroup("S_ME", "me", [OWNER])
    propose(harness, "<@U_QA|qa> <@U_PM|pm>")
    click(harness, ids.APPROVE, "U_PM")
    click(harness, ids.EDIT, OWNER)
    form = harness.slack.last_view(ids.EDIT_FORM)
    assert "U_QA" in str(form["blocks"]) and "approver_groups" in str(form["blocks"])

    refused = harness.submit_modal(
        ids.EDIT_FORM, user_id=OWNER, approvers=["U_QA"], approver_groups="@me"
    )
    assert "@me" in refused.json()["errors"][fields.FIELD_GROUPS]

    harness.submit_modal(ids.EDIT_FORM, user_id=OWNER, approvers=["U_PM"], approver_groups="@qa")
    assert sign_offs(harness) == {"U_PM": ("approved", "U_PM"), "S_QA": ("pending", None)}
    thread = harness.thread(harness.release(REF))
    assert any("added <!subteam^S_QA>" in t and "removed <@U_QA>" in t for t in thread), thread

    # The form opens again with the approvers as they are now; saving it unchanged is no change.
    click(harness, ids.EDIT, OWNER)
    unchanged = harness.submit_modal(ids.EDIT_FORM, user_id=OWNER)
    assert "Nothing changed" in unchanged.json()["errors"][fields.FIELD_VERSION]


def test_an_edit_form_from_before_approvers_were_editable_keeps_them(harness: Harness) -> None:
    propose(harness, "<@U_QA|qa> <!subteam^S_QA|@qa>")
    click(harness, ids.EDIT, OWNER)
    form = harness.slack.last_view(ids.EDIT_FORM)
    old = dict(form, blocks=[b for b in form["blocks"] if "approver" not in b["block_id"]])
    harness.client.view_submission(old, user_id=OWNER, values={"notes": "runbook"})
    harness.wait()
    assert harness.release(REF).notes == "runbook"
    assert set(sign_offs(harness)) == {"U_QA", "S_QA"}
