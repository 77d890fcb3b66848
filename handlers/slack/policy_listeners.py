"""`/release policy …`, its Edit button and the policy form."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from handlers.deps import Deps
from handlers.flows import policy_changes
from handlers.flows.manager_role import is_release_manager, require_manager
from handlers.rendering import refusals
from handlers.rendering.channel_messages import to_dicts
from handlers.rendering.policy_messages import (
    INHERIT,
    change_text,
    history_blocks,
    policy_blocks,
    policy_modal,
)
from handlers.slack.context import actor_of, deps_of
from handlers.slack.error_replies import form_error, in_background
from handlers.slack_kit import directory, ids, parsing
from handlers.slack_kit.payloads import FormMetadata, PolicyButton
from models import policy
from models.errors import DomainError
from models.policy import Key, Scope, Value
from models.release import proposing
from models.release.proposing import ApproverSpec
from models.release.queries import Actor


def _reply(blocks: list[Any], text: str) -> dict[str, Any]:
    return {
        "response_type": "ephemeral",
        "replace_original": False,
        "blocks": to_dicts(blocks),
        "text": text,
    }


def policy_reply(
    deps: Deps,
    client: WebClient,
    actor: Actor,
    service: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """The policy in force in the actor's channel (for `service`), privately."""
    channel_id = actor.channel_id or actor.user_id
    found = policy_changes.effective_policy(deps, actor.team_id, channel_id, service)
    manager = is_release_manager(deps, client, actor.team_id, actor.user_id)
    return _reply(policy_blocks(found, manager=manager, note=note), "Release policy")


def run_command(
    deps: Deps, client: WebClient, actor: Actor, command: parsing.PolicyCommand, respond: Respond
) -> None:
    """After the ack: show, show the history, or change the policy (managers only)."""
    channel_id = actor.channel_id or actor.user_id
    if command.verb == "show":
        service = proposing.clean_service(command.service) if command.service else None
        respond(**policy_reply(deps, client, actor, service))
        return
    if command.verb == "history":
        entries = policy_changes.history(deps, actor.team_id, channel_id)
        respond(**_reply(history_blocks(entries, channel_id), "Release policy history"))
        return
    # Refuse someone who is no release manager before reading what they typed.
    require_manager(deps, client, actor, policy_changes.WHAT)
    key = policy.key_of(command.key)
    scope, target = Scope.CHANNEL, channel_id
    if command.service:
        scope, target = Scope.SERVICE, proposing.clean_service(command.service)
    value = parsing.policy_value(key, command.value) if command.verb == "set" else None
    made = policy_changes.change(deps, client, actor, scope, target, key, value)
    note = change_text(made.scope, made.target, made.key, made.after)
    service = target if scope == Scope.SERVICE else None
    respond(**policy_reply(deps, client, actor, service, note))


# --- the Edit button and the form --------------------------------------------------------


def _input(view: dict[str, Any], field: str) -> dict[str, Any]:
    return dict(view.get("state", {}).get("values", {}).get(field, {}).get(field, {}) or {})


def form_values(
    client: WebClient, view: dict[str, Any]
) -> tuple[dict[Key, Value | None], dict[str, str]]:
    """What the form asks for, key by key (None: inherited), and the errors by input.
    Slack is asked here (before the ack) about people, groups and channels."""
    values: dict[Key, Value | None] = {}
    errors: dict[str, str] = {}

    def check(key: Key, read: Any) -> None:
        try:
            values[key] = read()
        except DomainError as error:
            errors[error.field or key.field] = form_error(refusals.text_for(error))

    def text(key: Key) -> str:
        return str(_input(view, key.field).get("value") or "").strip()

    def approvers() -> Value | None:
        users = [str(u) for u in _input(view, Key.APPROVERS.field).get("selected_users") or []]
        handles = re.findall(
            r"[^\s,@]+", str(_input(view, ids.FIELD_POLICY_GROUPS).get("value") or "")
        )
        if not users and not handles:
            return None
        try:
            groups = directory.find_groups_by_handle(client, handles)
        except DomainError as error:
            raise refusals.Refused(refusals.text_for(error), field=Key.APPROVERS.field) from None
        specs = [ApproverSpec(u) for u in users] + groups
        return policy_changes.checked_value(client, Key.APPROVERS, policy.clean_approvers(specs))

    def flag() -> Value | None:
        chosen = (_input(view, Key.OWNER_CAN_APPROVE.field).get("selected_option") or {}).get(
            "value"
        )
        return None if chosen in (None, INHERIT) else policy.clean_flag(str(chosen))

    def channel(key: Key) -> Value | None:
        picked = _input(view, key.field).get("selected_conversation")
        return None if not picked else policy_changes.checked_value(client, key, str(picked))

    def typed(key: Key, clean: Any) -> Any:
        return lambda: clean(text(key)) if text(key) else None

    check(Key.APPROVERS, approvers)
    check(Key.QUORUM, typed(Key.QUORUM, policy.clean_quorum))
    check(Key.OWNER_CAN_APPROVE, flag)
    check(Key.CHECKLIST, typed(Key.CHECKLIST, policy.clean_checklist))
    check(Key.ANNOUNCE, lambda: channel(Key.ANNOUNCE))
    check(Key.ESCALATION, lambda: channel(Key.ESCALATION))
    check(Key.REMINDERS, typed(Key.REMINDERS, policy.clean_reminders))
    check(Key.WINDOW, typed(Key.WINDOW, policy.clean_window))
    return values, errors


def register(app: App) -> None:
    @app.action(ids.POLICY_EDIT)
    def policy_edit_clicked(
        ack: Ack, context: BoltContext, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        deps = deps_of(context)
        button = PolicyButton.parse((body.get("actions") or [{}])[0].get("value"))
        # The policy is the channel's the button names, wherever it was clicked.
        actor = replace(actor_of(context), channel_id=button.channel)

        def open_form() -> None:
            require_manager(deps, client, actor, policy_changes.WHAT)
            with deps.db.read_session() as session:
                own = policy.settings_of(session, actor.team_id, Scope.CHANNEL, button.channel)
            metadata = FormMetadata(
                channel_id=button.channel, response_url=body.get("response_url")
            ).encode()
            view = policy_modal(button.channel, own, policy_changes.defaults(deps.config), metadata)
            client.views_open(trigger_id=body["trigger_id"], view=view)

        deps.work.submit(in_background(open_form, body, client, respond))

    @app.view(ids.POLICY_FORM)
    def policy_form_submitted(
        ack: Ack,
        context: BoltContext,
        body: dict[str, Any],
        view: dict[str, Any],
        client: WebClient,
    ) -> None:
        deps = deps_of(context)
        metadata = FormMetadata.parse(view.get("private_metadata"))
        channel_id = metadata.channel_id
        if not channel_id:
            raise refusals.Refused("That form is out of date: run `/release policy` again.")
        actor = replace(actor_of(context), channel_id=channel_id)
        # Refuse someone who is no release manager (a forged form) before asking Slack
        # about anyone or anything in it.
        try:
            require_manager(deps, client, actor, policy_changes.WHAT)
        except DomainError as error:
            ack(
                response_action="errors",
                errors={Key.APPROVERS.field: form_error(refusals.text_for(error))},
            )
            return
        values, errors = form_values(client, view)
        made: list[policy.Change] = []
        if not errors:
            try:
                made = policy_changes.change_many(deps, client, actor, channel_id, values)
            except DomainError as error:
                field = error.field or Key.APPROVERS.field
                errors[field] = form_error(refusals.text_for(error))
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()
        url = metadata.trusted_response_url(deps.config.slack_hooks_url)
        if url is None:
            return
        note = (
            "\n".join(change_text(c.scope, c.target, c.key, c.after) for c in made)
            or "Nothing changed."
        )
        respond = Respond(response_url=url)
        deps.work.submit(
            in_background(
                lambda: respond(**policy_reply(deps, client, actor, None, note)),
                body,
                client,
                respond,
            )
        )
