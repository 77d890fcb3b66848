"""GitHub's deployment protection rule over the wire: signed deliveries to /github/events,
answers and status reports POSTed to a fake GitHub, decided by clicks in Slack."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlmodel import col, select

from bot.sandbox.slack_standin import FakeSlack
from handlers.slack_kit import ids
from models.audit import AuditEvent
from models.github.github_deliveries import GitHubDelivery
from models.github.protection_requests import Callback, DeploymentRequest
from models.release.records import Approver
from tests.handlers.github.conftest import (
    MANAGER,
    SHA,
    ask,
    eventually,
    github_bot,
    link,
    settled,
)
from tests.support.fake_github import FakeGitHub, deliver, protection_rule, signed
from tests.support.harness import Harness, ahead, iso, rendered_text

REF = "payments@2.4.0"


def propose(harness: Harness, extra: str = "") -> None:
    harness.command(f"propose payments 2.4.0 {iso(ahead())} {extra}".strip())


def tick_all(harness: Harness) -> None:
    for position in range(5):
        harness.tick(harness.release(REF), position)


def audit_rows(harness: Harness, prefix: str = "github_") -> list[AuditEvent]:
    with harness.session() as session:
        return list(
            session.exec(
                select(AuditEvent)
                .where(col(AuditEvent.action).startswith(prefix))
                .order_by(col(AuditEvent.id))
            )
        )


def test_a_missing_or_wrong_signature_gets_401_and_nothing_is_recorded(
    harness: Harness, github: FakeGitHub
) -> None:
    link(harness)
    propose(harness)
    payload = protection_rule(github, sha=SHA)
    body = json.dumps(payload).encode()
    url = harness.server.url
    wrong = deliver(url, "deployment_protection_rule", payload, signature="sha256=00")
    other_secret = deliver(
        harness.server.url,
        "deployment_protection_rule",
        payload,
        signature=signed(body, "not-the-secret"),
    )
    missing = deliver(harness.server.url, "deployment_protection_rule", payload, signature="")
    assert [r.status_code for r in (wrong, other_secret, missing)] == [401, 401, 401]
    settled(harness)
    with harness.session() as session:
        assert session.exec(select(GitHubDelivery)).all() == []
        assert session.exec(select(DeploymentRequest)).all() == []
    assert github.posted == []
    # Signed, but an event it does not handle: acknowledged and ignored.
    ping = deliver(harness.server.url, "ping", {"zen": "Design for failure."})
    assert ping.status_code == 204


def test_pending_with_status_reports_then_approved_once_after_sign_offs_and_go(
    harness: Harness, github: FakeGitHub
) -> None:
    assert "linked to *payments* for `production`" in link(harness)
    propose(harness, "<@U_QA|qa>")
    accepted = ask(harness, github)
    assert accepted.status_code == 202, accepted.text
    eventually(lambda: github.status_reports(), what="a status report")
    [report] = github.status_reports()
    assert report["environment_name"] == "production"
    assert "NOT_APPROVED" in report["comment"] and "NOT_GO" in report["comment"]
    assert harness.release(REF).permalink in report["comment"]
    assert github.answers() == []

    harness.click(harness.card(harness.release(REF)), ids.APPROVE, user_id="U_QA")
    eventually(lambda: len(github.status_reports()) == 2, what="a report of the new reasons")
    assert "NOT_APPROVED" not in github.status_reports()[-1]["comment"]
    tick_all(harness)
    settled(harness)
    assert github.answers() == []  # still no go
    harness.command(f"go {REF}")
    eventually(lambda: github.answers(), what="the answer")
    settled(harness)
    [answer] = github.answers()
    assert answer["state"] == "approved" and answer["environment_name"] == "production"
    assert REF in answer["comment"]
    # One status report per change of reasons (sign-offs, checklist), never more than 10.
    reports = github.status_reports()
    assert 2 <= len(reports) <= 4, reports
    assert all(len(p.body["comment"]) <= 1024 for p in github.posted)

    thread = "\n".join(harness.thread(harness.release(REF)))
    assert "GitHub asks whether deployment 1001 of acme/payments" in thread
    assert "Answered GitHub: deployment 1001" in thread and "is approved" in thread
    rows = audit_rows(harness)
    assert [(r.action, r.source) for r in rows if r.release_id] == [
        ("github_deployment_requested", "github"),
        ("github_deployment_approved", "github"),
    ]
    # The history names GitHub, not a person called "github".
    status = harness.private_reply(harness.command(f"status {REF}"))
    assert "GitHub asked to deploy" in status and "answered GitHub: approved" in status
    assert "<@github>" not in status


def test_the_same_delivery_three_times_is_answered_once(
    harness: Harness, github: FakeGitHub
) -> None:
    link(harness)
    propose(harness)  # no approvers: approved at once
    tick_all(harness)
    harness.command(f"go {REF}")
    first = ask(harness, github, delivery_id="d-1")
    again = [ask(harness, github, delivery_id="d-1") for _ in range(2)]
    assert first.status_code == 202
    assert [r.status_code for r in again] == [200, 200]
    eventually(lambda: github.answers())
    settled(harness)
    assert [a["state"] for a in github.answers()] == ["approved"]
    with harness.session() as session:
        assert len(session.exec(select(DeploymentRequest)).all()) == 1


def test_no_go_rejects_it_with_the_reason(harness: Harness, github: FakeGitHub) -> None:
    link(harness)
    propose(harness)
    ask(harness, github)
    eventually(lambda: github.status_reports())
    harness.command(f"nogo {REF} the error budget is spent")
    eventually(lambda: github.answers())
    settled(harness)
    [answer] = github.answers()
    assert answer["state"] == "rejected"
    assert "NO_GO" in answer["comment"]
    thread = "\n".join(harness.thread(harness.release(REF)))
    assert "is rejected" in thread


def test_a_freeze_holds_it_pending_until_a_manager_overrides_it(
    harness: Harness, github: FakeGitHub
) -> None:
    link(harness)
    propose(harness)
    tick_all(harness)
    harness.command(f'freeze add "Holidays" now to {iso(ahead(days=5))}', user_id=MANAGER)
    harness.command(f"go {REF}")  # refused: the freeze holds it
    ask(harness, github)
    eventually(lambda: github.status_reports())
    settled(harness)
    assert github.answers() == []
    assert "FREEZE_ACTIVE" in github.status_reports()[-1]["comment"]
    assert "Holidays" in github.status_reports()[-1]["comment"]
    harness.command(f"go {REF} override: the fix must go out", user_id=MANAGER)
    eventually(lambda: github.answers())
    settled(harness)
    assert [a["state"] for a in github.answers()] == ["approved"]


def test_a_deployment_of_another_commit_is_rejected(harness: Harness, github: FakeGitHub) -> None:
    link(harness)
    propose(harness)
    with harness.session() as session:
        release = harness.release(REF)
        release.commit_sha = "a" * 40
        session.add(release)
    tick_all(harness)
    harness.command(f"go {REF}")
    ask(harness, github)  # the tag names the release, the commit is another
    eventually(lambda: github.answers())
    [answer] = github.answers()
    assert answer["state"] == "rejected" and "COMMIT_MISMATCH" in answer["comment"]
    assert SHA[:12] in answer["comment"] and "a" * 12 in answer["comment"]


def test_a_callback_that_fails_is_retried_and_answered_once(
    fixed_moment: datetime, harness: Harness, github: FakeGitHub
) -> None:
    harness.clock.pin(fixed_moment)
    link(harness)
    propose(harness)
    tick_all(harness)
    harness.command(f"go {REF}")
    github.fail_next(502, 503)
    ask(harness, github)
    for tries in (1, 2):
        eventually(partial(_answer_waits_after, harness, tries), what=f"try {tries} failed")
        assert github.answers() == []
        # Past the pause after that try: the sweep tries again.
        harness.clock.advance(timedelta(seconds=15))
        settled(harness)
    eventually(lambda: github.answers())
    settled(harness)
    assert [a["state"] for a in github.answers()] == ["approved"]
    with harness.session() as session:
        [callback] = session.exec(select(Callback).where(Callback.kind == "answer")).all()
    assert (callback.status, callback.attempts) == ("sent", 3)


def _answer_waits_after(harness: Harness, tries: int) -> bool:
    with harness.session() as session:
        rows = session.exec(select(Callback).where(Callback.kind == "answer")).all()
    return [(r.status, r.attempts) for r in rows] == [("pending", tries)]


def test_a_deployment_with_no_release_proposes_one_under_the_policy(
    harness: Harness, github: FakeGitHub
) -> None:
    harness.command("policy payments set approvers <@U_QA|qa>", user_id=MANAGER)
    link(harness)
    ask(harness, github, ref="main")  # a branch: the version is the commit's
    eventually(lambda: github.status_reports(), what="a status report")
    release = harness.release(f"payments@{SHA[:12]}")
    assert (release.owner_id, release.commit_sha, release.status) == (MANAGER, SHA, "proposed")
    assert release.pipeline_url == "https://github.com/acme/payments/actions/runs/4242"
    with harness.session() as session:
        approvers = session.exec(select(Approver).where(Approver.release_id == release.id)).all()
        proposed = session.exec(
            select(AuditEvent).where(
                AuditEvent.release_id == release.id, AuditEvent.action == "proposed"
            )
        ).one()
    assert [(a.slack_id, a.required) for a in approvers] == [("U_QA", True)]
    assert proposed.detail == "via GitHub acme/payments"
    assert "Proposed by GitHub" in rendered_text(harness.card(release))
    assert "NOT_APPROVED" in github.status_reports()[0]["comment"]

    # A tag: the release is that version (`v2.5.0` and `2.5.0` are one).
    ask(harness, github, ref="refs/tags/v2.5.0", sha="b" * 40, deployment_id=1002)
    eventually(lambda: len(github.status_reports()) == 2)
    assert harness.release("payments@v2.5.0").commit_sha == "b" * 40
    # `2.5.0` names that release too, none is proposed: but it is of another commit.
    ask(harness, github, ref="2.5.0", sha="c" * 40, deployment_id=1003)
    eventually(lambda: github.answers())
    [answer] = github.answers()
    assert answer["state"] == "rejected" and "COMMIT_MISMATCH" in answer["comment"]
    assert len(harness.releases()) == 2


def test_a_request_waiting_across_a_restart_is_answered_once_after_it(
    database_url: str, fake_slack: FakeSlack, github: FakeGitHub
) -> None:
    with github_bot(database_url, fake_slack, github) as first:
        link(first)
        propose(first)
        tick_all(first)
        ask(first, github)
        eventually(lambda: github.status_reports())
    assert github.answers() == []
    with github_bot(database_url, fake_slack, github) as second:
        second.command(f"go {REF}")
        eventually(lambda: github.answers())
        settled(second)
    assert [a["state"] for a in github.answers()] == ["approved"]


def test_two_processes_on_postgresql_answer_once(
    postgres_url: str, fake_slack: FakeSlack, github: FakeGitHub
) -> None:
    with (
        github_bot(postgres_url, fake_slack, github) as one,
        github_bot(postgres_url, fake_slack, github) as two,
    ):
        link(one)
        propose(one)
        tick_all(one)
        # GitHub redelivers to the other process while the first handles it.
        with ThreadPoolExecutor(4) as pool:
            codes = sorted(
                pool.map(
                    lambda bot: ask(bot, github, delivery_id="twice").status_code,
                    [one, two, one, two],
                )
            )
        assert codes == [200, 200, 200, 202]
        eventually(lambda: github.status_reports())
        one.command(f"go {REF}")
        # Both look at once, as their sweeps would.
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(settled, [one, two, one, two]))
        eventually(lambda: github.answers())
        settled(one)
        settled(two)
    assert [a["state"] for a in github.answers()] == ["approved"]
    assert len(github.status_reports()) == 1


def test_a_callback_github_refuses_is_not_retried_and_the_thread_says_so(
    fixed_moment: datetime, harness: Harness, github: FakeGitHub
) -> None:
    harness.clock.pin(fixed_moment)
    link(harness)
    propose(harness)
    tick_all(harness)
    harness.command(f"go {REF}")
    github.fail_next(422)
    ask(harness, github)
    eventually(lambda: _answer_states(harness) == [("failed", 1)], what="refused for good")
    harness.clock.advance(timedelta(minutes=10))
    settled(harness)
    assert _answer_states(harness) == [("failed", 1)] and github.answers() == []
    eventually(
        lambda: "GitHub did not take the answer" in "\n".join(harness.thread(harness.release(REF)))
    )
    assert "(HTTP 422)" in "\n".join(harness.thread(harness.release(REF)))


def _answer_states(harness: Harness) -> list[tuple[str, int]]:
    with harness.session() as session:
        rows = session.exec(select(Callback).where(Callback.kind == "answer")).all()
    return [(r.status, r.attempts) for r in rows]


def test_a_request_github_stopped_waiting_for_is_dropped_and_said_so(
    fixed_moment: datetime, harness: Harness, github: FakeGitHub
) -> None:
    harness.clock.pin(fixed_moment)
    link(harness)
    harness.command(f"propose payments 2.4.0 {iso(ahead(days=40))}")
    ask(harness, github)
    eventually(lambda: github.status_reports())
    harness.clock.advance(timedelta(days=31))
    settled(harness)
    with harness.session() as session:
        [request] = session.exec(select(DeploymentRequest)).all()
    assert request.state == "dropped"
    assert "GitHub stopped waiting for deployment 1001" in "\n".join(
        harness.thread(harness.release(REF))
    )
    assert github.answers() == []


def test_a_deployment_no_release_can_be_proposed_for_is_rejected_saying_why(
    harness: Harness, github: FakeGitHub
) -> None:
    link(harness)
    # 2.4.0 is a private release: not the deployment's, and its version is taken.
    harness.command(f"propose payments 2.4.0 {iso(ahead())}", channel_id="G_SECRET")
    assert harness.release(REF).private
    ask(harness, github, ref="2.4.0")
    eventually(lambda: github.answers())
    settled(harness)
    [answer] = github.answers()
    assert answer["state"] == "rejected"
    assert "could not propose a release for this deployment" in answer["comment"]
    assert len(harness.releases()) == 1
    assert "<@" not in answer["comment"] and "*" not in answer["comment"]


def test_a_freeze_that_ends_lets_the_waiting_deployment_go(
    harness: Harness, github: FakeGitHub
) -> None:
    now = datetime(2026, 12, 9, 10, 0, tzinfo=UTC)  # a Wednesday
    harness.clock.pin(now)
    link(harness)
    harness.command(f"propose payments 2.4.0 {iso(now + timedelta(hours=3))}")
    tick_all(harness)
    harness.command(f"go {REF}")
    harness.command(
        f'freeze add "Incident" now to {iso(now + timedelta(hours=1))}', user_id=MANAGER
    )
    ask(harness, github)
    eventually(lambda: github.status_reports())
    assert "FREEZE_ACTIVE" in github.status_reports()[0]["comment"]
    settled(harness)
    assert github.answers() == []
    # Nothing changes the release: the sweep sees the freeze is over.
    harness.clock.advance(timedelta(hours=1, minutes=1))
    settled(harness)
    eventually(lambda: github.answers())
    assert [a["state"] for a in github.answers()] == ["approved"]


def test_a_revoked_installation_token_is_replaced(
    fixed_moment: datetime, harness: Harness, github: FakeGitHub
) -> None:
    harness.clock.pin(fixed_moment)
    link(harness)
    propose(harness)
    ask(harness, github)
    eventually(lambda: github.status_reports())  # a token is cached now
    github.revoke_tokens()
    tick_all(harness)
    harness.command(f"go {REF}")
    eventually(lambda: _refused_once(harness), what="refused with the old token")
    harness.clock.advance(timedelta(seconds=15))
    settled(harness)
    eventually(lambda: github.answers())
    assert [a["state"] for a in github.answers()] == ["approved"]
    assert github.tokens_issued == 2


def _refused_once(harness: Harness) -> bool:
    with harness.session() as session:
        rows = session.exec(select(Callback)).all()
    return any((r.status, r.attempts, r.last_error) == ("pending", 1, "HTTP 401") for r in rows)


def test_a_proposal_slack_refuses_the_card_of_is_rejected_saying_so(
    harness: Harness, github: FakeGitHub
) -> None:
    link(harness)
    harness.slack.fail_next("chat.postMessage", error="not_in_channel")
    ask(harness, github)
    eventually(lambda: github.answers())
    settled(harness)
    [answer] = github.answers()
    assert answer["state"] == "rejected"
    assert "Slack refused its card in the linked channel" in answer["comment"]
    assert harness.releases() == []  # the card-less release is gone again
