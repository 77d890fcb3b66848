"""Free slots in words and blocks: the answer to `/release slot`, and the "Move to next free
slot" button (with its confirm dialog naming the new time) under a conflict warning or a
freeze refusal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from handlers.rendering.channel_messages import md, notice_blocks
from handlers.rendering.parts import slack_date
from handlers.slack_kit import ids
from handlers.slack_kit.mrkdwn import escape
from handlers.slack_kit.payloads import MoveButton
from models import durations
from models.release.free_slots import HORIZON, MoveOffer


def window(start: datetime, length: timedelta) -> str:
    """`Tue, Dec 8 at 10:00–11:30`, in the reader's own time zone."""
    return f"{slack_date(start)}–{slack_date(start + length, '{time}')}"


def free_slots_blocks(service: str, length: timedelta, starts: Sequence[datetime]) -> list[Block]:
    title = f"*Next free windows for {escape(service)}* ({durations.words(length)})"
    if starts:
        body = "\n".join(f"• {window(start, length)}" for start in starts)
    else:
        body = f"No free window of that length in the next {HORIZON.days} days."
    return [
        SectionBlock(text=md(f"{title}\n{body}")),
        ContextBlock(
            elements=[
                md(
                    "Inside the release hours, outside every freeze on the service, and "
                    "clear of the releases it would conflict with (times in your time zone)."
                )
            ]
        ),
    ]


def move_actions(offer: MoveOffer) -> ActionsBlock:
    """The owner's button to move the release to the offered time, confirmed first."""
    release_uid, ref, start = offer.release_uid, offer.ref, offer.start
    value = MoveButton.of(release_uid, offer.sequence, start).encode()
    return ActionsBlock(
        block_id=f"move-{release_uid}",
        elements=[
            ButtonElement(
                text=PlainTextObject(text="Move to next free slot"),
                action_id=ids.MOVE_TO_FREE_SLOT,
                value=value,
                confirm=ConfirmObject(
                    title=PlainTextObject(text="Move the release?"),
                    text=MarkdownTextObject(
                        text=f"Move *{escape(ref)}* to {slack_date(start)}? Its sign-offs "
                        "are kept and its approvers are told."
                    ),
                    confirm=PlainTextObject(text="Move it"),
                    deny=PlainTextObject(text="Keep it"),
                ),
            )
        ],
    )


def warning_blocks(text: str, offer: MoveOffer | None = None) -> list[Block]:
    """A conflict warning, with the owner's Move button when a free slot was found."""
    blocks = notice_blocks(text)
    if offer is not None:
        blocks.append(move_actions(offer))
    return blocks


def moved_text(ref: str, start: datetime) -> str:
    return f":calendar: {escape(ref)} is moved to {slack_date(start)}."
