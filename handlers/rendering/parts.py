"""Pieces every surface shares: dates, people, statuses."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from handlers.slack_kit.mrkdwn import escape, escape_inline, fit_lines
from models.release.proposing import ApproverSpec
from models.release.records import (
    Approver,
    ApproverKind,
    ChecklistItem,
    Release,
    ReleaseStatus,
    SignOffState,
)

STATUS_EMOJI = {
    ReleaseStatus.PROPOSED: ":hourglass_flowing_sand:",
    ReleaseStatus.CHANGES_REQUESTED: ":warning:",
    ReleaseStatus.APPROVED: ":white_check_mark:",
    ReleaseStatus.GO: ":rocket:",
    ReleaseStatus.ROLLING_OUT: ":rocket:",
    ReleaseStatus.PAUSED: ":double_vertical_bar:",
    ReleaseStatus.RELEASED: ":tada:",
    ReleaseStatus.NO_GO: ":no_entry:",
    ReleaseStatus.ROLLED_BACK: ":rewind:",
    ReleaseStatus.CANCELLED: ":x:",
}

SIGN_OFF_EMOJI = {
    SignOffState.PENDING: ":hourglass:",
    SignOffState.APPROVED: ":white_check_mark:",
    SignOffState.REJECTED: ":x:",
}


def slack_date(when: datetime, style: str = "{date_short_pretty} at {time}") -> str:
    """A `<!date^…>` token: every reader sees the time in their own time zone."""
    utc = when.astimezone(UTC)
    fallback = utc.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(utc.timestamp())}^{style}|{fallback}>"


def user(user_id: str | None) -> str:
    return f"<@{user_id}>" if user_id else "someone"


def approver_label(approver: Approver) -> str:
    if approver.is_group:
        return f"<!subteam^{approver.slack_id}>"
    return f"<@{approver.slack_id}>"


def spec_label(spec: ApproverSpec) -> str:
    if spec.kind == ApproverKind.USERGROUP:
        return f"<!subteam^{spec.slack_id}>"
    return f"<@{spec.slack_id}>"


def ref(release: Release) -> str:
    """`service@version`, safe inside bold text."""
    return escape_inline(release.ref)


def status_label(release: Release) -> str:
    return f"{STATUS_EMOJI[release.state]} {release.state.label}"


def rollout_label(release: Release) -> str:
    if not release.is_phased:
        return "Big-bang"
    stages = []
    for index, pct in enumerate(release.stages):
        label = f"{pct}%"
        if release.stage_index is not None and index == release.stage_index:
            label = f"*{label}*"
        stages.append(label)
    return "Phased " + " → ".join(stages)


def sign_off_line(approver: Approver) -> str:
    state = approver.sign_off
    line = f"{SIGN_OFF_EMOJI[state]} {approver_label(approver)}"
    if state == SignOffState.APPROVED and approver.signed_at:
        by = f" by {user(approver.signed_by)}" if approver.is_group else ""
        line += f" approved{by} {slack_date(approver.signed_at, '{date_short_pretty} {time}')}"
    elif state == SignOffState.REJECTED:
        by = f" by {user(approver.signed_by)}" if approver.is_group else ""
        line += f" requested changes{by}"
        if approver.reason:
            line += f": {escape(approver.reason)}"
    else:
        line += " pending"
    return line


def checklist_lines(
    items: Sequence[ChecklistItem], limit: int, *, most: int | None = None
) -> list[str]:
    """`☑ 3. Release notes written — @who` per item, the texts cut (longest first) so that
    every line fits in `limit` characters, each line at most `most`."""
    heads = [
        f"{':ballot_box_with_check:' if item.checked else ':white_large_square:'} *{n}.* "
        for n, item in enumerate(items, 1)
    ]
    tails = [f" — {user(item.checked_by)}" if item.checked else "" for item in items]
    overhead = [len(h) + len(t) for h, t in zip(heads, tails, strict=True)]
    texts = fit_lines(
        [escape(item.text) for item in items],
        limit - sum(overhead),
        most=None if most is None else most - max(overhead, default=0),
    )
    return [h + t + w for h, t, w in zip(heads, texts, tails, strict=True)]
