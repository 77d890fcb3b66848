"""Deployment reports from a pipeline: recorded in the thread and the history, a success
moves the rollout on (and releases at the end), a failure pauses it and tells the owner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from models.audit import AuditEvent
from models.release.outcomes import ReleaseOutcome
from models.release.production import ProductionRecord
from models.release.records import ReleaseStatus
from tests.handlers.api.conftest import MANAGER, api, make_token, propose
from tests.support.harness import OWNER, Harness, iso, rendered_text


def tick_all(harness: Harness, ref: str) -> None:
    for position in range(5):
        harness.tick(harness.release(ref), position)


def rolling(harness: Harness, ref: str, extra: str = "phased 10,50") -> None:
    propose(harness, ref, extra)
    tick_all(harness, ref)
    harness.command(f"go {ref}")


def report(client: httpx.Client, ref: str, key: str | None = None, **body: Any) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(f"/releases/{ref}/deployments", json=body, headers=headers)


def actions(harness: Harness, ref: str) -> list[str]:
    release_id = harness.release(ref).id
    with harness.session() as session:
        events = session.exec(
            select(AuditEvent)
            .where(AuditEvent.release_id == release_id)
            .order_by(col(AuditEvent.id))
        )
        return [e.action for e in events]


def test_successes_advance_the_rollout_and_release_it(harness: Harness) -> None:
    rolling(harness, "payments@2.4.0")
    client = api(harness, make_token(harness))
    started = report(client, "payments@2.4.0", state="started", stage=10, url="https://ci/1")
    assert started.status_code == 201, started.text
    assert started.json()["status"] == "rolling_out"
    assert harness.release("payments@2.4.0").current_percentage == 10

    moved = report(client, "payments@2.4.0", "k1", state="succeeded", stage=50)
    assert moved.status_code == 201, moved.text
    assert moved.json()["stage"]["current_percentage"] == 50
    again = report(client, "payments@2.4.0", "k1", state="succeeded", stage=50)
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == moved.json()
    assert harness.release("payments@2.4.0").current_percentage == 50

    done = report(client, "payments@2.4.0", state="succeeded")  # the next stage: the last
    assert done.json()["status"] == "released"
    with harness.session() as session:
        [record] = session.exec(select(ProductionRecord)).all()
    assert (record.version, record.released_by) == ("2.4.0", OWNER)
    history = actions(harness, "payments@2.4.0")
    assert history.count("deployment_succeeded") == 2 and "deployment_started" in history
    assert history[-1] == "released"
    thread = "\n".join(harness.thread(harness.release("payments@2.4.0")))
    assert "Deployment of *payments@2.4.0* to production at 10% started" in thread
    assert 'API token "ci"' in thread and "<https://ci/1|job>" in thread
    assert "advanced the rollout to 50%" in thread

    refused = report(client, "payments@2.4.0", state="succeeded")
    assert refused.status_code == 409, refused.text


def test_a_big_bang_success_releases_it_at_once(harness: Harness) -> None:
    propose(harness, "payments@2.4.0")
    tick_all(harness, "payments@2.4.0")
    client = api(harness, make_token(harness))
    early = report(client, "payments@2.4.0", state="succeeded")
    assert early.status_code == 409  # no go yet: nothing recorded
    assert "deployment_succeeded" not in actions(harness, "payments@2.4.0")
    harness.command("go payments@2.4.0")
    done = report(client, "payments@2.4.0", state="succeeded", description="all green")
    assert done.status_code == 201 and done.json()["status"] == "released"


def test_a_failure_pauses_and_tells_the_owner(harness: Harness) -> None:
    rolling(harness, "payments@2.4.0")
    client = api(harness, make_token(harness))
    failed = report(client, "payments@2.4.0", state="failed", stage=10, description="5xx up")
    assert failed.status_code == 201, failed.text
    assert failed.json()["status"] == "paused"
    assert harness.release("payments@2.4.0").status == ReleaseStatus.PAUSED
    [dm] = harness.slack.messages(OWNER)
    assert "failed" in rendered_text(dm) and "The rollout is paused: resume it" in rendered_text(dm)
    thread = "\n".join(harness.thread(harness.release("payments@2.4.0")))
    assert "failed" in thread and "paused the rollout" in thread
    assert actions(harness, "payments@2.4.0")[-2:] == ["deployment_failed", "paused"]


def test_who_may_report(harness: Harness) -> None:
    rolling(harness, "payments@2.4.0")
    stranger = api(harness, make_token(harness, "other", owner="U_OTHER"))
    refused = report(stranger, "payments@2.4.0", state="started")
    assert refused.status_code == 403, refused.text
    manager = api(harness, make_token(harness, "pm", owner=MANAGER))
    assert report(manager, "payments@2.4.0", state="succeeded").status_code == 201
    assert harness.release("payments@2.4.0").current_percentage == 50
    scoped = api(harness, make_token(harness, "scoped", ("billing",)))
    assert report(scoped, "payments@2.4.0", state="started").status_code == 403
    missing = report(api(harness, make_token(harness, "x")), "payments@9.9.9", state="started")
    assert missing.status_code == 404
    bad = report(manager, "payments@2.4.0", state="exploded")
    assert bad.status_code == 422


def outcome_of(harness: Harness, ref: str) -> ReleaseOutcome | None:
    with harness.session() as session:
        return session.get(ReleaseOutcome, harness.release(ref).id)


@pytest.mark.both_databases
def test_statistics_see_a_release_as_soon_as_it_ends(harness: Harness) -> None:
    """The outcome rows statistics read (models/release/outcomes.py) are kept by every
    commit: a deployment report that releases one release, a rollback in Slack of another."""
    propose(harness, "payments@2.4.0")
    tick_all(harness, "payments@2.4.0")
    harness.command("go payments@2.4.0")
    assert outcome_of(harness, "payments@2.4.0") is None  # rolling out: no outcome yet
    client = api(harness, make_token(harness))
    assert report(client, "payments@2.4.0", state="succeeded").status_code == 201
    released = outcome_of(harness, "payments@2.4.0")
    assert released is not None and released.outcome == ReleaseStatus.RELEASED.value
    with harness.session() as session:
        [record] = session.exec(select(ProductionRecord)).all()
    assert released.ended_at == record.released_at and released.lead_s is not None
    stats = client.get("/stats", params={"days": 30}).json()
    assert stats["outcomes"]["released"] == 1, stats

    propose(harness, "payments@2.5.0")
    tick_all(harness, "payments@2.5.0")
    harness.command("go payments@2.5.0")
    harness.command("rollback payments@2.5.0 error rate up")
    assert harness.release("payments@2.5.0").status == ReleaseStatus.ROLLED_BACK
    rolled_back = outcome_of(harness, "payments@2.5.0")
    assert rolled_back is not None and rolled_back.outcome == ReleaseStatus.ROLLED_BACK.value
    assert rolled_back.lead_s is None and rolled_back.ended_at > record.released_at
    stats = client.get("/stats", params={"days": 30}).json()
    assert (stats["outcomes"]["released"], stats["outcomes"]["rolled_back"]) == (1, 1), stats


# --- what a report may not do ---------------------------------------------------------
# The clock is pinned where a freeze is involved: freezes depend on now.

NOW = datetime(2027, 3, 10, 9, 0, tzinfo=UTC)  # a Wednesday


def going_at(harness: Harness, ref: str, extra: str = "") -> None:
    """Proposed for the day after NOW, every item ticked, go given."""
    harness.clock.pin(NOW)
    service, version = ref.split("@")
    harness.command(f"propose {service} {version} {iso(NOW + timedelta(days=1))} {extra}")
    tick_all(harness, ref)
    harness.command(f"go {ref}")


def test_a_success_during_a_freeze_is_refused_until_a_manager_overrides(
    harness: Harness,
) -> None:
    going_at(harness, "payments@2.4.0")  # big-bang, go
    going_at(harness, "payments@2.5.0", "phased 10,50,100")
    harness.command(
        f'freeze add "Incident" now to {iso(NOW + timedelta(days=2))} service payments',
        user_id=MANAGER,
    )
    client = api(harness, make_token(harness))
    for ref in ("payments@2.4.0", "payments@2.5.0"):
        refused = report(client, ref, state="succeeded")
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "frozen" and "Incident" in refused.json()["message"]
        assert "deployment_succeeded" in actions(harness, ref)  # the report is recorded
    assert harness.release("payments@2.4.0").status == ReleaseStatus.GO
    assert harness.release("payments@2.5.0").current_percentage == 10
    with harness.session() as session:
        assert session.exec(select(ProductionRecord)).all() == []

    harness.command("go payments@2.4.0 override: security fix", user_id=MANAGER)
    done = report(client, "payments@2.4.0", state="succeeded")
    assert done.status_code == 201, done.text
    assert done.json()["status"] == "released"


def test_a_stage_that_is_not_one_of_the_rollouts_is_refused(harness: Harness) -> None:
    rolling(harness, "payments@2.4.0", "phased 10,50,100")
    client = api(harness, make_token(harness))
    before = actions(harness, "payments@2.4.0")
    for state in ("succeeded", "started", "failed"):
        refused = report(client, "payments@2.4.0", state=state, stage=37)
        assert refused.status_code == 422, refused.text
        body = refused.json()
        assert (body["error"], body["field"]) == ("deployment_stage_unknown", "stage")
        assert "10%, 50%, 100%" in body["message"] and "37" in body["message"]
    release = harness.release("payments@2.4.0")
    assert (release.status, release.current_percentage) == (ReleaseStatus.ROLLING_OUT, 10)
    assert actions(harness, "payments@2.4.0") == before
    assert report(client, "payments@2.4.0", state="succeeded", stage=50).status_code == 201

    propose(harness, "billing@1.0.0")  # big-bang: no stage but the whole
    tick_all(harness, "billing@1.0.0")
    harness.command("go billing@1.0.0")
    refused = report(client, "billing@1.0.0", state="succeeded", stage=50)
    assert refused.status_code == 422 and "big-bang" in refused.json()["message"]
    assert report(client, "billing@1.0.0", state="succeeded", stage=100).status_code == 201


def test_reports_before_the_go_are_refused_and_nothing_is_recorded(harness: Harness) -> None:
    propose(harness, "payments@2.4.0", "phased 10,50")
    tick_all(harness, "payments@2.4.0")
    client = api(harness, make_token(harness))
    before = actions(harness, "payments@2.4.0")
    for state in ("started", "failed", "succeeded"):
        refused = report(client, "payments@2.4.0", state=state, description="boom")
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"] == "bad_state"
    assert actions(harness, "payments@2.4.0") == before
    assert harness.slack.messages(OWNER) == []  # no DM about a failure
    assert not any("Deployment of" in t for t in harness.thread(harness.release("payments@2.4.0")))


def test_a_report_link_must_be_http_or_https(harness: Harness) -> None:
    rolling(harness, "payments@2.4.0")
    client = api(harness, make_token(harness))
    before = actions(harness, "payments@2.4.0")
    for url in ("javascript:alert(1)", "data:text/html,hi", "https://ci/1 |x", "ftp://ci/1"):
        refused = report(client, "payments@2.4.0", state="started", url=url)
        assert refused.status_code == 422, (url, refused.text)
        assert (refused.json()["error"], refused.json()["field"]) == ("url_invalid", "url")
    assert actions(harness, "payments@2.4.0") == before
    assert report(client, "payments@2.4.0", state="started", url="HTTPS://ci/2").status_code == 201
