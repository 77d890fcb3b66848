"""Requests Slack did not sign are refused before they change anything; /healthz."""

from __future__ import annotations

import time
import urllib.parse

import httpx

from bot.web import create_web_app
from models.db import Database
from tests.support.harness import Harness, ahead, iso
from tests.support.server import BackgroundServer

FORM = "application/x-www-form-urlencoded"


def _propose_form() -> str:
    return urllib.parse.urlencode(
        {
            "team_id": "T0001",
            "user_id": "U_OWNER",
            "channel_id": "C_RELEASES",
            "command": "/release",
            "text": f"propose payments 1.0.0 {iso(ahead())}",
            "trigger_id": "1.2.3",
            "response_url": "http://127.0.0.1:9/none",
        }
    )


def test_unsigned_forged_and_stale_requests_get_401_and_change_nothing(harness: Harness) -> None:
    body = _propose_form()
    unsigned = harness.client.post_raw(body, FORM, sign=False)
    forged = harness.client.post_raw(body, FORM, signature="v0=" + "0" * 64)
    stale = harness.client.post_raw(body, FORM, timestamp=int(time.time()) - 10 * 60)
    harness.wait()
    assert [unsigned.status_code, forged.status_code, stale.status_code] == [401, 401, 401]
    assert harness.releases() == []
    assert harness.slack.calls("chat.postMessage") == []


def test_a_correctly_signed_request_is_accepted(harness: Harness) -> None:
    response = harness.client.post_raw(_propose_form(), FORM)
    harness.wait()
    assert response.status_code == 200
    assert len(harness.releases()) == 1


def test_healthz_reports_the_database(harness: Harness) -> None:
    ok = httpx.get(harness.server.url + "/healthz")
    assert ok.status_code == 200 and ok.json()["status"] == "ok"

    unreachable = Database("postgresql://nobody@127.0.0.1:1/none")
    server = BackgroundServer(create_web_app(harness.bot.bolt, unreachable)).start()
    try:
        down = httpx.get(server.url + "/healthz", timeout=10)
    finally:
        server.stop()
    assert down.status_code == 503 and down.headers["Retry-After"] == "30"
