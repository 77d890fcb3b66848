"""The weekly digest: posted at the time the policy key `digest` says, in its channel (a
scheduler sweep), and `/release digest` shows the week ahead to the person alone, now."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.deps import Deps
from handlers.rendering import weekly_digest_messages
from handlers.rendering.channel_messages import to_dicts
from handlers.slack_kit import directory
from models.release import weekly_digest
from models.release.queries import Actor
from models.release.weekly_digest import WeekAhead

logger = logging.getLogger(__name__)


def private_digest(deps: Deps, client: WebClient, actor: Actor) -> tuple[WeekAhead, str]:
    """The week ahead as `actor` may see it, and the zone its days are read in (theirs)."""
    tz = directory.user_timezone(client, actor.user_id) or "UTC"
    with deps.db.read_session() as session:
        week = weekly_digest.week_ahead(session, actor.team_id, actor.reader, deps.clock())
    return week, tz


def post_due(deps: Deps, client: WebClient) -> int:
    """Post each digest whose time has come, once a week per channel whichever process or
    restart gets there first (the claim's unique key); returns how many this one posted.
    A post that fails after its claim is not tried again that week."""
    now = deps.clock()
    with deps.db.read_session() as session:
        found = weekly_digest.due(session, now)
    posted = 0
    for digest in found:
        with deps.db.session() as session:
            if not weekly_digest.claim(session, digest, now):
                continue
        with deps.db.read_session() as session:
            week = weekly_digest.for_channel(session, digest, now)
        try:
            client.chat_postMessage(
                channel=digest.schedule.channel_id,
                text=weekly_digest_messages.digest_text(week),
                blocks=to_dicts(weekly_digest_messages.digest_blocks(week, digest.schedule.tz)),
            )
            posted += 1
        except SlackApiError:
            logger.exception("weekly digest for %s not posted", digest.schedule.channel_id)
    return posted
