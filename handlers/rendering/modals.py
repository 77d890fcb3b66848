"""Modal views."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from slack_sdk.models.blocks import (
    ContextBlock,
    DateTimePickerElement,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    UserMultiSelectElement,
)
from slack_sdk.models.views import View

from handlers.slack_kit import ids
from handlers.slack_kit.mrkdwn import truncate
from handlers.slack_kit.payloads import FormMetadata
from models import fields
from models.release.proposing import MAX_APPROVERS, MAX_NOTES, MAX_REASON
from models.release.queries import ReleaseView


def propose_modal(channel_id: str, default_time: datetime) -> View:
    return View(
        type="modal",
        callback_id=ids.PROPOSE_FORM,
        title=PlainTextObject(text="Propose a release"),
        submit=PlainTextObject(text="Propose"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=FormMetadata(channel_id=channel_id).encode(),
        blocks=[
            InputBlock(
                block_id=fields.FIELD_SERVICE,
                label=PlainTextObject(text="Service"),
                element=PlainTextInputElement(
                    action_id=fields.FIELD_SERVICE,
                    max_length=64,
                    placeholder=PlainTextObject(text="payments-api"),
                ),
            ),
            version_input(None, hint=None),
            when_input(default_time, hint="Shown in your own time zone."),
            approvers_input([], hint=None),
            groups_input(""),
            InputBlock(
                block_id=fields.FIELD_ROLLOUT,
                label=PlainTextObject(text="Phased rollout"),
                optional=True,
                element=PlainTextInputElement(
                    action_id=fields.FIELD_ROLLOUT,
                    max_length=60,
                    placeholder=PlainTextObject(text="10,50,100"),
                ),
                hint=PlainTextObject(text="Percentages in order; leave empty for big-bang."),
            ),
            InputBlock(
                block_id=fields.FIELD_FIXES,
                label=PlainTextObject(text="Fix"),
                optional=True,
                element=PlainTextInputElement(
                    action_id=fields.FIELD_FIXES,
                    max_length=130,
                    placeholder=PlainTextObject(text="payments-api@2.4.0, or just: fix"),
                ),
                hint=PlainTextObject(
                    text="If it fixes an earlier release: that one (service@version or its "
                    "version), or “fix” when you can't name it."
                ),
            ),
            notes_input(None),
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text="The release card is posted in this channel; approvers sign "
                        "off in its thread."
                    )
                ]
            ),
        ],
    )


def edit_modal(view: ReleaseView, metadata: str) -> View:
    """Version, time, notes and approvers, filled in with what the release says now."""
    release = view.release
    people = [a.slack_id for a in view.approvers if not a.is_group]
    return View(
        type="modal",
        callback_id=ids.EDIT_FORM,
        title=PlainTextObject(text=truncate(f"Edit {release.service}", 24)),
        submit=PlainTextObject(text="Save"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=metadata,
        blocks=[
            version_input(release.version, hint="A new version clears every sign-off."),
            when_input(
                release.target_at, hint="A new time keeps the sign-offs; approvers are told."
            ),
            approvers_input(
                people,
                hint="Those you remove take their sign-off along; new ones start pending. "
                "Approvers the policy names stay.",
            ),
            groups_input(groups_text_of(view)),
            digest_input(release.digest),
            notes_input(release.notes or None),
        ],
    )


def digest_input(initial: str | None) -> InputBlock:
    return InputBlock(
        block_id=fields.FIELD_DIGEST,
        label=PlainTextObject(text="Artifact digest"),
        optional=True,
        element=PlainTextInputElement(
            action_id=fields.FIELD_DIGEST,
            max_length=200,
            initial_value=initial,
            placeholder=None if initial else PlainTextObject(text="sha256:…"),
        ),
        hint=PlainTextObject(
            text="What deploys must be this artifact. A new one clears every sign-off."
        ),
    )


def groups_text_of(view: ReleaseView) -> str:
    """The release's approver groups as the form shows them: by handle (by id if unknown)."""
    return " ".join(
        f"@{a.handle}" if a.handle else a.slack_id for a in view.approvers if a.is_group
    )


def approvers_input(initial: list[str], *, hint: str | None) -> InputBlock:
    return InputBlock(
        block_id=fields.FIELD_APPROVERS,
        label=PlainTextObject(text="Approvers"),
        optional=True,
        element=UserMultiSelectElement(
            action_id=fields.FIELD_APPROVERS,
            max_selected_items=MAX_APPROVERS,
            initial_users=initial or None,
            placeholder=PlainTextObject(text="People who must sign off"),
        ),
        hint=PlainTextObject(text=hint) if hint else None,
    )


def groups_input(initial: str) -> InputBlock:
    return InputBlock(
        block_id=fields.FIELD_GROUPS,
        label=PlainTextObject(text="Approver groups"),
        optional=True,
        element=PlainTextInputElement(
            action_id=fields.FIELD_GROUPS,
            max_length=300,
            initial_value=initial or None,
            placeholder=PlainTextObject(text="@qa @security"),
        ),
        hint=PlainTextObject(text="Any one member of a group signs for it."),
    )


def version_input(initial: str | None, *, hint: str | None) -> InputBlock:
    return InputBlock(
        block_id=fields.FIELD_VERSION,
        label=PlainTextObject(text="Version"),
        element=PlainTextInputElement(
            action_id=fields.FIELD_VERSION,
            max_length=64,
            initial_value=initial,
            placeholder=None if initial else PlainTextObject(text="2.4.0"),
        ),
        hint=PlainTextObject(text=hint) if hint else None,
    )


def when_input(initial: datetime, *, hint: str) -> InputBlock:
    return InputBlock(
        block_id=fields.FIELD_WHEN,
        label=PlainTextObject(text="Target date and time"),
        element=DateTimePickerElement(
            action_id=fields.FIELD_WHEN, initial_date_time=int(initial.timestamp())
        ),
        hint=PlainTextObject(text=hint),
    )


def notes_input(initial: str | None) -> InputBlock:
    return InputBlock(
        block_id=fields.FIELD_NOTES,
        label=PlainTextObject(text="Notes or link"),
        optional=True,
        element=PlainTextInputElement(
            action_id=fields.FIELD_NOTES,
            multiline=True,
            max_length=MAX_NOTES,
            initial_value=initial,
        ),
    )


@dataclass(frozen=True)
class ReasonForm:
    """A modal asking for a required reason: which, and its words."""

    callback_id: str
    title: str
    label: str
    submit: str


REQUEST_CHANGES_REASON = ReasonForm(
    ids.REQUEST_CHANGES_FORM, "Request changes", "What needs to change?", "Request"
)
NO_GO_REASON = ReasonForm(ids.NO_GO_FORM, "No-go", "Why is it a no-go?", "Call no-go")
ROLL_BACK_REASON = ReasonForm(ids.ROLL_BACK_FORM, "Roll back", "Why roll back?", "Roll back")
OVERRIDE_FREEZE_REASON = ReasonForm(
    ids.OVERRIDE_FREEZE_FORM,
    "Override freeze",
    "Why must it go out during the freeze? (posted to the escalation channel)",
    "Override",
)


def reason_modal(form: ReasonForm, metadata: str) -> View:
    """A modal asking for a required reason (reject, no-go, roll back)."""
    return View(
        type="modal",
        callback_id=form.callback_id,
        title=PlainTextObject(text=form.title),
        submit=PlainTextObject(text=form.submit),
        close=PlainTextObject(text="Back"),
        private_metadata=metadata,
        blocks=[
            InputBlock(
                block_id=fields.FIELD_REASON,
                label=PlainTextObject(text=form.label),
                element=PlainTextInputElement(
                    action_id=fields.FIELD_REASON, multiline=True, max_length=MAX_REASON
                ),
            )
        ],
    )
