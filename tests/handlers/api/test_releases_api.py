"""The API's releases and services: reads, a proposal from CI that shows in Slack as a
slash command's does, idempotency, rate limits, the OpenAPI document, the HTTP edge."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from openapi_spec_validator import validate
from sqlmodel import select

from bot.sandbox.slack_standin import FakeSlack
from bot.web import create_web_app
from models.api.idempotency import IdempotencyKey
from models.db import Database
from tests.handlers.api.conftest import api, make_token, propose
from tests.support.harness import CHANNEL, OWNER, Harness, ahead, iso, rendered_text
from tests.support.server import BackgroundServer
from tests.support.waiting import wait_until

BODY = {
    "service": "payments",
    "version": "2.4.0",
    "channel": CHANNEL,
    "approvers": ["U_QA"],
    "notes": "Faster refunds",
    "commit_sha": "0123456789abcdef0123456789abcdef01234567",
    "pipeline_url": "https://ci.example.com/pipelines/42?tab=jobs&x=1",
}


def tick_all(harness: Harness, ref: str) -> None:
    for position in range(5):
        harness.tick(harness.release(ref), position)


def test_a_release_reads_as_in_slack(harness: Harness) -> None:
    propose(harness, "payments@2.4.0", "<@U_QA|qa> <!subteam^S_QA|qa> phased 10,50")
    harness.click(
        harness.card(harness.release("payments@2.4.0")), "release_approve", user_id="U_QA"
    )
    harness.tick(harness.release("payments@2.4.0"), 0)
    release = harness.release("payments@2.4.0")

    answer = api(harness, make_token(harness)).get("/releases/payments@2.4.0")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["ref"] == "payments@2.4.0" and body["id"] == release.uid
    assert body["status"] == "proposed" and body["owner"] == OWNER
    assert body["stage"] == {"current_percentage": None, "stages": [10, 50, 100]}
    assert body["target_at"].endswith("Z")
    assert datetime.fromisoformat(body["target_at"]) == release.target_at
    assert body["url"] == release.permalink and body["url"].startswith("https://")
    assert body["checklist"] == {"done": 1, "total": 5}
    sign_offs = {s["who"]: s for s in body["sign_offs"]}
    assert sign_offs["U_QA"]["state"] == "approved" and sign_offs["U_QA"]["signed_by"] == "U_QA"
    assert sign_offs["U_QA"]["at"].endswith("Z")
    assert sign_offs["S_QA"] == {
        "who": "S_QA",
        "kind": "usergroup",
        "state": "pending",
        "signed_by": None,
        "at": None,
    }
    actions = [e["action"] for e in body["history"]]
    assert actions[0] == "proposed" and len(actions) >= 3
    assert all(e["actor"] for e in body["history"])


def test_a_service_shows_production_in_flight_and_the_last_released(harness: Harness) -> None:
    for version in ("1.0.0", "1.1.0"):
        ref = f"payments@{version}"
        propose(harness, ref)
        tick_all(harness, ref)
        harness.command(f"go {ref}")
        harness.command(f"done {ref}")
    propose(harness, "payments@1.2.0")
    tick_all(harness, "payments@1.2.0")
    harness.command("go payments@1.2.0")
    propose(harness, "payments@9.0.0", channel_id="G_PRIVATE")  # private: never counted
    tick_all(harness, "payments@9.0.0")
    harness.command("go payments@9.0.0", channel_id="G_PRIVATE")
    harness.command("done payments@9.0.0", channel_id="G_PRIVATE")

    client = api(harness, make_token(harness))
    body = client.get("/services/payments").json()
    assert body["service"] == "payments"
    assert body["in_production"]["version"] == "1.1.0"
    assert body["in_production"]["released_at"].endswith("Z")
    assert [r["version"] for r in body["released"]] == ["1.1.0", "1.0.0"]
    assert [(r["ref"], r["status"]) for r in body["in_flight"]] == [("payments@1.2.0", "go")]
    assert [r["version"] for r in client.get("/services/payments?limit=1").json()["released"]] == [
        "1.1.0"
    ]
    assert client.get("/services/payments?limit=51").status_code == 422
    assert client.get("/services/payments?limit=0").status_code == 422
    empty = client.get("/services/unknown").json()
    assert empty == {"service": "unknown", "in_production": None, "in_flight": [], "released": []}


def test_a_proposals_warnings_never_name_a_private_release(harness: Harness) -> None:
    """A token reads public releases only, even one acting for the private release's own
    owner: a private release in the window is a conflict it learns of, never by name."""
    propose(harness, "payments@2.3.0", channel_id="G_PRIVATE")
    assert harness.release("payments@2.3.0").private
    client = api(harness, make_token(harness, owner=OWNER))
    answer = client.post("/releases", json={**BODY, "target_at": iso(ahead())})
    assert answer.status_code == 201, answer.text
    [warning] = answer.json()["warnings"]
    assert "another release you can't see" in warning and "2.3.0" not in warning


def test_a_proposal_from_ci_shows_in_slack_as_a_slash_commands_does(harness: Harness) -> None:
    client = api(harness, make_token(harness))
    answer = client.post("/releases", json=BODY)
    assert answer.status_code == 201, answer.text
    release = harness.release("payments@2.4.0")
    assert answer.json() == {
        "ref": "payments@2.4.0",
        "id": release.uid,
        "status": "proposed",
        "url": release.permalink,
        "warnings": [],  # nothing else in its window
    }
    assert release.owner_id == OWNER and release.permalink
    # Defaults: an hour from now.
    assert abs(release.target_at - (datetime.now(UTC) + timedelta(hours=1))) < timedelta(minutes=1)

    propose(harness, "payments@2.5.0", "<@U_QA|qa> notes: Faster refunds")
    by_hand = harness.release("payments@2.5.0")
    card, slash_card = harness.card(release), harness.card(by_hand)
    text = rendered_text(card)
    assert "<https://ci.example.com/pipelines/42?tab=jobs&amp;x=1|Pipeline>" in text
    assert "commit `0123456789ab`" in text

    # The same card but for the version and the line saying where it was built.
    def shape(message: dict) -> list[str]:
        return [b["type"] for b in message["blocks"]]

    assert shape(card) == shape(slash_card)[:-1] + ["context", "context"]
    # Its checklist in the thread, the approver's Home tab, as for the slash command.
    assert "Go/no-go checklist" in rendered_text(harness.checklist(release))
    assert harness.slack.home_view("U_QA")
    with harness.session() as session:
        from sqlmodel import select

        from models.audit import AuditEvent

        proposed = session.exec(
            select(AuditEvent).where(AuditEvent.release_id == release.id).order_by(AuditEvent.id)  # type: ignore[arg-type]
        ).first()
    assert proposed is not None and proposed.actor_id == OWNER
    assert proposed.detail == 'via API token "ci"'

    # The same again: 409, in words.
    again = client.post("/releases", json=BODY)
    assert again.status_code == 409 and again.json()["error"] == "duplicate"


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        ({"target_at": "2001-01-01T10:00:00Z"}, "when_past", "in the past"),
        ({"service": "Pay ments!"}, "service_invalid", "not a service name"),
        ({"version": "2.4.0 beta"}, "version_invalid", "not a version"),
        ({"commit_sha": "xyz"}, "commit_invalid", "not a commit"),
        ({"pipeline_url": "javascript:alert(1)"}, "pipeline_url_invalid", "pipeline link"),
        ({"approvers": [OWNER]}, "own_approval", "can't approve your own release"),
        ({"approvers": ["nobody"]}, "invalid_request", "approvers.0"),
        ({"target_at": "2030-01-01T10:00:00"}, "invalid_request", "target_at"),
        ({"colour": "red"}, "invalid_request", "colour"),
    ],
)
def test_invalid_proposals_get_422_in_the_domains_words(
    harness: Harness, change: dict, error: str, words: str
) -> None:
    answer = api(harness, make_token(harness)).post("/releases", json=BODY | change)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == error
    assert words in answer.json()["message"]
    assert harness.releases() == [] and harness.cards_posted() == 0


@pytest.mark.both_databases
def test_an_idempotency_key_replays_the_first_answer(harness: Harness) -> None:
    client = api(harness, make_token(harness))
    headers = {"Idempotency-Key": '"8e03978e-40d5-43e8-bc93-6894a57f9324"'}
    first = client.post("/releases", json=BODY, headers=headers)
    # The same body, its keys in another order: the first answer again.
    replay = client.post("/releases", json=dict(reversed(list(BODY.items()))), headers=headers)
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    other = client.post("/releases", json=BODY | {"notes": "other"}, headers=headers)
    assert other.status_code == 422 and other.json()["error"] == "idempotency_key_reused"
    assert len(harness.releases()) == 1 and harness.cards_posted() == 1

    # A failed request gives its key back: fixed, the retry goes through.
    key = {"Idempotency-Key": "retry-1"}
    failed = client.post(
        "/releases", json=BODY | {"version": "3.0", "approvers": [OWNER]}, headers=key
    )
    assert failed.status_code == 422
    fixed = client.post("/releases", json=BODY | {"version": "3.0"}, headers=key)
    assert fixed.status_code == 201
    assert client.post("/releases", json=BODY, headers={"Idempotency-Key": ""}).status_code == 422


@pytest.mark.both_databases
def test_a_retry_while_the_first_runs_gets_409(harness: Harness) -> None:
    client = api(harness, make_token(harness))
    headers = {"Idempotency-Key": "k-1"}
    gate = harness.slack.hold_next("conversations.info")  # Slack is slow to answer…
    first: list[httpx.Response] = []
    thread = threading.Thread(
        target=lambda: first.append(client.post("/releases", json=BODY, headers=headers))
    )
    thread.start()
    try:
        wait_until(lambda: claimed(harness), what="the first request to claim its key")
        during = client.post("/releases", json=BODY, headers=headers)
    finally:
        gate.set()
        thread.join(timeout=30)
    assert during.status_code == 409 and during.json()["error"] == "request_in_progress"
    assert during.headers["Retry-After"] == "1"
    assert first[0].status_code == 201
    after = client.post("/releases", json=BODY, headers=headers)
    assert after.status_code == 201 and after.json() == first[0].json()
    assert len(harness.releases()) == 1


def claimed(harness: Harness) -> bool:
    with harness.session() as session:
        return session.exec(select(IdempotencyKey)).first() is not None


def test_concurrent_duplicates_on_postgresql_create_one_release(
    postgres_url: str, fake_slack: FakeSlack
) -> None:
    with Harness(postgres_url, fake_slack) as harness:
        raw = make_token(harness)
        barrier = threading.Barrier(2)
        answers: list[httpx.Response] = []
        lock = threading.Lock()

        def post() -> None:
            client = api(harness, raw)
            barrier.wait()
            response = client.post("/releases", json=BODY, headers={"Idempotency-Key": "same"})
            with lock:
                answers.append(response)

        threads = [threading.Thread(target=post) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        statuses = sorted(r.status_code for r in answers)
        assert statuses in ([201, 201], [201, 409]), [r.text for r in answers]
        created = [r.json() for r in answers if r.status_code == 201]
        assert all(c == created[0] for c in created)
        assert len(harness.releases()) == 1 and harness.cards_posted() == 1


def test_each_token_is_rate_limited_with_retry_after(harness: Harness) -> None:
    server = BackgroundServer(
        create_web_app(
            harness.bot.bolt, harness.bot.db, deps=harness.bot.deps, api_rate_per_minute=3
        )
    ).start()
    try:
        first = api(harness, make_token(harness, "a"), server_url=server.url)
        second = api(harness, make_token(harness, "b"), server_url=server.url)
        statuses = [first.get("/services/payments").status_code for _ in range(4)]
        limited = first.get("/services/payments")
        other = second.get("/services/payments")
    finally:
        server.stop()
    assert statuses == [200, 200, 200, 429]
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 20
    assert limited.json()["error"] == "rate_limited"
    assert other.status_code == 200  # per token


def test_the_openapi_document_is_valid(harness: Harness) -> None:
    answer = httpx.get(harness.server.url + "/api/v1/openapi.json")
    assert answer.status_code == 200
    document = answer.json()
    validate(document)
    assert set(document["paths"]) == {
        "/releases/{service}@{version}",
        "/services/{service}",
        "/services/{service}/releases",
        "/services/{service}/versions/{version}",
        "/releases",
        "/gate",
        "/releases/{service}@{version}/deployments",
        "/stats",
        "/audit",
    }
    assert document["servers"] == [{"url": "/api/v1"}]
    assert "HTTPBearer" in document["components"]["securitySchemes"]


def test_the_api_keeps_the_body_limit_and_answers_503_while_the_database_is_down(
    harness: Harness,
) -> None:
    raw = make_token(harness)
    big = api(harness, raw).post(
        "/releases",
        content=b"{" + b" " * (1024 * 1024 + 1) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert big.status_code == 413
    unreachable = Database("postgresql://nobody@127.0.0.1:1/none")
    deps = dataclasses.replace(harness.bot.deps, db=unreachable)
    server = BackgroundServer(create_web_app(harness.bot.bolt, unreachable, deps=deps)).start()
    try:
        down = api(harness, raw, server_url=server.url).get("/services/payments")
    finally:
        server.stop()
        unreachable.dispose()
    assert down.status_code == 503, down.text
    assert down.headers["Retry-After"] == "30"
