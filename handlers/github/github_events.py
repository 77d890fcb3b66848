"""`POST /github/events`: GitHub's webhook deliveries, checked, kept, acknowledged, and
handled after the answer.

The signature (`X-Hub-Signature-256`: `sha256=` and the HMAC-SHA256 of the raw body with
the webhook secret) is checked, in constant time, before anything is read from the body:
without a valid one, 401 and nothing recorded. A delivery of an event handled here is
written once under its `X-GitHub-Delivery` id (a redelivery gets 200 and nothing more),
answered 202, and handled on a worker thread; a sweep handles what a stopped process left.
Other events get 204 and are ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from handlers.deps import Deps
from models.errors import DomainError
from models.github import github_deliveries as deliveries

logger = logging.getLogger(__name__)

HANDLED = frozenset({"deployment_protection_rule", "deployment_status"})
MAX_DELIVERY_ID = 64

# (event, payload, delivery id) -> None; raises to have it tried again.
Handler = Callable[[str, dict[str, Any], str], None]


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


class GitHubEvents:
    def __init__(self, deps: Deps, secret: str, handle: Handler) -> None:
        self.deps = deps
        self._secret = secret
        self._handle = handle
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="github-events")

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()  # capped by BodyLimit
        if not signature_ok(self._secret, body, request.headers.get("x-hub-signature-256")):
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        event = request.headers.get("x-github-event", "")
        delivery_id = request.headers.get("x-github-delivery", "").strip()
        if event not in HANDLED:
            return Response(status_code=204)
        if not delivery_id or len(delivery_id) > MAX_DELIVERY_ID:
            return JSONResponse({"error": "missing X-GitHub-Delivery"}, status_code=400)
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            return JSONResponse({"error": "the body is not a JSON object"}, status_code=400)
        row_id = await run_in_threadpool(self._receive, delivery_id, event, body.decode())
        if row_id is None:
            return JSONResponse({"status": "received already"}, status_code=200)
        self._worker.submit(self._quietly, lambda: self.handle_one(row_id))
        return JSONResponse({"status": "accepted"}, status_code=202)

    def _receive(self, delivery_id: str, event: str, body: str) -> int | None:
        with self.deps.db.session() as session:
            return deliveries.receive(session, delivery_id, event, body, self.deps.clock())

    def handle_due(self) -> None:
        """The sweep: deliveries not handled yet (retries, or left by a stopped process)."""
        now = self.deps.clock()
        with self.deps.db.session() as session:
            deliveries.DELIVERIES.release_stale_claims(session, now)
        with self.deps.db.read_session() as session:
            due = deliveries.due(session, now)
        for row_id in due:
            self.handle_one(row_id)

    def handle_one(self, row_id: int) -> None:
        with self.deps.db.session() as session:
            row = deliveries.DELIVERIES.claim(session, row_id, self.deps.clock(), due=False)
        if row is None:
            return  # another process has it, or it is done
        assert row.id is not None
        try:
            self._handle(row.event, json.loads(row.body), row.delivery_id)
        except (DomainError, KeyError, TypeError, ValueError) as error:
            # Refused, or a payload without what it should hold: trying again won't help.
            logger.warning(
                "GitHub delivery %s (%s) not handled: %r", row.delivery_id, row.event, error
            )
            with self.deps.db.session() as session:
                deliveries.DELIVERIES.finish(session, row.id)
            return
        except Exception as error:
            logger.exception("GitHub delivery %s (%s) failed", row.delivery_id, row.event)
            with self.deps.db.session() as session:
                deliveries.DELIVERIES.retry_later(session, row, self.deps.clock(), repr(error))
            return
        with self.deps.db.session() as session:
            deliveries.DELIVERIES.finish(session, row.id)

    def wait_idle(self, timeout: float = 30) -> bool:
        try:
            self._worker.submit(lambda: None).result(timeout=timeout)
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        self._worker.shutdown(wait=True)

    @staticmethod
    def _quietly(fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:
            logger.exception("handling a GitHub delivery failed")
