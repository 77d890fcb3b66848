"""Double clicks, racing approvers and Slack retries count exactly once (real concurrency)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
from sqlmodel import select

from bot.sandbox.slack_standin import FakeSlack
from handlers.slack_kit import ids
from models.audit import AuditEvent
from models.release.records import Approver, ReleaseStatus
from tests.support.harness import Harness, ahead, iso


@pytest.fixture
def pg_harness(postgres_url: str, fake_slack: FakeSlack) -> Iterator[Harness]:
    with Harness(postgres_url, fake_slack) as running:
        yield running


def click_all_at_once(harness: Harness, clicks: list[tuple[dict, str, int | None]]) -> None:
    """Send every click from its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(clicks))
    responses: list[httpx.Response] = []

    def click(card: dict, user: str, retry: int | None) -> None:
        barrier.wait()
        responses.append(
            harness.client.click_button(
                card, card["channel"], user_id=user, action_id=ids.APPROVE, retry_num=retry
            )
        )

    threads = [threading.Thread(target=click, args=c) for c in clicks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    harness.wait()
    assert [r.status_code for r in responses] == [200] * len(clicks)


@pytest.mark.parametrize("round_", range(3))
def test_racing_sign_offs_on_postgresql_count_once_each(pg_harness: Harness, round_: int) -> None:
    harness = pg_harness
    harness.command(f"propose payments 2.4.{round_} {iso(ahead())} <@U_QA|qa> <@U_PM|pm>")
    release = harness.release(f"payments@2.4.{round_}")
    card = harness.card(release)
    card["channel"] = release.channel_id
    # Two approvers at the same moment, each double-clicking, plus a Slack retry each.
    clicks: list[tuple[dict, str, int | None]] = [
        (card, user, retry) for user in ("U_QA", "U_PM") for retry in (None, None, 1)
    ]
    click_all_at_once(harness, clicks)

    release = harness.release(f"payments@2.4.{round_}")
    assert release.status == ReleaseStatus.APPROVED
    with harness.session() as session:
        approvers = session.exec(select(Approver)).all()
        assert {(a.slack_id, a.state, a.signed_by) for a in approvers} == {
            ("U_QA", "approved", "U_QA"),
            ("U_PM", "approved", "U_PM"),
        }
        actions = [e.action for e in session.exec(select(AuditEvent))]
    assert actions.count("approved") == 2
    assert actions.count("quorum_reached") == 1
    sign_off_replies = [t for t in harness.thread(release) if "signed off" in t]
    assert len(sign_off_replies) == 2
