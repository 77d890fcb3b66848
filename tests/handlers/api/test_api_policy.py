"""A proposal from the API gets the release policy of the channel it names, as one typed
in Slack does: the policy set with signed slash commands, the release proposed over HTTP."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from handlers.slack_kit import ids
from models.audit import AuditEvent
from models.release.records import Approver, ChecklistItem, Release, ReleaseStatus
from tests.handlers.api.conftest import MANAGER, api, make_token, propose
from tests.support.harness import CHANNEL, OWNER, Harness, ahead, iso, rendered_text

CAROL = "U_CAROL"
ANNOUNCE = "C_ANNOUNCE"
ESCALATION = "C_ESCALATE"


def said(harness: Harness, text: str, user_id: str = MANAGER) -> str:
    harness.slack.clear()
    return harness.private_reply(harness.command(text, user_id=user_id))


def set_policy(harness: Harness) -> None:
    """#releases's policy, set by a release manager in Slack."""
    harness.slack.add_user(CAROL, "carol")
    harness.slack.add_channel(ANNOUNCE, "announcements")
    harness.slack.add_channel(ESCALATION, "escalations")
    for text in (
        f"policy set approvers <@{CAROL}|carol>",
        "policy set checklist a;b;c",
        f"policy set announce <#{ANNOUNCE}|announcements>",
        f"policy set escalation <#{ESCALATION}|escalations>",
        "policy set reminders 2h",
        "policy set window 90m",
    ):
        key = text.split()[2]
        assert f"`{key}` for <#{CHANNEL}> is now" in said(harness, text)


def approvers(harness: Harness, release: Release) -> dict[str, bool]:
    with harness.session() as session:
        rows = session.exec(select(Approver).where(Approver.release_id == release.id))
        return {a.slack_id: a.required for a in rows}


def checklist(harness: Harness, release: Release) -> list[str]:
    with harness.session() as session:
        rows = session.exec(
            select(ChecklistItem)
            .where(ChecklistItem.release_id == release.id)
            .order_by(col(ChecklistItem.position))
        )
        return [item.text for item in rows]


def proposed_event(harness: Harness, release: Release) -> dict[str, Any]:
    with harness.session() as session:
        event = session.exec(
            select(AuditEvent).where(
                AuditEvent.release_id == release.id, AuditEvent.action == "proposed"
            )
        ).one()
    assert event.after is not None
    return event.after


def test_an_api_proposal_gets_the_policy_of_its_channel(harness: Harness) -> None:
    set_policy(harness)
    client = api(harness, make_token(harness))
    answer = client.post(
        "/releases", json={"service": "polsvc", "version": "1.0.0", "channel": CHANNEL}
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "proposed"  # Carol must sign first
    release = harness.release("polsvc@1.0.0")
    assert approvers(harness, release) == {CAROL: True}
    assert checklist(harness, release) == ["a", "b", "c"]
    assert (release.window_minutes, release.reminder_minutes) == (90, "120")
    assert (release.announce_to, release.escalation_channel) == (ANNOUNCE, ESCALATION)

    # Approvers named by the pipeline join the policy's, never replace them.
    answer = client.post(
        "/releases",
        json={"service": "polsvc", "version": "1.0.1", "channel": CHANNEL, "approvers": ["U_QA"]},
    )
    assert answer.status_code == 201, answer.text
    assert approvers(harness, harness.release("polsvc@1.0.1")) == {CAROL: True, "U_QA": False}

    # Its audit row records the policy as one typed in Slack does.
    propose(harness, "polsvc@1.0.2")
    by_hand = harness.release("polsvc@1.0.2")
    assert approvers(harness, by_hand) == {CAROL: True}
    from_api = proposed_event(harness, release)
    assert from_api["policy"] == proposed_event(harness, by_hand)["policy"]
    assert from_api["policy"] == {
        "quorum": "all",
        "owner_can_approve": False,
        "window_minutes": 90,
        "reminders": "120",
        "announce": ANNOUNCE,
        "escalation": ESCALATION,
    }
    assert from_api["approvers"] == [CAROL]


def test_an_override_of_a_freeze_on_an_api_release_is_escalated(harness: Harness) -> None:
    set_policy(harness)
    client = api(harness, make_token(harness))
    answer = client.post(
        "/releases",
        json={
            "service": "polsvc",
            "version": "1.0.0",
            "channel": CHANNEL,
            "target_at": ahead().isoformat(),
        },
    )
    assert answer.status_code == 201, answer.text
    release = harness.release("polsvc@1.0.0")
    harness.click(harness.card(release), ids.APPROVE, user_id=CAROL)
    for position in range(3):
        harness.tick(harness.release(release.ref), position)
    assert harness.release(release.ref).status == ReleaseStatus.APPROVED

    said(harness, f'freeze add "Holidays" now to {iso(ahead(days=3))}')
    harness.command("go polsvc@1.0.0 override: the fix must go out", user_id=MANAGER)
    assert harness.release(release.ref).status == ReleaseStatus.GO
    [escalated] = harness.slack.messages(ESCALATION)
    text = rendered_text(escalated)
    assert "<@U_PM> overrode the freeze “Holidays”" in text and "polsvc@1.0.0" in text


def test_a_policy_naming_only_the_owner_refuses_an_api_proposal(harness: Harness) -> None:
    said(harness, f"policy set approvers <@{OWNER}|owner>")
    client = api(harness, make_token(harness))  # the token acts for OWNER
    answer = client.post(
        "/releases", json={"service": "polsvc", "version": "1.0.0", "channel": CHANNEL}
    )
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert (body["error"], body["field"]) == ("policy_only_owner", "approvers")
    assert "names only you" in body["message"] and "<@" not in body["message"]
    assert harness.releases() == []

    # Someone else named: that person signs.
    answer = client.post(
        "/releases",
        json={"service": "polsvc", "version": "1.0.0", "channel": CHANNEL, "approvers": ["U_QA"]},
    )
    assert answer.status_code == 201, answer.text
    assert approvers(harness, harness.release("polsvc@1.0.0")) == {"U_QA": False}
