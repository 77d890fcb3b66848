"""Who the release managers are, as a private answer."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, ContextBlock, SectionBlock

from handlers.rendering.channel_messages import md
from handlers.rendering.limits import SECTION_TEXT
from handlers.rendering.parts import slack_date, user
from handlers.slack_kit.mrkdwn import join_lines
from models.roles import ReleaseManager


def mention(slack_id: str) -> str:
    """A person (U…/W…) or a user group (S…), as Slack shows them."""
    return f"<!subteam^{slack_id}>" if slack_id.startswith("S") else f"<@{slack_id}>"


def managers_blocks(
    configured: Sequence[str], added: Sequence[ReleaseManager], note: str | None = None
) -> list[Block]:
    lines = [f"• {mention(i)} — from the bot's settings" for i in configured]
    lines += [
        f"• {mention(m.slack_id)} — added by {user(m.added_by)} "
        f"{slack_date(m.added_at, '{date_short_pretty}')}"
        for m in added
        if m.slack_id not in configured
    ]
    body = join_lines(lines, SECTION_TEXT - 100) if lines else "Nobody is named yet."
    blocks: list[Block] = []
    if note:
        blocks.append(SectionBlock(text=md(note)))
    blocks += [
        SectionBlock(text=md(f"*Release managers*\n{body}", SECTION_TEXT)),
        ContextBlock(
            elements=[
                md(
                    "Workspace admins and owners are release managers too. Release managers "
                    "change policy and freezes, and act on any release as its owner would. "
                    "`/release managers add @someone` · `/release managers remove @someone`"
                )
            ]
        ),
    ]
    return blocks


def managers_changed(verb: str, changed: Sequence[str], unchanged: Sequence[str]) -> str:
    names = " ".join(mention(i) for i in changed)
    if verb == "add":
        text = f":white_check_mark: {names} can now act as release managers." if changed else ""
        if unchanged:
            text += " " + " ".join(mention(i) for i in unchanged) + " already were."
        return text.strip()
    return f":heavy_minus_sign: {names} are no longer release managers."
