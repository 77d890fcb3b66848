"""The audit trail exported: the token's workspace, its services only if it is limited to
some, events about private releases left out."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from handlers.api.api_deps import Context, Now, Token
from handlers.api.api_errors import COMMON
from handlers.api.schemas import AuditRecord
from handlers.flows import audit_files, token_admin
from models import audit, audit_export
from models.api import api_tokens
from models.release import proposing
from models.release.visibility import PUBLIC_READER

router = APIRouter(responses=COMMON)


@router.get(
    "/audit",
    response_class=StreamingResponse,
    responses={
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
    context: Context,
    token: Token,
    now: Now,
    since: Annotated[
        str | None,
        Query(
            max_length=40,
            description="from (included): 2026-11-01 (00:00 UTC), an ISO 8601 time, or how "
            "far back: 30d, 12h",
        ),
    ] = None,
    until: Annotated[
        str | None, Query(max_length=40, description="up to (excluded), written as since")
    ] = None,
    service: Annotated[str | None, Query(max_length=200)] = None,
    fmt: Annotated[Literal["csv", "jsonl"], Query(alias="format")] = "csv",
) -> StreamingResponse:
    deps = context.deps
    if service is not None:
        token.require_scope(service)
        service = proposing.clean_service(service)
    # Its person's rights now: a manager who made it and was removed since exports none.
    token_admin.acting_for(deps, context.client, token, api_tokens.Use.EXPORT_AUDIT)
    query = audit_export.ExportQuery(
        team_id=token.team_id,
        since=audit_export.parse_moment(since, now=now) if since else None,
        until=audit_export.parse_moment(until, now=now) if until else None,
        service=service,
        services=token.scope or None,
        reader=PUBLIC_READER,  # a token sees public releases only
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
