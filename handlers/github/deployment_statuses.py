"""GitHub's deployment statuses, as deployment reports: the same operation as
`POST /api/v1/releases/<ref>/deployments`, naming GitHub and the repository as the source
(in the thread, and in the audit as `github:<owner>/<repo>`), acting with the rights of the
release manager who linked the repository."""

from __future__ import annotations

import logging
from contextlib import suppress
from typing import Any

from slack_sdk import WebClient

from handlers.deps import Deps
from handlers.flows import deployment_reports
from handlers.flows.changes import NotShownYet
from models import audit
from models.errors import DomainError
from models.github import protection_requests as requests
from models.github import repository_links
from models.release import deployments
from models.release.deployments import DeploymentState
from models.release.proposing import clean_pipeline_url
from models.release.queries import Actor

logger = logging.getLogger(__name__)

# GitHub's states -> reports; queued, pending and inactive say nothing about the release.
REPORTED = {
    "in_progress": DeploymentState.STARTED,
    "success": DeploymentState.SUCCEEDED,
    "failure": DeploymentState.FAILED,
    "error": DeploymentState.FAILED,
}


def report(deps: Deps, client: WebClient, payload: dict[str, Any]) -> None:
    status = payload["deployment_status"]
    state = REPORTED.get(str(status.get("state")))
    if state is None:
        return
    deployment = payload["deployment"]
    repository = str(payload["repository"]["full_name"]).lower()
    environment = str(status.get("environment") or deployment.get("environment") or "")
    with deps.db.read_session() as session:
        link = repository_links.find(session, repository, environment)
        release = (
            None
            if link is None
            else requests.release_for(
                session,
                link.team_id,
                link.service,
                str(deployment.get("sha") or ""),
                str(deployment.get("ref") or ""),
            )
        )
    if link is None or release is None:
        logger.info("a deployment status of %s (%s) matches no release", repository, environment)
        return
    assert release.id is not None
    rep = deployments.Report(
        state=state,
        environment=environment,
        url=_link(status.get("target_url")) or _link(status.get("log_url")),
        description=str(status.get("description") or "")[:500],
        via=f"GitHub {repository}",
    )
    actor = Actor(team_id=link.team_id, user_id=link.created_by)
    with audit.acting_from(f"github:{repository}"), suppress(NotShownYet):
        try:
            deployment_reports.report(deps, client, actor, release.id, rep)
        except DomainError as refusal:  # as the API answers 409: nothing to retry
            logger.info("deployment status for %s not taken: %s", release.ref, refusal)


def _link(value: object) -> str | None:
    with suppress(DomainError):
        return clean_pipeline_url(str(value)) if value else None
    return None
