"""The release policy in words: what is in force and where from, its history, the edit form."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    ConversationFilter,
    ConversationSelectElement,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
    UserMultiSelectElement,
)
from slack_sdk.models.views import View

from handlers.rendering.limits import SECTION_TEXT
from handlers.rendering.parts import slack_date, spec_label, user
from handlers.rendering.refusals import POLICY_ACCEPTS
from handlers.slack_kit import ids
from handlers.slack_kit.mrkdwn import escape, join_lines, truncate
from handlers.slack_kit.payloads import PolicyButton
from models import durations
from models.policy import Effective, HistoryEntry, Key, Policy, Scope, Source, Value
from models.release.digest_schedule import DigestSchedule
from models.release.proposing import MAX_APPROVERS, ApproverSpec
from models.release.quorum import Quorum, QuorumKind
from models.release.records import ApproverKind, Release
from models.release.release_hours import ReleaseHours

INHERIT = "inherit"


def quorum_words(rule: Quorum, approvers: int | None = None) -> str:
    """`all`, `any 2` ("2 of 3" when the number of approvers is known), `each-group`."""
    if rule.kind == QuorumKind.COUNT:
        if approvers is None:
            return f"any {rule.count}"
        return f"{rule.needed(approvers)} of {approvers}"
    if rule.kind == QuorumKind.EACH_GROUP:
        return "one per group and every person"
    return "all" if approvers is None else f"all {approvers}"


def value_text(key: Key, value: Value | None) -> str:
    """A policy value as mrkdwn (mentions, channels, escaped text)."""
    if value is None:
        return "_not set_"
    if key == Key.APPROVERS:
        specs = (
            [a for a in value if isinstance(a, ApproverSpec)] if isinstance(value, tuple) else []
        )
        return ", ".join(spec_label(a) for a in specs) or "none"
    if isinstance(value, Quorum):
        return quorum_words(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key == Key.CHECKLIST and isinstance(value, tuple):
        return "; ".join(escape(str(item)) for item in value) or "none"
    if key in (Key.ANNOUNCE, Key.ESCALATION):
        return f"<#{value}>" if value else "none"
    if key == Key.REMINDERS and isinstance(value, tuple):
        return ", ".join(durations.words(o) for o in value if isinstance(o, timedelta)) or "none"
    if key == Key.WINDOW and isinstance(value, int):
        return durations.words(timedelta(minutes=value))
    if isinstance(value, ReleaseHours):
        return escape(value.label)
    if isinstance(value, DigestSchedule):
        return f"<#{value.channel_id}> {escape(value.when)}"
    if key == Key.DEPENDS_ON and isinstance(value, tuple):
        return ", ".join(escape(str(name)) for name in value) or "none"
    return escape(str(value))


def _default_text(key: Key, value: Value | None) -> str:
    if key == Key.ANNOUNCE and not value:
        return "the release's own channel"
    if key == Key.ESCALATION and not value:
        return "none"
    if key == Key.RELEASE_HOURS and value is None:
        return "any time"
    if key == Key.MAX_CONCURRENT and value is None:
        return "unlimited"
    if key == Key.WEEKLY_DIGEST and value is None:
        return "none"
    return value_text(key, value)


def _source_text(source: Source, found: Effective) -> str:
    if source == Source.SERVICE:
        return f"from service {escape(found.service or '')}"
    if source == Source.CHANNEL:
        return "from this channel"
    return "default (the bot's settings)"


def policy_blocks(found: Effective, *, manager: bool, note: str | None = None) -> list[Block]:
    """The policy in force here, each value with where it comes from; Edit for managers."""
    title = "Release policy" + (f" for {found.service}" if found.service else "")
    lines = [
        f"*{key}*: {_default_text(key, found.policy.get(key))} — "
        f"_{_source_text(found.sources[key], found)}_"
        for key in Key
    ]
    where = f"in <#{found.channel_id}>" + (
        f" for releases of *{escape(found.service)}*" if found.service else ""
    )
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=truncate(title, 150)))]
    if note:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=truncate(note, SECTION_TEXT))))
    blocks += [
        SectionBlock(
            text=MarkdownTextObject(
                text=join_lines([f"What applies {where}:", *lines], SECTION_TEXT)
            )
        ),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="A service's value wins over the channel's, and the channel's over "
                    "the settings. A release keeps the policy it was proposed under. "
                    "`/release policy history` shows the changes."
                )
            ]
        ),
    ]
    if manager:
        blocks.append(
            ActionsBlock(
                block_id="policy-edit",
                elements=[
                    ButtonElement(
                        text=PlainTextObject(text="Edit this channel's policy"),
                        action_id=ids.POLICY_EDIT,
                        value=PolicyButton(channel=found.channel_id).encode(),
                    )
                ],
            )
        )
    return blocks


def _place(scope: Scope, target: str) -> str:
    return f"service *{escape(target)}*" if scope == Scope.SERVICE else f"<#{target}>"


def change_text(entry_scope: Scope, target: str, key: Key, after: Value | None) -> str:
    if after is None:
        return f"`{key}` is no longer set for {_place(entry_scope, target)}: it is inherited."
    return f"`{key}` for {_place(entry_scope, target)} is now {value_text(key, after)}."


def history_blocks(entries: Sequence[HistoryEntry], channel_id: str) -> list[Block]:
    if not entries:
        text = f"No policy changes yet for <#{channel_id}> or any service."
        return [SectionBlock(text=MarkdownTextObject(text=text))]
    lines = []
    for entry in entries:
        change = entry.change
        lines.append(
            f"{slack_date(entry.event.at, '{date_short_pretty} {time}')} "
            f"{user(entry.event.actor_id)} · `{change.key}` for "
            f"{_place(change.scope, change.target)}: "
            f"{value_text(change.key, change.before)} → {value_text(change.key, change.after)}"
        )
    # Newest kept when they do not all fit.
    kept: list[str] = []
    used = 100
    for line in reversed(lines):
        line = truncate(line, 600)
        if used + len(line) + 1 > SECTION_TEXT:
            break
        kept.append(line)
        used += len(line) + 1
    return [
        HeaderBlock(text=PlainTextObject(text="Release policy history")),
        SectionBlock(
            text=MarkdownTextObject(
                text=f"Changes to <#{channel_id}> and to services, oldest first:\n"
                + "\n".join(reversed(kept))
            )
        ),
    ]


def sign_off_rule(release: Release, approvers: int) -> str:
    """The quorum a release's card shows next to its sign-offs: "2 of 3 needed"."""
    from models.release.quorum import of

    rule = of(release.quorum)
    words = quorum_words(rule, approvers)
    owner = " · the owner may sign" if release.owner_can_approve else ""
    return f"{words} needed{owner}"


# --- the form ---------------------------------------------------------------------------


def _text_input(
    key: Key, initial: str | None, inherited: str, *, multiline: bool = False, max_length: int = 300
) -> InputBlock:
    return InputBlock(
        block_id=key.field,
        label=PlainTextObject(text=str(key)),
        optional=True,
        element=PlainTextInputElement(
            action_id=key.field,
            initial_value=initial or None,
            multiline=multiline,
            max_length=max_length,
            placeholder=PlainTextObject(text=truncate(f"inherited: {inherited}", 150)),
        ),
        hint=PlainTextObject(
            text=truncate(f"Accepts {_plain(POLICY_ACCEPTS[key])}. Empty: inherited.", 2000)
        ),
    )


def _plain(text: str) -> str:
    return text.replace("`", "")


def _plain_value(key: Key, value: Value | None) -> str:
    """A value as the form's text inputs show it."""
    if value is None:
        return ""
    if isinstance(value, Quorum):
        return value.text
    if key == Key.CHECKLIST and isinstance(value, tuple):
        return "; ".join(str(item) for item in value)
    if key == Key.REMINDERS and isinstance(value, tuple):
        return ",".join(durations.typed(o) for o in value if isinstance(o, timedelta))
    if key == Key.WINDOW and isinstance(value, int):
        return durations.typed(timedelta(minutes=value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def policy_modal(
    channel_id: str, own: Mapping[Key, Value], inherited: Policy, metadata: str
) -> View:
    """This channel's own values (empty: inherited from the settings), to edit."""
    approvers = own.get(Key.APPROVERS)
    specs = (
        [a for a in approvers if isinstance(a, ApproverSpec)]
        if isinstance(approvers, tuple)
        else []
    )
    people = [a.slack_id for a in specs if a.kind == ApproverKind.USER]
    groups = " ".join(
        f"@{a.handle}" if a.handle else a.slack_id
        for a in specs
        if a.kind == ApproverKind.USERGROUP
    )
    flag = own.get(Key.OWNER_CAN_APPROVE)
    options = [
        Option(
            value=INHERIT,
            text=PlainTextObject(
                text=f"inherited ({'yes' if inherited.owner_can_approve else 'no'})"
            ),
        ),
        Option(value="no", text=PlainTextObject(text="no")),
        Option(value="yes", text=PlainTextObject(text="yes")),
    ]
    chosen = options[0] if flag is None else options[2 if flag else 1]

    def channel_input(key: Key) -> InputBlock:
        value = own.get(key)
        return InputBlock(
            block_id=key.field,
            label=PlainTextObject(text=str(key)),
            optional=True,
            element=ConversationSelectElement(
                action_id=key.field,
                initial_conversation=str(value) if value else None,
                filter=ConversationFilter(include=["public", "private"]),
                placeholder=PlainTextObject(text="inherited" if key == Key.ANNOUNCE else "none"),
            ),
            hint=PlainTextObject(text="A channel I am in. Empty: inherited."),
        )

    return View(
        type="modal",
        callback_id=ids.POLICY_FORM,
        title=PlainTextObject(text="Channel policy"),
        submit=PlainTextObject(text="Save"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=metadata,
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"The release policy of <#{channel_id}>. Empty fields inherit the "
                    "bot's settings; a service's own policy still wins. Releases already "
                    "proposed keep theirs."
                )
            ),
            InputBlock(
                block_id=Key.APPROVERS.field,
                label=PlainTextObject(text="approvers"),
                optional=True,
                element=UserMultiSelectElement(
                    action_id=Key.APPROVERS.field,
                    max_selected_items=MAX_APPROVERS,
                    initial_users=people or None,
                    placeholder=PlainTextObject(text="People every release here needs"),
                ),
                hint=PlainTextObject(
                    text="Added to those a proposal names; nobody removes them from a release."
                ),
            ),
            InputBlock(
                block_id=ids.FIELD_POLICY_GROUPS,
                label=PlainTextObject(text="approver groups"),
                optional=True,
                element=PlainTextInputElement(
                    action_id=ids.FIELD_POLICY_GROUPS,
                    max_length=300,
                    initial_value=groups or None,
                    placeholder=PlainTextObject(text="@qa @security"),
                ),
                hint=PlainTextObject(text="Any one member of a group signs for it."),
            ),
            _text_input(
                Key.QUORUM,
                _plain_value(Key.QUORUM, own.get(Key.QUORUM)),
                quorum_words(inherited.quorum),
                max_length=20,
            ),
            InputBlock(
                block_id=Key.OWNER_CAN_APPROVE.field,
                label=PlainTextObject(text="owner-can-approve"),
                element=StaticSelectElement(
                    action_id=Key.OWNER_CAN_APPROVE.field,
                    options=options,
                    initial_option=chosen,
                ),
            ),
            _text_input(
                Key.CHECKLIST,
                _plain_value(Key.CHECKLIST, own.get(Key.CHECKLIST)),
                _plain_value(Key.CHECKLIST, inherited.checklist),
                multiline=True,
                max_length=2000,
            ),
            channel_input(Key.ANNOUNCE),
            channel_input(Key.ESCALATION),
            _text_input(
                Key.REMINDERS,
                _plain_value(Key.REMINDERS, own.get(Key.REMINDERS)),
                _plain_value(Key.REMINDERS, inherited.reminders),
                max_length=60,
            ),
            _text_input(
                Key.WINDOW,
                _plain_value(Key.WINDOW, own.get(Key.WINDOW)),
                _plain_value(Key.WINDOW, inherited.window_minutes),
                max_length=10,
            ),
        ],
    )
