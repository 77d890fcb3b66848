"""The one place errors become messages to the person who caused them."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.context.ack import Ack
from slack_bolt.context.respond import Respond
from slack_bolt.error import BoltUnhandledRequestError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block

from handlers.flows.changes import NotShownYet
from handlers.rendering import refusals
from handlers.rendering.channel_messages import notice_blocks, to_dicts
from handlers.rendering.freeze_messages import refusal_blocks
from handlers.slack.unhandled import UnhandledRequests
from handlers.slack_kit.mrkdwn import to_plain
from models.errors import DomainError

logger = logging.getLogger(__name__)

# Slack errors a person can fix, and how.
_SLACK_HINTS = {
    "not_in_channel": "I'm not in this channel. Add me with `/invite @releasebot` and try again.",
    "channel_not_found": "I can't see this channel. Add me with `/invite @releasebot` "
    "and try again.",
    "is_archived": "This channel is archived; use another one.",
    "user_not_found": "I can't find one of the people named in this workspace.",
}


def message_for(error: Exception) -> str:
    if isinstance(error, DomainError):
        return refusals.text_for(error)
    if isinstance(error, NotShownYet):
        return error.message
    if isinstance(error, SlackApiError):
        code = str(error.response.get("error", ""))
        if code in _SLACK_HINTS:
            return _SLACK_HINTS[code] + " Nothing was changed."
    incident = uuid.uuid4().hex[:8]
    logger.error("unexpected error (incident %s)", incident, exc_info=error)
    return (
        f"Something went wrong on my side (incident `{incident}`); nothing was changed. "
        "Try again in a moment."
    )


def form_error(text: str) -> str:
    """An error shown on a form: Slack shows those as plain text, so our mrkdwn would show
    as &lt; and <@U1> literally."""
    return to_plain(text)[:2000]


def tell_privately(
    text: str,
    body: dict[str, Any],
    client: WebClient,
    respond: Respond | None,
    error: Exception | None = None,
    blocks: Sequence[Block] | None = None,
) -> None:
    """Answer only the person who acted: response_url, else ephemeral, else a DM. With the
    `error` refused, its blocks (a button to override a freeze); else `blocks`, if given."""
    if blocks is None:
        blocks = refusal_blocks(error, text) if error else notice_blocks(text)
    said = to_dicts(blocks)
    user_id = (body.get("user") or {}).get("id") or body.get("user_id")
    try:
        if respond is not None and getattr(respond, "response_url", None):
            respond(text=text, blocks=said, response_type="ephemeral", replace_original=False)
            return
        channel_id = (body.get("channel") or {}).get("id") or body.get("channel_id")
        if channel_id and user_id:
            client.chat_postEphemeral(channel=channel_id, user=user_id, text=text, blocks=said)
            return
        if user_id:
            client.chat_postMessage(channel=user_id, text=text, blocks=said)
    except Exception:
        logger.exception("could not tell %s: %s", user_id, text)


def report(
    error: Exception,
    body: dict[str, Any],
    client: WebClient,
    respond: Respond | None,
    ack: Ack | None = None,
) -> BoltResponse | None:
    """Turn `error` into a private answer. Before the ack, the answer is the ack itself."""
    if isinstance(error, DomainError):
        logger.info("refused: %s", error)
    text = message_for(error)
    not_acked = ack is not None and ack.response is None
    if not_acked and body.get("type") == "view_submission":
        field = error.field if isinstance(error, DomainError) else None
        return BoltResponse(
            status=200,
            body={
                "response_action": "errors",
                "errors": {field or _first_block_id(body): form_error(text)},
            },
        )
    if not_acked and body.get("command"):
        return BoltResponse(
            status=200,
            body={
                "response_type": "ephemeral",
                "text": text,
                "blocks": to_dicts(refusal_blocks(error, text)),
            },
        )
    tell_privately(text, body, client, respond, error)
    if ack is None:
        return None  # after the ack: the private message is all there is to say
    # In the ack path, acked or not: Slack must still get its 200, or it shows the person
    # a generic failure on top of our message.
    if ack.response is None:
        ack()
    acked = ack.response
    return BoltResponse(status=200, body=acked.body if acked else "")


def _first_block_id(body: dict[str, Any]) -> str:
    for block in (body.get("view") or {}).get("blocks", []):
        if block.get("type") == "input" and block.get("block_id"):
            return str(block["block_id"])
    return "_"


def register(app: App) -> None:
    """Needs `App(raise_error_for_unhandled_request=True)` for requests no listener matched."""
    unhandled = UnhandledRequests()

    @app.error
    def on_error(
        error: Exception, body: dict[str, Any], client: WebClient, respond: Respond, ack: Ack
    ) -> BoltResponse | None:
        if isinstance(error, BoltUnhandledRequestError):
            return unhandled.acknowledge(body)
        return report(error, body, client, respond, ack)


def in_background(
    work: Callable[[], object], body: dict[str, Any], client: WebClient, respond: Respond | None
) -> Callable[[], None]:
    """Wrap work done after the ack so its errors reach the person too."""

    def run() -> None:
        try:
            work()
        except Exception as error:
            report(error, body, client, respond)

    return run
