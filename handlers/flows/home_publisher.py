"""Home tabs: what each person sees of the releases that involve them."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.deps import Deps
from handlers.rendering.home_view import HomeContent, home_view
from handlers.slack import directory
from models.release import lifecycle, queries
from models.release.queries import ReleaseView

logger = logging.getLogger(__name__)


def involved(client: WebClient, view: ReleaseView) -> set[str]:
    people = {view.release.owner_id}
    for approver in view.approvers:
        if approver.is_group:
            try:
                people |= directory.group_members(client, approver.slack_id)
            except Exception:
                logger.warning("members of %s unknown", approver.slack_id)
        else:
            people.add(approver.slack_id)
    return people


def home_content(deps: Deps, client: WebClient, team_id: str, user_id: str) -> HomeContent:
    with deps.db.read_session() as session:
        group_ids = queries.pending_group_ids(session, team_id)
    mine_groups = directory.groups_of(client, user_id, group_ids) if group_ids else set()
    with deps.db.read_session() as session:
        awaiting = queries.awaiting_sign_off(session, team_id, user_id, mine_groups)
        owned = queries.owned_open(session, team_id, user_id)
        missing = lifecycle.missing_for_go_many(session, [r.id for r in owned if r.id])
        mine = [
            (release, [] if release.state.is_in_flight else missing.get(release.id or 0, []))
            for release in owned
        ]
        upcoming = queries.upcoming(session, team_id, queries.Viewer(user_id), limit=10)
    return HomeContent(awaiting=awaiting, mine=mine, upcoming=upcoming)


def publish_home(deps: Deps, client: WebClient, team_id: str, user_id: str) -> None:
    content = home_content(deps, client, team_id, user_id)
    client.views_publish(user_id=user_id, view=home_view(content))


def publish_homes(deps: Deps, client: WebClient, team_id: str, user_ids: Iterable[str]) -> None:
    """Republish these people's Home tabs, soon. A burst of changes for one person waits in
    the queue as one job, so it costs one publish, not one per change."""
    for user_id in sorted(set(user_ids)):
        deps.work.submit_once(
            ("home", team_id, user_id), _publish_home_quietly, deps, client, team_id, user_id
        )


def _publish_home_quietly(deps: Deps, client: WebClient, team_id: str, user_id: str) -> None:
    try:
        publish_home(deps, client, team_id, user_id)
    except SlackApiError as exc:
        logger.warning("home of %s not published: %s", user_id, exc.response.get("error"))
