"""The ASGI app Slack talks to: /slack/events, /healthz (and the calendar feed)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import anyio
from slack_bolt import App, BoltRequest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.body_limit import DEFAULT_MAX_BODY, BodyLimit
from bot.calendar_feed import ValidatorCache, calendar_endpoint
from models.db import Database
from models.types import utcnow

DISPATCH_THREADS = 4
MAX_BODY = DEFAULT_MAX_BODY  # Slack payloads are far smaller; refuse anything absurd.


def create_web_app(
    bolt: App,
    db: Database,
    *,
    clock: Callable[[], datetime] = utcnow,
    max_body: int = MAX_BODY,
) -> Starlette:
    # A few dispatch threads, not one per request: acks are short and CPU-bound, and
    # fewer threads contending for the GIL answer a burst sooner than many.
    dispatchers = anyio.CapacityLimiter(DISPATCH_THREADS)

    async def slack_events(request: Request) -> Response:
        body = await request.body()  # at most `max_body` bytes: BodyLimit sees to it
        bolt_request = BoltRequest(
            body=body.decode("utf-8", errors="replace"),
            query=request.url.query,
            headers={k: [v] for k, v in request.headers.items()},
        )
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
        return JSONResponse({"status": "database unavailable"}, status_code=503)

    return Starlette(
        # Outside the router, so every route (and any added later) has the same cap.
        middleware=[Middleware(BodyLimit, max_body=max_body)],
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            # Every path under /calendar/ (also malformed ones) is answered by the feed
            # endpoint, so all unusable links get the very same 404. GET implies HEAD.
            Route(
                "/calendar/{name:path}",
                calendar_endpoint(db, clock, ValidatorCache()),
                methods=["GET"],
            ),
        ],
    )
