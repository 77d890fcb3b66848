"""Button and checkbox clicks (`block_actions`) on cards, checklists, announcements, Home."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from handlers.deps import Deps
from handlers.flows import steps
from handlers.rendering.modals import edit_modal, reason_modal
from handlers.rendering.refusals import Refused
from handlers.slack import commands, ids
from handlers.slack.error_replies import in_background, tell_privately
from handlers.slack.payloads import ChecklistBlock, FormMetadata, ListPage, ReleaseButton
from models.release import queries
from models.release.queries import Actor

# Buttons whose click needs nothing but the release: action id -> operation.
SIMPLE_BUTTONS: dict[str, Callable[[Deps, WebClient, Actor, int], None]] = {
    ids.WITHDRAW: steps.withdraw,
    ids.GO: steps.go,
    ids.MARK_RELEASED: steps.mark_released,
    ids.PAUSE: steps.pause,
    ids.RESUME: steps.resume,
}

# May this person do it? Raises a domain error if not: asked before any form opens.
Check = Callable[[Deps, WebClient, Actor, int], object]


def _may_decide(action: str) -> Check:
    return lambda deps, _client, actor, release_id: steps.check_may_decide(
        deps, actor, release_id, action
    )


# Buttons that ask for a reason first: action id -> (check, modal callback id, title,
# label, submit).
REASON_BUTTONS: dict[str, tuple[Check, str, str, str, str]] = {
    ids.REJECT: (
        steps.check_may_sign,
        ids.REJECT_MODAL,
        "Request changes",
        "What needs to change?",
        "Request",
    ),
    ids.NO_GO: (_may_decide("no_go"), ids.NO_GO_MODAL, "No-go", "Why is it a no-go?", "Call no-go"),
    ids.ROLLBACK: (
        _may_decide("roll_back"),
        ids.ROLLBACK_MODAL,
        "Roll back",
        "Why roll back?",
        "Roll back",
    ),
}


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


def register(app: App, deps: Deps) -> None:
    def later(
        body: dict[str, Any], client: WebClient, respond: Respond | None, work: Callable[[], object]
    ) -> None:
        deps.work.submit(in_background(work, body, client, respond))

    def on_release(
        body: dict[str, Any],
        client: WebClient,
        respond: Respond,
        work: Callable[[Actor, int, ReleaseButton], None],
    ) -> None:
        """After the ack: find the release the clicked button names, then act on it."""
        actor, button = actor_of(body), clicked_button(body)
        later(
            body, client, respond, lambda: work(actor, resolve(deps, actor, button.release), button)
        )

    @app.action(ids.APPROVE)
    def approve_clicked(
        ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()

        def work(actor: Actor, release_id: int, _button: ReleaseButton) -> None:
            note = steps.approve(deps, client, actor, release_id)
            if note:
                tell_privately(note, body, client, respond)

        on_release(body, client, respond, work)

    for action_id, operation in SIMPLE_BUTTONS.items():
        _register_simple(app, action_id, operation, deps, on_release)

    for action_id, (check, callback_id, title, label, submit) in REASON_BUTTONS.items():
        _register_reason(app, deps, action_id, check, callback_id, title, label, submit, on_release)

    @app.action(ids.ADVANCE)
    def advance_clicked(
        ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        on_release(
            body,
            client,
            respond,
            lambda actor, release_id, button: steps.advance(
                deps, client, actor, release_id, button.stage
            ),
        )

    @app.action(ids.EDIT)
    def edit_clicked(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()

        def work(actor: Actor, release_id: int, button: ReleaseButton) -> None:
            release = steps.check_may_edit(deps, actor, release_id)
            view = edit_modal(release, form_metadata(body, button.release))
            client.views_open(trigger_id=body["trigger_id"], view=view)

        on_release(body, client, respond, work)

    @app.action(ids.LIST_MORE)
    def list_more_clicked(
        ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        actor = actor_of(body)
        offset = ListPage.parse(body["actions"][0].get("value")).offset
        later(
            body,
            client,
            respond,
            lambda: respond(**commands.list_reply(deps, actor.team_id, actor.viewer, offset)),
        )

    @app.action(ids.CHECKLIST)
    def checklist_clicked(
        ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        actor = actor_of(body)
        release_uid, changes = checklist_changes(body)

        def work() -> None:
            release_id = resolve(deps, actor, release_uid)
            steps.set_item(deps, client, actor, release_id, changes)

        later(body, client, respond, work)


OnRelease = Callable[
    [dict[str, Any], WebClient, Respond, Callable[[Actor, int, ReleaseButton], None]], None
]


def _register_simple(
    app: App,
    action_id: str,
    operation: Callable[[Deps, WebClient, Actor, int], None],
    deps: Deps,
    on_release: OnRelease,
) -> None:
    @app.action(action_id)
    def clicked(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        on_release(
            body,
            client,
            respond,
            lambda actor, release_id, _button: operation(deps, client, actor, release_id),
        )


def _register_reason(
    app: App,
    deps: Deps,
    action_id: str,
    check: Check,
    callback_id: str,
    title: str,
    label: str,
    submit: str,
    on_release: OnRelease,
) -> None:
    @app.action(action_id)
    def clicked(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()

        def work(actor: Actor, release_id: int, button: ReleaseButton) -> None:
            check(deps, client, actor, release_id)  # refuse before anyone writes a reason
            metadata = form_metadata(body, button.release)
            view = reason_modal(callback_id, title, label, submit, metadata)
            client.views_open(trigger_id=body["trigger_id"], view=view)

        on_release(body, client, respond, work)


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
