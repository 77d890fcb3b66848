"""A pipeline reports a deployment of a release: checked and recorded (history and
thread, `models/release/deployments.py`), then acted on through the same steps as the
Slack buttons, as the person the API token acts for.

`succeeded` moves the rollout on (to the stage reported, or the next one; the last stage,
or a big-bang release, is released); `failed` pauses a rollout in progress and tells the
owner, leaving the roll back to a person; `started` is recorded only.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient

from handlers.deps import Deps
from handlers.flows import steps
from handlers.flows.changes import apply_change
from handlers.flows.manager_role import acting_on
from handlers.slack_kit.mrkdwn import escape
from models.release import deployments, queries
from models.release.deployments import DeploymentState, Report
from models.release.queries import Actor
from models.release.records import Release, ReleaseStatus

logger = logging.getLogger(__name__)

_ICON = {
    DeploymentState.STARTED: ":rocket:",
    DeploymentState.SUCCEEDED: ":white_check_mark:",
    DeploymentState.FAILED: ":x:",
}


def report_line(ref: str, report: Report) -> str:
    where = f" at {report.stage}%" if report.stage is not None else ""
    text = (
        f"{_ICON[report.state]} Deployment of *{escape(ref)}* to "
        f"{escape(report.environment)}{where} {report.state} ({escape(report.via)})"
    )
    if report.description:
        text += f": {escape(report.description)}"
    if report.url:
        text += f" <{report.url.replace('>', '%3E').replace('|', '%7C')}|job>"
    return text


def report(deps: Deps, client: WebClient, actor: Actor, release_id: int, rep: Report) -> Release:
    """Record `rep` and act on it; returns the release as it is afterwards."""
    actor = acting_on(deps, client, actor, release_id)  # a release manager may report too
    now = deps.clock()
    view = apply_change(
        deps,
        client,
        lambda session: deployments.record(session, actor, release_id, rep, now),
        lambda v: report_line(v.release.ref, rep),
    )
    release = view.release
    if rep.state == DeploymentState.SUCCEEDED:
        release = _succeeded(deps, client, actor, release, rep.stage)
    elif rep.state == DeploymentState.FAILED:
        release = _failed(deps, client, actor, release, rep)
    return release


def _reload(deps: Deps, actor: Actor, release_id: int) -> Release:
    with deps.db.read_session() as session:
        return queries.get(session, actor, release_id)


def _succeeded(
    deps: Deps, client: WebClient, actor: Actor, release: Release, stage: int | None
) -> Release:
    assert release.id is not None
    if release.state == ReleaseStatus.GO or not release.is_phased:
        # Big-bang (or not rolling out yet): the deployment is the release.
        steps.mark_released(deps, client, actor, release.id)
        return _reload(deps, actor, release.id)
    goal = stage if stage is not None else _next_stage(release)
    while (
        release.state == ReleaseStatus.ROLLING_OUT
        and release.current_percentage is not None
        and release.current_percentage < goal
    ):
        assert release.stage_index is not None
        steps.advance(deps, client, actor, release.id, release.stages[release.stage_index + 1])
        release = _reload(deps, actor, release.id)
    return release


def _next_stage(release: Release) -> int:
    assert release.stage_index is not None
    stages = release.stages
    return stages[min(release.stage_index + 1, len(stages) - 1)]


def _failed(deps: Deps, client: WebClient, actor: Actor, release: Release, rep: Report) -> Release:
    assert release.id is not None
    if release.state == ReleaseStatus.ROLLING_OUT:
        steps.pause(deps, client, actor, release.id)
        release = _reload(deps, actor, release.id)
    if release.state == ReleaseStatus.PAUSED:
        advice = (
            "The rollout is paused: resume it, or roll it back, from its announcement or "
            "with `/release resume` · `/release rollback`."
        )
    else:
        advice = f"{escape(release.ref)} is {release.state.label.lower()}; nothing was changed."
    text = f"{report_line(release.ref, rep)}\n{advice}"
    try:
        client.chat_postMessage(channel=release.owner_id, text=text, unfurl_links=False)
    except Exception:  # the thread says so already; a missed DM fails nothing
        logger.exception("could not tell the owner of %s about a failed deployment", release.ref)
    return release
