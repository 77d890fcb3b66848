"""The sandbox's web page and its JSON + server-sent-events endpoints, in front of the bot's
own web app (``/slack/events``, ``/healthz``, the calendar, ``/api/v1``) on the same port."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route

from bot.sandbox.slack_standin import Call

if TYPE_CHECKING:
    from bot.sandbox.workspace import Sandbox

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STATIC = {
    "sandbox.js": "text/javascript; charset=utf-8",
    "sandbox.css": "text/css; charset=utf-8",
}
HEARTBEAT = 15.0  # seconds between SSE comments, so a dead connection is noticed


def _static(name: str) -> bytes:
    return resources.files("bot.sandbox").joinpath("static", name).read_bytes()


class Changes:
    """Counts the stand-in's changes and wakes the pages listening for them."""

    def __init__(self) -> None:
        self.version = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.waiters: set[asyncio.Event] = set()
        self._lock = threading.Lock()

    def heard(self, _call: Call) -> None:  # on the stand-in's threads
        with self._lock:
            self.version += 1
            loop = self.loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody listens
                loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        for waiter in self.waiters:
            waiter.set()


def create_sandbox_app(sandbox: Sandbox, bot_web: Any) -> Starlette:
    from bot.sandbox.workspace import SandboxError

    changes = Changes()
    sandbox.on_change(changes.heard)
    closing = threading.Event()
    origins = {sandbox.url.rstrip("/"), f"http://localhost:{sandbox.port}"}

    def guarded(
        endpoint: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            # Only this page, on this machine: another site's page (or a DNS-rebound name)
            # can't drive the sandbox.
            host = request.headers.get("host", "")
            if f"http://{host}" not in origins:
                return JSONResponse({"error": "unknown host"}, status_code=400)
            origin = request.headers.get("origin")
            if request.method == "POST":
                if origin is not None and origin not in origins:
                    return JSONResponse({"error": "cross-origin"}, status_code=403)
                if request.headers.get("content-type", "").split(";")[0] != "application/json":
                    return JSONResponse({"error": "send JSON"}, status_code=415)
            try:
                response = await endpoint(request)
            except SandboxError as error:
                response = JSONResponse({"error": str(error)}, status_code=400)
            response.headers.update(SECURITY_HEADERS)
            return response

        return run

    async def index(_request: Request) -> Response:
        return Response(_static("index.html"), media_type="text/html; charset=utf-8")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return Response("not found", status_code=404, media_type="text/plain")
        return Response(_static(name), media_type=STATIC[name])

    async def body(request: Request) -> dict[str, Any]:
        try:
            data = json.loads(await request.body())
        except ValueError:
            raise SandboxError("send a JSON object") from None
        if not isinstance(data, dict) or not isinstance(data.get("user"), str):
            raise SandboxError("say who you are: user")
        return data

    def inputs(data: dict[str, Any]) -> dict[str, Any]:
        values = data.get("values")
        return values if isinstance(values, dict) else {}

    def text(data: dict[str, Any], key: str) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value:
            raise SandboxError(f"missing {key}")
        return value

    async def state(request: Request) -> Response:
        user = request.query_params.get("user", "")
        found = await run_in_threadpool(sandbox.state, user)
        found["version"] = changes.version
        return JSONResponse(found)

    async def command(request: Request) -> Response:
        data = await body(request)
        await run_in_threadpool(
            sandbox.command, data["user"], text(data, "channel"), text(data, "text")
        )
        return JSONResponse({"ok": True})

    async def action(request: Request) -> Response:
        data = await body(request)
        values = inputs(data)
        if data.get("view_id"):
            await run_in_threadpool(
                sandbox.act_on_view,
                data["user"],
                text(data, "view_id"),
                text(data, "block_id"),
                text(data, "action_id"),
                data.get("value"),
                values,
            )
        else:
            await run_in_threadpool(
                sandbox.act_on_message,
                data["user"],
                text(data, "channel"),
                text(data, "ts"),
                text(data, "block_id"),
                text(data, "action_id"),
                data.get("value"),
            )
        return JSONResponse({"ok": True})

    async def submit(request: Request) -> Response:
        data = await body(request)
        values = inputs(data)
        errors = await run_in_threadpool(
            sandbox.submit, data["user"], text(data, "view_id"), values
        )
        return JSONResponse({"ok": not errors, "errors": errors})

    async def close(request: Request) -> Response:
        data = await body(request)
        values = inputs(data)
        await run_in_threadpool(sandbox.close_modal, data["user"], text(data, "view_id"), values)
        return JSONResponse({"ok": True})

    async def home(request: Request) -> Response:
        data = await body(request)
        await run_in_threadpool(sandbox.open_home, data["user"])
        return JSONResponse({"ok": True})

    async def events(_request: Request) -> Response:
        changes.loop = asyncio.get_running_loop()
        waiter = asyncio.Event()
        changes.waiters.add(waiter)

        async def stream() -> AsyncIterator[str]:
            try:
                seen = -1
                quiet = 0.0
                while not closing.is_set():
                    if changes.version != seen:
                        seen = changes.version
                        yield f"event: change\ndata: {seen}\n\n"
                        quiet = 0.0
                        await asyncio.sleep(0.05)  # a burst of calls: one refresh
                        continue
                    waiter.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(waiter.wait(), timeout=1.0)
                    quiet += 1.0
                    if quiet >= HEARTBEAT:
                        quiet = 0.0
                        yield ": still here\n\n"
            finally:
                changes.waiters.discard(waiter)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"X-Accel-Buffering": "no"},
        )

    app = Starlette(
        routes=[
            Route("/", guarded(index), methods=["GET"]),
            Route("/sandbox/static/{name}", guarded(static), methods=["GET"]),
            Route("/sandbox/state", guarded(state), methods=["GET"]),
            Route("/sandbox/events", guarded(events), methods=["GET"]),
            Route("/sandbox/command", guarded(command), methods=["POST"]),
            Route("/sandbox/action", guarded(action), methods=["POST"]),
            Route("/sandbox/submit", guarded(submit), methods=["POST"]),
            Route("/sandbox/close", guarded(close), methods=["POST"]),
            Route("/sandbox/home", guarded(home), methods=["POST"]),
            # Slack's side of the bot: /slack/events, /healthz, /calendar/…, /api/v1.
            Mount("/", app=bot_web),
        ],
    )
    app.state.closing = closing
    app.state.changes = changes
    return app
