"""Messages in channels and threads: the release card, status, list, help."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from handlers.rendering import conflict_notes
from handlers.rendering.controls import edit_button, sign_off_actions
from handlers.rendering.freeze_notes import card_lines
from handlers.rendering.history_messages import track_record_block
from handlers.rendering.limits import (
    FIELD_TEXT,
    MESSAGE_BLOCKS,
    MESSAGE_TEXT,
    SECTION_TEXT,
    text_length,
    within_budget,
)
from handlers.rendering.parts import (
    approver_label,
    checklist_lines,
    ref,
    rollout_label,
    sign_off_line,
    slack_date,
    status_label,
    user,
)
from handlers.rendering.policy_messages import sign_off_rule
from handlers.slack_kit import ids
from handlers.slack_kit.mrkdwn import escape, join_lines, truncate
from handlers.slack_kit.parsing import USAGE
from handlers.slack_kit.payloads import ListPage
from models.audit import AuditEvent
from models.release.conflicts import WindowConflict
from models.release.production import ProductionRecord
from models.release.queries import ReleaseView
from models.release.records import Release, ReleaseStatus
from models.release.rules import Activity, allows
from models.release.service_records import TrackRecord
from models.release.signers import Unsignable

SECTION_LIMIT = SECTION_TEXT
FIELD_LIMIT = FIELD_TEXT
MAX_MESSAGE_BLOCKS = MESSAGE_BLOCKS
LIST_PAGE = 50
_LIST_LINE = 400  # a release's line in the list (ids of 64 characters make it long)
_LIST_TEXT = MESSAGE_TEXT - 1000  # the lines of a page; the rest is header, count, button


def md(text: str, limit: int = SECTION_LIMIT) -> MarkdownTextObject:
    return MarkdownTextObject(text=truncate(text, limit) or " ")


def card_text(view: ReleaseView) -> str:
    """The notification/fallback text of the card (no mentions: it must not ping again)."""
    release = view.release
    return f"{release.ref}: {release.state.label}, {slack_date(release.target_at)}"


def card_blocks(
    view: ReleaseView,
    unsignable: Sequence[Unsignable] = (),
    record: TrackRecord | None = None,
    conflicts: Sequence[WindowConflict] = (),
) -> list[Block]:
    """`unsignable`: open sign-offs nobody may give any more (handlers ask Slack who is in
    each group), said under the sign-offs so the owner knows to change the approvers;
    `record`: the service's track record, in one line of context; `conflicts`: its
    window's in the calendar, as the channel may read them."""
    release = view.release
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=truncate(f"Release {release.ref}", 150))),
        SectionBlock(
            fields=[
                md(f"*Status*\n{status_label(release)}", FIELD_LIMIT),
                md(f"*When*\n{slack_date(release.target_at)}", FIELD_LIMIT),
                md(f"*Owner*\n{user(release.owner_id)}", FIELD_LIMIT),
                md(f"*Rollout*\n{rollout_label(release)}", FIELD_LIMIT),
            ]
        ),
    ]
    if allows(Activity.SHOW_REASON, release.state) and (release.status_by or release.status_reason):
        verb = {
            ReleaseStatus.CANCELLED: "Cancelled",
            ReleaseStatus.NO_GO: "No-go",
            ReleaseStatus.ROLLED_BACK: "Rolled back",
            ReleaseStatus.CHANGES_REQUESTED: "Changes requested",
        }[release.state]
        why = f": {escape(release.status_reason)}" if release.status_reason else ""
        blocks.append(SectionBlock(text=md(f"*{verb}* by {user(release.status_by)}{why}")))
    freeze_lines = card_lines(view)
    if conflicted := conflict_notes.warning(conflicts):
        freeze_lines.append(conflicted)
    if freeze_lines:
        blocks.append(SectionBlock(text=md(join_lines(freeze_lines, SECTION_LIMIT))))
    blocks.append(SectionBlock(text=md(sign_offs_text(view))))
    if unsignable:
        lines = [unsignable_line(gap) for gap in unsignable]
        blocks.append(ContextBlock(elements=[md(join_lines(lines, SECTION_LIMIT))]))
    if view.approvers and allows(Activity.SIGN_OFF_BUTTONS, release.state):
        blocks.append(sign_off_actions(release, edit=True))
    elif allows(Activity.EDIT, release.state):
        blocks.append(ActionsBlock(block_id=f"edit-{release.uid}", elements=[edit_button(release)]))
    if release.notes:
        blocks.append(SectionBlock(text=md(f"*Notes*\n{escape(release.notes)}")))
    if built := build_line(release):
        blocks.append(ContextBlock(elements=[md(built)]))
    if record is not None:
        blocks.append(track_record_block(record))
    fix = " · :adhesive_bandage: fix" if release.is_fix else ""
    blocks.append(
        ContextBlock(
            elements=[
                md(
                    f"`{escape(release.ref)}`{fix} · proposed by {user(release.owner_id)} "
                    f"{slack_date(release.created_at, '{date_short_pretty}')}"
                )
            ]
        )
    )
    return within_budget(blocks)


def build_line(release: Release) -> str:
    """Where a release proposed by a pipeline was built: its pipeline link and commit."""
    parts = []
    if release.pipeline_url:
        # Validated when proposed: http(s), no spaces, no < > | to break out of the link.
        parts.append(f":gear: <{escape(release.pipeline_url)}|Pipeline>")
    if release.commit_sha:
        parts.append(f"commit `{escape(release.commit_sha[:12])}`")
    if release.digest:
        parts.append(f"digest `{escape(release.digest)}`")
    return " · ".join(parts)


def sign_offs_text(view: ReleaseView) -> str:
    if not view.approvers:
        return "*Sign-offs*\nNone required."
    lines = [sign_off_line(a) for a in view.approvers]
    done = len(view.approvers) - len(view.pending_approvers)
    rule = sign_off_rule(view.release, len(view.approvers))
    return join_lines(
        [f"*Sign-offs* ({done}/{len(view.approvers)}) · {rule}", *lines], SECTION_LIMIT
    )


def unsignable_line(gap: Unsignable) -> str:
    label = approver_label(gap.approver)
    if not gap.approver.is_group:
        return (
            f":warning: {label} gave another sign-off on this release, and each comes from a "
            "different person: withdrawing that one lets them sign this."
        )
    signed = sorted(gap.signed)
    who = ", ".join(user(person) for person in signed)
    gave = "another sign-off" if len(signed) == 1 else "other sign-offs"
    if signed and gap.owner_is_member:
        why = f"{who} gave {gave} and its only other member is the owner"
    elif signed:
        why = f"{who} gave {gave} and it has no other members"
    elif gap.owner_is_member:
        why = "its only member is the owner"
    else:
        why = "it has no members"
    return f":warning: {label}: {why}, so nobody can sign for it."


def status_blocks(
    view: ReleaseView,
    events: Sequence[AuditEvent],
    in_production: ProductionRecord | None = None,
    unsignable: Sequence[Unsignable] = (),
    conflicts: Sequence[WindowConflict] = (),
) -> list[Block]:
    """The card as the reader may read it (`conflicts` worded for them), then more."""
    blocks = card_blocks(view, unsignable, conflicts=conflicts)
    if in_production is not None:
        blocks.append(
            ContextBlock(
                elements=[
                    md(
                        f"In production: *{escape(in_production.service)} "
                        f"{escape(in_production.version)}* since "
                        f"{slack_date(in_production.released_at)}"
                    )
                ]
            )
        )
    tail: list[Block] = []
    if view.release.permalink:
        tail.append(
            ContextBlock(elements=[md(f"<{view.release.permalink}|Open the release thread>")])
        )
    # The checklist and the history share the room the card leaves; the history is cut to
    # its latest events, the checklist keeps every item and cuts long ones.
    room = MESSAGE_TEXT - text_length(blocks + tail)
    if view.checklist:
        heading = "*Checklist*\n"
        share = room // 2 if events else room
        lines = checklist_lines(view.checklist, min(SECTION_LIMIT, share) - len(heading))
        checklist = SectionBlock(text=md(heading + "\n".join(lines)))
        blocks.append(checklist)
        room -= text_length([checklist])
    blocks.append(DividerBlock())
    blocks.append(SectionBlock(text=md(timeline_text(events, min(SECTION_LIMIT, room)))))
    return within_budget(blocks + tail)


_EVENT_WORDS = {
    "proposed": "proposed the release",
    "cancelled": "cancelled it",
    "approved": "approved",
    "approval_withdrawn": "withdrew their approval",
    "changes_requested": "requested changes",
    "quorum_reached": "— every sign-off is in",
    "updated": "changed it",
    "checklist_ticked": "ticked",
    "checklist_unticked": "unticked",
    "checklist_added": "added a checklist item",
    "go": "gave the go",
    "no_go": "called no-go",
    "rollout_started": "started the rollout",
    "advanced": "advanced the rollout",
    "paused": "paused the rollout",
    "resumed": "resumed the rollout",
    "released": "marked it released",
    "rolled_back": "rolled it back",
    "reopened": "asked for sign-off again",
    "github_deployment_requested": "GitHub asked to deploy",
    "github_deployment_approved": "answered GitHub: approved",
    "github_deployment_rejected": "answered GitHub: rejected",
    "github_deployment_dropped": "GitHub stopped waiting",
}
# Actors that are no person: the bot itself, GitHub's protection rule.
_NOBODY = ("system", "github")


def timeline_line(event: AuditEvent) -> str:
    words = _EVENT_WORDS.get(event.action, escape(event.action.replace("_", " ")))
    actor = "" if event.actor_id in _NOBODY else user(event.actor_id) + " "
    detail = f": {escape(truncate(event.detail, 200))}" if event.detail else ""
    return f"{slack_date(event.at, '{date_short_pretty} {time}')} {actor}{words}{detail}"


def timeline_text(events: Sequence[AuditEvent], limit: int = SECTION_LIMIT) -> str:
    if not events:
        return "*History*\nNothing recorded yet."
    lines = [timeline_line(e) for e in events]
    # Keep the most recent events when they do not all fit.
    kept: list[str] = []
    used = len("*History*\n") + 40
    for line in reversed(lines):
        if used + len(line) + 1 > limit:
            kept.append(f"…{len(lines) - len(kept)} earlier events")
            break
        kept.append(line)
        used += len(line) + 1
    return "*History*\n" + "\n".join(reversed(kept))


def list_blocks(
    releases: Sequence[Release],
    now: datetime,
    offset: int = 0,
    conflicting: Collection[int] = (),
) -> list[Block]:
    """One page of `releases` from `offset`: as many as fit (at most LIST_PAGE), how many
    there are, and a button for the next page when some are left; those `conflicting` (by
    id) are marked."""
    if not releases:
        return [
            SectionBlock(
                text=md(
                    f"No releases are planned or in flight. Propose one with {USAGE['propose']}."
                )
            )
        ]
    lines: list[str] = []
    used = 0
    for r in releases[offset : offset + LIST_PAGE]:
        line = truncate(
            f"*{ref(r)}* — {status_label(r)} — {slack_date(r.target_at)} — {user(r.owner_id)}"
            + (" :warning: overdue" if r.target_at < now and not r.state.is_in_flight else "")
            + (" :warning: conflicts" if r.id in conflicting else ""),
            _LIST_LINE,
        )
        if lines and used + len(line) + 1 > _LIST_TEXT:
            break
        lines.append(line)
        used += len(line) + 1
    shown_to = offset + len(lines)
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text="Upcoming releases"))]
    # Ten lines a section: within 3,000 characters each, and few blocks.
    blocks += [
        SectionBlock(text=md("\n".join(lines[start : start + 10])))
        for start in range(0, len(lines), 10)
    ]
    blocks.append(
        ContextBlock(
            elements=[
                md(
                    f"Showing {offset + 1}–{shown_to} of {len(releases)}, soonest first · "
                    "`/release status <service@version>` for details"
                )
            ]
        )
    )
    left = len(releases) - shown_to
    if left > 0:
        blocks.append(
            ActionsBlock(
                block_id="list-more",
                elements=[
                    ButtonElement(
                        text=PlainTextObject(text=f"Show more ({left} left)"),
                        action_id=ids.LIST_MORE,
                        value=ListPage(offset=shown_to).encode(),
                    )
                ],
            )
        )
    return blocks


def help_blocks() -> list[Block]:
    lines = [f"• {usage}" for usage in USAGE.values()]
    return [
        SectionBlock(
            text=md(
                "*releasebot* coordinates releases: propose one, approvers sign off in its "
                "thread, the owner decides go or no-go, and the rollout is announced."
            )
        ),
        SectionBlock(text=md("\n".join(lines))),
        ContextBlock(
            elements=[
                md(
                    "Times as you write them, in your own Slack time zone: `tomorrow 14:00`, "
                    "`fri 10:00`, `next monday 9am`, `in 2h`, `dec 3 14:00`, "
                    "`2026-12-03 14:00`; or ISO 8601 with an offset (`2026-12-03T14:00Z`)."
                )
            ]
        ),
    ]


def notice_blocks(text: str) -> list[Block]:
    return [SectionBlock(text=md(text))]


def to_dicts(blocks: Sequence[Block]) -> list[dict]:
    return [block.to_dict() for block in blocks]


def private_answer(blocks: Sequence[Block], text: str) -> dict[str, Any]:
    """A reply through a command's response_url that its person alone sees, posted as a new
    message (not over the one a button was on)."""
    return {
        "response_type": "ephemeral",
        "replace_original": False,
        "blocks": to_dicts(blocks),
        "text": text,
    }
