"""A token as a reader and an actor: it finds releases by name as a public-only reader
(`fixes` included), and acts with its person's rights as they are at each use."""

from __future__ import annotations

from tests.handlers.api.conftest import api, make_token, propose
from tests.support.harness import CHANNEL, Harness

PRIVATE = "G_SECRET"


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
