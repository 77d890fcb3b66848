"""Buttons and checkboxes people click; every action id comes from handlers.ids."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ConfirmObject,
    MarkdownTextObject,
    Option,
    PlainTextObject,
)

from handlers import ids
from handlers.payloads import ChecklistBlock, ReleaseButton
from handlers.rendering.common import slack_date, user
from handlers.text import escape, truncate
from models.release import ChecklistItem, Release, ReleaseStatus

CHECKBOXES_PER_ELEMENT = 10


def _button(
    text: str,
    action_id: str,
    release: Release,
    *,
    style: str | None = None,
    confirm: ConfirmObject | None = None,
) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=text),
        action_id=action_id,
        value=ReleaseButton(release=release.uid).encode(),
        style=style,
        confirm=confirm,
    )


def _confirm(title: str, text: str, confirm: str, *, danger: bool = False) -> ConfirmObject:
    return ConfirmObject(
        title=PlainTextObject(text=truncate(title, 100)),
        text=MarkdownTextObject(text=truncate(text, 300)),
        confirm=PlainTextObject(text=confirm),
        deny=PlainTextObject(text="Not now"),
        style="danger" if danger else "primary",
    )


def sign_off_actions(
    release: Release, *, block_id: str | None = None, edit: bool = False
) -> ActionsBlock:
    ref = escape(release.ref)
    elements = [
        _button(
            "Approve",
            ids.APPROVE,
            release,
            style="primary",
            confirm=_confirm(
                "Sign off this release?",
                f"You approve *{ref}*. Your name and the time are recorded.",
                "Approve",
            ),
        ),
        _button(
            "Request changes",
            ids.REJECT,
            release,
            style="danger",
            confirm=_confirm(
                "Request changes?",
                f"*{ref}* goes back to its owner; you'll be asked what must change.",
                "Continue",
                danger=True,
            ),
        ),
        _button(
            "Withdraw my sign-off",
            ids.WITHDRAW,
            release,
            confirm=_confirm(
                "Withdraw your sign-off?",
                f"*{ref}* will need your approval again before it can go.",
                "Withdraw",
                danger=True,
            ),
        ),
    ]
    if edit:
        elements.append(edit_button(release))
    return ActionsBlock(block_id=block_id or f"signoff-{release.uid}", elements=elements)


def edit_button(release: Release) -> ButtonElement:
    """The owner's way to change version, time or notes (others are told they can't)."""
    return _button("Edit", ids.EDIT, release)


def checklist_controls(release: Release, items: Sequence[ChecklistItem]) -> list[Block]:
    blocks: list[Block] = []
    for start in range(0, len(items), CHECKBOXES_PER_ELEMENT):
        chunk = items[start : start + CHECKBOXES_PER_ELEMENT]
        options = [_item_option(item) for item in chunk]
        checked = [o for o, item in zip(options, chunk, strict=True) if item.checked]
        element = CheckboxesElement(
            action_id=ids.CHECKLIST,
            options=options,
            initial_options=checked or None,
        )
        block_id = ChecklistBlock(release=release.uid, start=start).encode()
        blocks.append(ActionsBlock(block_id=block_id, elements=[element]))
    return blocks


def _item_option(item: ChecklistItem) -> Option:
    description = None
    if item.checked and item.checked_at:
        description = MarkdownTextObject(
            text=f"ticked by {user(item.checked_by)} "
            f"{slack_date(item.checked_at, '{date_short_pretty} {time}')}"
        )
    return Option(
        value=str(item.position),
        text=MarkdownTextObject(text=truncate(escape(item.text), 150)),
        description=description,
    )


def decision_actions(release: Release) -> ActionsBlock:
    ref = escape(release.ref)
    return ActionsBlock(
        block_id=f"decision-{release.uid}",
        elements=[
            _button(
                "Go",
                ids.GO,
                release,
                style="primary",
                confirm=_confirm(
                    "Give the go?",
                    f"*{ref}* starts rolling out and the rollout is announced.",
                    "Go",
                ),
            ),
            _button("No-go", ids.NO_GO, release, style="danger"),
        ],
    )


def rollout_actions(release: Release) -> ActionsBlock | None:
    ref = escape(release.ref)
    elements: list[ButtonElement] = []
    state = release.state
    if state == ReleaseStatus.GO and not release.is_phased:
        elements.append(
            _button(
                "Mark released",
                ids.MARK_RELEASED,
                release,
                style="primary",
                confirm=_confirm(
                    "Mark as released?", f"*{ref}* is recorded as in production.", "Released"
                ),
            )
        )
    if state == ReleaseStatus.ROLLING_OUT and release.stage_index is not None:
        following = release.stages[release.stage_index + 1]
        advance = _button(
            f"Advance to {following}%",
            ids.ADVANCE,
            release,
            style="primary",
            confirm=_confirm(
                f"Advance to {following}%?",
                f"*{ref}* goes out to {following}% of traffic.",
                "Advance",
            ),
        )
        # The stage this click leads to: a double click can't skip one.
        advance.value = ReleaseButton(release=release.uid, stage=following).encode()
        elements.append(advance)
        elements.append(_button("Pause", ids.PAUSE, release))
    if state == ReleaseStatus.PAUSED:
        elements.append(_button("Resume", ids.RESUME, release, style="primary"))
    if state in (ReleaseStatus.GO, ReleaseStatus.ROLLING_OUT, ReleaseStatus.PAUSED):
        elements.append(_button("Roll back", ids.ROLLBACK, release, style="danger"))
    if not elements:
        return None
    return ActionsBlock(block_id=f"rollout-{release.uid}", elements=elements)
