"""GitHub's deployment statuses as deployment reports: success releases (or moves a
rollout on), failure pauses and tells the owner, all named as coming from GitHub."""

from __future__ import annotations

from sqlmodel import col, select

from models.audit import AuditEvent
from models.release.production import ProductionRecord
from models.release.records import ReleaseStatus
from tests.handlers.github.conftest import MANAGER, SHA, eventually, link, settled
from tests.support.fake_github import FakeGitHub, deliver, deployment_status
from tests.support.harness import OWNER, Harness, ahead, iso, rendered_text

REF = "payments@2.4.0"


def going(harness: Harness, extra: str = "") -> None:
    harness.command(f"propose payments 2.4.0 {iso(ahead())} {extra}".strip())
    for position in range(5):
        harness.tick(harness.release(REF), position)
    harness.command(f"go {REF}")


def status(harness: Harness, state: str, **kwargs: str) -> None:
    response = deliver(
        harness.server.url, "deployment_status", deployment_status(state=state, sha=SHA, **kwargs)
    )
    assert response.status_code == 202, response.text


def actions(harness: Harness) -> list[tuple[str, str]]:
    release_id = harness.release(REF).id
    with harness.session() as session:
        rows = session.exec(
            select(AuditEvent)
            .where(AuditEvent.release_id == release_id)
            .order_by(col(AuditEvent.id))
        )
        return [(e.action, e.source) for e in rows]


def test_success_releases_a_big_bang_release(harness: Harness, github: FakeGitHub) -> None:
    link(harness)
    going(harness)
    status(harness, "queued")  # says nothing about the release
    status(harness, "in_progress")
    eventually(lambda: ("deployment_started", "github:acme/payments") in actions(harness))
    status(harness, "success")
    eventually(lambda: harness.release(REF).status == ReleaseStatus.RELEASED)
    settled(harness)
    with harness.session() as session:
        [record] = session.exec(select(ProductionRecord)).all()
    assert record.version == "2.4.0"
    thread = "\n".join(harness.thread(harness.release(REF)))
    assert "to production started (GitHub acme/payments)" in thread
    assert "to production succeeded (GitHub acme/payments)" in thread
    assert "<https://github.com/acme/payments/actions/runs/4242|job>" in thread
    assert [a for a in actions(harness) if a[0].startswith("deployment_")] == [
        ("deployment_started", "github:acme/payments"),
        ("deployment_succeeded", "github:acme/payments"),
    ]


def test_a_success_in_a_freeze_is_held_until_a_manager_overrides_it(
    harness: Harness, github: FakeGitHub
) -> None:
    link(harness)
    going(harness)
    harness.command(f'freeze add "Holidays" now to {iso(ahead(days=5))}', user_id=MANAGER)
    status(harness, "success")
    eventually(lambda: ("deployment_succeeded", "github:acme/payments") in actions(harness))
    settled(harness)
    assert harness.release(REF).status == ReleaseStatus.GO  # the freeze holds it
    harness.command(f"go {REF} override: the fix must go out", user_id=MANAGER)
    status(harness, "success")
    eventually(lambda: harness.release(REF).status == ReleaseStatus.RELEASED)


def test_failure_pauses_the_rollout_and_tells_the_owner(
    harness: Harness, github: FakeGitHub
) -> None:
    link(harness)
    going(harness, "phased 10,50")
    status(harness, "failure")
    eventually(lambda: harness.release(REF).status == ReleaseStatus.PAUSED)
    settled(harness)
    eventually(lambda: harness.slack.messages(OWNER))
    [dm] = harness.slack.messages(OWNER)
    assert "failed (GitHub acme/payments)" in rendered_text(dm)
    assert ("deployment_failed", "github:acme/payments") in actions(harness)


def test_statuses_of_unlinked_environments_are_ignored(
    harness: Harness, github: FakeGitHub
) -> None:
    link(harness)
    going(harness)
    status(harness, "success", environment="staging")
    settled(harness)
    assert harness.release(REF).status == ReleaseStatus.GO
    assert not [a for a in actions(harness) if a[0].startswith("deployment_")]
