"""Outgoing webhooks: managed by release managers, owed in each change's transaction,
signed, retried with growing pauses, sent once across a restart, and never to internal
addresses unless RELEASEBOT_WEBHOOK_ALLOW_PRIVATE allows it."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlmodel import col, select

from bot.sandbox.slack_standin import FakeSlack
from handlers.delivery.webhook_sender import WebhookSender
from handlers.slack_kit import ids
from models import webhooks
from models.db import Database
from models.webhooks import DeliveryStatus, Webhook, WebhookDelivery
from tests.handlers.api.conftest import api, make_token
from tests.support.harness import Harness, ahead, iso

MANAGER = "U_PM"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: answers with `statuses` in turn, then 200."""

    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    delay: float = 0.0  # seconds before answering
    on_received: Callable[[str], None] | None = None  # told each event it accepts

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.answered.append(status)
                if status == 200:
                    receiver.received.append(Received(dict(self.headers.items()), body))
                    if receiver.on_received is not None:
                        receiver.on_received(json.loads(body)["event"])
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


@pytest.fixture
def harness(database_url: str, fake_slack: FakeSlack) -> Iterator[Harness]:
    with running(database_url, fake_slack) as harness:
        yield harness
        harness.bot.webhooks.wait_idle()


def settle(harness: Harness) -> None:
    """Until the sends nudged by the last change are done."""
    assert harness.bot.webhooks.wait_idle(timeout=30)


def add_webhook(harness: Harness, url: str, events: str = "") -> str:
    """Adds it as the release manager; returns the secret the answer showed."""
    reply = harness.private_reply(harness.command(f"webhook add {url} {events}", user_id=MANAGER))
    assert "Webhook added" in reply, reply
    with harness.session() as session:
        [hook] = webhooks.matching(session, "T0001", url)
    assert hook.secret in reply
    return hook.secret


def deliveries(harness: Harness) -> list[WebhookDelivery]:
    with harness.session() as session:
        return list(session.exec(select(WebhookDelivery).order_by(col(WebhookDelivery.id))))


def valid_signature(secret: str, received: Received) -> bool:
    """What the README tells receivers to do."""
    timestamp = received.headers["X-Releasebot-Timestamp"]
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + received.body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest("sha256=" + expected, received.headers["X-Releasebot-Signature"])


def running(database_url: str, fake_slack: FakeSlack) -> Harness:
    return Harness(
        database_url,
        fake_slack,
        RELEASEBOT_RELEASE_MANAGERS=MANAGER,
        RELEASEBOT_WEBHOOK_ALLOW_PRIVATE="1",
    )


@pytest.mark.both_databases
def test_a_receiver_failing_twice_gets_the_event_once_signed_across_a_restart(
    database_url: str, fake_slack: FakeSlack, receiver: Receiver
) -> None:
    when = ahead(days=0.5)
    with running(database_url, fake_slack) as harness:
        harness.clock.pin(when)
        secret = add_webhook(harness, receiver.url())
        receiver.statuses = [503, 500]
        harness.command(f"propose payments 2.4.0 {iso(ahead())}")
        settle(harness)
        assert receiver.answered == [503] and receiver.received == []
        [owed] = deliveries(harness)
        assert (owed.status, owed.attempts, owed.last_error) == ("pending", 1, "HTTP 503")
        assert owed.due_at == when + timedelta(seconds=2)

    # The bot stopped; a new one starts on the same database and runs its sweep.
    with running(database_url, fake_slack) as harness:
        harness.clock.pin(when)
        sender = harness.bot.webhooks
        assert sender.deliver_due() == 0  # not due yet
        assert receiver.answered == [503]
        harness.clock.advance(timedelta(seconds=3))
        assert sender.deliver_due() == 0
        assert receiver.answered == [503, 500]
        [owed] = deliveries(harness)
        assert owed.due_at == harness.clock() + timedelta(seconds=10)
        harness.clock.advance(timedelta(seconds=11))
        assert sender.deliver_due() == 1
        assert sender.deliver_due() == 0  # sent once
        harness.clock.advance(timedelta(hours=1))
        assert sender.deliver_due() == 0

        assert receiver.answered == [503, 500, 200]
        [got] = receiver.received
        assert valid_signature(secret, got)
        assert not valid_signature("whsec_other", got)
        [owed] = deliveries(harness)
        assert (owed.status, owed.attempts, owed.last_error) == ("sent", 3, "")
        assert got.headers["X-Releasebot-Delivery"] == owed.uid
        assert got.headers["X-Releasebot-Event"] == "release.proposed"
        assert got.headers["Content-Type"] == "application/json"
        release = harness.release("payments@2.4.0")
        payload = got.payload
        assert payload["id"] == owed.uid and payload["event"] == "release.proposed"
        assert payload["actor"] == "U_OWNER"
        assert payload["release"] == {
            "ref": "payments@2.4.0",
            "uid": release.uid,
            "service": "payments",
            "version": "2.4.0",
            "status": "approved",  # no approvers: approved as proposed
            "stage": None,
            "target_at": release.target_at.isoformat(),
            "owner": "U_OWNER",
            "commit_sha": None,
            "digest": None,
        }

        reply = harness.private_reply(
            harness.command(f"webhook deliveries {receiver.url()}", user_id=MANAGER)
        )
        assert "release.proposed" in reply and "sent" in reply and "3 tries" in reply


def test_events_are_filtered_and_a_webhook_naming_none_gets_all(
    harness: Harness, receiver: Receiver
) -> None:
    add_webhook(harness, receiver.url("/all"))
    add_webhook(harness, receiver.url("/cancels"), "release.cancelled release.go")
    harness.command(f"propose payments 2.4.0 {iso(ahead())}")
    settle(harness)
    harness.command("cancel payments@2.4.0 not this week")
    settle(harness)
    assert harness.bot.webhooks.deliver_due() == 0  # all went at once
    sent = [(d.webhook_id, d.event, d.status) for d in deliveries(harness)]
    with harness.session() as session:
        ids = {h.url.rsplit("/", 1)[1]: h.id for h in session.exec(select(Webhook))}
    assert sorted(sent) == sorted(
        [
            (ids["all"], "release.proposed", "sent"),
            (ids["all"], "release.cancelled", "sent"),
            (ids["cancels"], "release.cancelled", "sent"),
        ]
    )
    events = sorted(r.payload["event"] for r in receiver.received)
    assert events == ["release.cancelled", "release.cancelled", "release.proposed"]
    cancelled = next(r.payload for r in receiver.received if r.payload["event"].endswith("led"))
    assert cancelled["release"]["status"] == "cancelled"


def test_a_phased_rollout_sends_go_stages_and_released(
    harness: Harness, receiver: Receiver
) -> None:
    add_webhook(harness, receiver.url(), "release.go release.stage release.released")
    harness.command(f"propose payments 2.4.0 {iso(ahead())} phased 10")
    for position in range(5):  # the default checklist
        harness.tick(harness.release("payments@2.4.0"), position)
    for step in ("go", "advance"):
        harness.command(f"{step} payments@2.4.0")
        settle(harness)
    got = [(r.payload["event"], r.payload["release"]["stage"]) for r in receiver.received]
    assert got == [
        ("release.go", 10),
        ("release.stage", 10),
        ("release.stage", 100),
        ("release.released", 100),
    ]


def test_a_release_whose_card_can_never_be_posted_goes_with_its_deliveries(
    harness: Harness, receiver: Receiver
) -> None:
    add_webhook(harness, receiver.url())
    harness.slack.fail_next("chat.postMessage", error="not_in_channel")
    harness.command(f"propose payments 2.4.0 {iso(ahead())}")
    settle(harness)
    assert harness.releases() == []
    assert deliveries(harness) == [] and receiver.answered == []


def test_a_sign_off_and_a_go_through_a_freeze_send_approved_overridden_and_go(
    harness: Harness, receiver: Receiver
) -> None:
    add_webhook(harness, receiver.url(), "release.approved freeze.overridden release.go")
    harness.command(f"propose payments 2.4.0 {iso(ahead())} <@U_QA|qa>")
    harness.click(harness.card(harness.release("payments@2.4.0")), ids.APPROVE, user_id="U_QA")
    settle(harness)
    for position in range(5):
        harness.tick(harness.release("payments@2.4.0"), position)
    harness.command(f'freeze add "Holidays" now to {iso(ahead(days=3))}', user_id=MANAGER)
    harness.command("go payments@2.4.0 override: security fix", user_id=MANAGER)
    settle(harness)
    got = [r.payload for r in receiver.received]
    assert [(p["event"], p["actor"], p["release"]["status"]) for p in got] == [
        ("release.approved", "U_QA", "approved"),
        ("freeze.overridden", MANAGER, "go"),
        ("release.go", MANAGER, "go"),
    ]
    freeze = got[1]["freeze"]
    assert (freeze["name"], freeze["reason"]) == ("Holidays", "security fix")
    assert freeze["from"] and freeze["until"] and freeze["uid"]


def test_a_private_release_sends_nothing(harness: Harness, receiver: Receiver) -> None:
    add_webhook(harness, receiver.url())
    harness.command(f"propose payments 2.4.0 {iso(ahead())} <@U_QA|qa>", channel_id="G_SECRET")
    assert harness.release("payments@2.4.0").private
    harness.command("cancel payments@2.4.0 not now", channel_id="G_SECRET")
    settle(harness)
    assert deliveries(harness) == [] and receiver.answered == []


def test_a_4xx_fails_for_good_and_a_429_is_retried(harness: Harness, receiver: Receiver) -> None:
    harness.clock.pin(ahead(days=0.5))
    add_webhook(harness, receiver.url("/a"), "release.proposed")
    receiver.statuses = [429]
    harness.command(f"propose payments 2.4.0 {iso(ahead())}")
    settle(harness)
    assert [d.status for d in deliveries(harness)] == ["pending"]
    receiver.statuses = [410]
    harness.clock.advance(timedelta(seconds=3))
    assert harness.bot.webhooks.deliver_due() == 0
    [failed] = deliveries(harness)
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", 2, "HTTP 410")
    harness.clock.advance(timedelta(hours=2))
    assert harness.bot.webhooks.deliver_due() == 0
    assert receiver.answered == [429, 410]


@pytest.mark.clock
@pytest.mark.both_databases
def test_a_dead_receiver_is_retried_with_growing_pauses_for_a_day_then_failed(
    harness: Harness, receiver: Receiver
) -> None:
    harness.clock.pin(ahead(days=0.5))
    dead = f"http://127.0.0.1:{_closed_port()}/hook"
    add_webhook(harness, dead)
    harness.command(f"propose payments 2.4.0 {iso(ahead())}")
    settle(harness)
    start = harness.clock()
    pauses = []
    while True:
        [owed] = deliveries(harness)
        if owed.status != "pending":
            break
        pauses.append(owed.due_at - harness.clock())
        harness.clock.pin(owed.due_at)
        harness.bot.webhooks.deliver_due()
    assert pauses[:6] == [
        timedelta(seconds=2),
        timedelta(seconds=10),
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=1),
    ]
    assert owed.status == "failed" and "gave up" in owed.last_error
    assert "ConnectionRefusedError" in owed.last_error
    assert timedelta(hours=23) < harness.clock() - start <= timedelta(hours=24)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_only_release_managers_manage_webhooks(harness: Harness, receiver: Receiver) -> None:
    for text in (
        f"webhook add {receiver.url()}",
        "webhook list",
        f"webhook remove {receiver.url()}",
        f"webhook deliveries {receiver.url()}",
    ):
        reply = harness.private_reply(harness.command(text, user_id="U_OWNER"))
        assert "release manager" in reply.lower(), reply
    with harness.session() as session:
        assert list(session.exec(select(Webhook))) == []

    secret = add_webhook(harness, receiver.url(), "release.go")
    listing = harness.private_reply(harness.command("webhook list", user_id=MANAGER))
    assert receiver.url() in listing and "release.go" in listing
    assert secret not in listing  # shown once, when added
    again = harness.private_reply(harness.command(f"webhook add {receiver.url()}", user_id=MANAGER))
    assert "already" in again
    unknown = harness.private_reply(
        harness.command(f"webhook add {receiver.url('/x')} release.shipped", user_id=MANAGER)
    )
    assert "don't know the event" in unknown
    removed = harness.private_reply(
        harness.command(f"webhook remove {receiver.url()}", user_id=MANAGER)
    )
    assert "removed" in removed
    harness.command(f"propose payments 2.4.0 {iso(ahead())}")
    settle(harness)
    assert deliveries(harness) == [] and receiver.answered == []


def audit_records(harness: Harness, token: str, action: str) -> tuple[str, list[dict[str, Any]]]:
    """The audit export as an unlimited API token of a release manager reads it: the whole
    text, and the records of that action."""
    with api(harness, token) as http:
        answer = http.get("/audit", params={"format": "jsonl"})
    assert answer.status_code == 200, answer.text
    records = [json.loads(line) for line in answer.text.splitlines()]
    return answer.text, [r for r in records if r["action"] == action]


def test_a_webhooks_query_string_is_shown_only_when_it_is_added(
    harness: Harness, receiver: Receiver
) -> None:
    """Receivers often take a secret in the query string: after the answer that added it,
    the list, the deliveries, the removal and the audit trail show scheme, host and path."""
    full = receiver.url("/hook?token=s3cr3t-in-query")
    shown = receiver.url("/hook") + "?…"
    add_webhook(harness, full, "release.proposed")
    harness.command(f"propose payments 2.4.0 {iso(ahead())}")
    settle(harness)
    assert [r.payload["event"] for r in receiver.received] == ["release.proposed"]

    token = make_token(harness, "auditor", owner=MANAGER)
    export, [added] = audit_records(harness, token, "webhook_added")
    assert added["after"] == {"url": shown, "events": ["release.proposed"]}
    assert "s3cr3t" not in export

    listing = harness.private_reply(harness.command("webhook list", user_id=MANAGER))
    assert shown in listing and "s3cr3t" not in listing
    # The form the list shows (with or without its `?…`) names the webhook.
    for named in (shown, receiver.url("/hook")):
        sent = harness.private_reply(
            harness.command(f"webhook deliveries {named}", user_id=MANAGER)
        )
        assert shown in sent and "sent" in sent and "s3cr3t" not in sent, sent

    removed = harness.private_reply(harness.command(f"webhook remove {shown}", user_id=MANAGER))
    assert "removed" in removed and shown in removed and "s3cr3t" not in removed, removed
    export, [gone] = audit_records(harness, token, "webhook_removed")
    assert gone["before"] == {"url": shown, "events": ["release.proposed"]}
    assert "s3cr3t" not in export


def test_two_webhooks_on_one_path_are_told_apart_by_their_whole_url(
    harness: Harness, receiver: Receiver
) -> None:
    add_webhook(harness, receiver.url("/hook?team=a"))
    add_webhook(harness, receiver.url("/hook?team=b"))
    both = harness.private_reply(
        harness.command(f"webhook remove {receiver.url('/hook')}?…", user_id=MANAGER)
    )
    assert "2 webhooks" in both and "whole URL" in both and "team=" not in both, both
    removed = harness.private_reply(
        harness.command(f"webhook remove {receiver.url('/hook?team=b')}", user_id=MANAGER)
    )
    assert "removed" in removed, removed
    with harness.session() as session:
        assert [h.url for h in session.exec(select(Webhook))] == [receiver.url("/hook?team=a")]


def test_a_url_that_is_not_plain_ascii_is_refused_when_added(
    harness: Harness, receiver: Receiver
) -> None:
    """It could never be sent (a request line is ASCII), and a delivery's error would
    quote its query."""
    for url in (receiver.url("/caf\u00e9"), receiver.url("/hook?token=s3cr3t\u00fc")):
        reply = harness.private_reply(harness.command(f"webhook add {url}", user_id=MANAGER))
        assert "plain ASCII" in reply and "s3cr3t" not in reply, reply
    with harness.session() as session:
        assert list(session.exec(select(Webhook))) == []


def test_without_the_setting_private_and_plain_http_urls_are_refused(
    database_url: str, fake_slack: FakeSlack
) -> None:
    with Harness(database_url, fake_slack, RELEASEBOT_RELEASE_MANAGERS=MANAGER) as harness:
        for url, problem in (
            ("https://127.0.0.1:8443/hook", "not a public address"),
            ("https://localhost/hook", "not a public address"),
            ("https://169.254.169.254/latest", "not a public address"),
            # 6to4 addresses of loopback and of the cloud metadata service
            ("https://[2002:7f00:1::]/", "not a public address"),
            ("https://[2002:a9fe:a9fe::]/latest", "not a public address"),
            ("http://hooks.example.com/", "https://"),
        ):
            reply = harness.private_reply(harness.command(f"webhook add {url}", user_id=MANAGER))
            assert problem in reply, reply
        with harness.session() as session:
            assert list(session.exec(select(Webhook))) == []


@pytest.mark.parametrize("answer", ["127.0.0.1", "2002:7f00:1::", "2002:a9fe:a9fe::"])
def test_a_name_that_points_inside_at_delivery_time_is_not_called(
    database_url: str, receiver: Receiver, answer: str
) -> None:
    """DNS rebinding: public when added, loopback (or metadata, through 6to4) when sent."""
    db = Database(database_url)
    try:
        with db.session() as session:
            hook = webhooks.add(session, "T1", "https://hooks.example.com/in", [], "U_PM")
            assert hook is not None and hook.id is not None
            session.add(
                WebhookDelivery(
                    uid="d-1",
                    webhook_id=hook.id,
                    event="release.go",
                    body="{}",
                    due_at=webhooks.utcnow(),
                )
            )
        sender = WebhookSender(db, resolve=lambda host, port: [answer])
        try:
            assert sender.deliver_due() == 0
        finally:
            sender.close()
        with db.session() as session:
            [row] = session.exec(select(WebhookDelivery))
        assert row.status == DeliveryStatus.FAILED and "not a public address" in row.last_error
        assert receiver.answered == []
    finally:
        db.dispose()


@pytest.mark.both_databases
def test_two_senders_on_one_database_send_each_delivery_once(
    database_url: str, receiver: Receiver
) -> None:
    db = Database(database_url)
    try:
        with db.session() as session:
            hook = webhooks.add(session, "T1", receiver.url(), [], "U_PM")
            assert hook is not None and hook.id is not None
            for n in range(12):
                session.add(
                    WebhookDelivery(
                        uid=f"d-{n}",
                        webhook_id=hook.id,
                        event="release.go",
                        body="{}",
                        due_at=webhooks.utcnow(),
                    )
                )
        senders = [WebhookSender(db, allow_private=True) for _ in range(2)]
        try:
            threads = [threading.Thread(target=s.deliver_due) for s in senders]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            for sender in senders:
                sender.close()
        ids = sorted(r.headers["X-Releasebot-Delivery"] for r in receiver.received)
        assert ids == sorted(f"d-{n}" for n in range(12))
    finally:
        db.dispose()


def test_a_slow_receiver_times_out_without_holding_up_another(
    database_url: str, receiver: Receiver
) -> None:
    slow = Receiver(delay=3.0)
    db = Database(database_url)
    try:
        with db.session() as session:
            for n, url in enumerate((slow.url(), receiver.url())):
                hook = webhooks.add(session, "T1", url, [], "U_PM")
                assert hook is not None and hook.id is not None
                session.add(
                    WebhookDelivery(
                        uid=f"d-{n}",
                        webhook_id=hook.id,
                        event="release.go",
                        body="{}",
                        due_at=webhooks.utcnow(),
                    )
                )
        sender = WebhookSender(db, allow_private=True, timeout=1.0)
        try:
            started = time.monotonic()
            assert sender.deliver_due() == 1
            assert time.monotonic() - started < 2.5  # the slow one's timeout, not the sum
        finally:
            sender.close()
        assert [r.headers["X-Releasebot-Delivery"] for r in receiver.received] == ["d-1"]
        with db.session() as session:
            late = session.exec(select(WebhookDelivery).where(WebhookDelivery.uid == "d-0")).one()
        assert (late.status, late.last_error) == ("pending", "timed out")
    finally:
        db.dispose()
        slow.close()


class Happenings:
    """What the receivers saw, in the order it happened (across their threads)."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self.log: list[str] = []

    def add(self, what: str) -> None:
        with self._lock:
            self.log.append(what)
            self._lock.notify_all()

    def wait_for(self, *wanted: str, deadline: float = 60.0) -> list[str]:
        """The log, once it holds each of `wanted` (fails after `deadline` seconds)."""
        with self._lock:
            arrived = self._lock.wait_for(
                lambda: all(w in self.log for w in wanted), timeout=deadline
            )
            assert arrived, f"still waiting for {wanted}; so far {self.log}"
            return list(self.log)


class TricklingReceiver:
    """Answers a byte of headers at a time, each well within any per-read timeout, until
    `go_on` is set; then ends its answer (200). Logs each request it ends."""

    def __init__(self, name: str, happenings: Happenings, go_on: threading.Event) -> None:
        class Trickle(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                try:
                    self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                    while not go_on.wait(0.2):
                        self.wfile.write(b"X")
                        self.wfile.flush()
                    self.wfile.write(b"-Slow: 1\r\nContent-Length: 0\r\n\r\n")
                    self.wfile.flush()
                    happenings.add(f"{name} answered {body['event']}")
                except OSError:
                    happenings.add(f"{name} was cut off")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_ten_trickling_receivers_do_not_delay_a_healthy_ones_deliveries(
    harness: Harness,
) -> None:
    """Each receiver has its own lane: while ten receivers trickle their answers, a healthy
    one gets the proposal and then the cancellation (a later change), before any of the
    ten has finished a single answer or been cut off."""
    happenings = Happenings()
    go_on = threading.Event()
    slow = [TricklingReceiver(f"slow{n}", happenings, go_on) for n in range(10)]
    healthy = Receiver(on_received=lambda event: happenings.add(f"healthy got {event}"))
    events = "release.proposed release.cancelled"
    try:
        for receiver in slow:
            add_webhook(harness, receiver.url(), events)
        add_webhook(harness, healthy.url(), events)
        harness.command(f"propose payments 2.4.0 {iso(ahead())}")
        happenings.wait_for("healthy got release.proposed")
        harness.command("cancel payments@2.4.0 not this week")
        log = happenings.wait_for("healthy got release.cancelled")
        assert log == ["healthy got release.proposed", "healthy got release.cancelled"], log

        # Let the ten end their answers: each then gets the cancellation too.
        go_on.set()
        happenings.wait_for(*(f"slow{n} answered {e}" for n in range(10) for e in events.split()))
        settle(harness)
        assert [d.status for d in deliveries(harness)] == ["sent"] * 22
    finally:
        go_on.set()
        for receiver in slow:
            receiver.close()
        healthy.close()


def test_a_receiver_answering_a_byte_at_a_time_is_cut_off(database_url: str) -> None:
    class Drip(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for _ in range(40):  # each line well within the per-read timeout
                self.wfile.write(b"X-Slow: 1\r\n")
                self.wfile.flush()
                time.sleep(0.1)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Drip)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    db = Database(database_url)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        with db.session() as session:
            hook = webhooks.add(session, "T1", url, [], "U_PM")
            assert hook is not None and hook.id is not None
            session.add(
                WebhookDelivery(
                    uid="d-1",
                    webhook_id=hook.id,
                    event="release.go",
                    body="{}",
                    due_at=webhooks.utcnow(),
                )
            )
        sender = WebhookSender(db, allow_private=True, timeout=0.5)
        try:
            started = time.monotonic()
            assert sender.deliver_due() == 0
            assert time.monotonic() - started < 2.5  # the request's timeout, not 4 s
        finally:
            sender.close()
        with db.session() as session:
            [row] = session.exec(select(WebhookDelivery))
        assert (row.status, row.last_error) == ("pending", "timed out")
    finally:
        db.dispose()
        server.shutdown()
        server.server_close()


@pytest.mark.both_databases
def test_a_dead_receivers_queue_waits_out_of_the_way_of_others(
    database_url: str, receiver: Receiver
) -> None:
    db = Database(database_url)
    try:
        now = webhooks.utcnow()
        with db.session() as session:
            dead = webhooks.add(
                session, "T1", f"http://127.0.0.1:{_closed_port()}/hook", [], "U_PM"
            )
            live = webhooks.add(session, "T1", receiver.url(), [], "U_PM")
            assert dead is not None and dead.id is not None
            assert live is not None and live.id is not None
            for n, hook_id in enumerate([dead.id] * 3 + [live.id]):
                session.add(
                    WebhookDelivery(
                        uid=f"d-{n}",
                        webhook_id=hook_id,
                        event="release.go",
                        body="{}",
                        due_at=now,
                        created_at=now,
                    )
                )
        sender = WebhookSender(db, allow_private=True, clock=lambda: now)
        try:
            assert sender.deliver_due() == 1
        finally:
            sender.close()
        with db.session() as session:
            rows = list(session.exec(select(WebhookDelivery).order_by(col(WebhookDelivery.id))))
        assert [(r.status, r.attempts, r.due_at - now) for r in rows] == [
            ("pending", 1, timedelta(seconds=2)),  # tried, refused to connect
            ("pending", 0, timedelta(seconds=2)),  # not tried: wait as long
            ("pending", 0, timedelta(seconds=2)),
            ("sent", 1, timedelta(0)),
        ]
        with db.read_session() as session:
            assert webhooks.due_webhooks(session, now) == []
    finally:
        db.dispose()
