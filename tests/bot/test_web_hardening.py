"""The HTTP edge under abuse: oversized bodies, malformed payloads, unknown ids, a dead
database, and Socket Mode's missing signing secret."""

from __future__ import annotations

import logging
import socket
import time
import urllib.parse
from collections.abc import Iterator

import httpx
import pytest

from bot.app import create_releasebot
from bot.sandbox.slack_requests import SignedSlackClient
from bot.sandbox.slack_standin import FakeSlack
from bot.settings import load_settings
from bot.web import MAX_BODY, create_web_app
from models.db import Database
from tests.support.harness import CHANNEL, OWNER, Harness
from tests.support.server import BackgroundServer

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
HUGE = 300 * 1024 * 1024  # what the review sent; never actually sent here
FEED = "/calendar/" + "A" * 43 + ".ics"  # token-shaped, so the feed looks it up


# --- raw HTTP: requests whose body is never (fully) sent --------------------------------


def _status_before_body_ends(url: str, head: bytes, body_start: bytes, timeout: float = 5) -> int:
    """Send the head and the start of a body, never the rest; the status answered meanwhile.

    A server that waits for the whole body answers nothing, and the read times out."""
    parsed = urllib.parse.urlsplit(url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=timeout) as sock:
        sock.sendall(head + body_start)
        received = b""
        try:
            while b"\r\n" not in received:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                received += chunk
        except TimeoutError:
            pytest.fail(f"no answer within {timeout}s while the body was still unsent")
    assert received.startswith(b"HTTP/1.1 "), received
    return int(received.split(b" ", 2)[1])


def _head(method: str, path: str, *headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode()


@pytest.mark.parametrize(("method", "path"), [("POST", "/slack/events"), ("GET", FEED)])
def test_a_declared_body_over_the_cap_is_refused_before_it_is_sent(
    harness: Harness, method: str, path: str
) -> None:
    head = _head(method, path, f"Content-Type: {FORM}", f"Content-Length: {HUGE}")
    assert _status_before_body_ends(harness.server.url, head, b"payload=") == 413


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_cap(harness: Harness) -> None:
    head = _head("POST", "/slack/events", f"Content-Type: {FORM}", "Transfer-Encoding: chunked")
    piece = 64 * 1024
    chunks = b"".join(
        f"{piece:x}\r\n".encode() + b"x" * piece + b"\r\n" for _ in range(MAX_BODY // piece + 1)
    )
    # No terminating zero-length chunk: only a server that stops at the cap can answer.
    assert _status_before_body_ends(harness.server.url, head, chunks) == 413


def test_the_cap_is_per_app(harness: Harness) -> None:
    server = BackgroundServer(create_web_app(harness.bot.bolt, harness.bot.db, max_body=100))
    server.start()
    try:
        small = httpx.post(server.url + "/slack/events", content=b"x" * 100)
        large = httpx.post(server.url + "/slack/events", content=b"x" * 101)
    finally:
        server.stop()
    assert (small.status_code, large.status_code) == (401, 413)


def test_signed_requests_under_the_cap_still_work_with_or_without_content_length(
    harness: Harness,
) -> None:
    sized = harness.client.command("help")
    body = urllib.parse.urlencode(
        {"team_id": "T0001", "user_id": OWNER, "channel_id": CHANNEL, "command": "/release"}
        | {"text": "help", "response_url": harness.slack.new_response_url()}
    ).encode()
    now = str(int(time.time()))
    headers = {
        "Content-Type": FORM,
        "X-Slack-Request-Timestamp": now,
        "X-Slack-Signature": harness.client.sign(body, now),
    }

    def in_pieces() -> Iterator[bytes]:  # a generator makes httpx send it chunked
        yield body[:10]
        yield body[10:]

    chunked = httpx.post(harness.server.url + "/slack/events", content=in_pieces(), headers=headers)
    assert (sized.status_code, chunked.status_code) == (200, 200)
    assert "/release propose" in sized.text and "/release propose" in chunked.text


# --- malformed payloads ----------------------------------------------------------------

MALFORMED = [
    pytest.param("payload={not json", FORM, id="payload-not-json"),
    pytest.param("payload=[1,2]", FORM, id="payload-not-an-object"),
    pytest.param('payload="text"', FORM, id="payload-a-string"),
    pytest.param("{garbage", JSON, id="json-garbage"),
    pytest.param("[1, 2]", JSON, id="json-not-an-object"),
    pytest.param("[" * 100_000, JSON, id="json-too-deep"),
]


@pytest.mark.parametrize(("body", "content_type"), MALFORMED)
def test_a_malformed_payload_gets_401_unsigned_and_400_signed(
    harness: Harness, body: str, content_type: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    unsigned = harness.client.post_raw(body, content_type, sign=False)
    forged = harness.client.post_raw(body, content_type, signature="v0=" + "0" * 64)
    signed = harness.client.post_raw(body, content_type)
    harness.wait()
    assert [unsigned.status_code, forged.status_code, signed.status_code] == [401, 401, 400]
    assert not [r for r in caplog.records if r.exc_info], "logged a traceback"
    refusals = [r for r in caplog.records if "malformed" in r.getMessage()]
    assert len(refusals) == 1, [r.getMessage() for r in caplog.records]
    assert harness.slack.calls() == []


# --- ids nobody listens to -------------------------------------------------------------


def test_unknown_actions_views_commands_and_events_are_acknowledged_and_logged_once(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    message = {"ts": "1700000000.000100", "text": "old card", "blocks": []}

    def click() -> httpx.Response:
        return harness.client.block_actions(
            user_id=OWNER,
            action={"type": "button", "action_id": "no_such_action", "block_id": "b", "value": "1"},
            container={"type": "message", "message_ts": message["ts"], "channel_id": CHANNEL},
            message=message,
            channel_id=CHANNEL,
        )

    view = {
        "id": "V_GONE",
        "type": "modal",
        "callback_id": "no_such_view",
        "submit": {"type": "plain_text", "text": "Go"},
        "blocks": [],
    }
    responses = [
        click(),
        click(),
        harness.client.view_submission(view, user_id=OWNER, values={}),
        harness.client.command("help", command="/no-such-command"),
        harness.client.event({"type": "no_such_event", "user": OWNER}),
    ]
    harness.wait()
    assert [r.status_code for r in responses] == [200] * 5, [r.text for r in responses]
    assert [r.content for r in responses] == [b""] * 5  # an empty ack closes a modal
    # Nobody is told that something went wrong: there is nothing to tell.
    assert [c.method for c in harness.slack.calls() if c.method != "auth.test"] == []
    assert not [r for r in caplog.records if r.exc_info]
    unhandled = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len([m for m in unhandled if "no_such_action" in m]) == 1, unhandled
    for name in ("no_such_view", "/no-such-command", "no_such_event"):
        assert len([m for m in unhandled if name in m]) == 1, unhandled


# --- the database down -----------------------------------------------------------------


@pytest.mark.parametrize(
    "unreachable_url",
    ["postgresql://nobody@127.0.0.1:1/none", "sqlite:////nonexistent-directory/releasebot.db"],
)
def test_the_calendar_feed_answers_503_with_retry_after_when_the_database_is_down(
    harness: Harness, unreachable_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = Database(unreachable_url)
    server = BackgroundServer(create_web_app(harness.bot.bolt, unreachable)).start()
    try:
        down = httpx.get(server.url + FEED, timeout=10)
    finally:
        server.stop()
        unreachable.dispose()
    assert down.status_code == 503, down.text
    assert down.headers["Retry-After"] == "30"
    assert not [r for r in caplog.records if r.exc_info]


# --- Socket Mode: no signing secret -----------------------------------------------------


def test_without_a_signing_secret_no_http_request_is_trusted(
    database_url: str, fake_slack: FakeSlack
) -> None:
    # Socket Mode needs no signing secret, but the HTTP server (feed, /healthz) still routes
    # /slack/events: a secret anyone can read in the source would let anyone drive the bot.
    settings = load_settings(
        SLACK_BOT_TOKEN=fake_slack.token,
        SLACK_SIGNING_SECRET=None,
        SLACK_API_URL=fake_slack.api_url,
        DATABASE_URL=database_url,
    )
    bot = create_releasebot(settings)
    server = BackgroundServer(create_web_app(bot.bolt, bot.db)).start()
    try:
        responses = [
            SignedSlackClient(server.url, secret, fake=fake_slack).command("help")
            for secret in ("", "socket-mode-has-no-signing-secret")
        ]
    finally:
        server.stop()
        bot.close()
    assert [r.status_code for r in responses] == [401, 401]
