"""Release statistics (DORA-style) over the last days, public releases only."""

from typing import Annotated

from fastapi import APIRouter, Query

from handlers.api.api_deps import Context, Token
from handlers.api.api_errors import COMMON, ApiProblem
from handlers.api.schemas import StatsOut
from handlers.flows import stats_report
from models.release import proposing, statistics

router = APIRouter(responses=COMMON)


@router.get(
    "/stats",
    summary="Release statistics (DORA-style) over the last days, public releases only",
)
def stats(
    context: Context,
    token: Token,
    service: Annotated[str | None, Query(max_length=200)] = None,
    days: Annotated[
        int, Query(description="30, 90 or 365: the period, up to now")
    ] = statistics.DEFAULT_DAYS,
) -> StatsOut:
    if days not in statistics.PERIODS:
        raise ApiProblem(422, "invalid_request", "days: give 30, 90 or 365.", field="days")
    if service is not None:
        token.require_scope(service)
        service = proposing.clean_service(service)
    figures = stats_report.figures(
        context.deps, token.team_id, days, service=service, services=token.scope or None
    )
    return StatsOut.of(figures, days)
