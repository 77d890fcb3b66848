"""The deploy gate: its decision through every state, freezes and overrides, the audit
of each answer, and a long-poll woken by a click in Slack."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select

from handlers.slack_kit import ids
from models.audit import AuditEvent
from models.release.records import ReleaseStatus
from tests.handlers.api.conftest import (
    MANAGER,
    api,
    make_token,
    propose,
    waiting_at_gate,
    wake_ups_only,
)
from tests.support.harness import OWNER, Harness, ahead, iso


def gate(client: httpx.Client, ref: str, **params: Any) -> dict[str, Any]:
    service, version = ref.split("@")
    answer = client.get("/gate", params={"service": service, "version": version, **params})
    assert answer.status_code == 200, answer.text
    return answer.json()


def codes(body: dict[str, Any]) -> list[str]:
    return [r["code"] for r in body["reasons"]]


def tick_all(harness: Harness, ref: str) -> None:
    for position in range(5):
        harness.tick(harness.release(ref), position)


@pytest.mark.both_databases
def test_the_gate_through_every_state(harness: Harness) -> None:
    client = api(harness, make_token(harness))
    assert (gate(client, "payments@2.4.0")["decision"], codes(gate(client, "payments@2.4.0"))) == (
        "deny",
        ["NO_RELEASE"],
    )
    assert gate(client, "payments@2.4.0")["release"] is None

    propose(harness, "payments@2.4.0", "<@U_QA|qa> phased 10,50")
    body = gate(client, "payments@2.4.0")
    assert body["decision"] == "pending"
    assert codes(body) == ["NOT_APPROVED", "CHECKLIST_OPEN", "NOT_GO"]
    assert body["release"]["ref"] == "payments@2.4.0" and body["release"]["status"] == "proposed"

    harness.click(harness.card(harness.release("payments@2.4.0")), ids.APPROVE, user_id="U_QA")
    assert codes(gate(client, "payments@2.4.0")) == ["CHECKLIST_OPEN", "NOT_GO"]
    tick_all(harness, "payments@2.4.0")
    body = gate(client, "payments@2.4.0")
    assert (body["decision"], codes(body)) == ("pending", ["NOT_GO"])

    harness.command("go payments@2.4.0")
    body = gate(client, "payments@2.4.0")
    assert (body["decision"], codes(body)) == ("allow", [])
    assert body["release"]["status"] == "rolling_out"

    harness.command("pause payments@2.4.0")
    assert (gate(client, "payments@2.4.0")["decision"], codes(gate(client, "payments@2.4.0"))) == (
        "pending",
        ["PAUSED"],
    )
    harness.command("resume payments@2.4.0")
    assert gate(client, "payments@2.4.0")["decision"] == "allow"
    harness.command("advance payments@2.4.0")
    harness.command("advance payments@2.4.0")
    body = gate(client, "payments@2.4.0")
    assert (body["decision"], codes(body)) == ("deny", ["ALREADY_RELEASED"])

    # Every answer is audited as a gate check, with its decision.
    with harness.session() as session:
        checks = session.exec(select(AuditEvent).where(AuditEvent.action == "gate_checked")).all()
    assert len(checks) == 11
    assert checks[0].release_id is None and checks[0].detail == "deny"
    assert checks[-1].detail == "deny" and checks[-1].actor_id == OWNER
    assert checks[-1].after is not None and checks[-1].after["reasons"] == ["ALREADY_RELEASED"]


def test_final_states_deny(harness: Harness) -> None:
    client = api(harness, make_token(harness))
    propose(harness, "payments@1.0.0")
    harness.command("cancel payments@1.0.0 not needed")
    assert codes(gate(client, "payments@1.0.0")) == ["CANCELLED"]
    propose(harness, "payments@1.1.0")
    harness.command("nogo payments@1.1.0 too risky")
    body = gate(client, "payments@1.1.0")
    assert (body["decision"], codes(body)) == ("deny", ["NO_GO"])
    propose(harness, "payments@1.2.0")
    tick_all(harness, "payments@1.2.0")
    harness.command("go payments@1.2.0")
    harness.command("rollback payments@1.2.0 errors up")
    body = gate(client, "payments@1.2.0")
    assert (body["decision"], codes(body)) == ("deny", ["ROLLED_BACK"])


def test_a_private_release_or_another_service_reads_as_none(harness: Harness) -> None:
    propose(harness, "payments@9.0.0", channel_id="G_PRIVATE")
    client = api(harness, make_token(harness))
    assert codes(gate(client, "payments@9.0.0")) == ["NO_RELEASE"]
    scoped = api(harness, make_token(harness, "scoped", ("billing",)))
    answer = scoped.get("/gate", params={"service": "payments", "version": "9.0.0"})
    assert answer.status_code == 403 and answer.json()["error"] == "token_scope"
    assert api(harness).get("/gate?service=a&version=1").status_code == 401
    assert client.get("/gate?service=a&version=1&wait=901").status_code == 422


@pytest.mark.clock
def test_a_freeze_holds_the_gate_until_a_manager_overrides_it(harness: Harness) -> None:
    client = api(harness, make_token(harness))
    propose(harness, "payments@2.4.0")
    tick_all(harness, "payments@2.4.0")
    harness.command("go payments@2.4.0")
    assert gate(client, "payments@2.4.0")["decision"] == "allow"

    harness.command(
        f'freeze add "Holidays" now to {iso(ahead(days=3))} service payments', user_id=MANAGER
    )
    body = gate(client, "payments@2.4.0")
    assert (body["decision"], codes(body)) == ("pending", ["FREEZE_ACTIVE"])
    assert "Holidays" in body["reasons"][0]["message"]
    # A freeze of another service holds nothing here.
    propose(harness, "billing@1.0.0")
    tick_all(harness, "billing@1.0.0")
    assert codes(gate(client, "billing@1.0.0")) == ["NOT_GO"]

    propose(harness, "payments@2.5.0")
    tick_all(harness, "payments@2.5.0")
    assert codes(gate(client, "payments@2.5.0")) == ["NOT_GO", "FREEZE_ACTIVE"]
    harness.command("go payments@2.5.0 override: hotfix", user_id=MANAGER)
    assert harness.release("payments@2.5.0").status == ReleaseStatus.GO
    assert gate(client, "payments@2.5.0")["decision"] == "allow"


def test_a_long_poll_returns_when_an_approver_clicks(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    wake_ups_only(monkeypatch)
    propose(harness, "payments@2.4.0", "<@U_QA|qa>")
    tick_all(harness, "payments@2.4.0")
    client = api(harness, make_token(harness))
    client.timeout = httpx.Timeout(90)
    answers: list[tuple[float, dict[str, Any]]] = []

    def wait_at_gate() -> None:
        body = gate(client, "payments@2.4.0", wait=60)
        answers.append((time.monotonic(), body))

    waiting = threading.Thread(target=wait_at_gate)
    waiting.start()
    waiting_at_gate(harness, "payments")
    assert not answers
    clicked = time.monotonic()
    harness.click(harness.card(harness.release("payments@2.4.0")), ids.APPROVE, user_id="U_QA")
    waiting.join(timeout=90)
    assert answers, "the gate did not answer"
    answered, body = answers[0]
    assert answered - clicked < 10, f"the gate answered {answered - clicked:.1f} s after the click"
    assert (body["decision"], codes(body)) == ("pending", ["NOT_GO"])

    # And once more, for the go: it answers allow as soon as the owner clicks Go.
    answers.clear()
    waiting = threading.Thread(target=wait_at_gate)
    waiting.start()
    waiting_at_gate(harness, "payments")
    assert not answers
    clicked = time.monotonic()
    harness.click(harness.checklist(harness.release("payments@2.4.0")), ids.GO, user_id=OWNER)
    waiting.join(timeout=90)
    assert answers, "the gate did not answer"
    answered, body = answers[0]
    assert answered - clicked < 10, f"the gate answered {answered - clicked:.1f} s after Go"
    assert body["decision"] == "allow"

    # Allowed already: a wait answers at once.
    started = time.monotonic()
    assert gate(client, "payments@2.4.0", wait=20)["decision"] == "allow"
    assert time.monotonic() - started < 5


def test_a_wait_for_a_release_not_proposed_yet_is_pending(harness: Harness) -> None:
    client = api(harness, make_token(harness))
    started = time.monotonic()
    body = gate(client, "payments@3.0.0", wait=1)
    assert time.monotonic() - started >= 1
    assert (body["decision"], codes(body)) == ("pending", ["NO_RELEASE"])


def test_a_stopping_server_ends_the_waits_at_once(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    wake_ups_only(monkeypatch)
    propose(harness, "payments@2.4.0")
    client = api(harness, make_token(harness))
    answers: list[tuple[float, dict[str, Any]]] = []

    def wait_at_gate() -> None:
        started = time.monotonic()
        body = gate(client, "payments@2.4.0", wait=60)
        answers.append((time.monotonic() - started, body))

    waiting = threading.Thread(target=wait_at_gate)
    waiting.start()
    waiting_at_gate(harness, "payments")
    [stop] = harness.app.state.on_stopping
    stop()  # as `releasebot serve` does on SIGTERM
    waiting.join(timeout=90)
    assert answers, "the gate did not answer"
    took, body = answers[0]
    assert took < 10 and body["decision"] == "pending"


@pytest.mark.both_databases
def test_concurrent_answers_are_each_audited_but_stay_out_of_the_history(
    harness: Harness,
) -> None:
    """Answers are audited in groups (one transaction for many): each still has its row
    before it is sent, and a polling pipeline doesn't bury the release's history."""
    client = api(harness, make_token(harness))
    propose(harness, "payments@2.4.0")
    answers: list[dict[str, Any]] = []

    def poll() -> None:
        for _ in range(5):
            answers.append(gate(client, "payments@2.4.0"))

    pollers = [threading.Thread(target=poll) for _ in range(8)]
    for poller in pollers:
        poller.start()
    for poller in pollers:
        poller.join()

    assert len(answers) == 40 and {a["decision"] for a in answers} == {"pending"}
    with harness.session() as session:
        checks = session.exec(select(AuditEvent).where(AuditEvent.action == "gate_checked")).all()
    assert len(checks) == 40
    history = gate(client, "payments@2.4.0")["release"]["history"]
    assert history and all(event["action"] != "gate_checked" for event in history)
    status = harness.private_reply(harness.command("status payments@2.4.0"))
    assert "payments" in status and "gate" not in status.lower()


def test_an_override_opens_the_gate_for_a_release_already_go_when_the_freeze_began(
    harness: Harness,
) -> None:
    now = datetime(2027, 3, 10, 9, 0, tzinfo=UTC)  # pinned: freezes depend on now
    harness.clock.pin(now)
    harness.command(f"propose payments 2.4.0 {iso(now + timedelta(days=1))}")
    tick_all(harness, "payments@2.4.0")
    harness.command("go payments@2.4.0")  # big-bang: go, waiting for the deployment
    client = api(harness, make_token(harness))
    assert gate(client, "payments@2.4.0")["decision"] == "allow"
    harness.command(f'freeze add "Holidays" now to {iso(now + timedelta(days=2))}', user_id=MANAGER)
    body = gate(client, "payments@2.4.0")
    assert (body["decision"], codes(body)) == ("pending", ["FREEZE_ACTIVE"])

    harness.command("go payments@2.4.0 override: security fix", user_id=MANAGER)
    body = gate(client, "payments@2.4.0")
    assert (body["decision"], codes(body)) == ("allow", [])
    assert body["release"]["status"] == "go"
