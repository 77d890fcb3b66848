"""`/release verify`: which release an artifact digest was approved as, or that none was."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block

from handlers.rendering.channel_messages import notice_blocks
from handlers.rendering.history_messages import thread_link
from handlers.rendering.parts import slack_date, status_label, user
from handlers.slack_kit.mrkdwn import escape_inline
from models.release.pins import Approved


def _line(approved: Approved) -> str:
    release = approved.release
    signed = ", ".join(user(a.signed_by or a.slack_id) for a in approved.sign_offs)
    parts = [f"*{escape_inline(release.ref)}* — {status_label(release)}"]
    if release.commit_sha:
        parts.append(f"commit `{escape_inline(release.commit_sha[:12])}`")
    parts.append(f"approved by {signed}" if signed else "no sign-offs")
    if approved.in_production_at is not None:
        parts.append(f"in production since {slack_date(approved.in_production_at)}")
    return " — ".join(parts) + thread_link(release)


def verify_blocks(service: str, digest: str, found: Sequence[Approved]) -> list[Block]:
    shown = f"`{escape_inline(digest)}`"
    if not found:
        return notice_blocks(
            f":warning: No release of *{escape_inline(service)}* you can see was approved "
            f"as {shown}."
        )
    lines = [f":white_check_mark: {shown} belongs to:", *(f"• {_line(a)}" for a in found)]
    return notice_blocks("\n".join(lines))
