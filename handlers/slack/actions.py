"""Button and checkbox clicks (`block_actions`) on cards, checklists, announcements, Home."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
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
from handlers.rendering.refusals import Refused
from handlers.slack import commands, ids
from handlers.slack.error_replies import in_background, tell_privately
from handlers.slack.payloads import (
    ChecklistBlock,
    FormMetadata,
    FreezeOverrideButton,
    ListPage,
    MoveButton,
    ReleaseButton,
)
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


def actor_of(body: dict[str, Any]) -> Actor:
    team = (body.get("team") or {}).get("id") or body["user"]["team_id"]
    return Actor(str(team), str(body["user"]["id"]), _channel_of(body))


def clicked_button(body: dict[str, Any]) -> ReleaseButton:
    try:
        value = body["actions"][0]["value"]
    except (KeyError, IndexError, TypeError):
        value = ""
    return ReleaseButton.parse(value)


def resolve(deps: Deps, actor: Actor, release_uid: str) -> int:
    """The release a button or form names, if this person may see it; else "no longer
    exists", exactly as for a release that is gone."""
    with deps.db.read_session() as session:
        return queries.id_by_uid(session, actor, release_uid)


# What a click on a release's button does, after the ack: (actor, release id, button).
OnRelease = Callable[[Actor, int, ReleaseButton], object]


def on_release(
    deps: Deps, body: dict[str, Any], client: WebClient, respond: Respond, work: OnRelease
) -> None:
    """After the ack: find the release the clicked button names, then act on it; any
    refusal reaches the person privately."""
    actor, button = actor_of(body), clicked_button(body)

    def run() -> None:
        work(actor, resolve(deps, actor, button.release), button)

    deps.work.submit(in_background(run, body, client, respond))


def open_reason_form(
    deps: Deps,
    body: dict[str, Any],
    client: WebClient,
    respond: Respond,
    may: Callable[[Actor, int], object],
    form: ReasonForm,
) -> None:
    """Refuse before anyone writes a reason; then ask for it in a modal."""

    def ask(actor: Actor, release_id: int, button: ReleaseButton) -> None:
        may(actor, release_id)
        view = reason_modal(form, form_metadata(body, button.release))
        client.views_open(trigger_id=body["trigger_id"], view=view)

    on_release(deps, body, client, respond, ask)


def open_decision_form(
    deps: Deps,
    body: dict[str, Any],
    client: WebClient,
    respond: Respond,
    action: str,
    form: ReasonForm,
) -> None:
    """An owner's (or a release manager's) decision that needs a reason: no-go, roll back."""

    def may(actor: Actor, release_id: int) -> None:
        steps.check_may_decide(deps, client, actor, release_id, action)

    open_reason_form(deps, body, client, respond, may, form)


def register(app: App, deps: Deps) -> None:
    @app.action(ids.APPROVE)
    def approve_clicked(
        ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()

        def approve(actor: Actor, release_id: int, _button: ReleaseButton) -> None:
            note = steps.approve(deps, client, actor, release_id)
            if note:
                tell_privately(note, body, client, respond)

        on_release(deps, body, client, respond, approve)

    @app.action(ids.REQUEST_CHANGES)
    def request_changes_clicked(
        ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        open_reason_form(
            deps,
            body,
            client,
            respond,
            lambda actor, release_id: steps.check_may_sign(deps, client, actor, release_id),
            REQUEST_CHANGES_REASON,
        )

    @app.action(ids.WITHDRAW)
    def withdraw_clicked(
        ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        on_release(deps, body, client, respond, lambda a, r, _b: steps.withdraw(deps, client, a, r))

    @app.action(ids.EDIT)
    def edit_clicked(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()

        def open_edit_form(actor: Actor, release_id: int, button: ReleaseButton) -> None:
            release = steps.check_may_edit(deps, actor, release_id)
            view = edit_modal(release, form_metadata(body, button.release))
            client.views_open(trigger_id=body["trigger_id"], view=view)

        on_release(deps, body, client, respond, open_edit_form)

    @app.action(ids.CHECKLIST)
    def checklist_ticked(
        ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        actor = actor_of(body)
        release_uid, changes = checklist_changes(body)

        def tick() -> None:
            steps.set_item(deps, client, actor, resolve(deps, actor, release_uid), changes)

        deps.work.submit(in_background(tick, body, client, respond))

    @app.action(ids.GO)
    def go_clicked(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        on_release(deps, body, client, respond, lambda a, r, _b: steps.go(deps, client, a, r))

    @app.action(ids.NO_GO)
    def no_go_clicked(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        open_decision_form(deps, body, client, respond, "no_go", NO_GO_REASON)

    @app.action(ids.ADVANCE)
    def advance_clicked(
        ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        on_release(
            deps,
            body,
            client,
            respond,
            lambda actor, release_id, button: steps.advance(
                deps, client, actor, release_id, button.stage
            ),
        )

    @app.action(ids.PAUSE)
    def pause_clicked(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        on_release(deps, body, client, respond, lambda a, r, _b: steps.pause(deps, client, a, r))

    @app.action(ids.RESUME)
    def resume_clicked(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        on_release(deps, body, client, respond, lambda a, r, _b: steps.resume(deps, client, a, r))

    @app.action(ids.MARK_RELEASED)
    def mark_released_clicked(
        ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        on_release(
            deps, body, client, respond, lambda a, r, _b: steps.mark_released(deps, client, a, r)
        )

    @app.action(ids.ROLL_BACK)
    def roll_back_clicked(
        ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        open_decision_form(deps, body, client, respond, "roll_back", ROLL_BACK_REASON)

    @app.action(ids.OVERRIDE_FREEZE)
    def override_freeze_clicked(
        ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        actor = actor_of(body)
        button = FreezeOverrideButton.parse((body.get("actions") or [{}])[0].get("value"))

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
    def move_clicked(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        actor = actor_of(body)
        button = MoveButton.parse((body.get("actions") or [{}])[0].get("value"))

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
        ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        actor = actor_of(body)
        offset = ListPage.parse(body["actions"][0].get("value")).offset

        def next_page() -> None:
            respond(**commands.list_reply(deps, actor.team_id, actor.viewer, offset))

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
