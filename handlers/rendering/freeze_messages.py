"""Freeze messages with blocks: the list of freezes, and a refusal during a freeze with
its "Override freeze" button."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    PlainTextObject,
    SectionBlock,
)

from handlers.rendering.channel_messages import md, notice_blocks
from handlers.rendering.freeze_notes import name, schedule, scope
from handlers.rendering.limits import SECTION_TEXT
from handlers.rendering.parts import slack_date
from handlers.rendering.refusals import override_command
from handlers.rendering.slot_messages import move_actions
from handlers.slack_kit import ids
from handlers.slack_kit.mrkdwn import join_lines
from handlers.slack_kit.payloads import FreezeOverrideButton
from models.errors import Code, DomainError
from models.freezes import Span
from models.release.free_slots import MoveOffer
from models.release.rules import Activity


def span_line(span: Span, now: datetime) -> str:
    freeze = span.freeze
    if span.contains(now):
        when = f"*in force* until {slack_date(span.ends_at)}"
    else:
        when = f"from {slack_date(span.starts_at)} until {slack_date(span.ends_at)}"
    repeat = f" · {schedule(freeze)}" if freeze.recurring else ""
    return f"• {name(freeze.name)} on {scope(freeze.service)}: {when}{repeat}"


def freeze_list_blocks(
    spans: Sequence[Span], now: datetime, note: str | None = None
) -> list[Block]:
    """The freezes in force now, then the next coming ones (one line per freeze)."""
    lines = [span_line(span, now) for span in spans]
    body = join_lines(lines, SECTION_TEXT - 100) if lines else "No freezes are planned."
    blocks: list[Block] = []
    if note:
        blocks.append(SectionBlock(text=md(note)))
    blocks += [
        SectionBlock(text=md(f"*Freezes*\n{body}", SECTION_TEXT)),
        ContextBlock(
            elements=[
                md(
                    "During a freeze, releases of the services it covers can't go, advance or "
                    "be released unless a release manager overrides it. Release managers add "
                    "and remove "
                    'freezes: `/release freeze add "<name>" <from> to <until> [service …]` · '
                    '`/release freeze remove "<name>"`'
                )
            ]
        ),
    ]
    return blocks


def refusal_blocks(error: Exception, text: str) -> list[Block]:
    """A refusal's blocks: the words, and for a freeze, the button to override it (for a
    person who may)."""
    blocks = notice_blocks(text)
    offer = error.data.get("move") if isinstance(error, DomainError) else None
    if isinstance(offer, MoveOffer):
        blocks.append(move_actions(offer))  # the owner's way out of it
    if (
        isinstance(error, DomainError)
        and error.code == Code.FROZEN
        and error.data.get("overridable")
    ):
        data = error.data
        value = FreezeOverrideButton(
            release=str(data["release_uid"]),
            freeze=str(data["freeze_uid"]),
            step=override_command(Activity(str(data["action"]))),
        ).encode()
        blocks.append(
            ActionsBlock(
                block_id=f"override-{data['release_uid']}",
                elements=[
                    ButtonElement(
                        text=PlainTextObject(text="Override freeze"),
                        action_id=ids.OVERRIDE_FREEZE,
                        value=value,
                        style="danger",
                    )
                ],
            )
        )
    return blocks
