"""A token as a reader and an actor: it finds releases by name as a public-only reader
(`fixes` included), and acts with its person's rights as they are at each use."""

from __future__ import annotations

import re

from sqlmodel import select

from models.audit import AuditEvent
from tests.handlers.api.conftest import MANAGER, api, make_token, propose
from tests.support.harness import CHANNEL, Harness, rendered_text

PRIVATE = "G_SECRET"
LEAD = "U_LEAD"
TOKEN = re.compile(r"rbk_[A-Za-z0-9_-]{43}")


def said(harness: Harness, text: str, user_id: str) -> str:
    harness.command(text, user_id=user_id)
    return rendered_text(harness.slack.calls("response_url")[-1].args)


def tick_all(harness: Harness, ref: str) -> None:
    for position in range(5):
        harness.tick(harness.release(ref), position)


def test_fixes_naming_a_private_release_answers_as_an_unknown_ref(harness: Harness) -> None:
    # The token's own person owns the private release: the token still may not name it.
    propose(harness, "secretsvc@1.0.0", channel_id=PRIVATE)
    assert harness.release("secretsvc@1.0.0").private
    client = api(harness, make_token(harness))
    body = {"service": "secretsvc", "channel": CHANNEL}

    hidden = client.post("/releases", json=body | {"version": "1.0.1", "fixes": "secretsvc@1.0.0"})
    unknown = client.post("/releases", json=body | {"version": "1.0.1", "fixes": "secretsvc@0.9.9"})
    assert (hidden.status_code, unknown.status_code) == (422, 422), hidden.text
    assert hidden.json()["error"] == unknown.json()["error"] == "fixes_unknown"
    assert hidden.json()["message"].replace("1.0.0", "X") == unknown.json()["message"].replace(
        "0.9.9", "X"
    )
    # A version of the same service alone is looked up the same way.
    bare = client.post("/releases", json=body | {"version": "1.0.1", "fixes": "1.0.0"})
    assert bare.status_code == 422 and bare.json()["error"] == "fixes_unknown"
    assert [r.ref for r in harness.releases()] == ["secretsvc@1.0.0"]


def test_fixes_naming_a_public_release_links_it(harness: Harness) -> None:
    propose(harness, "payments@1.0.0")
    client = api(harness, make_token(harness))
    answer = client.post(
        "/releases",
        json={
            "service": "payments",
            "version": "1.0.1",
            "channel": CHANNEL,
            "fixes": "payments@1.0.0",
        },
    )
    assert answer.status_code == 201, answer.text
    fixed = harness.release("payments@1.0.0")
    assert harness.release("payments@1.0.1").fixes_release_id == fixed.id


def created_token(harness: Harness, user_id: str) -> str:
    harness.command("token create ci", user_id=user_id)
    answer = rendered_text(harness.slack.calls("response_url")[-1].args)
    found = TOKEN.findall(answer)
    assert len(found) == 1, answer
    return found[0]


def test_a_token_has_its_persons_rights_now_not_when_it_was_made(harness: Harness) -> None:
    harness.slack.add_user(LEAD)
    harness.command("managers add <@U_LEAD|lead>", user_id=MANAGER)
    client = api(harness, created_token(harness, LEAD))
    propose(harness, "payments@1.0.0")  # the owner's, not the token's person's
    assert client.get("/audit").status_code == 200

    harness.command("managers remove <@U_LEAD|lead>", user_id=MANAGER)
    refused = client.get("/audit", params={"format": "jsonl"})
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "token_not_manager"
    assert refused.json()["message"] == (
        "This token acts for @U_LEAD, who is not a release manager now: only release "
        "managers can export the audit trail."
    )
    with harness.session() as session:
        exports = session.exec(select(AuditEvent).where(AuditEvent.action == "audit_exported"))
        assert len(exports.all()) == 1  # the refused one exported nothing
    # Nor does it act on releases others own, as a manager may.
    tick_all(harness, "payments@1.0.0")
    harness.command("go payments@1.0.0")
    report = client.post("/releases/payments@1.0.0/deployments", json={"state": "succeeded"})
    assert report.status_code == 403 and report.json()["error"] == "not_owner", report.text
    # What anyone may do, it still does.
    assert client.get("/releases/payments@1.0.0").status_code == 200

    listing = said(harness, "token list", MANAGER)
    assert "<@U_LEAD> is not a release manager now" in listing, listing
    assert "can't export the audit trail" in listing

    # Made a manager again: the same token has the rights again.
    harness.command("managers add <@U_LEAD|lead>", user_id=MANAGER)
    assert client.get("/audit").status_code == 200
    assert "is not a release manager now" not in said(harness, "token list", MANAGER)


def test_a_token_of_a_manager_by_group_loses_the_rights_with_the_group(
    harness: Harness,
) -> None:
    harness.slack.add_usergroup("S_LEADS", "leads", [LEAD])
    harness.command("managers add <!subteam^S_LEADS|@leads>", user_id=MANAGER)
    client = api(harness, created_token(harness, LEAD))
    assert client.get("/audit").status_code == 200
    harness.slack.add_usergroup("S_LEADS", "leads", [])
    assert client.get("/audit").status_code == 403


def test_a_body_json_cannot_hold_gets_the_documented_error_shape(harness: Harness) -> None:
    client = api(harness, make_token(harness))
    headers = {"Content-Type": "application/json"}
    nested = b'{"service": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    long_number = b'{"service": "payments", "version": ' + b"9" * 5000 + b"}"
    for body in (nested, long_number):
        answer = client.post("/releases", content=body, headers=headers)
        assert answer.status_code == 400, answer.text
        assert answer.json() == {
            "error": "invalid_request",
            "message": "The body can't be read: JSON nested too deeply, or a number too long.",
        }
    # Whatever FastAPI answers itself takes the same shape.
    unknown = client.get("/nowhere")
    assert unknown.status_code == 404 and set(unknown.json()) == {"error", "message"}
    wrong = client.delete("/releases")
    assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"
    assert harness.releases() == []
