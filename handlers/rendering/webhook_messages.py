"""Webhooks in private answers: a new one (its secret, shown once), the list, deliveries."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, ContextBlock, SectionBlock

from handlers.rendering.channel_messages import md
from handlers.rendering.limits import SECTION_TEXT
from handlers.rendering.parts import slack_date, user
from handlers.slack_kit.mrkdwn import escape, join_lines, truncate
from models.webhooks import Webhook, WebhookDelivery

USAGE = (
    "`/release webhook add <https-url> [event …]` · `/release webhook list` · "
    "`/release webhook remove <url>` · `/release webhook deliveries <url>`"
)


def events_label(webhook: Webhook) -> str:
    return ", ".join(f"`{e}`" for e in webhook.events) if webhook.events else "all events"


def added_blocks(webhook: Webhook) -> list[Block]:
    return [
        SectionBlock(
            text=md(
                f":satellite_antenna: Webhook added: {escape(webhook.url)} "
                f"({events_label(webhook)})."
                " Its signing secret is below; copy it now, it is not shown again."
                f"\n```{webhook.secret}```"
            )
        ),
        ContextBlock(
            elements=[
                md(
                    "Each delivery is signed: `X-Releasebot-Signature` is `sha256=` and the "
                    "HMAC-SHA256 of `X-Releasebot-Timestamp` + `.` + the body, keyed with the "
                    "secret. The README says how to check it."
                )
            ]
        ),
    ]


def removed_text(webhook: Webhook) -> str:
    return f":heavy_minus_sign: Webhook {escape(webhook.shown_url)} removed."


def list_blocks(hooks: Sequence[Webhook]) -> list[Block]:
    lines = [
        f"• {escape(h.shown_url)} — {events_label(h)}; added by {user(h.created_by)} "
        f"{slack_date(h.created_at, '{date_short_pretty}')}"
        for h in hooks
    ]
    body = join_lines(lines, SECTION_TEXT - 100) if lines else "No webhooks."
    return [
        SectionBlock(text=md(f"*Webhooks*\n{body}", SECTION_TEXT)),
        ContextBlock(elements=[md(USAGE)]),
    ]


def deliveries_blocks(webhook: Webhook, rows: Sequence[WebhookDelivery]) -> list[Block]:
    lines = []
    for row in rows:
        line = (
            f"• {slack_date(row.created_at, '{date_short_pretty} at {time}')} "
            f"`{row.event}` — *{row.status}*, {row.attempts} "
            f"{'try' if row.attempts == 1 else 'tries'}"
        )
        if row.last_error:
            line += f"; last error: {truncate(escape(row.last_error), 120)}"
        lines.append(line)
    body = join_lines(lines, SECTION_TEXT - 100) if lines else "No deliveries yet."
    return [
        SectionBlock(
            text=md(f"*Recent deliveries to {escape(webhook.shown_url)}*\n{body}", SECTION_TEXT)
        )
    ]
