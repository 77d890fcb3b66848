"""Posting and updating the release's messages in Slack."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from sqlmodel import Session

from handlers import directory
from handlers.rendering.messages import card_blocks, card_text, to_dicts
from models import releases
from models.release import Release
from models.releases import ReleaseView

logger = logging.getLogger(__name__)


def post_card(client: WebClient, session: Session, view: ReleaseView) -> None:
    """Post the card (the thread's root) and remember where it is."""
    release = view.release
    response = client.chat_postMessage(
        channel=release.channel_id,
        text=card_text(view),
        blocks=to_dicts(card_blocks(view, directory.unsignable(client, view))),
        unfurl_links=False,
    )
    ts = str(response["ts"])
    releases.attach_card(session, release, ts, permalink(client, release.channel_id, ts))


def permalink(client: WebClient, channel: str, ts: str) -> str | None:
    try:
        return str(client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
    except SlackApiError as exc:
        logger.warning("no permalink for %s/%s: %s", channel, ts, exc.response.get("error"))
        return None


def update_message(
    client: WebClient, channel: str | None, ts: str | None, text: str, blocks: list[Block]
) -> None:
    """Rewrite a message of ours in place; best effort, for the database is the truth."""
    if not (channel and ts):
        return
    try:
        client.chat_update(channel=channel, ts=ts, text=text, blocks=to_dicts(blocks))
    except SlackApiError as exc:
        logger.warning("message %s/%s not updated: %s", channel, ts, exc.response.get("error"))


def update_card(client: WebClient, view: ReleaseView) -> None:
    release = view.release
    blocks = card_blocks(view, directory.unsignable(client, view))
    update_message(client, release.channel_id, release.message_ts, card_text(view), blocks)


def thread_reply(client: WebClient, release: Release, text: str) -> str | None:
    """A reply in the release's thread; returns its ts."""
    if not release.message_ts:
        return None
    try:
        response = client.chat_postMessage(
            channel=release.channel_id, thread_ts=release.message_ts, text=text
        )
        return str(response["ts"])
    except SlackApiError as exc:
        logger.warning("thread reply on %s failed: %s", release.ref, exc.response.get("error"))
        return None
