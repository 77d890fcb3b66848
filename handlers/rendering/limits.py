"""Slack's limits on what a message may hold, and keeping a whole message within them.

slack_sdk checks each block on its own; these are the limits across blocks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from handlers.slack_kit.mrkdwn import truncate

SECTION_TEXT = 3000
FIELD_TEXT = 2000
OPTION_TEXT = 75  # a checkbox's text, and its description
MESSAGE_BLOCKS = 50
# Slack refuses a message whose blocks hold about 12,000 characters of text in all
# (msg_blocks_too_long), counting every text object raw, with its <@U…> and <!date^…> tokens.
# The limit is undocumented and has been seen to bite below 12,000, so messages stay under this.
MESSAGE_TEXT = 10_000
# Below this, a text is not worth cutting further to make room.
_LEAST = 200


def text_length(blocks: Sequence[Block]) -> int:
    """The characters of text in `blocks`, as Slack counts them against MESSAGE_TEXT."""
    return sum(_length(block.to_dict()) for block in blocks)


def _length(node: Any) -> int:
    if isinstance(node, dict):
        own = node.get("text") if node.get("type") in ("mrkdwn", "plain_text") else None
        return (len(own) if isinstance(own, str) else 0) + sum(_length(v) for v in node.values())
    if isinstance(node, list):
        return sum(_length(v) for v in node)
    return 0


def _cuttable(blocks: Sequence[Block]) -> Iterator[MarkdownTextObject]:
    """The texts that may be cut to make room: sections' and context lines' mrkdwn."""
    for block in blocks:
        if isinstance(block, SectionBlock):
            if isinstance(block.text, MarkdownTextObject):
                yield block.text
            for field in block.fields or []:
                if isinstance(field, MarkdownTextObject):
                    yield field
        elif isinstance(block, ContextBlock):
            for element in block.elements:
                if isinstance(element, MarkdownTextObject):
                    yield element


def within_budget(blocks: list[Block], budget: int = MESSAGE_TEXT) -> list[Block]:
    """Cut the longest texts until the message holds at most `budget` characters.

    Renderers share their room out themselves; this is the backstop for the rare message
    where long notes, reasons and histories all come together."""
    excess = text_length(blocks) - budget
    while excess > 0:
        longest = max(_cuttable(blocks), key=lambda t: len(t.text), default=None)
        if longest is None or len(longest.text) <= _LEAST:
            break
        before = len(longest.text)
        longest.text = truncate(longest.text, max(before - excess, _LEAST))
        excess -= before - len(longest.text)
    return blocks
