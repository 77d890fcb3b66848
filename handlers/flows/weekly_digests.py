"""The weekly digest: `/release digest` shows the week ahead to the person alone, now, as
they may see it."""

from __future__ import annotations

from slack_sdk import WebClient

from handlers.deps import Deps
from handlers.slack import directory
from models.release import weekly_digest
from models.release.queries import Actor
from models.release.weekly_digest import WeekAhead


def private_digest(deps: Deps, client: WebClient, actor: Actor) -> tuple[WeekAhead, str]:
    """The week ahead as `actor` may see it, and the zone its days are read in (theirs)."""
    tz = directory.user_timezone(client, actor.user_id) or "UTC"
    with deps.db.read_session() as session:
        week = weekly_digest.week_ahead(session, actor.team_id, actor.viewer, deps.clock())
    return week, tz
