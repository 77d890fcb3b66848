"""Shared calendar links in private answers: a new link (shown once), the list, a revocation."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, ContextBlock, SectionBlock

from handlers.rendering.channel_messages import md
from handlers.rendering.limits import SECTION_TEXT
from handlers.rendering.parts import slack_date, user
from handlers.slack_kit.mrkdwn import escape, escape_inline, join_lines
from models.calendar_feed.subscriptions import SHARED_USE_EVERY
from models.calendar_feed.tokens import CalendarToken


def name_label(token: CalendarToken) -> str:
    return f"*{escape_inline(token.shared_name or '')}*"


def scope_label(token: CalendarToken) -> str:
    """Names the channel only as `<#id>`: Slack shows a private channel's name to its
    members alone."""
    if token.service is not None:
        what = f"releases of {escape(token.service)}"
    elif token.channel_id is not None:
        what = f"releases proposed in <#{token.channel_id}>"
    else:
        what = "every release in this workspace"
    return what + ", except private ones"


def created_blocks(
    token: CalendarToken, webcal: str, https: str, page: str, empty: bool
) -> list[Block]:
    # A private channel's releases are all private: its shared link stays empty.
    none_yet = (
        (" (none yet: check the spelling)" if token.service else " (none yet)") if empty else ""
    )
    return [
        SectionBlock(
            text=md(
                f":link: Shared calendar link {name_label(token)}: {scope_label(token)}"
                f"{none_yet}. Copy it now: it is shown this once and only its hash is kept.\n"
                f"Web page: {page}\nCalendar apps: `{webcal}`\nor by URL: `{https}`",
                SECTION_TEXT,
            )
        ),
        ContextBlock(
            elements=[
                md(
                    "Give it to people outside Slack (support, sales, customers' contacts): "
                    "it never shows a private release. `/release calendar unshare` with "
                    "its name in quotes stops it at once."
                )
            ]
        ),
    ]


def list_blocks(tokens: Sequence[CalendarToken]) -> list[Block]:
    lines = [
        f"• {name_label(t)} — {scope_label(t)}; created by {user(t.user_id)} "
        f"{slack_date(t.created_at, '{date_short_pretty}')}; "
        + (
            f"last used {slack_date(t.last_used_at, '{date_short_pretty} at {time}')}"
            if t.last_used_at
            else "never used"
        )
        for t in tokens
    ]
    body = join_lines(lines, SECTION_TEXT - 100) if lines else "No shared calendar links."
    hours = int(SHARED_USE_EVERY.total_seconds() // 3600)
    return [
        SectionBlock(text=md(f"*Shared calendar links*\n{body}", SECTION_TEXT)),
        ContextBlock(
            elements=[
                md(
                    '`/release calendar share "<name>" [#channel | <service>]` · '
                    '`/release calendar unshare "<name>"` · a use is recorded at most '
                    f"every {hours} hour{'s' if hours != 1 else ''} per link"
                )
            ]
        ),
    ]


def revoked_text(token: CalendarToken) -> str:
    return (
        f":no_entry_sign: Shared calendar link {name_label(token)} is revoked: its page and "
        "feed no longer work."
    )
