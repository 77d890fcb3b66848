"""The HTTP API for deploy pipelines (FastAPI, mounted at /api/v1 by bot/web.py).

Every call carries `Authorization: Bearer rbk_…`: a token acts in its own workspace, for
the person who created it, on its services only, and sees public releases only (a private
one reads exactly like a missing one). A change goes through the same flow a Slack command
does, so the card, checklist, reminders and Home tabs follow it just the same.
"""

# No `from __future__ import annotations`: FastAPI reads these signatures at run time.

import asyncio
import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from datetime import timedelta
from http import HTTPStatus
from typing import Any, Literal

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from handlers.api import service_versions
from handlers.api.gate_audit import GroupedAuditWriter
from handlers.api.gate_waits import GateWaits
from handlers.api.rate_limit import RateLimiter
from handlers.api.schemas import (
    ApiError,
    AuditRecord,
    DeploymentIn,
    DeploymentOut,
    GateOut,
    GateReason,
    HistoryRelease,
    ProposeIn,
    ProposeOut,
    ReleaseBrief,
    Released,
    ReleaseOut,
    ServiceHistoryOut,
    ServiceOut,
    StatsOut,
    stage_of,
)
from handlers.deps import Deps
from handlers.flows import (
    audit_files,
    deployment_reports,
    service_history,
    stats_report,
    token_admin,
)
from handlers.flows.new_release import conflicts_for, create_release
from handlers.flows.outcome import NotShownYet
from handlers.rendering import conflict_notes
from handlers.rendering.refusals import text_for
from handlers.slack import directory
from handlers.slack.mrkdwn import to_plain
from models import audit, audit_export
from models.api import api_reads, api_tokens, idempotency
from models.api import gate as gate_rules
from models.api.api_tokens import ApiToken
from models.errors import Code, Conflict, DomainError, InvalidTransition, NotAllowed, NotFound
from models.release import deployments, proposing, queries, service_records, statistics
from models.release.proposing import ApproverSpec, Proposal
from models.release.queries import PUBLIC_READER
from models.release.records import ApproverKind, Release

logger = logging.getLogger(__name__)

PREFIX = "/api/v1"
DEFAULT_RATE = 60  # requests per minute and token
DEFAULT_TARGET = timedelta(hours=1)
MAX_GATE_WAIT = 900  # seconds a gate request may wait
GATE_RECHECK = 2.0  # seconds between re-checks while waiting (other processes' changes)
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
            release = queries.by_name(session, token.team_id, service, version, PUBLIC_READER)
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

    @api.get(
        "/services/{service}/releases",
        response_model=ServiceHistoryOut,
        responses=_COMMON,
        summary="A service's releases, newest proposed first, a page at a time",
    )
    def get_service_history(
        service: str,
        limit: int = Query(10, ge=1, le=service_records.MAX_HISTORY_PAGE),  # noqa: B008
        before: str | None = Query(  # noqa: B008
            None, max_length=32, description="the `next` of the previous page"
        ),
        token: ApiToken = Depends(authenticated),  # noqa: B008
    ) -> ServiceHistoryOut:
        token.require_scope(service)
        history = service_history.service_history(
            deps,
            token.team_id,
            service,
            service_records.public_only(),
            count=limit,
            before=before,
        )
        return ServiceHistoryOut(
            service=history.service,
            in_production=Released.of(history.in_production) if history.in_production else None,
            in_flight=[ReleaseBrief.of(r) for r in history.in_flight],
            releases=[HistoryRelease.of(o) for o in history.releases],
            next=history.next,
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
        return _idempotent(
            deps,
            token,
            idempotency_key,
            "/releases",
            body.model_dump(mode="json"),
            lambda key: (201, _propose(deps, client, token, body, key).model_dump(mode="json")),
        )

    @api.get(
        "/stats",
        response_model=StatsOut,
        responses=_COMMON,
        summary="Release statistics (DORA-style) over the last days, public releases only",
    )
    def stats(
        service: str | None = Query(None, max_length=200),  # noqa: B008
        days: int = Query(  # noqa: B008
            statistics.DEFAULT_DAYS, description="30, 90 or 365: the period, up to now"
        ),
        token: ApiToken = Depends(authenticated),  # noqa: B008
    ) -> StatsOut:
        if days not in statistics.PERIODS:
            raise ApiProblem(422, "invalid_request", "days: give 30, 90 or 365.", field="days")
        if service is not None:
            token.require_scope(service)
            service = proposing.clean_service(service)
        figures = stats_report.figures(
            deps,
            token.team_id,
            days,
            service=service,
            services=token.scope or None,
        )
        return StatsOut.of(figures, days)

    waits = GateWaits(lambda release_id: _service_of(deps, release_id))
    gate_audit = GroupedAuditWriter(deps.db)
    deps.on_release_changed.append(waits.release_changed)
    api.state.gate_waits = waits

    @api.get(
        "/gate",
        response_model=GateOut,
        responses=_COMMON,
        summary="The deploy gate: may this version be deployed now? (long-polls with wait)",
    )
    async def gate(
        service: str = Query(..., max_length=200),  # noqa: B008
        version: str = Query(..., max_length=200),  # noqa: B008
        wait: int = Query(  # noqa: B008
            0,
            ge=0,
            le=MAX_GATE_WAIT,
            description="seconds to wait for the decision to change before answering",
        ),
        digest: str | None = Query(  # noqa: B008
            None, max_length=200, description="the artifact deployed: sha256:…"
        ),
        commit: str | None = Query(  # noqa: B008
            None, max_length=100, description="the commit deployed (7 to 40 hex digits)"
        ),
        token: ApiToken = Depends(authenticated),  # noqa: B008
    ) -> GateOut:
        token.require_scope(service)
        service = proposing.clean_service(service)
        version = version.strip()
        # Malformed pins are refused (422) before any wait.
        digest, commit = proposing.clean_digest(digest), proposing.clean_commit(commit)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait

        def answer() -> tuple[gate_rules.Verdict, ReleaseOut | None]:
            with deps.db.read_session() as session:
                verdict = gate_rules.evaluate(
                    session,
                    token.team_id,
                    service,
                    version,
                    deps.clock(),
                    waiting=wait > 0,
                    digest=digest,
                    commit=commit,
                )
                return verdict, _release_out(session, verdict.release)

        # Pipelines that wait often arrive together and re-check together: one read for all.
        # The verdict and the release it shows come from one read, so an answer after a
        # change is what that re-check found, never a copy kept from before the change.
        shared_key = (token.team_id, service, version, f"answer {digest} {commit}")
        if wait > 0:
            first, out = await waits.reads.read(shared_key, answer)
        else:
            first, out = await run_in_threadpool(answer)
        verdict = first
        # Only `pending` waits: `allow` and `deny` are what the pipeline waits for.
        if wait > 0 and first.decision == gate_rules.Decision.PENDING:
            with waits.waiting(token.team_id, service) as changed:
                while not waits.stopping and (left := deadline - loop.time()) > 0:
                    with suppress(TimeoutError):
                        # On the clock's tick, not each waiter's own: waiters of one
                        # release then re-check together, with one shared read.
                        tick = GATE_RECHECK - loop.time() % GATE_RECHECK
                        await asyncio.wait_for(changed.wait(), min(left, tick))
                    changed.clear()
                    verdict, out = await waits.reads.read(shared_key, answer)
                    if (verdict.decision, verdict.codes) != (first.decision, first.codes):
                        break
                # Stopping (GateWaits.stop): the answer is what the last re-check found.
        await asyncio.wrap_future(
            gate_audit.record(
                team_id=token.team_id,
                release_id=verdict.release.id if verdict.release is not None else None,
                actor_id=token.owner_id,
                action="gate_checked",
                after={
                    "ref": f"{service}@{version}",
                    "decision": verdict.decision.value,
                    "reasons": list(verdict.codes),
                    "token": token.name,
                },
                detail=verdict.decision.value,
                at=deps.clock(),
                source=audit.api_source(token.name),
            )
        )
        return GateOut(
            decision=verdict.decision.value,
            reasons=[GateReason(code=code.value, message=text) for code, text in verdict.reasons],
            release=out,
        )

    @api.post(
        "/releases/{service}@{version}/deployments",
        response_model=DeploymentOut,
        status_code=201,
        responses={
            **_COMMON,
            404: _problem(404, "no such release the token may see"),
            409: _problem(
                409,
                "the release's state allows no such step, or a request with this "
                "Idempotency-Key is still running",
            ),
        },
        summary="Report a deployment: started, succeeded (moves the rollout on) or failed "
        "(pauses it)",
    )
    def report_deployment(
        service: str,
        version: str,
        body: DeploymentIn,
        token: ApiToken = Depends(authenticated),  # noqa: B008
        idempotency_key: str | None = Header(  # noqa: B008
            None, description="as for POST /releases"
        ),
    ) -> Response:
        token.require_scope(service)

        def run(_key: str | None) -> tuple[int, dict[str, Any]]:
            with deps.db.read_session() as session:
                release = queries.by_name(session, token.team_id, service, version, PUBLIC_READER)
            assert release.id is not None
            # A manager now may report on others' releases (deployment_reports asks).
            actor = api_tokens.acting_for(token)
            rep = deployments.Report(
                state=deployments.DeploymentState(body.state),
                stage=body.stage,
                environment=body.environment,
                url=body.url,
                description=body.description,
                via=f'API token "{token.name}"',
            )
            try:
                after = deployment_reports.report(deps, client, actor, release.id, rep)
            except NotShownYet:  # recorded; Slack gets it when it takes it
                after = _reload(deps, release.id)
            answer = DeploymentOut(
                ref=after.ref,
                id=after.uid,
                state=body.state,
                status=after.state,
                stage=stage_of(after),
            )
            return 201, answer.model_dump(mode="json")

        path = f"/releases/{service.strip().lower()}@{version.strip()}/deployments"
        return _idempotent(deps, token, idempotency_key, path, body.model_dump(mode="json"), run)

    @api.get(
        "/audit",
        response_class=StreamingResponse,
        responses={
            **_COMMON,
            200: {
                "description": "the events, oldest recorded first, streamed as they are "
                "read: CSV (a header line, then one event a line; a cell starting with = + "
                "- @ ' has a ' in front, against spreadsheet formula injection) or JSON "
                "Lines (one object a line)",
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/jsonl": {"schema": AuditRecord.model_json_schema()},
                },
            },
        },
        summary="Export the audit trail: the token's workspace; its services only if it is "
        "limited to some; events about private releases left out",
    )
    def export_audit(
        since: str | None = Query(  # noqa: B008
            None,
            max_length=40,
            description="from (included): 2026-11-01 (00:00 UTC), an ISO 8601 time, or how "
            "far back: 30d, 12h",
        ),
        until: str | None = Query(  # noqa: B008
            None, max_length=40, description="up to (excluded), written as since"
        ),
        service: str | None = Query(None, max_length=200),  # noqa: B008
        fmt: Literal["csv", "jsonl"] = Query("csv", alias="format"),  # noqa: B008
        token: ApiToken = Depends(authenticated),  # noqa: B008
    ) -> StreamingResponse:
        if service is not None:
            token.require_scope(service)
            service = proposing.clean_service(service)
        # Its person's rights now: a manager who made it and was removed since exports none.
        token_admin.acting_for(deps, client, token, api_tokens.Use.EXPORT_AUDIT)
        now = deps.clock()
        query = audit_export.ExportQuery(
            team_id=token.team_id,
            since=audit_export.parse_moment(since, now=now) if since else None,
            until=audit_export.parse_moment(until, now=now) if until else None,
            service=service,
            services=token.scope or None,
            public_only=True,  # a token sees public releases only
        )
        with audit.acting_from(audit.api_source(token.name)), deps.db.session() as session:
            audit.record(
                session,
                team_id=token.team_id,
                release_id=None,
                actor_id=token.owner_id,
                action="audit_exported",
                after={
                    "service": service,
                    "since": query.since.isoformat() if query.since else None,
                    "until": query.until.isoformat() if query.until else None,
                    "format": fmt,
                },
                detail=f"{fmt} over the API",
                at=now,
            )
        stamp = now.strftime("%Y%m%dT%H%MZ")
        name = f"audit-{token.team_id}{'-' + service if service else ''}-{stamp}.{fmt}"
        return StreamingResponse(
            audit_files.chunks(audit_export.rows(deps.db, query), fmt),
            media_type=audit_files.MEDIA_TYPES[fmt],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    api.include_router(service_versions.router(deps, authenticated))
    _install_errors(api, exception_handlers or {})
    return api


def _idempotent(
    deps: Deps,
    token: ApiToken,
    header: str | None,
    path: str,
    body: Any,
    run: Callable[[str | None], tuple[int, dict[str, Any]]],
) -> Response:
    """Runs `run` once per Idempotency-Key (when one is sent) and answers what it made;
    the same key with the same request answers the first answer again."""
    assert token.id is not None
    key = _idempotency_key(header)
    claim_id: int | None = None
    if key is not None:
        hashed = idempotency.request_hash("POST", path, body)
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
        with audit.acting_from(audit.api_source(token.name)):
            status, content = run(key)
    except BaseException:
        if claim_id is not None:
            with deps.db.session() as session:
                idempotency.give_back(session, claim_id)
        raise
    if claim_id is not None:
        with deps.db.session() as session:
            idempotency.complete(session, claim_id, status, content)
    return JSONResponse(content, status)


def _service_of(deps: Deps, release_id: int) -> tuple[str, str] | None:
    with deps.db.read_session() as session:
        release = session.get(Release, release_id)
        return None if release is None else (release.team_id, release.service)


def _reload(deps: Deps, release_id: int) -> Release:
    with deps.db.read_session() as session:
        release = session.get(Release, release_id)
    assert release is not None
    return release


def _release_out(session: Session, release: Release | None) -> ReleaseOut | None:
    if release is None:
        return None
    assert release.id is not None
    return ReleaseOut.of(queries.load_view(session, release), audit.history(session, release.id))


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
    # Real, active people and groups, as `/release propose` checks them; the policy, the
    # owner rule and four eyes are the proposal's (create_release), as for every surface.
    approvers = directory.check_approvers(client, approvers)
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
        request_key=request_key,
        pipeline_url=body.pipeline_url,
        commit_sha=body.commit_sha,
        digest=body.digest,
        committed_at=body.committed_at,
        fix=body.fix,
        fixes=body.fixes,
        reader=PUBLIC_READER,  # a token sees public releases only, whoever it acts for
        via=f'via API token "{token.name}"',
    )
    # NotShownYet: the release stands; its card follows when Slack takes it (url is null).
    with suppress(NotShownYet):
        create_release(deps, client, proposal)
    with deps.db.read_session() as session:
        release = queries.by_request_key(session, request_key)
    if release is None:  # removed again: Slack refused its card for good (said above)
        raise ApiProblem(502, "slack_refused", "Slack refused the release's card.")
    assert release.id is not None
    # Worded as a token reads them: a private release it collides with is not named.
    warnings = conflict_notes.lines(conflicts_for(deps, release.id, PUBLIC_READER))
    return _proposed(release, [to_plain(w) for w in warnings])


def _proposed(release: Release, warnings: Sequence[str] = ()) -> ProposeOut:
    return ProposeOut(
        ref=release.ref,
        id=release.uid,
        status=release.state,
        url=release.permalink,
        warnings=list(warnings),
    )


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

    async def http_error(_request: Request, error: Exception) -> Response:
        # What FastAPI and Starlette answer themselves (a body json can't hold, no such
        # route, another method), in the documented shape rather than {"detail": …}.
        assert isinstance(error, StarletteHTTPException)
        phrase = HTTPStatus(error.status_code).phrase
        if error.status_code == 400:
            # json.loads failed past its syntax: RecursionError, or an int's digit limit.
            code, message = "invalid_request", _UNREADABLE_BODY
        else:
            code = phrase.lower().replace(" ", "_").replace("-", "_")
            message = (
                f"{phrase}: see {PREFIX}/openapi.json." if error.status_code == 404 else phrase
            )
        body = ApiError(error=code, message=message)
        return JSONResponse(
            body.model_dump(mode="json", exclude_none=True),
            error.status_code,
            headers=dict(error.headers or {}),
        )

    api.add_exception_handler(ApiProblem, problem)
    api.add_exception_handler(StarletteHTTPException, http_error)
    api.add_exception_handler(DomainError, domain)
    api.add_exception_handler(RequestValidationError, invalid)
    api.add_exception_handler(SlackApiError, slack)
    for exception, handler in extra.items():
        api.add_exception_handler(exception, handler)


_TAKEN = {Code.DUPLICATE, Code.VERSION_TAKEN, Code.PROPOSED_JUST_NOW}
_UNREADABLE_BODY = "The body can't be read: JSON nested too deeply, or a number too long."
