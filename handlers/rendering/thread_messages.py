"""Messages of the lifecycle: the checklist in the thread, the rollout announcement."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, ContextBlock, SectionBlock

from handlers.rendering.channel_messages import md
from handlers.rendering.controls import (
    CHECKBOXES_PER_ELEMENT,
    checklist_checkboxes,
    decision_actions,
    item_fits,
    rollout_actions,
)
from handlers.rendering.limits import MESSAGE_TEXT, SECTION_TEXT, text_length, within_budget
from handlers.rendering.parts import (
    checklist_lines,
    rollout_label,
    slack_date,
    status_label,
    user,
)
from handlers.slack_kit.mrkdwn import escape, fit_lines
from models.release.queries import ReleaseView
from models.release.records import ChecklistItem, Release, ReleaseStatus
from models.release.rules import Activity, allows

TICK_DATE = "{date_short_pretty} {time}"
# The longest line of a ten-line section, so that the section stays within Slack's limit.
_LINE = SECTION_TEXT // CHECKBOXES_PER_ELEMENT - 1


def checklist_text(view: ReleaseView) -> str:
    done = len(view.checklist) - len(view.open_items)
    return f"Go/no-go checklist for {view.release.ref}: {done}/{len(view.checklist)} done"


def checklist_blocks(view: ReleaseView) -> list[Block]:
    release = view.release
    done = len(view.checklist) - len(view.open_items)
    signed = len(view.approvers) - len(view.pending_approvers)
    head: list[Block] = [
        SectionBlock(text=md(f"*Go/no-go checklist* for *{escape(release.ref)}*")),
    ]
    tail: list[Block] = [
        ContextBlock(
            elements=[
                md(
                    f"{done}/{len(view.checklist)} items done · "
                    f"{signed}/{len(view.approvers)} sign-offs · {status_label(release)}"
                )
            ]
        )
    ]
    if allows(Activity.DECISION_BUTTONS, release.state):
        tail.append(decision_actions(release))
    elif release.state == ReleaseStatus.NO_GO:
        why = f": {escape(release.status_reason)}" if release.status_reason else ""
        tail.append(
            SectionBlock(
                text=md(
                    f":no_entry: *No-go* by {user(release.status_by)}{why}\n"
                    f"{user(release.owner_id)} can change it with `/release update` "
                    "to ask again."
                )
            )
        )
    else:
        tail.append(SectionBlock(text=md(f"*Decision:* {status_label(release)}")))
    if allows(Activity.CHECKBOXES, release.state):
        body = _tickable(release, view.checklist, head + tail)
    else:
        body = _decided(view.checklist, head + tail)
    return within_budget(head + body + tail)


def _groups(items: Sequence[ChecklistItem]) -> list[tuple[int, Sequence[ChecklistItem]]]:
    """Items by tens (a checkbox group holds ten), with the index of the first."""
    return [
        (start, items[start : start + CHECKBOXES_PER_ELEMENT])
        for start in range(0, len(items), CHECKBOXES_PER_ELEMENT)
    ]


def _tickable(release: Release, items: Sequence[ChecklistItem], others: list[Block]) -> list[Block]:
    """Per ten items: the whole text of those too long for a checkbox, the checkboxes, and
    who ticked which when. The long texts share what room the message has left."""
    groups = _groups(items)
    controls = [checklist_checkboxes(release, start, chunk) for start, chunk in groups]
    ticks = [_ticks(start, chunk) for start, chunk in groups]
    fixed = others + controls + [t for t in ticks if t is not None]
    long = [(n, item) for n, item in enumerate(items, 1) if not item_fits(n, item)]
    prefixes = [f"*{n}.* " for n, _ in long]
    texts = fit_lines(
        [escape(item.text) for _, item in long],
        MESSAGE_TEXT - text_length(fixed) - sum(map(len, prefixes)),
        most=_LINE - max(map(len, prefixes), default=0),
    )
    whole = {n: p + t for (n, _), p, t in zip(long, prefixes, texts, strict=True)}
    blocks: list[Block] = []
    for (start, chunk), control, tick in zip(groups, controls, ticks, strict=True):
        mine = [whole[n] for n in range(start + 1, start + len(chunk) + 1) if n in whole]
        if mine:
            blocks.append(SectionBlock(text=md("\n".join(mine))))
        blocks.append(control)
        if tick is not None:
            blocks.append(tick)
    return blocks


def _ticks(start: int, chunk: Sequence[ChecklistItem]) -> ContextBlock | None:
    entries = [
        f"*{n}* by {user(item.checked_by)} {slack_date(item.checked_at, TICK_DATE)}"
        for n, item in enumerate(chunk, start + 1)
        if item.checked_at is not None
    ]
    return ContextBlock(elements=[md("Ticked " + " · ".join(entries))]) if entries else None


def _decided(items: Sequence[ChecklistItem], others: list[Block]) -> list[Block]:
    """After the decision: every item with who ticked it, ten to a section."""
    lines = checklist_lines(items, MESSAGE_TEXT - text_length(others), most=_LINE)
    return [
        SectionBlock(text=md("\n".join(lines[start : start + CHECKBOXES_PER_ELEMENT])))
        for start in range(0, len(lines), CHECKBOXES_PER_ELEMENT)
    ]


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
