"""API tokens in private answers: the new token (shown once), the list, a revocation."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, ContextBlock, SectionBlock

from handlers.rendering.channel_messages import md
from handlers.rendering.limits import SECTION_TEXT
from handlers.rendering.parts import slack_date, user
from handlers.slack_kit.mrkdwn import escape, join_lines
from models.api.api_tokens import CLI_ACTOR, ApiToken, ListedToken


def scope_label(token: ApiToken) -> str:
    return ", ".join(escape(s) for s in token.scope) if token.scope else "all services"


def created_blocks(token: ApiToken, raw: str, api_url: str) -> list[Block]:
    return [
        SectionBlock(
            text=md(
                f":key: API token *{escape(token.name)}* ({scope_label(token)}), acting for "
                f"{user(token.owner_id)}. Copy it now: it is shown this once and only its "
                f"hash is kept.\n```{raw}```"
            )
        ),
        ContextBlock(
            elements=[
                md(
                    f"Send it as `Authorization: Bearer …` to {escape(api_url)}. "
                    f"`/release token revoke {escape(token.name)}` stops it at once."
                )
            ]
        ),
    ]


def list_blocks(tokens: Sequence[ListedToken]) -> list[Block]:
    lines = [_listed_line(t) for t in tokens]
    body = join_lines(lines, SECTION_TEXT - 100) if lines else "No live tokens."
    return [
        SectionBlock(text=md(f"*API tokens*\n{body}", SECTION_TEXT)),
        ContextBlock(
            elements=[
                md("`/release token create <name> [service …]` · `/release token revoke <name>`")
            ]
        ),
    ]


def _listed_line(listed: ListedToken) -> str:
    t = listed.token
    line = (
        f"• *{escape(t.name)}* — {scope_label(t)}; created by {_creator(t)} "
        f"{slack_date(t.created_at, '{date_short_pretty}')}, acting for {user(t.owner_id)}; "
        + (
            f"last used {slack_date(t.last_used_at, '{date_short_pretty} at {time}')}"
            if t.last_used_at
            else "never used"
        )
    )
    if listed.lost:
        line += (
            f"\n   :warning: {user(t.owner_id)} is not a release manager now, so it can't "
            + " nor ".join(use.value for use in listed.lost)
            + "."
        )
    return line


def revoked_text(token: ApiToken) -> str:
    return f":no_entry_sign: API token *{escape(token.name)}* is revoked: it no longer works."


def _creator(token: ApiToken) -> str:
    return "a set-up script" if token.created_by == CLI_ACTOR else user(token.created_by)
