"""Sends the webhook deliveries changes owe, from a few worker threads of its own.

Never in an ack's path: a change only writes delivery rows (in its own transaction); after
the commit the sender is nudged, and the scheduler's sweep picks up retries and whatever a
stopped process left. Each request has a short timeout; each receiver's deliveries go in
order on one worker at a time, a few receivers at once, and a receiver that fails has the
rest of its deliveries left for the next sweep: so a slow or dead receiver delays no
other.
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
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit

from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from handlers.flows import webhook_urls
from handlers.flows.webhook_urls import Resolver, Target, UnsafeUrl
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

TIMEOUT_SECONDS = 5.0
WORKERS = 4
# Answers worth trying again; any other 4xx (and 3xx: redirects are not followed) is final.
RETRY_STATUSES = frozenset({408, 429})


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256, keyed with the secret, of `timestamp.body`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


@dataclass(frozen=True)
class Outcome:
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
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def post(target: Target, headers: dict[str, str], body: bytes, timeout: float) -> int:
    """POST `body` to the checked target; its HTTP status. `timeout` bounds each wait on
    the network, and twice that the whole request (a receiver answering a byte at a time
    can't hold a worker)."""
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

    deadline = threading.Timer(2 * timeout, cut_off)
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


class WebhookSender:
    def __init__(
        self,
        db: Database,
        *,
        allow_private: bool = False,
        clock: Callable[[], datetime] = utcnow,
        workers: int = WORKERS,
        timeout: float = TIMEOUT_SECONDS,
        resolve: Resolver = webhook_urls.system_resolver,
    ) -> None:
        self.db = db
        self.allow_private = allow_private
        self.clock = clock
        self.timeout = timeout
        self.resolve = resolve
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook")
        self._nudger = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhook-nudge")
        self._lock = threading.Lock()
        self._nudge_queued = False
        self._closed = False

    # --- what callers use ---------------------------------------------------------------

    def nudge(self, _release_id: int | None = None) -> None:
        """After a commit: send what is due soon, on the sender's own thread (never waits)."""
        with self._lock:
            if self._nudge_queued or self._closed:
                return
            self._nudge_queued = True
        self._nudger.submit(self._nudged)

    def _nudged(self) -> None:
        with self._lock:
            self._nudge_queued = False
        try:
            self.deliver_due()
        except Exception:
            logger.exception("webhook deliveries failed")

    def wait_idle(self, timeout: float = 30) -> bool:
        """Until a nudge queued before now has run (for tests and shutdown)."""
        done = self._nudger.submit(lambda: None)
        try:
            done.result(timeout=timeout)
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._nudger.shutdown(wait=True)
        self._pool.shutdown(wait=True)

    def deliver_due(self) -> int:
        """Every due delivery, a few at once (the scheduler's sweep); how many went."""
        now = self.clock()
        with self.db.session() as session:
            stale = webhooks.release_stale_claims(session, now)
        if stale:
            logger.warning("%d webhook deliveries were interrupted mid-send; resending", stale)
        with self.db.read_session() as session:
            due = webhooks.due(session, now)
            hooks = {h.id: h for h in session.exec(_webhooks_of(due))}
        # One task per receiver, its deliveries in the order they were owed: a slow receiver
        # holds one worker at most, and the others go on the rest.
        queues: dict[int, list[int]] = {}
        for delivery_id, hook_id in sorted(due):
            queues.setdefault(hook_id, []).append(delivery_id)
        futures = [
            self._pool.submit(self._deliver_in_turn, hooks[hook_id], ids)
            for hook_id, ids in queues.items()
            if hook_id in hooks
        ]
        wait(futures)
        return sum(f.result() for f in futures)

    # --- one receiver's deliveries ------------------------------------------------------

    def _deliver_in_turn(self, hook: Webhook, delivery_ids: list[int]) -> int:
        """Sends them in order; stops at the first that must wait (the rest go next sweep)."""
        delivered = 0
        for index, delivery_id in enumerate(delivery_ids):
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
                        webhooks.hold(session, delivery_ids[index + 1 :], outcome.retry_at)
                break
        return delivered

    def _deliver_one(self, delivery_id: int, hook: Webhook) -> Outcome | None:
        now = self.clock()
        with self.db.session() as session:
            delivery = webhooks.claim(session, delivery_id, now)
        if delivery is None:
            return None
        outcome = self._attempt(hook, delivery)
        now = self.clock()
        with self.db.session() as session:
            if outcome.delivered:
                webhooks.sent(session, delivery_id, now)
            elif outcome.temporary:
                retry_at = webhooks.retry_later(session, delivery, now, outcome.error)
                outcome = replace(outcome, retry_at=retry_at)
                logger.warning(
                    "webhook %s to %s failed (%s); retry at %s",
                    delivery.event,
                    _logged(hook.url),
                    outcome.error,
                    retry_at,
                )
            else:
                webhooks.failed(session, delivery_id, outcome.error)
                logger.error(
                    "webhook %s to %s refused for good: %s",
                    delivery.event,
                    _logged(hook.url),
                    outcome.error,
                )
        return outcome

    def _attempt(self, hook: Webhook, delivery: WebhookDelivery) -> Outcome:
        try:
            # Checked again now: the name may point somewhere else since it was added.
            target = webhook_urls.check(
                hook.url, allow_private=self.allow_private, resolve=self.resolve
            )
        except webhook_urls.Unresolvable as exc:
            return Outcome(False, str(exc), temporary=True)
        except UnsafeUrl as exc:
            return Outcome(False, str(exc))
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
            return Outcome(False, "timed out", temporary=True)
        except (OSError, http.client.HTTPException) as exc:
            return Outcome(False, f"{type(exc).__name__}: {exc}"[:300], temporary=True)
        if 200 <= status < 300:
            return Outcome(True)
        temporary = status >= 500 or status in RETRY_STATUSES
        return Outcome(False, f"HTTP {status}", temporary=temporary)


def _logged(url: str) -> str:
    """Where a URL points, for the logs: its path and query may hold a receiver's token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…"


def _webhooks_of(due: list[tuple[int, int]]) -> SelectOfScalar[Webhook]:
    return select(Webhook).where(col(Webhook.id).in_({hook for _, hook in due}))
