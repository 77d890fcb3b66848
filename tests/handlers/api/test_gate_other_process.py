"""A long-poll at the gate released by another process's change answers that change.

Another process (a second server, the command line) tells this one nothing: its waiters
see the change at their next re-check, on the clock's tick. Waiters share their reads for
a second, so a re-check soon after the first answer must still answer what it found, not
the first answer kept from before the change (benchmarks/gate.py found it answering
`pending` 0.1 s after the go)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import httpx
from sqlmodel import select

from handlers.api.http_api import GATE_RECHECK
from models.db import Database
from models.release.records import Release, ReleaseStatus
from tests.handlers.api.conftest import api, gate_waits, make_token, propose
from tests.support.harness import Harness

DEADLINE_S = 20.0


def go_from_another_process(database_url: str) -> None:
    """What `releasebot` in another process writes: no listener of this one hears it."""
    db = Database(database_url)
    try:
        with db.session() as session:
            release = session.exec(select(Release).where(Release.service == "payments")).one()
            release.status = ReleaseStatus.GO.value
            release.updated_at += timedelta(seconds=1)  # as its change would stamp it
            session.add(release)
    finally:
        db.dispose()


def test_a_waiter_released_by_another_process_answers_allow(harness: Harness) -> None:
    propose(harness, "payments@2.4.0")
    client = api(harness, make_token(harness))
    client.timeout = httpx.Timeout(60)
    answers: list[dict[str, Any]] = []

    def wait_at_gate() -> None:
        answer = client.get("/gate", params={"service": "payments", "version": "2.4.0", "wait": 30})
        assert answer.status_code == 200, answer.text
        answers.append(answer.json())

    # The server's loop runs in this process: its clock is time.monotonic. Arrive 0.7 s
    # before a tick, so the re-check comes while the first answer's read is still shared.
    while not 1.2 <= time.monotonic() % GATE_RECHECK < 1.3:
        time.sleep(0.01)
    waiting = threading.Thread(target=wait_at_gate)
    waiting.start()
    waits = gate_waits(harness)
    deadline = time.monotonic() + DEADLINE_S
    while not waits._waiting:  # its first answer was `pending`: it waits now
        assert time.monotonic() < deadline, "the request never started waiting"
        time.sleep(0.005)
    go_from_another_process(harness.settings.database_url)
    waiting.join(timeout=DEADLINE_S)
    assert answers, "the gate did not answer"
    assert answers[0]["decision"] == "allow", answers[0]
    assert answers[0]["release"]["status"] == "go"
