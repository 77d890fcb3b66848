"""Shared calendar links from Slack: release managers create, list and revoke them.

A shared link serves the feed and the page to people outside Slack, showing only releases
that are not private, within its scope (`models.calendar_feed.subscriptions`). Creating
and revoking are audited there; so is using one (at most hourly per link).
"""

from __future__ import annotations

from slack_sdk import WebClient

from handlers.deps import Deps
from handlers.flows.manager_role import require_manager
from models.calendar_feed import subscriptions
from models.calendar_feed.tokens import CalendarToken
from models.release.proposing import clean_service
from models.release.queries import Actor


def share(
    deps: Deps,
    client: WebClient,
    actor: Actor,
    name: str,
    *,
    channel_id: str | None = None,
    service: str | None = None,
) -> tuple[CalendarToken, str, bool]:
    """The new link, its secret (shown once), and whether its scope has no public release
    yet (to warn about a typo'd service)."""
    require_manager(deps, client, actor, "share calendar links")
    service = clean_service(service) if service is not None else None
    with deps.db.session() as session:
        token, raw = subscriptions.issue_shared(
            session,
            actor.team_id,
            actor.user_id,
            name,
            channel_id=channel_id,
            service=service,
            now=deps.clock(),
        )
        empty = not subscriptions.has_public_releases(
            session, actor.team_id, channel_id=channel_id, service=service
        )
    return token, raw, empty


def shared(deps: Deps, client: WebClient, actor: Actor) -> list[CalendarToken]:
    require_manager(deps, client, actor, "see the shared calendar links")
    with deps.db.read_session() as session:
        return subscriptions.shared_links(session, actor.team_id)


def unshare(deps: Deps, client: WebClient, actor: Actor, name: str) -> CalendarToken:
    require_manager(deps, client, actor, "revoke shared calendar links")
    with deps.db.session() as session:
        return subscriptions.revoke_shared(
            session, actor.team_id, actor.user_id, name, now=deps.clock()
        )
