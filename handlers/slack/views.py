"""Modal submissions (`view_submission`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from handlers.deps import Deps
from handlers.flows import policy_changes, slot_offers, steps
from handlers.flows.new_release import (
    check_sign_offs,
    conflicts_for,
    create_release,
    under_policy,
)
from handlers.rendering import conflict_notes, refusals, slot_messages
from handlers.rendering.channel_messages import to_dicts
from handlers.rendering.modals import groups_text_of
from handlers.slack.context import actor_of, deps_of
from handlers.slack.error_replies import form_error, in_background, tell_privately
from handlers.slack_kit import directory, ids, parsing
from handlers.slack_kit.mrkdwn import clean_plain
from handlers.slack_kit.payloads import FormMetadata
from handlers.slack_kit.refused import Refused
from models.errors import InvalidInput
from models.fields import (
    FIELD_APPROVERS,
    FIELD_DIGEST,
    FIELD_FIXES,
    FIELD_GROUPS,
    FIELD_NOTES,
    FIELD_REASON,
    FIELD_ROLLOUT,
    FIELD_SERVICE,
    FIELD_VERSION,
    FIELD_WHEN,
)
from models.release import proposing, queries
from models.release.proposing import ApproverSpec, Proposal
from models.release.queries import Actor
from models.release.records import ApproverKind

T = TypeVar("T")


def input_value(view: dict[str, Any], field: str) -> Any:
    """The raw state of the input whose block id and action id are both `field`."""
    state = view.get("state", {}).get("values", {}).get(field, {}).get(field, {})
    for key in ("value", "selected_users", "selected_date_time", "selected_option"):
        if key in state:
            return state[key]
    return None


class FieldErrors:
    """Collects every invalid field at once, so the person fixes them in one go."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def check(self, field: str, fn: Callable[[], T]) -> T | None:
        try:
            return fn()
        except InvalidInput as error:
            self.errors[error.field or field] = form_error(refusals.text_for(error))
            return None


def propose_from_form(deps: Deps, client: WebClient, proposal: Proposal) -> None:
    """Propose as every surface does; its window's conflicts told to the proposer alone,
    in the channel the form was opened in."""
    release_id = create_release(deps, client, proposal)
    if release_id is None:
        return
    proposer = Actor(proposal.team_id, proposal.owner_id, proposal.channel_id)
    if warning := conflict_notes.warning(conflicts_for(deps, release_id, proposer.reader)):
        offer = slot_offers.offer_for(deps, release_id, proposer)  # its Move button
        client.chat_postEphemeral(
            channel=proposal.channel_id,
            user=proposal.owner_id,
            text=warning,
            blocks=to_dicts(slot_messages.warning_blocks(warning, offer)),
        )


# A step that takes a reason: (deps, client, actor, release id, reason).
WithReason = Callable[[Deps, WebClient, Actor, int, str], None]

# Forms that take a step with the reason they ask for: callback id -> the step.
REASON_FORMS: dict[str, WithReason] = {
    ids.REQUEST_CHANGES_FORM: steps.request_changes,
    ids.NO_GO_FORM: steps.no_go,
    ids.ROLL_BACK_FORM: steps.roll_back,
}


def _reason_listener(operation: WithReason) -> Callable[..., None]:
    def submitted(
        ack: Ack,
        context: BoltContext,
        body: dict[str, Any],
        view: dict[str, Any],
        client: WebClient,
    ) -> None:
        with_reason(context, ack, body, view, client, operation)

    return submitted


def register(app: App) -> None:
    for callback_id, operation in REASON_FORMS.items():
        app.view(callback_id)(_reason_listener(operation))

    @app.view(ids.PROPOSE_FORM)
    def propose_submitted(
        ack: Ack,
        context: BoltContext,
        body: dict[str, Any],
        view: dict[str, Any],
        client: WebClient,
    ) -> None:
        deps = deps_of(context)
        proposal = proposal_from_modal(deps, client, body, view)
        if isinstance(proposal, dict):
            ack(response_action="errors", errors=proposal)
            return
        ack()
        deps.work.submit(
            in_background(lambda: propose_from_form(deps, client, proposal), body, client, None)
        )

    @app.view(ids.OVERRIDE_FREEZE_FORM)
    def override_freeze_submitted(
        ack: Ack,
        context: BoltContext,
        body: dict[str, Any],
        view: dict[str, Any],
        client: WebClient,
    ) -> None:
        step = steps.OVERRIDABLE[FormMetadata.parse(view.get("private_metadata")).step or "go"]

        def override(deps: Deps, client: WebClient, actor: Actor, rid: int, reason: str) -> None:
            step(deps, client, actor, rid, override=reason)

        with_reason(context, ack, body, view, client, override)

    @app.view(ids.EDIT_FORM)
    def edit_submitted(
        ack: Ack,
        context: BoltContext,
        body: dict[str, Any],
        view: dict[str, Any],
        client: WebClient,
    ) -> None:
        deps = deps_of(context)
        form = submitted_form(context, view)
        changes = edit_from_modal(deps, client, form.actor, form.release_id, view)
        if isinstance(changes, FieldErrors):
            ack(response_action="errors", errors=changes.errors)
            return
        ack()

        def edit(changes: dict[str, Any]) -> None:
            moved = steps.update(deps, client, form.actor, form.release_id, **changes)
            if warning := conflict_notes.warning(moved):
                tell_privately(warning, body, client, form.respond)

        deps.work.submit(in_background(lambda: edit(changes), body, client, form.respond))


@dataclass(frozen=True)
class SubmittedForm:
    """Who submitted a release's form, which release it changes, where to answer."""

    actor: Actor
    release_id: int
    respond: Respond | None


def submitted_form(context: BoltContext, view: dict[str, Any]) -> SubmittedForm:
    deps = deps_of(context)
    metadata = FormMetadata.parse(view.get("private_metadata"))
    # The person acted in the channel the form was opened from.
    actor = replace(actor_of(context), channel_id=metadata.channel_id)
    with deps.db.read_session() as session:
        release_id = queries.id_by_uid(session, actor, metadata.require_release())
    # Answer problems where the button was clicked, privately; only ever on Slack's host.
    url = metadata.trusted_response_url(deps.config.slack_hooks_url)
    return SubmittedForm(actor, release_id, Respond(response_url=url) if url else None)


def with_reason(
    context: BoltContext,
    ack: Ack,
    body: dict[str, Any],
    view: dict[str, Any],
    client: WebClient,
    operation: WithReason,
) -> None:
    """A reason form submitted: a missing reason is answered on the form; the step runs
    after the ack."""
    reason = clean_plain(input_value(view, FIELD_REASON) or "", multiline=True)
    try:
        reason = proposing.clean_reason(reason, required=True)
    except InvalidInput as error:
        message = form_error(refusals.text_for(error))
        ack(response_action="errors", errors={FIELD_REASON: message})
        return
    form = submitted_form(context, view)
    deps = deps_of(context)
    ack()
    deps.work.submit(
        in_background(
            lambda: operation(deps, client, form.actor, form.release_id, reason),
            body,
            client,
            form.respond,
        )
    )


def edit_from_modal(
    deps: Deps, client: WebClient, actor: Actor, release_id: int, view: dict[str, Any]
) -> dict[str, Any] | FieldErrors:
    """What the owner changed (None for what stays), or the errors to show on the form."""
    now = deps.clock()
    fields = FieldErrors()
    with deps.db.read_session() as session:
        shown = queries.load_view(session, queries.get(session, actor, release_id))
    release = shown.release
    version = fields.check(
        FIELD_VERSION,
        lambda: proposing.clean_version(clean_plain(input_value(view, FIELD_VERSION) or "")),
    )
    target_at = fields.check(FIELD_WHEN, lambda: _target(input_value(view, FIELD_WHEN), now))
    notes = fields.check(
        FIELD_NOTES,
        lambda: proposing.clean_notes(
            clean_plain(input_value(view, FIELD_NOTES) or "", multiline=True)
        ),
    )
    # A form opened before it had a digest input says nothing about the digest.
    shows_digest = FIELD_DIGEST in view.get("state", {}).get("values", {})
    digest = fields.check(
        FIELD_DIGEST,
        lambda: proposing.clean_digest(clean_plain(input_value(view, FIELD_DIGEST) or "")),
    )
    if version and version != release.version:
        fields.check(FIELD_VERSION, lambda: _not_duplicate(deps, actor, release.service, version))
    approvers = _edited_approvers(client, shown, view, fields)
    if fields.errors:
        return fields
    changes = {
        "version": version if version != release.version else None,
        "target_at": target_at if target_at != release.target_at else None,
        "notes": notes if notes != release.notes else None,
        "approvers": approvers,
        "digest": (digest or "") if shows_digest and digest != release.digest else None,
    }
    if all(value is None for value in changes.values()):
        fields.errors[FIELD_VERSION] = (
            "Nothing changed: edit the version, time, notes, approvers or digest."
        )
        return fields
    return changes


def _edited_approvers(
    client: WebClient, shown: queries.ReleaseView, view: dict[str, Any], fields: FieldErrors
) -> list[ApproverSpec] | None:
    """The approvers the edit form asks for, checked (as when proposing); None when they
    stay as they are. Slack is asked only about what changed: this runs before the ack."""
    if FIELD_APPROVERS not in view.get("state", {}).get("values", {}):
        return None  # a form opened before approvers could be edited: it can't say who
    owner_id = shown.release.owner_id
    current = {a.slack_id: a for a in shown.approvers}
    users = [str(u) for u in input_value(view, FIELD_APPROVERS) or []]
    new_users = [ApproverSpec(u) for u in users if u not in current]
    checked = fields.check(FIELD_APPROVERS, lambda: directory.check_approvers(client, new_users))
    groups_text = input_value(view, FIELD_GROUPS) or ""
    handles = _group_handles(groups_text)
    if handles == _group_handles(groups_text_of(shown)):
        groups: list[ApproverSpec] | None = [
            ApproverSpec(a.slack_id, ApproverKind.USERGROUP, a.handle)
            for a in shown.approvers
            if a.is_group
        ]
    else:
        groups = fields.check(
            FIELD_GROUPS, lambda: directory.find_groups_by_handle(client, handles)
        )
    if checked is None or groups is None:
        return None
    wanted = fields.check(
        FIELD_APPROVERS,
        lambda: proposing.clean_approvers(
            [*(ApproverSpec(u) for u in users), *groups],
            owner_id,
            owner_may_sign=shown.release.owner_can_approve,
        ),
    )
    if wanted is None or {a.slack_id for a in wanted} == set(current):
        return None
    # The policy's approvers stay (the form can't remove them); the quorum rule is checked.
    kept = fields.check(
        FIELD_GROUPS,
        lambda: policy_changes.edited_approvers(client, shown, wanted, plain=True),
    )
    if kept is None or {a.slack_id for a in kept} == set(current):
        return None
    return kept


def _group_handles(text: str) -> list[str]:
    return re.findall(r"[^\s,@]+", text)


def proposal_from_modal(
    deps: Deps, client: WebClient, body: dict[str, Any], view: dict[str, Any]
) -> Proposal | dict[str, str]:
    """A valid proposal, or the errors to show next to each field."""
    team_id = str(body["team"]["id"])
    owner_id = str(body["user"]["id"])
    channel_id = FormMetadata.parse(view.get("private_metadata")).channel_id or owner_id
    now = deps.clock()
    fields = FieldErrors()
    service = fields.check(
        FIELD_SERVICE,
        lambda: proposing.clean_service(clean_plain(input_value(view, FIELD_SERVICE) or "")),
    )
    version = fields.check(
        FIELD_VERSION,
        lambda: proposing.clean_version(clean_plain(input_value(view, FIELD_VERSION) or "")),
    )
    target_at = fields.check(FIELD_WHEN, lambda: _target(input_value(view, FIELD_WHEN), now))
    users = [str(u) for u in input_value(view, FIELD_APPROVERS) or []]
    # The owner may be among the approvers only where the policy lets them sign.
    in_force = policy_changes.effective_policy(deps, team_id, channel_id, service)
    approvers = fields.check(
        FIELD_APPROVERS,
        lambda: proposing.clean_approvers(
            directory.check_approvers(client, [ApproverSpec(u) for u in users]),
            owner_id,
            owner_may_sign=in_force.policy.owner_can_approve,
        ),
    )
    group_handles = _group_handles(input_value(view, FIELD_GROUPS) or "")
    groups = fields.check(
        FIELD_GROUPS, lambda: directory.find_groups_by_handle(client, group_handles)
    )
    rollout_text = clean_plain(input_value(view, FIELD_ROLLOUT) or "")
    stages = fields.check(
        FIELD_ROLLOUT,
        lambda: _stages(rollout_text),
    )
    notes = fields.check(
        FIELD_NOTES,
        lambda: proposing.clean_notes(
            clean_plain(input_value(view, FIELD_NOTES) or "", multiline=True)
        ),
    )
    if service and version:
        fields.check(
            FIELD_VERSION,
            lambda: _not_duplicate(deps, Actor(team_id, owner_id, channel_id), service, version),
        )
    fixes_text = clean_plain(input_value(view, FIELD_FIXES) or "").strip()
    fix = bool(fixes_text)
    fixes = None if fixes_text.lower() in ("", "fix", "yes") else fixes_text
    if service and fixes:
        fields.check(
            FIELD_FIXES,
            lambda: _fixes_known(deps, Actor(team_id, owner_id, channel_id), service, fixes),
        )
    if fields.errors:
        return fields.errors
    assert service and version and target_at and approvers is not None and groups is not None
    proposal = Proposal(
        team_id=team_id,
        owner_id=owner_id,
        channel_id=channel_id,
        service=service,
        version=version,
        target_at=target_at,
        approvers=[*approvers, *groups],
        stages=stages or (),
        notes=notes or "",
        fix=fix,
        fixes=fixes,
        request_key=f"view:{view.get('id')}",
    )
    # Checked as creating it will (after the ack), to answer on the form: the policy where
    # it is proposed leaves someone to sign, and each sign-off can have its own person.
    planned = fields.check(FIELD_APPROVERS, lambda: under_policy(deps, proposal))
    if planned is not None:
        fields.check(FIELD_GROUPS, lambda: check_sign_offs(client, planned, plain=True))
    if fields.errors:
        return fields.errors
    return proposal


def _target(epoch: Any, now: datetime) -> datetime:
    if epoch is None:
        raise Refused("Pick a date and a time.", field=FIELD_WHEN)
    try:
        target_at = datetime.fromtimestamp(int(epoch), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        # Not what Slack's picker sends: a forged or broken form.
        raise Refused("Pick a date and a time with the picker.", field=FIELD_WHEN) from None
    return proposing.clean_target(target_at, now)


def _stages(text: str) -> tuple[int, ...]:
    if not text or text.lower() in ("big-bang", "bigbang", "none"):
        return ()
    stages = parsing.parse_percentages(text)
    proposing.clean_stages(stages)
    return stages


def _fixes_known(deps: Deps, actor: Actor, service: str, fixes: str) -> None:
    """What the form says it fixes names a release of the service the person may see."""
    with deps.db.read_session() as session:
        proposing.fixed_release(session, actor.team_id, service, fixes, actor.reader)


def _not_duplicate(deps: Deps, actor: Actor, service: str, version: str) -> None:
    with deps.db.read_session() as session:
        try:
            proposing.check_not_duplicate(session, actor.team_id, service, version, actor.reader)
        except proposing.Conflict as error:
            raise Refused(refusals.text_for(error), field=FIELD_VERSION) from None
