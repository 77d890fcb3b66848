"""Buttons and checkboxes people click; every action id comes from handlers.ids."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    CheckboxesElement,
    ConfirmObject,
    MarkdownTextObject,
    Option,
    PlainTextObject,
)

from handlers.rendering.limits import OPTION_TEXT
from handlers.slack_kit import ids
from handlers.slack_kit.mrkdwn import escape, truncate
from handlers.slack_kit.payloads import ChecklistBlock, ReleaseButton
from models.release.records import ChecklistItem, Release
from models.release.rules import Activity, allows

CHECKBOXES_PER_ELEMENT = 10
# A long item's checkbox shows its number and first words; its whole text is above.
SHORT_LABEL = 40


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
            ids.REQUEST_CHANGES,
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


def item_label(number: int, item: ChecklistItem) -> str:
    """A checkbox's text: `3. Release notes written`, whole when it fits Slack's 75
    characters (as rendered: escaping makes `&` five), else cut short. A cut item's whole
    text is shown above its checkboxes."""
    label = _whole_label(number, item)
    return label if len(label) <= OPTION_TEXT else truncate(label, SHORT_LABEL)


def item_fits(number: int, item: ChecklistItem) -> bool:
    return len(_whole_label(number, item)) <= OPTION_TEXT


def _whole_label(number: int, item: ChecklistItem) -> str:
    return f"{number}. {escape(item.text)}"


def checklist_checkboxes(
    release: Release, start: int, items: Sequence[ChecklistItem]
) -> ActionsBlock:
    """Items `start`… (at most ten, Slack's limit per checkbox group), numbered from start+1.

    Who ticked an item is not shown here: an option's description holds 75 characters, too
    few for a mention and a date token."""
    options = [
        Option(value=str(item.position), text=MarkdownTextObject(text=item_label(start + i, item)))
        for i, item in enumerate(items, 1)
    ]
    checked = [o for o, item in zip(options, items, strict=True) if item.checked]
    element = CheckboxesElement(
        action_id=ids.CHECKLIST, options=options, initial_options=checked or None
    )
    block_id = ChecklistBlock(release=release.uid, start=start).encode()
    return ActionsBlock(block_id=block_id, elements=[element])


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
    # A phased rollout is released by its last Advance.
    if allows(Activity.MARK_RELEASED, state) and not release.is_phased:
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
    if allows(Activity.ADVANCE, state) and release.stage_index is not None:
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
    if allows(Activity.PAUSE, state):
        elements.append(_button("Pause", ids.PAUSE, release))
    if allows(Activity.RESUME, state):
        elements.append(_button("Resume", ids.RESUME, release, style="primary"))
    if allows(Activity.ROLL_BACK, state):
        elements.append(_button("Roll back", ids.ROLL_BACK, release, style="danger"))
    if not elements:
        return None
    return ActionsBlock(block_id=f"rollout-{release.uid}", elements=elements)
