"""GET /api/v1/stats: the figures `/release stats` shows, typed, public releases only,
within the token's services; and a fix (with its commit time) proposed through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.release.records import ReleaseStatus
from tests.handlers.api.conftest import api, make_token
from tests.support.harness import CHANNEL, TEAM, Harness, ahead
from tests.support.release_history import History

R = ReleaseStatus
H = 3600.0


def days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def build(harness: Harness) -> None:
    """payments: 1.0 (lead 2 h, late, commit 4 h before), a fix 1 day later (lead 6 h, on
    time), 1.2 rolled back 5 days ago and restored by 1.3 a day later (lead 1 h, on time);
    search: one release 100 days ago; a private rollback; another workspace's release."""
    with harness.session() as session:
        h = History(session)
        one = h.release(
            "payments@1.0",
            proposed=days_ago(20) - timedelta(hours=2),
            outcome=R.RELEASED,
            ended=days_ago(20),
            target=days_ago(20) - timedelta(hours=3),
            committed=days_ago(20) - timedelta(hours=4),
            sign_offs=[("U_QA", "", 1.0)],
            team=TEAM,
        )
        h.release(
            "payments@1.1",
            proposed=days_ago(19) - timedelta(hours=6),
            outcome=R.RELEASED,
            ended=days_ago(19),
            target=days_ago(19),
            fixes=one,
            team=TEAM,
        )
        h.release(
            "payments@1.2",
            proposed=days_ago(6),
            outcome=R.ROLLED_BACK,
            ended=days_ago(5),
            team=TEAM,
        )
        h.release(
            "payments@1.3",
            proposed=days_ago(4) - timedelta(hours=1),
            outcome=R.RELEASED,
            ended=days_ago(4),
            target=days_ago(4),
            team=TEAM,
        )
        h.release(
            "search@1.0", proposed=days_ago(101), outcome=R.RELEASED, ended=days_ago(100), team=TEAM
        )
        h.release(
            "payments@9.0",
            proposed=days_ago(3),
            outcome=R.ROLLED_BACK,
            ended=days_ago(2),
            channel="G_PRIV",
            private=True,
            team=TEAM,
        )
        h.release(
            "payments@1.0",
            proposed=days_ago(3),
            outcome=R.ROLLED_BACK,
            ended=days_ago(2),
            team="T_OTHER",
        )


@pytest.mark.both_databases
def test_the_figures_over_the_api(harness: Harness) -> None:
    build(harness)
    answer = api(harness, make_token(harness)).get("/stats")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["service"] is None and body["days"] == 30
    assert body["outcomes"] == {"released": 3, "rolled_back": 1, "no_go": 0, "cancelled": 0}
    assert body["deployment_frequency"]["per_week"] == pytest.approx(3 / (30 / 7), abs=1e-3)
    # 1.0 (fixed within 7 days) and 1.2 (rolled back) failed, of 4 deployments; the private
    # rollback and the other workspace's never count.
    assert body["change_failure_rate"]["failed"] == 2
    assert body["change_failure_rate"]["deployments"] == 4
    assert body["change_failure_rate"]["rate"] == pytest.approx(0.5)
    # Leads 1 h, 2 h, 6 h.
    lead = body["lead_time"]
    assert lead["count"] == 3 and lead["median_seconds"] == pytest.approx(2 * H, abs=1)
    assert lead["p90_seconds"] == pytest.approx(5.2 * H, abs=1)
    assert body["commit_lead_time"]["median_seconds"] == pytest.approx(4 * H, abs=1)
    restore = body["time_to_restore"]
    assert restore["count"] == 1 and restore["unrestored"] == 0
    assert restore["median_seconds"] == pytest.approx(24 * H, abs=1)
    wait = body["sign_off_wait"]
    assert wait["count"] == 1 and wait["median_seconds"] == pytest.approx(H, abs=1)
    assert wait["slowest_approver"]["slack_id"] == "U_QA"
    assert wait["slowest_approver"]["kind"] == "user"
    assert body["on_time"] == {
        "rate": pytest.approx(2 / 3),
        "on_time": 2,
        "released": 3,
        "definition": body["on_time"]["definition"],
    }
    assert body["freeze_overrides"]["count"] == 0
    for figure in ("lead_time", "change_failure_rate", "time_to_restore", "on_time"):
        assert body[figure]["definition"]
    assert sum(w["released"] for w in body["weeks"]) == 3
    assert all(datetime.fromisoformat(w["start"]).weekday() == 0 for w in body["weeks"])


@pytest.mark.clock
def test_a_service_and_a_longer_period(harness: Harness) -> None:
    build(harness)
    client = api(harness, make_token(harness))
    search = client.get("/stats?service=search&days=365").json()
    assert search["service"] == "search" and search["outcomes"]["released"] == 1
    assert client.get("/stats?service=search").json()["outcomes"]["released"] == 0
    assert len(client.get("/stats?days=365").json()["weeks"]) in (53, 54)


def test_what_the_stats_endpoint_refuses(harness: Harness) -> None:
    build(harness)
    assert api(harness).get("/stats").status_code == 401
    client = api(harness, make_token(harness))
    answer = client.get("/stats?days=45")
    assert answer.status_code == 422 and answer.json()["field"] == "days"
    assert client.get("/stats?days=abc").status_code == 422
    assert client.get("/stats?service=Not%20a%20service").status_code == 422
    scoped = api(harness, make_token(harness, "search-ci", ("search",)))
    assert scoped.get("/stats?service=payments").status_code == 403
    # Without a service, a scoped token sees its own services only.
    body = scoped.get("/stats?days=365").json()
    assert body["outcomes"]["released"] == 1 and body["outcomes"]["rolled_back"] == 0


def test_a_fix_with_its_commit_time_through_the_api(harness: Harness) -> None:
    client = api(harness, make_token(harness))
    body = {"service": "payments", "version": "2.4.0", "channel": CHANNEL}
    assert client.post("/releases", json=body).status_code == 201
    committed = "2026-11-01T10:00:00+01:00"
    fix = body | {"version": "2.4.1", "fixes": "payments@2.4.0", "committed_at": committed}
    answer = client.post("/releases", json=fix)
    assert answer.status_code == 201, answer.text
    release, fixed = harness.release("payments@2.4.1"), harness.release("payments@2.4.0")
    assert (release.is_fix, release.fixes_release_id) == (True, fixed.id)
    assert release.committed_at == datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    plain = client.post("/releases", json=body | {"version": "2.4.2", "fix": True})
    assert plain.status_code == 201
    assert harness.release("payments@2.4.2").is_fix


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"fixes": "payments@"}, "fixes_invalid"),
        ({"fixes": "search@1.0.0"}, "fixes_other_service"),
        ({"fixes": "9.9.9"}, "fixes_unknown"),
        ({"committed_at": (ahead(days=1)).isoformat()}, "commit_time_future"),
        ({"committed_at": "2026-11-01T10:00:00"}, "invalid_request"),
    ],
)
def test_what_a_fix_through_the_api_gets_wrong(
    harness: Harness, extra: dict[str, str], error: str
) -> None:
    client = api(harness, make_token(harness))
    body = {"service": "payments", "version": "2.4.1", "channel": CHANNEL} | extra
    answer = client.post("/releases", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == error
    assert harness.releases() == []
