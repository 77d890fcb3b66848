"""Messages of the lifecycle: the checklist in the thread, the rollout announcement."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ContextBlock, SectionBlock

from handlers.rendering.common import rollout_label, slack_date, status_label, user
from handlers.rendering.controls import checklist_controls, decision_actions, rollout_actions
from handlers.rendering.messages import md
from handlers.text import escape, join_lines
from models.release import Release, ReleaseStatus
from models.releases import ReleaseView

BEFORE_DECISION = (
    ReleaseStatus.PROPOSED,
    ReleaseStatus.CHANGES_REQUESTED,
    ReleaseStatus.APPROVED,
)


def checklist_text(view: ReleaseView) -> str:
    done = len(view.checklist) - len(view.open_items)
    return f"Go/no-go checklist for {view.release.ref}: {done}/{len(view.checklist)} done"


def checklist_blocks(view: ReleaseView) -> list[Block]:
    release = view.release
    done = len(view.checklist) - len(view.open_items)
    signed = len(view.approvers) - len(view.pending_approvers)
    blocks: list[Block] = [
        SectionBlock(text=md(f"*Go/no-go checklist* for *{escape(release.ref)}*")),
    ]
    if release.state in BEFORE_DECISION or release.state == ReleaseStatus.NO_GO:
        blocks += checklist_controls(release, view.checklist)
    else:
        lines = [
            (":ballot_box_with_check: " if item.checked else ":white_large_square: ")
            + escape(item.text)
            + (f" — {user(item.checked_by)}" if item.checked else "")
            for item in view.checklist
        ]
        if lines:
            blocks.append(SectionBlock(text=md(join_lines(lines, 3000))))
    blocks.append(
        ContextBlock(
            elements=[
                md(
                    f"{done}/{len(view.checklist)} items done · "
                    f"{signed}/{len(view.approvers)} sign-offs · {status_label(release)}"
                )
            ]
        )
    )
    if release.state in BEFORE_DECISION:
        blocks.append(decision_actions(release))
    elif release.state == ReleaseStatus.NO_GO:
        why = f": {escape(release.status_reason)}" if release.status_reason else ""
        blocks.append(
            SectionBlock(
                text=md(
                    f":no_entry: *No-go* by {user(release.status_by)}{why}\n"
                    f"{user(release.owner_id)} can change it with `/release update` "
                    "to ask again."
                )
            )
        )
    else:
        blocks.append(SectionBlock(text=md(f"*Decision:* {status_label(release)}")))
    return blocks


def announcement_text(release: Release) -> str:
    return f"{release.ref}: {release.state.label}"


def announcement_blocks(release: Release) -> list[Block]:
    ref = escape(release.ref)
    state = release.state
    if state == ReleaseStatus.RELEASED:
        headline = f":tada: *{ref}* is released."
    elif state == ReleaseStatus.ROLLED_BACK:
        why = f": {escape(release.status_reason)}" if release.status_reason else ""
        headline = f":rewind: *{ref}* was rolled back by {user(release.status_by)}{why}"
    elif state == ReleaseStatus.PAUSED:
        headline = f":double_vertical_bar: The rollout of *{ref}* is paused at {_stage(release)}."
    elif release.is_phased:
        headline = f":rocket: *{ref}* is rolling out: {_stage(release)}."
    else:
        headline = f":rocket: *{ref}* is being released now."
    blocks: list[Block] = [
        SectionBlock(text=md(headline)),
        SectionBlock(
            fields=[
                md(f"*Owner*\n{user(release.owner_id)}", 2000),
                md(f"*Planned*\n{slack_date(release.target_at)}", 2000),
                md(f"*Rollout*\n{rollout_label(release)}", 2000),
                md(f"*Status*\n{status_label(release)}", 2000),
            ]
        ),
    ]
    actions = rollout_actions(release)
    if actions is not None:
        blocks.append(actions)
    if release.permalink:
        blocks.append(ContextBlock(elements=[md(f"<{release.permalink}|Release thread>")]))
    return blocks


def _stage(release: Release) -> str:
    pct = release.current_percentage
    if pct is None or release.stage_index is None:
        return "not started"
    return f"{pct}% (stage {release.stage_index + 1} of {len(release.stages)})"
