"""A cap on request bodies, enforced before a byte past it is read (pure ASGI middleware).

Reading a body to measure it lets anyone, signed or not, make the process hold as much
memory as they care to send. So a declared `Content-Length` over the cap is answered
413 without reading at all, and a body without one (chunked) is counted as it arrives
and answered 413 the moment it passes the cap; the server then drops the connection
instead of reading the rest. Every route behind it gets the same rule.
"""

from __future__ import annotations

import contextlib
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from handlers.calendar_feed.route import redact

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 1024 * 1024


class BodyTooLarge(Exception):
    """Raised into the app from `receive`, so it stops reading (it has been answered)."""


class BodyLimit:
    def __init__(self, app: ASGIApp, max_body: int = DEFAULT_MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body:
            await self._refuse(scope, send, f"Content-Length {declared}")
            return

        received = 0
        refused = False
        response_started = False

        async def receive_within_cap() -> Message:
            nonlocal received, refused, response_started
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body and not refused:
                    refused = True
                    if not response_started:
                        response_started = True
                        await self._refuse(scope, send, f"more than {self.max_body} bytes")
                    raise BodyTooLarge
            return message

        async def send_unless_refused(message: Message) -> None:
            nonlocal response_started
            if refused:
                return  # answered already; whatever the app says after that is moot
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        # Answered 413 in `receive_within_cap` already (unless the app had answered first).
        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, receive_within_cap, send_unless_refused)

    async def _refuse(self, scope: Scope, send: Send, why: str) -> None:
        path = redact(str(scope.get("path", "")))  # calendar links are secrets
        logger.warning("refused %s %s: body too large (%s)", scope["method"], path, why)
        body = b"payload too large\n"
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    # The rest of the body stays unread, so the connection can't be reused.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit():
            return int(value)
    return None  # absent (chunked), or malformed: the count as it arrives decides
