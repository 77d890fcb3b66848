"""`/release calendar [#channel | <service> | revoke]`: personal links to the release feed."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.models.blocks import ContextBlock, SectionBlock

from handlers.deps import Deps
from handlers.rendering.channel_messages import md, to_dicts
from handlers.slack_kit import directory, parsing
from handlers.slack_kit.mrkdwn import escape
from models.calendar_feed import subscriptions
from models.release.proposing import clean_service


def feed_urls(public_url: str, token: str) -> tuple[str, str]:
    """(webcal://…, https://…): calendar apps open the first; the second is for pasting."""
    base = public_url.rstrip("/")
    path = f"/calendar/{token}.ics"
    return f"webcal://{base.split('://', 1)[1]}{path}", base + path


def page_url(public_url: str, token: str) -> str:
    """The calendar as a web page: same token, filter and privacy as the feed."""
    return f"{public_url.rstrip('/')}/calendar/{token}"


def calendar_reply(
    deps: Deps, client: WebClient, team_id: str, user_id: str, command: parsing.Calendar
) -> dict[str, Any]:
    """Keyword arguments for a private answer. A channel's link asks Slack whether the
    person is in it, so the caller sends that one after the ack."""
    if command.revoke:
        with deps.db.session() as session:
            count = subscriptions.revoke_tokens(session, team_id, user_id, now=deps.clock())
        return _ephemeral(revoked_text(count), "Your calendar links")
    service = clean_service(command.service) if command.service is not None else None
    # Asked before the transaction (a Slack call must not hold the database), and afresh.
    # For this answer only: the feed asks again when it is fetched.
    in_channel = command.channel_id is not None and bool(
        directory.is_channel_member(client, command.channel_id, user_id)
    )
    with deps.db.session() as session:
        token = subscriptions.issue_token(
            session,
            team_id,
            user_id,
            channel_id=command.channel_id,
            service=service,
            now=deps.clock(),
        )
        filtered = service is not None or command.channel_id is not None
        # What the feed will show this person: a release hidden from them counts as none.
        empty = filtered and not subscriptions.has_releases(
            session,
            team_id,
            user_id,
            service=service,
            channel_id=command.channel_id,
            in_channel=in_channel,
        )
    webcal, https = feed_urls(deps.config.public_url, token)
    blocks = [
        SectionBlock(
            text=md(f"*Your release calendar*: {scope_text(command, service, empty, in_channel)}")
        ),
        SectionBlock(
            text=md(
                "Subscribe to it in your calendar app (Apple Calendar and Outlook open "
                f"this link):\n`{webcal}`\n"
                "or paste this address where the app asks for a calendar's URL "
                f"(Google Calendar: Other calendars → From URL):\n`{https}`\n"
                "Or read it in your browser: "
                f"<{page_url(deps.config.public_url, token)}|the release calendar page>"
            )
        ),
        ContextBlock(
            elements=[
                md(
                    "The link is yours alone: anyone who has it can read the calendar, so "
                    "don't share it. Apps refresh it every 15 minutes to a few hours. "
                    "`/release calendar revoke` stops all your links."
                )
            ]
        ),
    ]
    return {
        "response_type": "ephemeral",
        "text": "Your release calendar link",
        "blocks": to_dicts(blocks),
    }


def scope_text(
    command: parsing.Calendar, service: str | None, empty: bool, in_channel: bool = False
) -> str:
    """Names the channel only as `<#id>`: Slack shows a private channel's name to its
    members alone."""
    if service is not None:
        what = f"releases of {escape(service)}"
    elif command.channel_id is not None:
        what = f"releases proposed in <#{command.channel_id}>"
    else:
        what = "every release in this workspace"
    if empty:
        what += " (none yet" + (": check the spelling)" if service is not None else ")")
    if command.channel_id is not None and not in_channel:
        # Said to everyone outside the channel alike, private channel or not.
        what += (
            f". Slack doesn't list you as a member of <#{command.channel_id}>, so releases "
            "only its members may see stay out of this feed; they show a few minutes "
            "after you join"
        )
    return (
        f"{what}. Cancelled releases stay {subscriptions.CANCELLED_KEPT.days} days, marked as "
        f"cancelled; past releases stay {subscriptions.PAST_KEPT.days} days."
    )


def revoked_text(count: int) -> str:
    if count == 0:
        return "You had no calendar links, so nothing changed."
    links = "link" if count == 1 else "links"
    return (
        f"Revoked {count} calendar {links}: calendars subscribed to "
        f"{'it' if count == 1 else 'them'} stop updating. "
        "`/release calendar` gives you a new one."
    )


def _ephemeral(text: str, fallback: str) -> dict[str, Any]:
    return {
        "response_type": "ephemeral",
        "text": fallback,
        "blocks": to_dicts([SectionBlock(text=md(text))]),
    }
