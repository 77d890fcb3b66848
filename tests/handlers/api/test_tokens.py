"""API tokens: managed by release managers in Slack (or a set-up script), shown once,
stored as a hash, scoped to a workspace and services, revocable; 401 and 403."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlmodel import select

from models.api.api_tokens import ApiToken
from models.audit import AuditEvent
from tests.handlers.api.conftest import MANAGER, api, make_token, propose
from tests.support.harness import Harness, rendered_text

# On PostgreSQL too: a partial unique index on live tokens; last use written at most once a minute.
pytestmark = pytest.mark.both_databases

TOKEN = re.compile(r"rbk_[A-Za-z0-9_-]{43}")


def said(harness: Harness, text: str, user_id: str = MANAGER) -> str:
    harness.command(text, user_id=user_id)
    return rendered_text(harness.slack.calls("response_url")[-1].args)


def test_a_manager_creates_a_token_shown_once_and_only_its_hash_is_kept(
    harness: Harness,
) -> None:
    refused = said(harness, "token create ci", user_id="U_OTHER")
    assert "Only release managers can create API tokens" in refused
    assert not TOKEN.search(refused)

    answer = said(harness, "token create ci payments web")
    found = TOKEN.findall(answer)
    assert len(found) == 1, answer
    raw = found[0]
    assert len(raw) - len("rbk_") == 43  # 256 random bits
    assert "shown this once" in answer
    # Privately: through the response_url, ephemeral; never in a channel.
    assert harness.slack.calls("response_url")[-1].args.get("response_type") == "ephemeral"
    assert not any(raw in str(c.args) for c in harness.slack.calls("chat.postMessage"))

    with harness.session() as session:
        (token,) = session.exec(select(ApiToken)).all()
        events = list(session.exec(select(AuditEvent)))
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in str(token.model_dump())
    assert token.scope == ("payments", "web") and token.owner_id == MANAGER
    assert [(e.actor_id, e.action) for e in events] == [(MANAGER, "api_token_created")]
    assert raw not in str([e.model_dump() for e in events])

    listing = said(harness, "token list")
    assert "ci" in listing and "payments, web" in listing and "never used" in listing
    assert not TOKEN.search(listing)
    taken = said(harness, "token create ci")
    assert "exists already" in taken and not TOKEN.search(taken)


def test_every_unusable_token_gets_401_with_www_authenticate(harness: Harness) -> None:
    raw = make_token(harness)
    said(harness, "token revoke ci")
    with harness.session() as session:
        actions = [e.action for e in session.exec(select(AuditEvent))]
    assert actions == ["api_token_created", "api_token_revoked"]

    attempts = {
        "none": api(harness).get("/services/payments"),
        "basic": api(harness).get(
            "/services/payments", headers={"Authorization": "Basic dXNlcjpwYXNz"}
        ),
        "junk": api(harness, "not-a-token").get("/services/payments"),
        "unknown": api(harness, "rbk_" + "A" * 43).get("/services/payments"),
        "revoked": api(harness, raw).get("/services/payments"),
    }
    for name, response in attempts.items():
        assert response.status_code == 401, name
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), name
        assert response.json()["error"] in ("unauthorized", "invalid_token"), name
    assert "No live token" in said(harness, "token revoke ci")


def test_a_token_acts_only_on_its_services_and_in_its_workspace(harness: Harness) -> None:
    propose(harness, "payments@1.0.0")
    propose(harness, "web@1.0.0")
    scoped = api(harness, make_token(harness, "payments-ci", ("payments",)))
    elsewhere = api(harness, make_token(harness, "other-team", team="T_OTHER"))

    assert scoped.get("/releases/payments@1.0.0").status_code == 200
    refused = scoped.get("/releases/web@1.0.0")
    assert refused.status_code == 403 and refused.json()["error"] == "token_scope"
    # Out of scope reads the same whether the release exists or not.
    assert scoped.get("/releases/web@9.9.9").json() == refused.json()
    assert scoped.get("/services/web").status_code == 403
    post = scoped.post("/releases", json={"service": "web", "version": "2.0", "channel": "C1"})
    assert post.status_code == 403
    # Another workspace's token sees none of this workspace's releases.
    assert elsewhere.get("/releases/payments@1.0.0").status_code == 404


def test_a_private_release_reads_exactly_like_a_missing_one(harness: Harness) -> None:
    propose(harness, "payments@1.0.0", channel_id="G_PRIVATE")
    client = api(harness, make_token(harness))
    hidden = client.get("/releases/payments@1.0.0")
    missing = client.get("/releases/payments@1.0.1")
    assert (hidden.status_code, missing.status_code) == (404, 404)
    assert hidden.json()["error"] == missing.json()["error"] == "no_release"
    assert hidden.json()["message"].replace("1.0.0", "X") == missing.json()["message"].replace(
        "1.0.1", "X"
    )
    # Proposing the same version again: refused without saying whose or what state.
    taken = client.post(
        "/releases", json={"service": "payments", "version": "1.0.0", "channel": "C_RELEASES"}
    )
    assert taken.status_code == 409, taken.text
    assert taken.json() == {
        "error": "duplicate",
        "message": "payments@1.0.0 can't be used: pick a new version.",
        "field": "version",
    }


@pytest.mark.clock
def test_use_is_recorded_at_most_once_a_minute(harness: Harness) -> None:
    client = api(harness, make_token(harness))
    start = harness.clock()
    harness.clock.pin(start)

    def last_used() -> object:
        with harness.session() as session:
            return session.exec(select(ApiToken.last_used_at)).one()

    assert last_used() is None
    client.get("/services/payments")
    assert last_used() == start
    harness.clock.advance(timedelta(seconds=30))
    client.get("/services/payments")
    assert last_used() == start
    harness.clock.advance(timedelta(seconds=31))
    client.get("/services/payments")
    assert last_used() == start + timedelta(seconds=61)
    assert "last used" in said(harness, "token list")
