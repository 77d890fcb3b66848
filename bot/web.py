"""The ASGI app Slack talks to: /slack/events, /healthz (and the calendar feed)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import anyio
from slack_bolt import App, BoltRequest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.calendar_feed import ValidatorCache, calendar_endpoint
from bot.membership import slack_membership
from models.db import Database
from models.types import utcnow

DISPATCH_THREADS = 4
MAX_BODY = 1024 * 1024  # Slack payloads are far smaller; refuse anything absurd.


def create_web_app(bolt: App, db: Database, *, clock: Callable[[], datetime] = utcnow) -> Starlette:
    # A few dispatch threads, not one per request: acks are short and CPU-bound, and
    # fewer threads contending for the GIL answer a burst sooner than many.
    dispatchers = anyio.CapacityLimiter(DISPATCH_THREADS)

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return Response("payload too large", status_code=413)
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
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            # Every path under /calendar/ (also malformed ones) is answered by the feed
            # endpoint, so all unusable links get the very same 404. GET implies HEAD.
            Route(
                "/calendar/{name:path}",
                calendar_endpoint(db, clock, ValidatorCache(), slack_membership(bolt.client)),
                methods=["GET"],
            ),
        ]
    )
