"""The protection rule's bookkeeping: one answer per request, status reports at most one
per change of reasons and ten in all, comments within GitHub's 1,024 characters, and which
release a deployment is."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlmodel import select

from models.db import Database
from models.github import protection_requests as requests
from models.github.protection_requests import Answer, Callback, DeploymentRequest
from tests.models.conftest import NewRelease

NOW = datetime(2027, 5, 1, 9, 0, tzinfo=UTC)


def waiting_request(db: Database, new_release: NewRelease) -> DeploymentRequest:
    release = new_release()
    with db.session() as session:
        return requests.open_request(
            session,
            team_id=release.team_id,
            release=release,
            repository="acme/payments",
            environment="production",
            deployment_id=2**40,  # GitHub's ids outgrew 32 bits
            installation_id=7,
            sha="a" * 40,
            callback_url="https://api.github.com/repos/acme/payments/actions/runs/1/x",
            now=NOW,
        )


def callbacks(db: Database) -> list[Callback]:
    with db.read_session() as session:
        return list(session.exec(select(Callback)))


def test_status_reports_once_per_change_and_ten_at_most(
    db: Database, new_release: NewRelease
) -> None:
    request = waiting_request(db, new_release)
    sent = []
    with db.session() as session:
        sent.append(requests.report_status(session, request, "k0", "waiting", NOW))
        sent.append(requests.report_status(session, request, "k0", "waiting", NOW))
        sent += [requests.report_status(session, request, f"k{n}", "x", NOW) for n in range(1, 12)]
    assert sent.count(True) == 10 and sent[:2] == [True, False]
    assert len(callbacks(db)) == 10


def test_one_answer_whoever_answers_and_comments_fit(db: Database, new_release: NewRelease) -> None:
    request = waiting_request(db, new_release)
    with db.session() as session:
        assert requests.answer(session, request, Answer.APPROVED, "é" * 2000, NOW)
        assert not requests.answer(session, request, Answer.REJECTED, "no", NOW)
        assert not requests.report_status(session, request, "k", "late", NOW)
        assert not requests.drop(session, request, NOW)
    [answer] = callbacks(db)
    body = json.loads(answer.body)
    assert body["state"] == "approved" and len(body["comment"]) == 1024


def test_which_tag_a_ref_names() -> None:
    assert requests.tag_of("refs/tags/v2.4.0") == "v2.4.0"
    assert requests.tag_of("v2.4.0") == "v2.4.0"
    assert requests.tag_of("2.4.0-rc.1") == "2.4.0-rc.1"
    assert requests.tag_of("main") is None
    assert requests.same_versions("v2.4.0") == ["v2.4.0", "2.4.0"]
    assert requests.same_versions("2.4.0") == ["2.4.0", "v2.4.0"]
    assert requests.proposed_version("main", "0123456789abcdef") == "0123456789ab"
