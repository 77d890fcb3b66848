"""Who may act on a release, and which release a click names: checklist rights, hidden
releases that read like missing ones, and buttons that outlive their release."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlmodel import select

from bot.sandbox.slack_standin import FakeSlack
from handlers.slack_kit import ids
from models import fields
from models.audit import AuditEvent
from models.release.records import ChecklistItem, ReleaseStatus
from tests.support.harness import OWNER, Harness, ahead, iso, rendered_text

PRIVATE = "G_SECRET"


def private_answer(harness: Harness) -> str:
    posts = harness.slack.calls("response_url") + harness.slack.calls("chat.postEphemeral")
    assert posts, "nothing was said privately"
    return rendered_text(posts[-1].args)


def ticks(harness: Harness, release_id: int) -> list[str | None]:
    with harness.session() as session:
        items = session.exec(
            select(ChecklistItem)
            .where(ChecklistItem.release_id == release_id)
            .order_by(ChecklistItem.position)  # type: ignore[arg-type]
        )
        return [item.checked_by for item in items]


def checkbox_block(message: dict[str, Any]) -> dict[str, Any]:
    return next(
        b
        for b in message["blocks"]
        if b["type"] == "actions" and any(e["type"] == "checkboxes" for e in b["elements"])
    )


def test_only_owner_and_approvers_tick_the_checklist(harness: Harness) -> None:
    harness.command(f"propose payments 2.4.0 {iso(ahead())} <@U_QA|qa>")
    release = harness.release("payments@2.4.0")
    assert release.id is not None

    harness.tick(release, 0, user_id="U_OTHER")
    assert "can change its checklist" in private_answer(harness)
    assert ticks(harness, release.id)[0] is None

    harness.tick(release, 0, user_id="U_QA")
    harness.tick(release, 1, user_id=OWNER)
    assert ticks(harness, release.id)[:2] == ["U_QA", OWNER]
    with harness.session() as session:
        actors = {e.actor_id for e in session.exec(select(AuditEvent))}
    assert "U_OTHER" not in actors


def test_members_of_an_approver_group_may_tick(harness: Harness) -> None:
    harness.command(f"propose payments 2.4.0 {iso(ahead())} <!subteam^S_QA|@qa>")
    release = harness.release("payments@2.4.0")
    assert release.id is not None
    harness.tick(release, 0, user_id="U_QA2")
    assert ticks(harness, release.id)[0] == "U_QA2"


def test_a_forged_checklist_payload_for_another_release_changes_nothing(
    harness: Harness,
) -> None:
    """Someone uses their own release's checklist message, pointed at another (private)
    release's block id, with every option selected: refused like a missing release."""
    harness.command(f"propose secretsvc 1.0.0 {iso(ahead())} <@U_QA|qa>", channel_id=PRIVATE)
    secret = harness.release("secretsvc@1.0.0")
    assert secret.id is not None
    harness.command(f"propose mine 1.0.0 {iso(ahead())} <@U_QA|qa>", user_id="U_OTHER")
    mine = harness.release("mine@1.0.0")
    forged = json.loads(json.dumps(harness.checklist(mine)))
    target = checkbox_block(harness.checklist(secret))["block_id"]
    checkbox_block(forged)["block_id"] = target
    for element in checkbox_block(forged)["elements"]:
        element.pop("initial_options", None)
    response = harness.client.toggle_checkboxes(
        forged,
        mine.channel_id,
        user_id="U_OTHER",
        action_id=ids.CHECKLIST,
        selected_values=[str(p) for p in range(5)],
    )
    assert response.status_code == 200
    harness.wait()
    answer = private_answer(harness)
    assert "no longer exists" in answer and "secretsvc" not in answer
    assert ticks(harness, secret.id) == [None] * 5


def test_a_forged_button_naming_a_hidden_release_reads_like_a_missing_one(
    harness: Harness,
) -> None:
    harness.command(f"propose secretsvc 1.0.0 {iso(ahead())} <@U_QA|qa>", channel_id=PRIVATE)
    secret = harness.release("secretsvc@1.0.0")
    harness.command(f"propose mine 1.0.0 {iso(ahead())} <@U_QA|qa>", user_id="U_OTHER")
    forged = json.loads(json.dumps(harness.card(harness.release("mine@1.0.0"))))
    for block in forged["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == ids.APPROVE:
                element["value"] = secret.uid
    harness.click(forged, ids.APPROVE, user_id="U_SEC")
    answer = private_answer(harness)
    assert "no longer exists" in answer
    assert "secretsvc" not in answer and "U_OWNER" not in answer


def test_a_duplicate_of_a_hidden_release_is_refused_without_naming_it(harness: Harness) -> None:
    harness.command(f"propose secretsvc 1.0.0 {iso(ahead())} <@U_QA|qa>", channel_id=PRIVATE)
    reply = harness.private_reply(
        harness.command(f"propose secretsvc 1.0.0 {iso(ahead())}", user_id="U_OTHER")
    )
    assert "pick a new version" in reply
    assert PRIVATE not in reply and "proposed" not in reply.lower()
    assert "http" not in reply  # no permalink into the private channel
    assert len(harness.releases()) == 1
    # Those who may see it are told what it is.
    mine = harness.private_reply(harness.command(f"propose secretsvc 1.0.0 {iso(ahead())}"))
    assert "already exists" in mine


def test_a_button_left_behind_by_a_deleted_release_never_acts_on_a_new_one(
    harness: Harness,
) -> None:
    """SQLite hands a deleted row's id to the next row: a card whose release is gone must
    not approve whichever release got its id."""
    harness.command(f"propose old 1.0.0 {iso(ahead())} <@U_QA|qa>")
    old = harness.release("old@1.0.0")
    old_card = harness.card(old)
    with harness.session() as session:
        for table in ("reminder", "checklist_item", "approver", "audit_event"):
            session.execute(text(f"DELETE FROM {table} WHERE release_id = :id"), {"id": old.id})
        session.execute(text("DELETE FROM release WHERE id = :id"), {"id": old.id})
    harness.command(f"propose new 1.0.0 {iso(ahead())} <@U_QA|qa>")
    new = harness.release("new@1.0.0")

    harness.click(old_card, ids.APPROVE, user_id="U_QA")
    assert "no longer exists" in private_answer(harness)
    assert harness.release("new@1.0.0").status == ReleaseStatus.PROPOSED
    assert new.uid != old.uid


def test_a_forged_form_naming_a_hidden_release_reads_like_a_missing_one(
    harness: Harness,
) -> None:
    harness.command(f"propose secretsvc 1.0.0 {iso(ahead())} <@U_QA|qa>", channel_id=PRIVATE)
    secret = harness.release("secretsvc@1.0.0")
    harness.command(f"propose mine 1.0.0 {iso(ahead())} <@U_QA|qa>", user_id="U_OTHER")
    harness.click(harness.card(harness.release("mine@1.0.0")), ids.EDIT, user_id="U_OTHER")
    form = json.loads(json.dumps(harness.slack.last_view(ids.EDIT_FORM)))
    metadata = json.loads(form["private_metadata"])
    form["private_metadata"] = json.dumps(metadata | {"release": secret.uid})
    response = harness.client.view_submission(
        form, user_id="U_OTHER", values={fields.FIELD_NOTES: "mine now"}
    )
    harness.wait()
    errors = json.dumps(response.json())
    assert "no longer exists" in errors and "secretsvc" not in errors
    assert harness.release("secretsvc@1.0.0").notes == ""


def test_a_form_never_answers_on_a_response_url_outside_slack(harness: Harness) -> None:
    """A form's stored response_url is used only on Slack's hooks host: elsewhere the
    person is answered by Slack's own API instead."""
    elsewhere = FakeSlack().start()
    try:
        harness.command(f"propose payments 2.4.0 {iso(ahead())} <@U_QA|qa>")
        release = harness.release("payments@2.4.0")
        harness.click(harness.card(release), ids.EDIT, user_id=OWNER)
        form = json.loads(json.dumps(harness.slack.last_view(ids.EDIT_FORM)))
        metadata = json.loads(form["private_metadata"])
        form["private_metadata"] = json.dumps(
            metadata | {"response_url": elsewhere.new_response_url()}
        )
        harness.command("cancel payments@2.4.0")  # the edit will now be refused
        harness.client.view_submission(form, user_id=OWNER, values={fields.FIELD_NOTES: "later"})
        harness.wait()
        assert elsewhere.calls() == []
        dms = [c for c in harness.slack.calls("chat.postMessage") if c.args["channel"] == OWNER]
        assert dms and "can't be changed" in rendered_text(dms[-1].args)
    finally:
        elsewhere.stop()
