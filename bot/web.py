"""The ASGI app Slack talks to: /slack/events, /healthz (and the calendar feed), and the
HTTP API for deploy pipelines under /api/v1."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import anyio
from slack_bolt import App, BoltRequest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from bot.body_limit import DEFAULT_MAX_BODY, BodyLimit
from handlers.api.http_api import DEFAULT_RATE, PREFIX, create_api
from handlers.calendar_feed.calendar_page import assets_endpoint, page_endpoint
from handlers.calendar_feed.display_names import slack_display_names
from handlers.calendar_feed.membership import slack_membership
from handlers.calendar_feed.route import ValidatorCache, calendar_endpoint, redact
from handlers.deps import Deps
from handlers.github.github_events import GitHubEvents
from models.columns import utcnow
from models.db import Database

logger = logging.getLogger(__name__)

DISPATCH_THREADS = 4
RETRY_AFTER = 30  # seconds; a restarting database is usually back within that
MAX_BODY = DEFAULT_MAX_BODY  # Slack payloads are far smaller; refuse anything absurd.


def create_web_app(
    bolt: App,
    db: Database,
    *,
    clock: Callable[[], datetime] = utcnow,
    max_body: int = MAX_BODY,
    deps: Deps | None = None,
    api_rate_per_minute: int = DEFAULT_RATE,
    github: GitHubEvents | None = None,
) -> Starlette:
    """`deps` given: the HTTP API too, at /api/v1 (it acts through the same flows), and
    the calendar page at /calendar/<token> (its links need the public URL). `github`
    given: GitHub's webhooks at /github/events."""
    # A few dispatch threads, not one per request: acks are short and CPU-bound, and
    # fewer threads contending for the GIL answer a burst sooner than many.
    dispatchers = anyio.CapacityLimiter(DISPATCH_THREADS)
    # The secret Bolt verifies with (App has no public accessor), for the requests that
    # never reach Bolt because their body can't be parsed.
    verifier = SignatureVerifier(bolt._signing_secret)

    async def slack_events(request: Request) -> Response:
        body = await request.body()  # at most `max_body` bytes: BodyLimit sees to it
        try:
            # BoltRequest parses the body as it is built (JSON, a form, or a form holding
            # JSON in `payload`) and fails on whatever isn't a JSON object at the end.
            bolt_request = BoltRequest(
                body=body.decode("utf-8", errors="replace"),
                query=request.url.query,
                headers={k: [v] for k, v in request.headers.items()},
            )
            if not isinstance(bolt_request.body, dict):
                raise TypeError(f"a {type(bolt_request.body).__name__}, not an object")
        except Exception as error:  # parsing untrusted bytes: any failure means unusable
            return _unparsable(verifier, body, request, error)
        # Bolt is synchronous: run it in a worker thread so one slow request never
        # holds up the event loop (and every other request) behind it.
        bolt_response = await anyio.to_thread.run_sync(
            bolt.dispatch, bolt_request, limiter=dispatchers
        )
        return Response(
            content=bolt_response.body,
            status_code=bolt_response.status,
            headers=bolt_response.first_headers_without_set_cookie(),
        )

    async def healthz(_request: Request) -> Response:
        if await run_in_threadpool(db.ping):
            return JSONResponse({"status": "ok"})
        return JSONResponse(
            {"status": "database unavailable"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER), "Cache-Control": "no-store"},
        )

    # Any route that finds the database unreachable (or its pool exhausted) answers 503
    # and when to retry, as /healthz does, rather than 500 and a traceback.
    unavailable = {
        exception: database_unavailable
        for exception in (OperationalError, InterfaceError, PoolTimeout)
    }
    api: list[BaseRoute] = []
    stopping: list[Callable[[], None]] = []
    if deps is not None:
        api_deps = deps
        # A sub-application handles its own errors: it gets the same 503s.
        pipeline_api = BuiltOnFirstUse(
            lambda: create_api(
                api_deps,
                bolt.client,
                rate_per_minute=api_rate_per_minute,
                exception_handlers=unavailable,
            )
        )
        api.append(Mount(PREFIX, app=pipeline_api))
        stopping.append(pipeline_api.stop_gate_waits)
    if github is not None:
        api.append(Route("/github/events", github.endpoint, methods=["POST"]))

    members = slack_membership(bolt.client)
    page = None
    if deps is not None:
        page = page_endpoint(
            db, clock, deps.config.public_url, members, slack_display_names(bolt.client)
        )

    web = Starlette(
        exception_handlers=dict(unavailable),
        # Outside the router, so every route (and any added later) has the same cap.
        middleware=[Middleware(BodyLimit, max_body=max_body)],
        routes=[
            *api,
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            # Every path under /calendar/ (also malformed ones) is answered by the feed
            # endpoint (`<token>.ics`) or the page (`<token>`), so all unusable links get
            # the very same 404. GET implies HEAD.
            Route(
                "/calendar/{name:path}",
                calendar_endpoint(db, clock, ValidatorCache(), members, page=page),
                methods=["GET"],
            ),
            Route("/calendar-static/{name}", assets_endpoint(), methods=["GET"]),
        ],
    )
    # Called as the server starts to stop: the gate's long-polls answer at once.
    web.state.on_stopping = stopping
    return web


class BuiltOnFirstUse:
    """The pipeline API, built at its first request: building its routes takes longer
    than the rest of the app (0.1–0.2 s), which every test's bot paid, most of them
    never calling the API."""

    def __init__(self, build: Callable[[], Starlette]) -> None:
        self._build = build
        self._built: Starlette | None = None
        self._lock = threading.Lock()

    @property
    def app(self) -> Starlette:
        with self._lock:
            if self._built is None:
                self._built = self._build()
            return self._built

    def stop_gate_waits(self) -> None:
        """Ends the long-polls (there are none if no request has come yet)."""
        with self._lock:
            built = self._built
        if built is not None:
            built.state.gate_waits.stop()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


async def database_unavailable(request: Request, error: Exception) -> Response:
    # The driver's own message, first line only: SQLAlchemy's adds the statement and
    # its parameters (a token's hash, for the feed).
    cause = str(getattr(error, "orig", None) or error).strip().splitlines()
    logger.warning(
        "database unavailable for %s %s: %s: %.200s",
        request.method,
        redact(request.url.path),
        type(error).__name__,
        cause[0] if cause else "",
    )
    return JSONResponse(
        {"status": "database unavailable"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER), "Cache-Control": "no-store"},
    )


def _unparsable(
    verifier: SignatureVerifier, body: bytes, request: Request, error: Exception
) -> Response:
    """401 unless Slack signed it, as Bolt would answer; else 400 and one line in the log."""
    timestamp = request.headers.get("x-slack-request-timestamp", "0")
    signature = request.headers.get("x-slack-signature", "")
    if not verifier.is_valid(body, timestamp, signature):
        return JSONResponse({"error": "invalid request"}, status_code=401)
    logger.warning(
        "refused a malformed Slack request (%s, %d bytes): %s: %.200s",
        request.headers.get("content-type", "no content type"),
        len(body),
        type(error).__name__,
        error,
    )
    return JSONResponse({"error": "malformed request"}, status_code=400)
