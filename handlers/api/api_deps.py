"""What the API's routes share, declared once as `Annotated` dependencies: the context
the app serves, the acting token (authenticated, rate-limited), a read session, the
time, and Idempotency-Key handling."""

# No `from __future__ import annotations`: FastAPI reads these signatures at run time.

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from slack_sdk import WebClient
from sqlmodel import Session
from starlette.responses import Response

from handlers.api.api_errors import ApiProblem
from handlers.api.gate_audit import GroupedAuditWriter
from handlers.api.gate_waits import GateWaits
from handlers.api.rate_limit import RateLimiter
from handlers.deps import Deps
from models import audit
from models.api import api_tokens, idempotency
from models.api.api_tokens import ApiToken
from models.db import Database
from models.release.records import Release

DEFAULT_RATE = 60  # requests per minute and token
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, as a structured-field string holds


@dataclass(frozen=True)
class ApiContext:
    """What the app serves: the handlers' dependencies, Slack, and the API's own state."""

    deps: Deps
    client: WebClient
    limiter: RateLimiter
    waits: GateWaits  # the gate's long-polls (deps.on_release_changed should wake them)
    gate_audit: GroupedAuditWriter

    @classmethod
    def build(
        cls, deps: Deps, client: WebClient, *, rate_per_minute: int = DEFAULT_RATE
    ) -> "ApiContext":
        return cls(
            deps=deps,
            client=client,
            limiter=RateLimiter(rate_per_minute),
            waits=GateWaits(partial(_service_of, deps.db)),
            gate_audit=GroupedAuditWriter(deps.db),
        )


def _service_of(db: Database, release_id: int) -> tuple[str, str] | None:
    with db.read_session() as session:
        release = session.get(Release, release_id)
        return None if release is None else (release.team_id, release.service)


def _context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(_context)]


def _read_session(context: Context) -> Iterator[Session]:
    with context.deps.db.read_session() as session:
        yield session


# Closed as the route returns: a read holds its connection no longer than it needs.
ReadSession = Annotated[Session, Depends(_read_session, scope="function")]


def _now(context: Context) -> datetime:
    return context.deps.clock()


Now = Annotated[datetime, Depends(_now)]

_bearer = HTTPBearer(auto_error=False, description="an API token, rbk_…")


def _live_token(
    context: Context, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> ApiToken:
    if credentials is None:
        raise ApiProblem(
            401,
            "unauthorized",
            "Send an API token: Authorization: Bearer rbk_…",
            headers={"WWW-Authenticate": "Bearer"},
        )
    with context.deps.db.read_session() as session:
        token = api_tokens.resolve(session, credentials.credentials.strip())
    if token is None:
        raise ApiProblem(
            401,
            "invalid_token",
            "That token is unknown or revoked.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return token


def _acting_token(context: Context, token: Annotated[ApiToken, Depends(_live_token)]) -> ApiToken:
    """The live token, within its rate; its last use is marked (now and then)."""
    assert token.id is not None
    wait = context.limiter.take(token.id)
    if wait is not None:
        raise ApiProblem(
            429,
            "rate_limited",
            f"Too many requests with this token: try again in {wait} s.",
            headers={"Retry-After": str(wait)},
        )
    now = context.deps.clock()
    if api_tokens.due_for_use_mark(token, now):
        with context.deps.db.session() as session:
            api_tokens.mark_used(session, token.id, now)
    return token


Token = Annotated[ApiToken, Depends(_acting_token)]


class Idempotency:
    """A POST's Idempotency-Key: `run` does the work once per key (when one is sent), and
    the same key with the same request answers the first answer again."""

    def __init__(self, context: ApiContext, token: ApiToken, header: str | None) -> None:
        self._deps, self._token, self._header = context.deps, token, header

    def run(
        self, path: str, body: Any, work: Callable[[str | None], tuple[int, dict[str, Any]]]
    ) -> Response:
        """`work(key)` makes the answer (status, json); it runs as the token's audit source."""
        deps, token = self._deps, self._token
        assert token.id is not None
        key = _idempotency_key(self._header)  # checked here: after the route's own checks
        claim_id: int | None = None
        if key is not None:
            hashed = idempotency.request_hash("POST", path, body)
            with deps.db.session() as session:
                claim = idempotency.claim(session, token.id, key, hashed, now=deps.clock())
            if claim.state == idempotency.KeyState.REPLAY:
                assert claim.status_code is not None
                return JSONResponse(
                    claim.response, claim.status_code, headers={"Idempotent-Replayed": "true"}
                )
            if claim.state == idempotency.KeyState.MISMATCH:
                raise ApiProblem(
                    422,
                    "idempotency_key_reused",
                    "This Idempotency-Key was used with another request: use a new key.",
                )
            if claim.state == idempotency.KeyState.RUNNING:
                raise ApiProblem(
                    409,
                    "request_in_progress",
                    "A request with this Idempotency-Key is still running: retry shortly.",
                    headers={"Retry-After": "1"},
                )
            claim_id = claim.claim_id
        try:
            with audit.acting_from(audit.api_source(token.name)):
                status, content = work(key)
        except BaseException:
            if claim_id is not None:
                with deps.db.session() as session:
                    idempotency.give_back(session, claim_id)
            raise
        if claim_id is not None:
            with deps.db.session() as session:
                idempotency.complete(session, claim_id, status, content)
        return JSONResponse(content, status)


def _idempotency(
    context: Context,
    token: Token,
    idempotency_key: Annotated[
        str | None,
        Header(
            description="the same key with the same body gets the first answer again "
            "(IETF draft-ietf-httpapi-idempotency-key-header)"
        ),
    ] = None,
) -> Idempotency:
    return Idempotency(context, token, idempotency_key)


Idempotent = Annotated[Idempotency, Depends(_idempotency)]


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
