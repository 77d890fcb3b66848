"""A service: what is in production and in flight, and its releases a page at a time."""

from typing import Annotated

from fastapi import APIRouter, Query

from handlers.api.api_deps import Context, ReadSession, Token
from handlers.api.api_errors import COMMON
from handlers.api.schemas import (
    HistoryRelease,
    ReleaseBrief,
    Released,
    ServiceHistoryOut,
    ServiceOut,
)
from handlers.flows import service_history
from models.api import api_reads
from models.release import proposing, service_records
from models.release.visibility import PUBLIC_READER

router = APIRouter(responses=COMMON)


@router.get(
    "/services/{service}",
    summary="A service: its version in production, releases in flight, last released",
)
def get_service(
    service: str,
    token: Token,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=api_reads.MAX_HISTORY)] = 10,
) -> ServiceOut:
    token.require_scope(service)
    summary = api_reads.service_summary(
        session, token.team_id, proposing.clean_service(service), limit=limit
    )
    return ServiceOut(
        service=summary.service,
        in_production=Released.of(summary.in_production) if summary.in_production else None,
        in_flight=[ReleaseBrief.of(r) for r in summary.in_flight],
        released=[Released.of(s) for s in summary.released],
    )


@router.get(
    "/services/{service}/releases",
    summary="A service's releases, newest proposed first, a page at a time",
)
def get_service_history(
    service: str,
    context: Context,
    token: Token,
    limit: Annotated[int, Query(ge=1, le=service_records.MAX_HISTORY_PAGE)] = 10,
    before: Annotated[
        str | None, Query(max_length=32, description="the `next` of the previous page")
    ] = None,
) -> ServiceHistoryOut:
    token.require_scope(service)
    history = service_history.service_history(
        context.deps,
        token.team_id,
        service,
        PUBLIC_READER,
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
