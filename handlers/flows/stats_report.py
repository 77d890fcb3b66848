"""Release statistics for Slack and the API: the figures, and `/release stats` posting
them with their chart in the channel that asked."""

from __future__ import annotations

import logging

from slack_bolt import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from handlers.deps import Deps
from handlers.rendering import stats_chart, stats_messages
from handlers.rendering.channel_messages import to_dicts
from handlers.slack_kit import directory
from models.release import statistics
from models.release.queries import Actor
from models.release.statistics import Scope, Statistics
from models.release.visibility import PUBLIC_READER, Reader

logger = logging.getLogger(__name__)

CHART_FILENAME = "release-stats.png"


def figures(
    deps: Deps,
    team_id: str,
    days: int,
    *,
    service: str | None = None,
    services: tuple[str, ...] | None = None,
    reader: Reader = PUBLIC_READER,
) -> Statistics:
    """The last `days` days' figures, of the releases `reader` may see."""
    scope = Scope.last_days(
        team_id, days, deps.clock(), service=service, services=services, reader=reader
    )
    with deps.db.read_session() as session:
        return statistics.compute(session, scope)


def post_stats(
    deps: Deps,
    client: WebClient,
    actor: Actor,
    service: str | None,
    days: int,
    respond: Respond,
) -> None:
    """The figures and one chart in the channel that asked (counting only what that channel
    may see); where the bot can't post or upload, the figures to the person alone."""
    channel = actor.channel_id or ""
    stats = figures(deps, actor.team_id, days, service=service, reader=Reader.members_of(channel))
    names = _names(client, stats)
    text = stats_messages.summary_text(stats, days)
    try:
        client.chat_postMessage(
            channel=channel,
            text=text,
            blocks=to_dicts(stats_messages.stats_blocks(stats, days, names)),
            unfurl_links=False,
        )
    except SlackApiError as error:
        _privately(respond, stats, days, names, text, _why(error, "post in this channel"))
        return
    png = stats_chart.render_png(stats, stats_messages.title(stats, days))
    try:
        client.files_upload_v2(
            channel=channel,
            content=png,
            filename=CHART_FILENAME,
            title=stats_messages.title(stats, days),
        )
    except (SlackClientError, OSError) as error:
        logger.warning("stats chart upload to %s failed: %s", channel, error)
        _privately(respond, stats, days, names, text, _why(error, "upload the chart here"))


def _why(error: Exception, what: str) -> str:
    code = str(error.response.get("error", "")) if isinstance(error, SlackApiError) else ""
    missing = code in ("not_in_channel", "channel_not_found")
    hint = " Add me with `/invite @releasebot`." if missing else ""
    said = f" (`{code}`)" if code else ""
    return f"I couldn't {what}{said}, so here are the figures, for you alone.{hint}"


def _privately(
    respond: Respond,
    stats: Statistics,
    days: int,
    names: dict[str, str],
    text: str,
    note: str,
) -> None:
    respond(
        response_type="ephemeral",
        replace_original=False,
        text=text,
        blocks=to_dicts(stats_messages.stats_blocks(stats, days, names, note=note)),
    )


def _names(client: WebClient, stats: Statistics) -> dict[str, str]:
    """The slowest approver's name, when a person: named, not mentioned (no ping)."""
    slowest = stats.slowest_approver
    if slowest is None or slowest.kind == "usergroup":
        return {}
    return {slowest.slack_id: directory.user_name(client, slowest.slack_id)}
