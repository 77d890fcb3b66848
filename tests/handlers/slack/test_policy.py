"""Release policy per channel and per service, through the Slack wire."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import select

from bot.sandbox.slack_standin import FakeSlack
from handlers.slack_kit import ids
from models import fields
from models.audit import AuditEvent
from models.policy import PolicySetting
from models.release.records import Approver, ReleaseStatus
from tests.support.harness import Harness, ahead, iso, rendered_text

# On PostgreSQL too: upserts (ON CONFLICT) and rows locked for update.
pytestmark = pytest.mark.both_databases

PM = "U_PM"  # a release manager from the settings


@pytest.fixture
def harness(database_url: str, fake_slack: FakeSlack) -> Iterator[Harness]:
    with Harness(database_url, fake_slack, RELEASEBOT_RELEASE_MANAGERS=PM) as running:
        yield running


def said(harness: Harness, text: str, user_id: str = PM, channel_id: str = "C_RELEASES") -> str:
    harness.slack.clear()
    response = harness.command(text, user_id=user_id, channel_id=channel_id)
    return harness.private_reply(response)


def reply_message(harness: Harness) -> dict[str, Any]:
    args = dict(harness.slack.calls("response_url")[-1].args)
    if isinstance(args.get("blocks"), str):
        args["blocks"] = json.loads(args["blocks"])
    args.setdefault("ts", "1700000000.000100")  # an ephemeral message's, as Slack sends it
    return args


def approvers(harness: Harness, ref: str) -> dict[str, bool]:
    release = harness.release(ref)
    with harness.session() as session:
        rows = session.exec(select(Approver).where(Approver.release_id == release.id))
        return {a.slack_id: a.required for a in rows}


def approve(harness: Harness, ref: str, user_id: str) -> None:
    release = harness.release(ref)
    harness.click(harness.card(release), ids.APPROVE, user_id=user_id)


def propose(harness: Harness, text: str, channel_id: str = "C_RELEASES") -> None:
    harness.command(f"propose {text}", user_id="U_OWNER", channel_id=channel_id)


def test_policy_shows_each_value_and_where_it_comes_from(harness: Harness) -> None:
    shown = said(harness, "policy", user_id="U_OTHER")
    assert "*quorum*: all — _default (the bot's settings)_" in shown
    assert "*announce*: the release's own channel" in shown
    assert ids.POLICY_EDIT not in json.dumps(reply_message(harness))  # not a manager

    said(harness, "policy set quorum each-group")
    said(harness, "policy payments set window 2h")
    shown = said(harness, "policy payments", user_id="U_OTHER")
    assert "*quorum*: one per group and every person — _from this channel_" in shown
    assert "*window*: 2 h — _from service payments_" in shown
    said(harness, "policy")
    assert ids.POLICY_EDIT in json.dumps(reply_message(harness))  # a manager may edit


def test_only_release_managers_change_the_policy(harness: Harness) -> None:
    refused = said(harness, "policy set quorum 2", user_id="U_OTHER")
    assert "Only release managers can change the release policy" in refused
    refused = said(harness, "policy payments unset window", user_id="U_OTHER")
    assert "Only release managers" in refused
    with harness.session() as session:
        assert session.exec(select(PolicySetting)).all() == []


def test_bad_values_are_refused_naming_the_key(harness: Harness) -> None:
    assert "no policy key “colour”" in said(harness, "policy set colour blue")
    reply = said(harness, "policy set quorum 3")
    assert "`quorum`: a quorum of 3 needs at least 3 approvers" in reply
    assert "is not a value for `quorum`" in said(harness, "policy set quorum most")
    harness.slack.add_channel("C_OPS", "ops", is_member=False)
    reply = said(harness, "policy set escalation <#C_OPS|ops>")
    assert "`escalation`: I am not in <#C_OPS>" in reply
    assert "`checklist` needs at least one item" in said(harness, "policy set checklist ; ;")
    reply = said(harness, "policy set window 5m")
    assert "is not a value for `window`: it accepts a duration from `15m` to `24h`" in reply
    assert "not set for <#C_RELEASES>" in said(harness, "policy unset window")
    with harness.session() as session:
        assert session.exec(select(PolicySetting)).all() == []


def test_a_proposal_gets_the_policys_approvers_and_can_not_drop_them(harness: Harness) -> None:
    said(harness, "policy set approvers <@U_QA|qa> <@U_PM|pm>")
    propose(harness, f"payments 1.0 {iso(ahead())}")
    assert approvers(harness, "payments@1.0") == {"U_QA": True, "U_PM": True}

    propose(harness, f"payments 1.1 {iso(ahead())} <@U_SEC|sec>")
    assert approvers(harness, "payments@1.1") == {"U_QA": True, "U_PM": True, "U_SEC": False}
    # The owner's update changes only those they named.
    harness.command("update payments@1.1 approvers=<@U_OTHER|other>")
    assert approvers(harness, "payments@1.1") == {"U_QA": True, "U_PM": True, "U_OTHER": False}
    harness.command("update payments@1.1 approvers=none")
    assert approvers(harness, "payments@1.1") == {"U_QA": True, "U_PM": True}


def test_quorum_of_n_counts_a_group_once(harness: Harness) -> None:
    said(harness, "policy set approvers <!subteam^S_QA|@qa> <@U_PM|pm> <@U_SEC|sec>")
    said(harness, "policy set quorum 2")
    propose(harness, f"payments 1.0 {iso(ahead())}")
    ref = "payments@1.0"
    card = rendered_text(harness.card(harness.release(ref)))
    assert "(0/3) · 2 of 3 needed" in card

    approve(harness, ref, "U_QA")
    approve(harness, ref, "U_QA2")  # the group's sign-off is in: it counts once
    told = harness.slack.calls("response_url") + harness.slack.calls("chat.postEphemeral")
    assert "in already, from others" in rendered_text(told[-1].args)
    assert harness.release(ref).status == ReleaseStatus.PROPOSED
    refused = said(harness, "go payments@1.0", user_id="U_OWNER")
    assert "1 more sign-off, from any of <@U_PM>, <@U_SEC>" in refused

    approve(harness, ref, "U_PM")
    assert harness.release(ref).status == ReleaseStatus.APPROVED
    refused = said(harness, "go payments@1.0", user_id="U_OWNER")
    assert "sign-off" not in refused  # only the checklist is left


@pytest.mark.parametrize("rule", ["all", "each-group"])
def test_all_and_each_group_need_every_person_and_one_per_group(
    harness: Harness, rule: str
) -> None:
    said(harness, "policy set approvers <!subteam^S_QA|@qa> <@U_PM|pm>")
    said(harness, f"policy set quorum {rule}")
    propose(harness, f"payments 1.0 {iso(ahead())}")
    ref = "payments@1.0"
    approve(harness, ref, "U_QA")
    assert harness.release(ref).status == ReleaseStatus.PROPOSED
    approve(harness, ref, "U_PM")
    assert harness.release(ref).status == ReleaseStatus.APPROVED


def test_the_owner_signs_only_where_the_policy_lets_them(harness: Harness) -> None:
    said(harness, "policy set approvers <@U_OWNER|owner> <@U_QA|qa>")
    propose(harness, f"payments 1.0 {iso(ahead())}")
    assert approvers(harness, "payments@1.0") == {"U_QA": True}  # the owner is left out

    said(harness, "policy set owner-can-approve yes")
    propose(harness, f"payments 1.1 {iso(ahead())}")
    ref = "payments@1.1"
    assert approvers(harness, ref) == {"U_OWNER": True, "U_QA": True}
    approve(harness, ref, "U_OWNER")
    approve(harness, ref, "U_QA")
    assert harness.release(ref).status == ReleaseStatus.APPROVED


def test_a_service_policy_wins_over_the_channels(harness: Harness) -> None:
    said(harness, "policy set approvers <@U_QA|qa> <@U_PM|pm>")
    said(harness, "policy payments set quorum 1")
    said(harness, "policy payments set window 90m")
    propose(harness, f"payments 1.0 {iso(ahead())}")
    propose(harness, f"search 1.0 {iso(ahead())}")
    payments, search = harness.release("payments@1.0"), harness.release("search@1.0")
    assert (payments.quorum, payments.window_minutes) == ("1", 90)
    assert (search.quorum, search.window_minutes) == ("all", 60)
    approve(harness, "payments@1.0", "U_QA")
    assert harness.release("payments@1.0").status == ReleaseStatus.APPROVED
    # Wherever the service is proposed.
    said(harness, "policy set approvers <@U_SEC|sec>", channel_id="C_OTHER")
    propose(harness, f"payments 2.0 {iso(ahead())}", channel_id="C_OTHER")
    assert harness.release("payments@2.0").quorum == "1"


def test_a_policy_change_leaves_releases_already_proposed_alone(harness: Harness) -> None:
    said(harness, "policy set approvers <@U_QA|qa> <@U_PM|pm>")
    said(harness, "policy set quorum 1")
    said(harness, "policy set window 90m")
    said(harness, "policy set reminders 2h")
    propose(harness, f"payments 1.0 {iso(ahead())}")
    said(harness, "policy set quorum all")
    said(harness, "policy set window 3h")
    said(harness, "policy unset approvers")
    release = harness.release("payments@1.0")
    assert (release.quorum, release.window_minutes, release.reminder_minutes) == ("1", 90, "120")
    assert approvers(harness, "payments@1.0") == {"U_QA": True, "U_PM": True}
    approve(harness, "payments@1.0", "U_PM")
    assert harness.release("payments@1.0").status == ReleaseStatus.APPROVED


def test_every_change_is_audited_and_shown_in_the_history(harness: Harness) -> None:
    said(harness, "policy set quorum each-group")
    said(harness, "policy set quorum all", user_id=PM)
    said(harness, "policy payments set owner-can-approve yes")
    said(harness, "policy unset quorum")
    history = said(harness, "policy history", user_id="U_OTHER")
    assert "<@U_PM> · `quorum` for <#C_RELEASES>: _not set_ → one per group and every person" in (
        history
    )
    assert "`quorum` for <#C_RELEASES>: one per group and every person → all" in history
    assert "`owner-can-approve` for service *payments*: _not set_ → yes" in history
    assert "`quorum` for <#C_RELEASES>: all → _not set_" in history
    with harness.session() as session:
        events = session.exec(
            select(AuditEvent).where(AuditEvent.action.in_(("policy_set", "policy_unset")))  # type: ignore[attr-defined]
        ).all()
    assert len(events) == 4 and all(e.release_id is None for e in events)
    assert events[1].before == {
        "scope": "channel",
        "target": "C_RELEASES",
        "key": "quorum",
        "value": "each-group",
    }
    assert events[1].after is not None and events[1].after["value"] == "all"


def test_the_edit_form_shows_errors_on_the_form_then_saves(harness: Harness) -> None:
    said(harness, "policy")
    harness.client.click_button(
        reply_message(harness),
        "C_RELEASES",
        user_id=PM,
        action_id=ids.POLICY_EDIT,
        is_ephemeral=True,
        response_url=harness.slack.new_response_url(),
    )
    harness.wait()
    view = harness.slack.last_view(ids.POLICY_FORM)
    response = harness.client.view_submission(
        view,
        user_id=PM,
        values={"policy_approvers": ["U_QA"], "policy_quorum": "3", "policy_window": "1m"},
    )
    errors = response.json()["errors"]
    assert set(errors) == {"policy_window"}
    assert "window" in errors["policy_window"]
    response = harness.client.view_submission(
        view, user_id=PM, values={"policy_approvers": ["U_QA"], "policy_quorum": "3"}
    )
    assert "a quorum of 3 needs at least 3 approvers" in response.json()["errors"]["policy_quorum"]
    harness.submit_modal(
        ids.POLICY_FORM,
        user_id=PM,
        policy_approvers=["U_QA", "U_SEC"],
        policy_approver_groups="@qa",
        policy_quorum="2",
        policy_owner_can_approve="yes",
    )
    shown = said(harness, "policy", user_id="U_OTHER")
    assert "*quorum*: any 2 — _from this channel_" in shown
    assert "*approvers*: <@U_QA>, <@U_SEC>, <!subteam^S_QA> — _from this channel_" in shown
    assert "*owner-can-approve*: yes — _from this channel_" in shown


def test_racing_policy_changes_on_postgresql_leave_one_value_and_both_audited(
    postgres_url: str, fake_slack: FakeSlack
) -> None:
    with Harness(postgres_url, fake_slack, RELEASEBOT_RELEASE_MANAGERS="U_PM,U_SEC") as harness:
        for round_ in range(3):
            barrier = threading.Barrier(2)

            def change(user: str, value: str, barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                harness.client.command(
                    f"policy set window {value}",
                    user_id=user,
                    response_url=harness.slack.new_response_url(),
                )

            threads = [
                threading.Thread(target=change, args=("U_PM", f"{30 + round_}m")),
                threading.Thread(target=change, args=("U_SEC", f"{60 + round_}m")),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            harness.wait()
            with harness.session() as session:
                rows = session.exec(select(PolicySetting)).all()
                events = session.exec(
                    select(AuditEvent).where(AuditEvent.action == "policy_set")
                ).all()
            assert len(rows) == 1 and rows[0].value in (30 + round_, 60 + round_)
            assert len(events) == 2 * (round_ + 1)
            # The later change saw the earlier one's value as its "before".
            last = sorted(events, key=lambda e: e.id or 0)[-2:]
            assert last[1].before is not None and last[0].after is not None
            assert last[1].before["value"] == last[0].after["value"]
            assert last[1].after is not None and last[1].after["value"] == rows[0].value


def test_a_policy_naming_only_the_owner_refuses_their_proposal(harness: Harness) -> None:
    said(harness, "policy set approvers <@U_OWNER|owner>")
    refused = said(harness, f"propose payments 1.0 {iso(ahead())}", user_id="U_OWNER")
    assert "The policy for <#C_RELEASES> names only you as approver" in refused
    assert "name another approver" in refused
    assert harness.releases() == []

    # The form says so next to the approvers.
    harness.command("propose", user_id="U_OWNER")
    view = harness.slack.last_view(ids.PROPOSE_FORM)
    response = harness.client.view_submission(
        view,
        user_id="U_OWNER",
        values={"service": "payments", "version": "1.0", "when": int(ahead().timestamp())},
    )
    errors = response.json()["errors"]
    assert "names only you as approver" in errors[fields.FIELD_APPROVERS]
    harness.wait()
    assert harness.releases() == []

    # Someone else named signs it; where the owner may sign, the owner does.
    propose(harness, f"payments 1.0 {iso(ahead())} <@U_QA|qa>")
    assert approvers(harness, "payments@1.0") == {"U_QA": False}
    said(harness, "policy set owner-can-approve yes")
    propose(harness, f"payments 1.1 {iso(ahead())}")
    assert approvers(harness, "payments@1.1") == {"U_OWNER": True}


def test_a_forged_policy_form_from_someone_not_a_manager_asks_slack_nothing(
    harness: Harness,
) -> None:
    said(harness, "policy")
    harness.client.click_button(
        reply_message(harness),
        "C_RELEASES",
        user_id=PM,
        action_id=ids.POLICY_EDIT,
        is_ephemeral=True,
        response_url=harness.slack.new_response_url(),
    )
    harness.wait()
    view = harness.slack.last_view(ids.POLICY_FORM)
    harness.slack.clear()
    response = harness.client.view_submission(
        view,
        user_id="U_OTHER",
        values={
            "policy_approvers": ["U_NOBODY"],
            "policy_approver_groups": "@nogroup",
            "policy_escalation": "C_NOWHERE",
        },
    )
    harness.wait()
    errors = response.json()["errors"]
    [refusal] = errors.values()
    assert "Only release managers can change the release policy" in refusal
    assert "NOBODY" not in refusal
    # Only who U_OTHER is was asked (a workspace admin is a manager), nothing they typed.
    asked = [(c.method, c.args.get("user")) for c in harness.slack.calls()]
    assert asked == [("users.info", "U_OTHER")]
    with harness.session() as session:
        assert session.exec(select(PolicySetting)).all() == []


def test_durations_read_every_spelling_of_their_units_and_refuse_the_rest(
    harness: Harness,
) -> None:
    for typed in ("2 hours", "2H", "120 min", " 2h "):
        said(harness, f"policy set window {typed}")
        shown = said(harness, "policy", user_id="U_OTHER")
        assert "*window*: 2 h — _from this channel_" in shown, typed
    said(harness, "policy set reminders 1 day, 90 minutes")
    assert "*reminders*: 24 h, 1.5 h" in said(harness, "policy", user_id="U_OTHER")
    for refused in ("0h", "2 weeks", "120 s", "1.5h", "12345m", "h", "-2h"):
        reply = said(harness, f"policy set window {refused}")
        assert "is not a value for `window`" in reply, refused
