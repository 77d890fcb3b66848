"""Sends the webhook deliveries changes owe, each receiver in a lane of its own.

Never in an ack's path: a change only writes delivery rows (in its own transaction); after
the commit the sender is nudged, and the scheduler's sweep picks up retries and whatever a
stopped process left. A nudge or a sweep only looks up which receivers have deliveries due
and hands each to its lane, a thread that sends that receiver's deliveries in order, one at
a time, and ends when it has none left. No lane waits for another, and nothing waits for a
lane: a slow or dead receiver holds its own lane only, for at most the total timeout of a
request, and when one fails the rest of its queue waits out of everyone's way.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import urlsplit

from handlers.delivery import webhook_urls
from handlers.delivery.webhook_urls import Resolver, Target, UnsafeUrl
from models import webhooks
from models.columns import utcnow
from models.db import Database
from models.webhooks import Webhook, WebhookDelivery

logger = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Releasebot-Timestamp"
SIGNATURE_HEADER = "X-Releasebot-Signature"
DELIVERY_HEADER = "X-Releasebot-Delivery"
EVENT_HEADER = "X-Releasebot-Event"
USER_AGENT = "releasebot-webhooks/1"

# For the whole request: connecting, TLS, sending and the answer. A total, not a bound on
# each wait: a receiver answering a byte at a time is cut off as one answering nothing.
TIMEOUT_SECONDS = 10.0
# Answers worth trying again; any other 4xx (and 3xx: redirects are not followed) is final.
RETRY_STATUSES = frozenset({408, 429})


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256, keyed with the secret, of `timestamp.body`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


@dataclass(frozen=True)
class DeliveryAttempt:
    delivered: bool
    error: str = ""
    temporary: bool = False
    retry_at: datetime | None = None  # when a temporary failure is tried again


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address the URL check passed, whatever the name resolves to now."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeout, context=self._tls)
        self._address = target.address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        # The handshake as a whole is bounded by the socket's timeout (the request's).
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def post(target: Target, headers: dict[str, str], body: bytes, timeout: float) -> int:
    """POST `body` to the checked target; its HTTP status. `timeout` bounds the whole
    request, however the receiver spreads its answer over time."""
    connection: http.client.HTTPConnection = (
        _PinnedHTTPSConnection(target, timeout)
        if target.scheme == "https"
        else _PinnedHTTPConnection(target, timeout)
    )
    cut = threading.Event()

    def cut_off() -> None:
        cut.set()
        sock = connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    deadline = threading.Timer(timeout, cut_off)
    deadline.daemon = True
    deadline.start()
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(4096)  # what a receiver says is not kept
        status = int(response.status)
    except (OSError, http.client.HTTPException):
        if cut.is_set():
            raise TimeoutError("timed out") from None
        raise
    finally:
        deadline.cancel()
        connection.close()
    if cut.is_set():
        raise TimeoutError("timed out")
    return status


@dataclass
class _Lane:
    """One receiver's sending, on a thread of its own while it has deliveries due."""

    webhook_id: int
    thread: threading.Thread | None = None
    delivered: int = 0
    # Set when more became due while it ran: it looks once more before it ends.
    again: bool = False
    done: threading.Event = field(default_factory=threading.Event)


class WebhookSender:
    def __init__(
        self,
        db: Database,
        *,
        allow_private: bool = False,
        clock: Callable[[], datetime] = utcnow,
        timeout: float = TIMEOUT_SECONDS,
        resolve: Resolver = webhook_urls.system_resolver,
    ) -> None:
        self.db = db
        self.allow_private = allow_private
        self.clock = clock
        self.timeout = timeout
        self.resolve = resolve
        self._nudger = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhook-nudge")
        self._lock = threading.Condition()
        self._lanes: dict[int, _Lane] = {}  # webhook id -> its running lane
        self._nudge_queued = False
        self._closed = False

    # --- what callers use ---------------------------------------------------------------

    def nudge(self, _release_id: int | None = None) -> None:
        """After a commit, and the sweep: hand what is due to the receivers' lanes, on the
        sender's own thread (never waits)."""
        with self._lock:
            if self._nudge_queued or self._closed:
                return
            self._nudge_queued = True
        self._nudger.submit(self._nudged)

    def _nudged(self) -> None:
        with self._lock:
            self._nudge_queued = False
        try:
            self._dispatch()
        except Exception:
            logger.exception("webhook deliveries failed")

    def wait_idle(self, timeout: float = 30) -> bool:
        """Until a nudge queued before now has run, and every lane has ended (for tests and
        shutdown)."""
        until = time.monotonic() + timeout
        done = self._nudger.submit(lambda: None)
        try:
            done.result(timeout=timeout)
        except TimeoutError:
            return False
        with self._lock:
            return self._lock.wait_for(
                lambda: not self._lanes, timeout=max(0.0, until - time.monotonic())
            )

    def close(self) -> None:
        """Stops taking work; each lane ends after the request it is making."""
        with self._lock:
            self._closed = True
        self._nudger.shutdown(wait=True)
        with self._lock:
            lanes = list(self._lanes.values())
        for lane in lanes:
            if lane.thread is not None:
                lane.thread.join()

    def deliver_due(self) -> int:
        """Everything due now, each receiver in its lane, waiting for those lanes to end;
        how many were delivered."""
        lanes = self._dispatch()
        for lane in lanes:
            lane.done.wait()
        return sum(lane.delivered for lane in lanes)

    # --- lanes --------------------------------------------------------------------------

    def _dispatch(self) -> list[_Lane]:
        """Each receiver with deliveries due gets its lane going (or, when it is running,
        looking again before it ends). Returns those lanes; waits for none."""
        now = self.clock()
        with self.db.session() as session:
            stale = webhooks.DELIVERIES.release_stale_claims(session, now)
        if stale:
            logger.warning("%d webhook deliveries were interrupted mid-send; resending", stale)
        with self.db.read_session() as session:
            due = webhooks.due_webhooks(session, now)
        lanes = []
        with self._lock:
            if self._closed:
                return []
            for webhook_id in due:
                lane = self._lanes.get(webhook_id)
                if lane is not None:
                    lane.again = True
                else:
                    lane = self._lanes[webhook_id] = _Lane(webhook_id)
                    lane.thread = threading.Thread(
                        target=self._run_lane,
                        args=(lane,),
                        name=f"webhook-{webhook_id}",
                        daemon=True,
                    )
                    lane.thread.start()
                lanes.append(lane)
        return lanes

    def _run_lane(self, lane: _Lane) -> None:
        try:
            while True:
                with self._lock:
                    lane.again = False
                    closed = self._closed
                if not closed and self._deliver_what_is_due(lane):
                    continue
                with self._lock:
                    if lane.again and not self._closed:
                        continue
                    del self._lanes[lane.webhook_id]
                    self._lock.notify_all()
                    return
        except Exception:
            logger.exception("webhook deliveries failed")
            with self._lock:
                self._lanes.pop(lane.webhook_id, None)
                self._lock.notify_all()
        finally:
            lane.done.set()

    def _deliver_what_is_due(self, lane: _Lane) -> bool:
        """One round of the receiver's due deliveries; whether there may be more now."""
        with self.db.read_session() as session:
            hook = session.get(Webhook, lane.webhook_id)
            ids = webhooks.due(session, self.clock(), lane.webhook_id) if hook else []
        if hook is None or not ids:
            return False
        delivered, finished = self._deliver_in_turn(hook, ids)
        lane.delivered += delivered
        return finished

    # --- one receiver's deliveries ------------------------------------------------------

    def _deliver_in_turn(self, hook: Webhook, delivery_ids: list[int]) -> tuple[int, bool]:
        """Sends them in order: how many went, and whether all were tried (it stops at the
        first that must wait, and so do the rest)."""
        delivered = 0
        for index, delivery_id in enumerate(delivery_ids):
            with self._lock:
                if self._closed:
                    return delivered, False
            outcome = self._deliver_one(delivery_id, hook)
            if outcome is None:
                continue  # another process has it, or it is done
            if outcome.delivered:
                delivered += 1
            elif outcome.temporary:
                if outcome.retry_at is not None:
                    # The receiver is down or struggling: the rest of its queue waits as
                    # long, out of the way of other receivers' deliveries.
                    with self.db.session() as session:
                        webhooks.DELIVERIES.hold(
                            session, delivery_ids[index + 1 :], outcome.retry_at
                        )
                return delivered, False
        return delivered, True

    def _deliver_one(self, delivery_id: int, hook: Webhook) -> DeliveryAttempt | None:
        now = self.clock()
        with self.db.session() as session:
            delivery = webhooks.DELIVERIES.claim(session, delivery_id, now)
        if delivery is None:
            return None
        outcome = self._attempt(hook, delivery)
        now = self.clock()
        with self.db.session() as session:
            if outcome.delivered:
                webhooks.DELIVERIES.finish(session, delivery_id, sent_at=now)
            elif outcome.temporary:
                retry_at = webhooks.DELIVERIES.retry_later(session, delivery, now, outcome.error)
                outcome = replace(outcome, retry_at=retry_at)
                logger.warning(
                    "webhook %s to %s failed (%s); retry at %s",
                    delivery.event,
                    _logged(hook.url),
                    outcome.error,
                    retry_at,
                )
            else:
                webhooks.DELIVERIES.fail(session, delivery_id, outcome.error)
                logger.error(
                    "webhook %s to %s refused for good: %s",
                    delivery.event,
                    _logged(hook.url),
                    outcome.error,
                )
        return outcome

    def _attempt(self, hook: Webhook, delivery: WebhookDelivery) -> DeliveryAttempt:
        try:
            # Checked again now: the name may point somewhere else since it was added.
            target = webhook_urls.check(
                hook.url, allow_private=self.allow_private, resolve=self.resolve
            )
        except webhook_urls.Unresolvable as exc:
            return DeliveryAttempt(False, str(exc), temporary=True)
        except UnsafeUrl as exc:
            return DeliveryAttempt(False, str(exc))
        body = delivery.body.encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(hook.secret, timestamp, body),
            DELIVERY_HEADER: delivery.uid,
            EVENT_HEADER: delivery.event,
        }
        try:
            status = post(target, headers, body, self.timeout)
        except TimeoutError:
            return DeliveryAttempt(False, "timed out", temporary=True)
        except (OSError, http.client.HTTPException) as exc:
            return DeliveryAttempt(False, f"{type(exc).__name__}: {exc}"[:300], temporary=True)
        if 200 <= status < 300:
            return DeliveryAttempt(True)
        temporary = status >= 500 or status in RETRY_STATUSES
        return DeliveryAttempt(False, f"HTTP {status}", temporary=temporary)


def _logged(url: str) -> str:
    """Where a URL points, for the logs: its path and query may hold a receiver's token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…"
