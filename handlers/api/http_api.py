"""The HTTP API for deploy pipelines (FastAPI, mounted at /api/v1 by bot/web.py).

Every call carries `Authorization: Bearer rbk_…`: a token acts in its own workspace, for
the person who created it, on its services only, and sees public releases only (a private
one reads exactly like a missing one). A change goes through the same flow a Slack command
does, so the card, checklist, reminders and Home tabs follow it just the same.

The routes are `APIRouter`s, one module a resource (handlers/api/routes/); what they
share (the token, a read session, the clock, idempotency) is declared in api_deps.py.
"""

import logging
import uuid
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from slack_sdk.errors import SlackApiError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from handlers.api.api_deps import ApiContext
from handlers.api.api_errors import ApiProblem
from handlers.api.routes import ROUTERS
from handlers.api.schemas import ApiError
from handlers.rendering.refusals import text_for
from handlers.slack_kit.mrkdwn import to_plain
from models.errors import Code, Conflict, DomainError, InvalidTransition, NotAllowed, NotFound

logger = logging.getLogger(__name__)

PREFIX = "/api/v1"

# Slack errors a pipeline can fix (the channel it named), and how.
_SLACK_HINTS = {
    "not_in_channel": "The bot is not in that channel: invite it (/invite @releasebot).",
    "channel_not_found": "The bot can't see that channel: check its id, and invite the bot.",
    "is_archived": "That channel is archived: use another one.",
}
_STATUS = ((NotFound, 404), (NotAllowed, 403), (Conflict, 409), (InvalidTransition, 409))
_TAKEN = {Code.DUPLICATE, Code.VERSION_TAKEN, Code.PROPOSED_JUST_NOW}
_UNREADABLE_BODY = "The body can't be read: JSON nested too deeply, or a number too long."


def create_api(
    context: ApiContext, *, exception_handlers: Mapping[Any, Callable[..., Any]] | None = None
) -> FastAPI:
    """The app, serving `context`. It only assembles: no listener, thread or connection
    (the composition root wires `context.waits` to the releases' changes)."""
    api = FastAPI(
        title="releasebot API",
        version="1",
        summary="Releases for deploy pipelines: read them, propose them.",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        exception_handlers={
            ApiProblem: _problem,
            StarletteHTTPException: _http_error,
            DomainError: _domain,
            RequestValidationError: _invalid,
            SlackApiError: _slack,
            **(exception_handlers or {}),
        },
    )
    api.state.context = context
    api.state.gate_waits = context.waits
    for router in ROUTERS:
        api.include_router(router)
    return api


def _json(body: ApiError, status: int, headers: Mapping[str, str] | None = None) -> Response:
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status, headers=headers)


async def _problem(_request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiProblem)
    return _json(error.body, error.status, error.headers)


async def _domain(_request: Request, error: Exception) -> Response:
    assert isinstance(error, DomainError)
    status = next((status for kind, status in _STATUS if isinstance(error, kind)), 422)
    code = str(error.code)
    if code in _TAKEN:
        # Worded as for a release the person may not see, whoever holds it: a token
        # sees no private release, so never its state, link or owner.
        code = Code.DUPLICATE
        message = to_plain(text_for(Conflict(Code.VERSION_TAKEN, ref=error.data["ref"])))
    else:
        message = to_plain(text_for(error))
    return _json(ApiError(error=code, message=message, field=error.field), status)


async def _invalid(_request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    problems = []
    field = None
    for item in error.errors():
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
        field = field or where or None
        problems.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
    return _json(ApiError(error="invalid_request", message="; ".join(problems), field=field), 422)


async def _slack(_request: Request, error: Exception) -> Response:
    assert isinstance(error, SlackApiError)
    code = str(error.response.get("error", ""))
    if code in _SLACK_HINTS:
        body = ApiError(error=code, message=_SLACK_HINTS[code], field="channel")
        return JSONResponse(body.model_dump(mode="json"), 422)
    incident = uuid.uuid4().hex[:8]
    logger.error("Slack failed an API request (incident %s): %s", incident, code)
    message = f"Slack failed (incident {incident}); nothing was changed. Try again."
    return _json(ApiError(error="slack_unavailable", message=message), 502)


async def _http_error(_request: Request, error: Exception) -> Response:
    # What FastAPI and Starlette answer themselves (a body json can't hold, no such
    # route, another method), in the documented shape rather than {"detail": …}.
    assert isinstance(error, StarletteHTTPException)
    phrase = HTTPStatus(error.status_code).phrase
    if error.status_code == 400:
        # json.loads failed past its syntax: RecursionError, or an int's digit limit.
        code, message = "invalid_request", _UNREADABLE_BODY
    else:
        code = phrase.lower().replace(" ", "_").replace("-", "_")
        message = f"{phrase}: see {PREFIX}/openapi.json." if error.status_code == 404 else phrase
    return _json(ApiError(error=code, message=message), error.status_code, error.headers)
