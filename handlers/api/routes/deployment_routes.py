"""A deployment reported: started, succeeded (the rollout moves on) or failed (it pauses)."""

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from handlers.api.api_deps import Context, Idempotent, Token
from handlers.api.api_errors import COMMON, problem
from handlers.api.schemas import DeploymentIn, DeploymentOut, stage_of
from handlers.flows import deployment_reports
from handlers.flows.changes import NotShownYet
from models.api import api_tokens
from models.release import deployments, queries
from models.release.records import Release
from models.release.visibility import PUBLIC_READER

router = APIRouter(responses=COMMON)


@router.post(
    "/releases/{service}@{version}/deployments",
    response_model=DeploymentOut,
    status_code=201,
    responses={
        404: problem("no such release the token may see"),
        409: problem(
            "the release's state allows no such step, or a request with this "
            "Idempotency-Key is still running",
        ),
    },
    summary="Report a deployment: started, succeeded (moves the rollout on) or failed (pauses it)",
)
def report_deployment(
    service: str,
    version: str,
    body: DeploymentIn,
    context: Context,
    token: Token,
    idempotent: Idempotent,
) -> Response:
    token.require_scope(service)
    deps = context.deps

    def run(_key: str | None) -> tuple[int, dict[str, Any]]:
        with deps.db.read_session() as session:
            release = queries.by_name(session, token.team_id, service, version, PUBLIC_READER)
        assert release.id is not None
        # A manager now may report on others' releases (deployment_reports asks).
        actor = api_tokens.acting_for(token)
        report = deployments.Report(
            state=deployments.DeploymentState(body.state),
            stage=body.stage,
            environment=body.environment,
            url=body.url,
            description=body.description,
            via=f'API token "{token.name}"',
        )
        try:
            after = deployment_reports.report(deps, context.client, actor, release.id, report)
        except NotShownYet:  # recorded; Slack gets it when it takes it
            with deps.db.read_session() as session:
                reloaded = session.get(Release, release.id)
            assert reloaded is not None
            after = reloaded
        answer = DeploymentOut(
            ref=after.ref, id=after.uid, state=body.state, status=after.state, stage=stage_of(after)
        )
        return 201, answer.model_dump(mode="json")

    path = f"/releases/{service.strip().lower()}@{version.strip()}/deployments"
    return idempotent.run(path, body.model_dump(mode="json"), run)
