"""The HTTP API for deploy pipelines (FastAPI, mounted at /api/v1 by bot/web.py).

Every call carries `Authorization: Bearer rbk_…`: a token acts in its own workspace, for
the person who created it, on its services only, and sees public releases only (a private
one reads exactly like a missing one). A change goes through the same flow a Slack command
does, so the card, checklist, reminders and Home tabs follow it just the same.
"""

# No `from __future__ import annotations`: FastAPI reads these signatures at run time.

import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from contextlib import suppress
from datetime import timedelta
from typing import Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from starlette.responses import Response

from handlers.api.rate_limit import RateLimiter
from handlers.api.schemas import (
    ApiError,
    ProposeIn,
    ProposeOut,
    ReleaseBrief,
    Released,
    ReleaseOut,
    ServiceOut,
)
from handlers.deps import Deps
from handlers.flows.new_release import create_release
from handlers.flows.outcome import NotShownYet
from handlers.rendering.refusals import text_for
from handlers.slack import directory
from handlers.slack.mrkdwn import to_plain
from models import audit
from models.api import api_reads, api_tokens, idempotency
from models.api.api_tokens import ApiToken
from models.errors import Code, Conflict, DomainError, InvalidTransition, NotAllowed, NotFound
from models.release import proposing, queries
from models.release.proposing import ApproverSpec, Proposal
from models.release.records import ApproverKind, Release

logger = logging.getLogger(__name__)

PREFIX = "/api/v1"
DEFAULT_RATE = 60  # requests per minute and token
DEFAULT_TARGET = timedelta(hours=1)
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, as a structured-field string holds

# Slack errors a pipeline can fix (the channel it named), and how.
_SLACK_HINTS = {
    "not_in_channel": "The bot is not in that channel: invite it (/invite @releasebot).",
    "channel_not_found": "The bot can't see that channel: check its id, and invite the bot.",
    "is_archived": "That channel is archived: use another one.",
}


class ApiProblem(Exception):
    """An answer other than success, with its status, code and words."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = ApiError(error=error, message=message, field=field)
        self.headers = dict(headers or {})


def _problem(
    status: int, description: str, headers: dict[str, Any] | None = None
) -> dict[str, Any]:
    answer: dict[str, Any] = {"model": ApiError, "description": description}
    if headers:
        answer["headers"] = headers
    return answer


_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
_COMMON: dict[int | str, dict[str, Any]] = {
    401: _problem(
        401,
        "no token, or not a live one",
        {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    ),
    403: _problem(403, "the token is limited to other services"),
    422: _problem(422, "the request is not acceptable: the message says why"),
    429: _problem(429, "too many requests for this token", _RETRY_AFTER),
    503: _problem(503, "the database is unavailable", _RETRY_AFTER),
}


def create_api(
    deps: Deps,
    client: WebClient,
    *,
    rate_per_minute: int = DEFAULT_RATE,
    exception_handlers: Mapping[Any, Callable[..., Any]] | None = None,
) -> FastAPI:
    limiter = RateLimiter(rate_per_minute)
    bearer = HTTPBearer(auto_error=False, description="an API token, rbk_…")
    api = FastAPI(
        title="releasebot API",
        version="1",
        summary="Releases for deploy pipelines: read them, propose them.",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )

    def authenticated(
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
    ) -> ApiToken:
        if credentials is None:
            raise ApiProblem(
                401,
                "unauthorized",
                "Send an API token: Authorization: Bearer rbk_…",
                headers={"WWW-Authenticate": "Bearer"},
            )
        with deps.db.read_session() as session:
            token = api_tokens.resolve(session, credentials.credentials.strip())
        if token is None:
            raise ApiProblem(
                401,
                "invalid_token",
                "That token is unknown or revoked.",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        assert token.id is not None
        wait = limiter.take(token.id)
        if wait is not None:
            raise ApiProblem(
                429,
                "rate_limited",
                f"Too many requests with this token: try again in {wait} s.",
                headers={"Retry-After": str(wait)},
            )
        now = deps.clock()
        if api_tokens.due_for_use_mark(token, now):
            with deps.db.session() as session:
                api_tokens.mark_used(session, token.id, now)
        return token

    @api.get(
        "/releases/{service}@{version}",
        response_model=ReleaseOut,
        responses={**_COMMON, 404: _problem(404, "no such release the token may see")},
        summary="One release: status, stage, sign-offs, checklist and history",
    )
    def get_release(
        service: str,
        version: str,
        token: ApiToken = Depends(authenticated),  # noqa: B008
    ) -> ReleaseOut:
        token.require_scope(service)
        with deps.db.read_session() as session:
            release = api_reads.public_release(session, token.team_id, service, version)
            assert release.id is not None
            view = queries.load_view(session, release)
            events = audit.history(session, release.id)
        return ReleaseOut.of(view, events)

    @api.get(
        "/services/{service}",
        response_model=ServiceOut,
        responses=_COMMON,
        summary="A service: its version in production, releases in flight, last released",
    )
    def get_service(
        service: str,
        limit: int = Query(10, ge=1, le=api_reads.MAX_HISTORY),  # noqa: B008
        token: ApiToken = Depends(authenticated),  # noqa: B008
    ) -> ServiceOut:
        token.require_scope(service)
        service = proposing.clean_service(service)
        with deps.db.read_session() as session:
            summary = api_reads.service_summary(session, token.team_id, service, limit=limit)
        return ServiceOut(
            service=summary.service,
            in_production=Released.of(summary.in_production) if summary.in_production else None,
            in_flight=[ReleaseBrief.of(r) for r in summary.in_flight],
            released=[Released.of(s) for s in summary.released],
        )

    @api.post(
        "/releases",
        response_model=ProposeOut,
        status_code=201,
        responses={
            **_COMMON,
            409: _problem(
                409,
                "the release exists already, or a request with this Idempotency-Key is "
                "still running",
            ),
        },
        summary="Propose a release, as /release propose does",
    )
    def propose(
        body: ProposeIn,
        token: ApiToken = Depends(authenticated),  # noqa: B008
        idempotency_key: str | None = Header(  # noqa: B008
            None,
            description="the same key with the same body gets the first answer again "
            "(IETF draft-ietf-httpapi-idempotency-key-header)",
        ),
    ) -> Response:
        token.require_scope(body.service)
        assert token.id is not None
        key = _idempotency_key(idempotency_key)
        claim_id: int | None = None
        if key is not None:
            hashed = idempotency.request_hash("POST", "/releases", body.model_dump(mode="json"))
            with deps.db.session() as session:
                claim = idempotency.claim(session, token.id, key, hashed, now=deps.clock())
            if claim.outcome == idempotency.Outcome.REPLAY:
                assert claim.status_code is not None
                return JSONResponse(
                    claim.response, claim.status_code, headers={"Idempotent-Replayed": "true"}
                )
            if claim.outcome == idempotency.Outcome.MISMATCH:
                raise ApiProblem(
                    422,
                    "idempotency_key_reused",
                    "This Idempotency-Key was used with another request: use a new key.",
                )
            if claim.outcome == idempotency.Outcome.RUNNING:
                raise ApiProblem(
                    409,
                    "request_in_progress",
                    "A request with this Idempotency-Key is still running: retry shortly.",
                    headers={"Retry-After": "1"},
                )
            claim_id = claim.claim_id
        try:
            answer = _propose(deps, client, token, body, key)
        except BaseException:
            if claim_id is not None:
                with deps.db.session() as session:
                    idempotency.give_back(session, claim_id)
            raise
        content = answer.model_dump(mode="json")
        if claim_id is not None:
            with deps.db.session() as session:
                idempotency.complete(session, claim_id, 201, content)
        return JSONResponse(content, 201)

    _install_errors(api, exception_handlers or {})
    return api


def _idempotency_key(header: str | None) -> str | None:
    if header is None:
        return None
    key = header.strip()
    if len(key) >= 2 and key.startswith('"') and key.endswith('"'):
        key = key[1:-1]  # a structured-field string, as the draft writes it
    if not _KEY.match(key):
        raise ApiProblem(
            422,
            "idempotency_key_invalid",
            "Idempotency-Key must be 1 to 255 visible ASCII characters.",
        )
    return key


def _propose(
    deps: Deps, client: WebClient, token: ApiToken, body: ProposeIn, key: str | None
) -> ProposeOut:
    owner = token.owner_id
    approvers = [
        ApproverSpec(a, ApproverKind.USERGROUP if a.startswith("S") else ApproverKind.USER)
        for a in dict.fromkeys(body.approvers)
    ]
    # As `/release propose` checks them: real, active people and groups, not the owner, and
    # enough people to sign without the owner.
    approvers = proposing.clean_approvers(directory.check_approvers(client, approvers), owner)
    directory.check_quorum(client, approvers, owner)
    # Names the release this request creates, so a retry (or the answer after Slack
    # failed to take its card) finds it.
    basis = f"{token.id}:{key}" if key is not None else uuid.uuid4().hex
    request_key = "api:" + hashlib.sha256(basis.encode()).hexdigest()[:40]
    proposal = Proposal(
        team_id=token.team_id,
        owner_id=owner,
        channel_id=body.channel,
        service=body.service,
        version=body.version,
        target_at=body.target_at or deps.clock() + DEFAULT_TARGET,
        approvers=approvers,
        notes=body.notes,
        checklist=deps.config.checklist,
        request_key=request_key,
        pipeline_url=body.pipeline_url,
        commit_sha=body.commit_sha,
        via=f'via API token "{token.name}"',
    )
    # NotShownYet: the release stands; its card follows when Slack takes it (url is null).
    with suppress(NotShownYet):
        create_release(deps, client, proposal)
    with deps.db.read_session() as session:
        release = queries.by_request_key(session, request_key)
    if release is None:  # removed again: Slack refused its card for good (said above)
        raise ApiProblem(502, "slack_refused", "Slack refused the release's card.")
    return _proposed(release)


def _proposed(release: Release) -> ProposeOut:
    return ProposeOut(ref=release.ref, id=release.uid, status=release.state, url=release.permalink)


# --- errors -----------------------------------------------------------------------------


def _install_errors(api: FastAPI, extra: Mapping[Any, Callable[..., Any]]) -> None:
    async def problem(_request: Request, error: Exception) -> Response:
        assert isinstance(error, ApiProblem)
        return JSONResponse(
            error.body.model_dump(mode="json", exclude_none=True),
            error.status,
            headers=error.headers,
        )

    async def domain(_request: Request, error: Exception) -> Response:
        assert isinstance(error, DomainError)
        if isinstance(error, NotFound):
            status = 404
        elif isinstance(error, NotAllowed):
            status = 403
        elif isinstance(error, (Conflict, InvalidTransition)):
            status = 409
        else:
            status = 422
        code = str(error.code)
        if code in _TAKEN:
            # Worded as for a release the person may not see, whoever holds it: a token
            # sees no private release, so never its state, link or owner.
            code = Code.DUPLICATE
            message = to_plain(text_for(Conflict(Code.VERSION_TAKEN, ref=error.data["ref"])))
        else:
            message = to_plain(text_for(error))
        body = ApiError(error=code, message=message, field=error.field)
        return JSONResponse(body.model_dump(mode="json", exclude_none=True), status)

    async def invalid(_request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        problems = []
        field = None
        for item in error.errors():
            where = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
            field = field or where or None
            problems.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
        body = ApiError(error="invalid_request", message="; ".join(problems), field=field)
        return JSONResponse(body.model_dump(mode="json", exclude_none=True), 422)

    async def slack(_request: Request, error: Exception) -> Response:
        assert isinstance(error, SlackApiError)
        code = str(error.response.get("error", ""))
        if code in _SLACK_HINTS:
            body = ApiError(error=code, message=_SLACK_HINTS[code], field="channel")
            return JSONResponse(body.model_dump(mode="json"), 422)
        incident = uuid.uuid4().hex[:8]
        logger.error("Slack failed an API request (incident %s): %s", incident, code)
        body = ApiError(
            error="slack_unavailable",
            message=f"Slack failed (incident {incident}); nothing was changed. Try again.",
        )
        return JSONResponse(body.model_dump(mode="json", exclude_none=True), 502)

    api.add_exception_handler(ApiProblem, problem)
    api.add_exception_handler(DomainError, domain)
    api.add_exception_handler(RequestValidationError, invalid)
    api.add_exception_handler(SlackApiError, slack)
    for exception, handler in extra.items():
        api.add_exception_handler(exception, handler)


_TAKEN = {Code.DUPLICATE, Code.VERSION_TAKEN, Code.PROPOSED_JUST_NOW}
