"""After a release changes: bring every message and Home tab that shows it up to date."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlmodel import Session

from handlers import directory
from handlers.deps import Deps
from handlers.publishing import permalink, thread_reply, update_card, update_message
from handlers.rendering.home import HomeContent, home_view
from handlers.rendering.lifecycle import (
    announcement_blocks,
    announcement_text,
    checklist_blocks,
    checklist_text,
)
from handlers.rendering.messages import to_dicts
from models import lifecycle, releases
from models.release import Release
from models.releases import ReleaseView

logger = logging.getLogger(__name__)


def post_checklist(client: WebClient, session: Session, view: ReleaseView) -> None:
    """The go/no-go checklist, as a reply in the release's thread."""
    release = view.release
    response = client.chat_postMessage(
        channel=release.channel_id,
        thread_ts=release.message_ts,
        text=checklist_text(view),
        blocks=to_dicts(checklist_blocks(view)),
    )
    release.checklist_ts = str(response["ts"])
    session.add(release)
    session.flush()


def update_checklist(client: WebClient, view: ReleaseView) -> None:
    release = view.release
    update_message(
        client,
        release.channel_id,
        release.checklist_ts,
        checklist_text(view),
        checklist_blocks(view),
    )


def announce(deps: Deps, client: WebClient, release_id: int) -> None:
    """Post the rollout announcement (once) and link it from the thread."""
    with deps.db.session() as session:
        release = session.get(Release, release_id)
        if release is None or release.announcement_ts:
            return
        # A private release is announced where it lives, never in a wider channel.
        channel = (
            release.channel_id
            if release.private
            else deps.config.announce_channel or release.channel_id
        )
        response = client.chat_postMessage(
            channel=channel,
            text=announcement_text(release),
            blocks=to_dicts(announcement_blocks(release)),
            unfurl_links=False,
        )
        release.announcement_channel = channel
        release.announcement_ts = str(response["ts"])
        session.add(release)
    link = permalink(client, channel, str(response["ts"]))
    where = f"<{link}|announced>" if link else "announced"
    thread_reply(client, release, f":mega: The rollout is {where} in <#{channel}>.")


def update_announcement(client: WebClient, release: Release) -> None:
    update_message(
        client,
        release.announcement_channel,
        release.announcement_ts,
        announcement_text(release),
        announcement_blocks(release),
    )


def refresh(deps: Deps, client: WebClient, view: ReleaseView) -> None:
    """Card, checklist, announcement and the Home tabs of everyone involved."""
    update_card(client, view)
    update_checklist(client, view)
    update_announcement(client, view.release)
    publish_homes(deps, client, view.release.team_id, involved(client, view))


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
        group_ids = releases.pending_group_ids(session, team_id)
    mine_groups = directory.groups_of(client, user_id, group_ids) if group_ids else set()
    with deps.db.read_session() as session:
        awaiting = releases.awaiting_sign_off(session, team_id, user_id, mine_groups)
        owned = releases.owned_open(session, team_id, user_id)
        missing = lifecycle.missing_for_go_many(session, [r.id for r in owned if r.id])
        mine = [
            (release, [] if release.state.is_in_flight else missing.get(release.id or 0, []))
            for release in owned
        ]
        upcoming = releases.upcoming(session, team_id, releases.Viewer(user_id), limit=10)
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
