"""Button and checkbox clicks (`block_actions`) on cards, checklists, announcements, Home."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from handlers.deps import Deps
from handlers.flows import steps
from handlers.rendering import conflict_notes, slot_messages
from handlers.rendering.modals import (
    NO_GO_REASON,
    OVERRIDE_FREEZE_REASON,
    REQUEST_CHANGES_REASON,
    ROLL_BACK_REASON,
    ReasonForm,
    edit_modal,
    reason_modal,
)
from handlers.slack import commands
from handlers.slack.context import actor_of, deps_of
from handlers.slack.error_replies import in_background, tell_privately
from handlers.slack_kit import ids
from handlers.slack_kit.payloads import (
    ChecklistBlock,
    FormMetadata,
    FreezeOverrideButton,
    ListPage,
    MoveButton,
    ReleaseButton,
)
from handlers.slack_kit.refused import Refused
from models.release import queries
from models.release.queries import Actor


def form_metadata(body: dict[str, Any], release_uid: str) -> str:
    """What a form carries to its submission: the release, and where to answer privately."""
    return FormMetadata(
        release=release_uid,
        channel_id=_channel_of(body),
        response_url=body.get("response_url"),
    ).encode()


def _channel_of(body: dict[str, Any]) -> str | None:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    return str(channel) if channel else None


def clicked_value(body: dict[str, Any]) -> str:
    try:
        return str(body["actions"][0].get("value") or "")
    except (KeyError, IndexError, TypeError, AttributeError):
        return ""


def resolve(deps: Deps, actor: Actor, release_uid: str) -> int:
    """The release a button or form names, if this person may see it; else "no longer
    exists", exactly as for a release that is gone."""
    with deps.db.read_session() as session:
        return queries.id_by_uid(session, actor, release_uid)


# A click on a button naming a release, after the ack: (deps, client, actor, release id,
# button) -> a private note for the person, if any.
ButtonWork = Callable[[Deps, WebClient, Actor, int, ReleaseButton], str | None]

# Buttons that take a step on their release: action id -> the step.
STEP_BUTTONS: dict[str, ButtonWork] = {
    ids.APPROVE: lambda d, c, a, r, _b: steps.approve(d, c, a, r),
    ids.WITHDRAW: lambda d, c, a, r, _b: steps.withdraw(d, c, a, r),
    ids.GO: lambda d, c, a, r, _b: steps.go(d, c, a, r),
    ids.ADVANCE: lambda d, c, a, r, b: steps.advance(d, c, a, r, b.stage),
    ids.PAUSE: lambda d, c, a, r, _b: steps.pause(d, c, a, r),
    ids.RESUME: lambda d, c, a, r, _b: steps.resume(d, c, a, r),
    ids.MARK_RELEASED: lambda d, c, a, r, _b: steps.mark_released(d, c, a, r),
}

# Buttons whose step needs a reason, refused before anyone writes one: action id ->
# (the check, the form asking for the reason; views.py takes the step on submission).
MayAct = Callable[[Deps, WebClient, Actor, int], object]
REASON_BUTTONS: dict[str, tuple[MayAct, ReasonForm]] = {
    ids.REQUEST_CHANGES: (steps.check_may_sign, REQUEST_CHANGES_REASON),
    ids.NO_GO: (lambda d, c, a, r: steps.check_may_decide(d, c, a, r, "no_go"), NO_GO_REASON),
    ids.ROLL_BACK: (
        lambda d, c, a, r: steps.check_may_decide(d, c, a, r, "roll_back"),
        ROLL_BACK_REASON,
    ),
}


def on_release(
    context: BoltContext,
    body: dict[str, Any],
    client: WebClient,
    respond: Respond,
    work: ButtonWork,
) -> None:
    """After the ack: find the release the clicked button names, then act on it; a note
    or any refusal reaches the person privately."""
    deps, actor = deps_of(context), actor_of(context)
    button = ReleaseButton.parse(clicked_value(body))

    def run() -> None:
        note = work(deps, client, actor, resolve(deps, actor, button.release), button)
        if note:
            tell_privately(note, body, client, respond)

    deps.work.submit(in_background(run, body, client, respond))


def _step_listener(work: ButtonWork) -> Callable[..., None]:
    def clicked(
        ack: Ack, context: BoltContext, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        on_release(context, body, client, respond, work)

    return clicked


def _reason_listener(may: MayAct, form: ReasonForm) -> Callable[..., None]:
    def clicked(
        ack: Ack, context: BoltContext, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()

        def ask(
            deps: Deps, client: WebClient, actor: Actor, release_id: int, button: ReleaseButton
        ) -> None:
            may(deps, client, actor, release_id)
            view = reason_modal(form, form_metadata(body, button.release))
            client.views_open(trigger_id=body["trigger_id"], view=view)

        on_release(context, body, client, respond, ask)

    return clicked


def register(app: App) -> None:
    for action_id, work in STEP_BUTTONS.items():
        app.action(action_id)(_step_listener(work))
    for action_id, (may, form) in REASON_BUTTONS.items():
        app.action(action_id)(_reason_listener(may, form))

    @app.action(ids.EDIT)
    def edit_clicked(
        ack: Ack, context: BoltContext, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()

        def open_edit_form(
            deps: Deps, client: WebClient, actor: Actor, release_id: int, button: ReleaseButton
        ) -> None:
            release = steps.check_may_edit(deps, actor, release_id)
            view = edit_modal(release, form_metadata(body, button.release))
            client.views_open(trigger_id=body["trigger_id"], view=view)

        on_release(context, body, client, respond, open_edit_form)

    @app.action(ids.CHECKLIST)
    def checklist_ticked(
        ack: Ack, context: BoltContext, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        deps, actor = deps_of(context), actor_of(context)
        release_uid, changes = checklist_changes(body)

        def tick() -> None:
            steps.set_item(deps, client, actor, resolve(deps, actor, release_uid), changes)

        deps.work.submit(in_background(tick, body, client, respond))

    @app.action(ids.OVERRIDE_FREEZE)
    def override_freeze_clicked(
        ack: Ack, context: BoltContext, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        deps, actor = deps_of(context), actor_of(context)
        button = FreezeOverrideButton.parse(clicked_value(body))

        def ask_reason() -> None:
            release_id = resolve(deps, actor, button.release)
            steps.check_may_override(deps, client, actor, release_id)
            metadata = FormMetadata(
                release=button.release,
                channel_id=_channel_of(body),
                response_url=body.get("response_url"),
                step=button.step,
            ).encode()
            view = reason_modal(OVERRIDE_FREEZE_REASON, metadata)
            client.views_open(trigger_id=body["trigger_id"], view=view)

        deps.work.submit(in_background(ask_reason, body, client, respond))

    @app.action(ids.MOVE_TO_FREE_SLOT)
    def move_clicked(
        ack: Ack, context: BoltContext, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        deps, actor = deps_of(context), actor_of(context)
        button = MoveButton.parse(clicked_value(body))

        def move() -> None:
            release_id = resolve(deps, actor, button.release)
            moved = steps.move_to_free_slot(
                deps, client, actor, release_id, button.start, button.sequence
            )
            ref = steps.check_may_edit(deps, actor, release_id).release.ref
            text = slot_messages.moved_text(ref, button.start)
            if warning := conflict_notes.warning(moved):
                text = f"{text}\n{warning}"
            tell_privately(text, body, client, respond)

        deps.work.submit(in_background(move, body, client, respond))

    @app.action(ids.LIST_MORE)
    def list_more_clicked(
        ack: Ack, context: BoltContext, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        deps, actor = deps_of(context), actor_of(context)
        offset = ListPage.parse(clicked_value(body)).offset

        def next_page() -> None:
            respond(**commands.list_reply(deps, actor.team_id, actor.reader, offset))

        deps.work.submit(in_background(next_page, body, client, respond))


def checklist_changes(body: dict[str, Any]) -> tuple[str, dict[int, bool]]:
    """What this click changed: the element's options as shown, against what is ticked now.

    The action carries the whole selection as the person saw it, so comparing it with the
    message's initial options yields just this person's change, and never unticks an item
    someone else ticked meanwhile. Returns the release's uid and the changes.
    """
    action = body["actions"][0]
    block_id = str(action.get("block_id", ""))
    release_uid = ChecklistBlock.parse(block_id).release
    try:
        selected = {int(o["value"]) for o in action.get("selected_options") or []}
        shown: set[int] = set()
        before: set[int] = set()
        for block in (body.get("message") or {}).get("blocks", []):
            if block.get("block_id") != block_id:
                continue
            for element in block.get("elements", []):
                shown |= {int(o["value"]) for o in element.get("options", [])}
                before |= {int(o["value"]) for o in element.get("initial_options") or []}
    except (KeyError, TypeError, ValueError):
        raise Refused("That checklist is out of date: open the release again.") from None
    changes = {p: p in selected for p in shown if (p in selected) != (p in before)}
    return release_uid, changes
