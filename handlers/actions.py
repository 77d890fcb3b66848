"""Button and checkbox clicks (`block_actions`) on cards, checklists, announcements, Home."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from handlers import commands, ids, operations
from handlers.deps import Deps
from handlers.errors import in_background, tell_privately
from handlers.operations import Actor
from handlers.rendering.modals import edit_modal, reason_modal
from models.errors import InvalidInput
from models.releases import Viewer

# Buttons whose click needs nothing but the release: action id -> operation.
SIMPLE_BUTTONS: dict[str, Callable[[Deps, WebClient, Actor, int], None]] = {
    ids.WITHDRAW: operations.withdraw,
    ids.GO: operations.go,
    ids.MARK_RELEASED: operations.mark_released,
    ids.PAUSE: operations.pause,
    ids.RESUME: operations.resume,
}

# May this person do it? Raises a domain error if not: asked before any form opens.
Check = Callable[[Deps, WebClient, Actor, int], object]


def _may_decide(action: str) -> Check:
    return lambda deps, _client, actor, release_id: operations.check_may_decide(
        deps, actor, release_id, action
    )


# Buttons that ask for a reason first: action id -> (check, modal callback id, title,
# label, submit).
REASON_BUTTONS: dict[str, tuple[Check, str, str, str, str]] = {
    ids.REJECT: (
        operations.check_may_sign,
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


def form_metadata(body: dict[str, Any], release_id: int) -> str:
    """What a form carries to its submission: the release, and where to answer privately."""
    return json.dumps({"release_id": release_id, "response_url": body.get("response_url")})


def actor_of(body: dict[str, Any]) -> Actor:
    team = (body.get("team") or {}).get("id") or body["user"]["team_id"]
    return Actor(str(team), str(body["user"]["id"]))


def release_id_of(body: dict[str, Any]) -> int:
    return button_value(body)[0]


def button_value(body: dict[str, Any]) -> tuple[int, int | None]:
    """A button's value: the release id, and for some buttons a number after a colon."""
    try:
        release, _, extra = str(body["actions"][0]["value"]).partition(":")
        return int(release), int(extra) if extra else None
    except (KeyError, IndexError, TypeError, ValueError):
        raise InvalidInput("That button is out of date: open the release again.") from None


def register(app: App, deps: Deps) -> None:
    def later(
        body: dict[str, Any], client: WebClient, respond: Respond | None, work: Callable[[], object]
    ) -> None:
        deps.work.submit(in_background(work, body, client, respond))

    @app.action(ids.APPROVE)
    def approve_clicked(
        ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        actor, release_id = actor_of(body), release_id_of(body)

        def work() -> None:
            note = operations.approve(deps, client, actor, release_id)
            if note:
                tell_privately(note, body, client, respond)

        later(body, client, respond, work)

    for action_id, operation in SIMPLE_BUTTONS.items():
        _register_simple(app, deps, action_id, operation, later)

    for action_id, (check, callback_id, title, label, submit) in REASON_BUTTONS.items():
        _register_reason(app, deps, action_id, check, callback_id, title, label, submit, later)

    @app.action(ids.ADVANCE)
    def advance_clicked(
        ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        actor, (release_id, to_percentage) = actor_of(body), button_value(body)
        later(
            body,
            client,
            respond,
            lambda: operations.advance(deps, client, actor, release_id, to_percentage),
        )

    @app.action(ids.EDIT)
    def edit_clicked(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        actor, release_id = actor_of(body), release_id_of(body)

        def work() -> None:
            release = operations.check_may_edit(deps, actor, release_id)
            view = edit_modal(release, form_metadata(body, release_id))
            client.views_open(trigger_id=body["trigger_id"], view=view)

        later(body, client, respond, work)

    @app.action(ids.LIST_MORE)
    def list_more_clicked(
        ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        actor = actor_of(body)
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
            "channel_id"
        )
        viewer = Viewer(actor.user_id, str(channel or ""))
        offset = max(button_value(body)[0], 0)
        later(
            body,
            client,
            respond,
            lambda: respond(**commands.list_reply(deps, actor.team_id, viewer, offset)),
        )

    @app.action(ids.CHECKLIST)
    def checklist_clicked(
        ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        actor = actor_of(body)
        release_id, changes = checklist_changes(body)
        later(
            body,
            client,
            respond,
            lambda: operations.set_item(deps, client, actor, release_id, changes),
        )


def _register_simple(
    app: App,
    deps: Deps,
    action_id: str,
    operation: Callable[[Deps, WebClient, Actor, int], None],
    later: Callable[..., None],
) -> None:
    @app.action(action_id)
    def clicked(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        actor, release_id = actor_of(body), release_id_of(body)
        later(body, client, respond, lambda: operation(deps, client, actor, release_id))


def _register_reason(
    app: App,
    deps: Deps,
    action_id: str,
    check: Check,
    callback_id: str,
    title: str,
    label: str,
    submit: str,
    later: Callable[..., None],
) -> None:
    @app.action(action_id)
    def clicked(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        actor, release_id = actor_of(body), release_id_of(body)

        def work() -> None:
            check(deps, client, actor, release_id)  # refuse before anyone writes a reason
            view = reason_modal(callback_id, title, label, submit, form_metadata(body, release_id))
            client.views_open(trigger_id=body["trigger_id"], view=view)

        later(body, client, respond, work)


def checklist_changes(body: dict[str, Any]) -> tuple[int, dict[int, bool]]:
    """What this click changed: the element's options as shown, against what is ticked now.

    The action carries the whole selection as the person saw it, so comparing it with the
    message's initial options yields just this person's change, and never unticks an item
    someone else ticked meanwhile.
    """
    action = body["actions"][0]
    block_id = str(action.get("block_id", ""))
    try:
        release_id = int(block_id.split("-")[1])
    except (IndexError, ValueError):
        raise InvalidInput("That checklist is out of date: open the release again.") from None
    selected = {int(o["value"]) for o in action.get("selected_options") or []}
    shown: set[int] = set()
    before: set[int] = set()
    for block in (body.get("message") or {}).get("blocks", []):
        if block.get("block_id") != block_id:
            continue
        for element in block.get("elements", []):
            shown |= {int(o["value"]) for o in element.get("options", [])}
            before |= {int(o["value"]) for o in element.get("initial_options") or []}
    changes = {p: p in selected for p in shown if (p in selected) != (p in before)}
    return release_id, changes
