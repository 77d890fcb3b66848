"""Deployment reports: what a pipeline may report about a release, and their record.

A report comes from the release's owner or a release manager (the person a token acts
for), only while the release is in flight (nothing can have been deployed before the go;
a finished release takes nothing more), at one of the rollout's stages, with an http(s)
link. Each is checked under the release's lock and recorded in its history; what a
success then moves goes through `lifecycle`, held by freezes as every move toward
production is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session

from models import audit
from models.errors import Code, InvalidInput
from models.fields import FIELD_STAGE, FIELD_URL
from models.release import rules
from models.release.proposing import PIPELINE_URL_PATTERN
from models.release.queries import Actor, get_for_update, require_owner
from models.release.records import Release
from models.release.rules import Activity

MAX_URL = 1000
BIG_BANG_STAGE = 100  # a big-bang release is deployed whole


class DeploymentState(StrEnum):
    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class Report:
    state: DeploymentState
    stage: int | None = None  # the percentage deployed
    environment: str = "production"
    url: str | None = None  # the job's link
    description: str = ""
    via: str = "the API"  # e.g. 'API token "ci"'


def check(release: Release, actor: Actor, report: Report) -> None:
    """Refuse a report this person may not make, or that can't be true of the release."""
    require_owner(release, actor, Activity.REPORT_DEPLOYMENT)
    rules.check(release, Activity.REPORT_DEPLOYMENT)
    if report.state == DeploymentState.SUCCEEDED:
        rules.check(release, Activity.MARK_RELEASED)  # before the go, paused, after the end
    stages = release.stages if release.is_phased else (BIG_BANG_STAGE,)
    if report.stage is not None and report.stage not in stages:
        raise InvalidInput(
            Code.DEPLOYMENT_STAGE_UNKNOWN,
            field=FIELD_STAGE,
            ref=release.ref,
            stage=report.stage,
            stages=release.stages,
        )
    if report.url is not None and (
        len(report.url) > MAX_URL or not PIPELINE_URL_PATTERN.match(report.url)
    ):
        raise InvalidInput(Code.URL_INVALID, field=FIELD_URL, value=report.url)


def record(
    session: Session, actor: Actor, release_id: int, report: Report, now: datetime
) -> Release:
    """Check `report` under the release's lock, then record it in the release's history."""
    release = get_for_update(session, actor, release_id)
    check(release, actor, report)
    audit.record(
        session,
        team_id=release.team_id,
        release_id=release.id,
        actor_id=actor.user_id,
        action=f"deployment_{report.state}",
        after={
            "stage": report.stage,
            "environment": report.environment,
            "url": report.url,
            "description": report.description,
            "via": report.via,
        },
        detail=f"{report.stage}%" if report.stage is not None else report.environment,
        at=now,
    )
    return release
