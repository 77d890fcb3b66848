"""GET /api/v1/services/{service}/releases: a service's releases, a page at a time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models.release.records import ReleaseStatus
from tests.handlers.api.conftest import api, make_token
from tests.handlers.slack.history_rows import NOW, add_release
from tests.support.harness import Harness

S = ReleaseStatus


def build(harness: Harness) -> None:
    with harness.session() as session:
        for i in range(7):
            add_release(
                session,
                "payments",
                f"1.{i}",
                S.ROLLED_BACK if i == 3 else S.RELEASED,
                proposed=NOW - timedelta(days=30 - i),
                finished=NOW - timedelta(days=29 - i),
                signed=[("U_QA", timedelta(hours=2)), ("S_QA", None)],
                permalink=f"https://example.slack.com/archives/C_RELEASES/p{i}",
            )
        add_release(session, "payments", "1.7", S.CANCELLED, proposed=NOW - timedelta(days=2))
        add_release(session, "payments", "2.0", S.ROLLING_OUT, proposed=NOW - timedelta(hours=1))
        # Private: a token never sees it, nor its production version.
        add_release(
            session,
            "payments",
            "6.6.6",
            S.RELEASED,
            proposed=NOW - timedelta(days=1),
            channel="G_SECRET",
            private=True,
        )
        add_release(session, "payments", "9.9", S.RELEASED, proposed=NOW, team="T_OTHER")


@pytest.mark.both_databases
def test_the_history_pages_with_a_before_cursor(harness: Harness) -> None:
    build(harness)
    client = api(harness, make_token(harness))
    first = client.get("/services/payments/releases", params={"limit": 3})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["service"] == "payments"
    assert body["in_production"]["version"] == "1.6"  # not the private 6.6.6
    assert [r["ref"] for r in body["in_flight"]] == ["payments@2.0"]
    assert [r["version"] for r in body["releases"]] == ["1.7", "1.6", "1.5"]
    top = body["releases"][1]
    assert top["status"] == "released" and top["owner"] == "U_OWNER"
    assert top["url"] == "https://example.slack.com/archives/C_RELEASES/p6"
    assert top["at"].endswith("Z") and top["target_at"].endswith("Z")
    assert [(s["who"], s["state"]) for s in top["sign_offs"]] == [
        ("U_QA", "approved"),
        ("S_QA", "pending"),
    ]
    assert body["next"] == harness.release("payments@1.5").uid

    seen = [r["version"] for r in body["releases"]]
    statuses = {r["version"]: r["status"] for r in body["releases"]}
    cursor = body["next"]
    while cursor:
        page = client.get("/services/payments/releases", params={"limit": 3, "before": cursor})
        assert page.status_code == 200, page.text
        seen += [r["version"] for r in page.json()["releases"]]
        statuses |= {r["version"]: r["status"] for r in page.json()["releases"]}
        cursor = page.json()["next"]
    assert seen == ["1.7", "1.6", "1.5", "1.4", "1.3", "1.2", "1.1", "1.0"]
    assert statuses["1.3"] == "rolled_back" and statuses["1.7"] == "cancelled"
    # The default page is 10, the most 50.
    whole = client.get("/services/payments/releases").json()
    assert len(whole["releases"]) == 8 and whole["next"] is None
    assert client.get("/services/payments/releases?limit=51").status_code == 422
    assert client.get("/services/payments/releases?limit=0").status_code == 422


def test_a_bad_or_private_cursor_is_refused_alike(harness: Harness) -> None:
    build(harness)
    client = api(harness, make_token(harness))
    private_uid = harness.release("payments@6.6.6").uid
    other_workspace = harness.release("payments@9.9").uid
    answers = [
        client.get("/services/payments/releases", params={"before": cursor})
        for cursor in (private_uid, other_workspace, "nonsense-cursor", "x" * 33)
    ]
    assert [a.status_code for a in answers] == [422, 422, 422, 422]
    assert answers[0].json() == answers[2].json()  # says nothing of what exists
    assert answers[0].json()["error"] == "history_cursor"
    assert "6.6.6" not in answers[0].text


def test_the_token_scope_and_service_names(harness: Harness) -> None:
    build(harness)
    scoped = api(harness, make_token(harness, "ci", ("checkout",)))
    refused = scoped.get("/services/payments/releases")
    assert refused.status_code == 403 and refused.json()["error"] == "token_scope"
    assert scoped.get("/services/checkout/releases").json() == {
        "service": "checkout",
        "in_production": None,
        "in_flight": [],
        "releases": [],
        "next": None,
    }
    assert api(harness).get("/services/payments/releases").status_code == 401
    assert api(harness, "rbk_" + "x" * 40).get("/services/payments/releases").status_code == 401
    client = api(harness, make_token(harness, "all"))
    for hostile in ("%3C%21channel%3E", "pay%20ments", "*bold*", "a" * 65):
        answer = client.get(f"/services/{hostile}/releases")
        assert answer.status_code == 422, (hostile, answer.text)
        assert answer.json()["error"] == "service_invalid"
        assert "is not a service name" in answer.json()["message"]
    # Names are read as Slack reads them: case does not matter.
    assert client.get("/services/PAYMENTS/releases").json()["in_production"]["version"] == "1.6"
