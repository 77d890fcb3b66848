"""The release policy as handlers use it: what is in force where, changing it (release
managers only, values checked with Slack first), and edits under it (a proposal is put
under it by models/proposals.py, through handlers/flows/new_release.py).

For other features: `effective_policy(deps, team_id, channel_id, service)` is the policy a
release proposed now would get, with where each value comes from; a release already
proposed keeps its own (`Release.quorum`, `owner_can_approve`, `window_minutes`,
`reminder_offsets`, `announce_to`, `escalation_channel`), whatever the policy says since.
"""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk import WebClient

from handlers.deps import Deps, HandlerConfig
from handlers.flows.manager_role import require_manager
from handlers.slack_kit import directory
from models import policy
from models.policy import Effective, Key, Policy, Scope, Value
from models.release import proposing, quorum
from models.release.digest_schedule import DigestSchedule
from models.release.proposing import ApproverSpec
from models.release.queries import Actor, ReleaseView
from models.release.records import ApproverKind

WHAT = "change the release policy"


def defaults(config: HandlerConfig) -> Policy:
    """What applies where nothing is set: the bot's settings, else the built-in defaults."""
    return Policy(
        checklist=config.checklist,
        announce=config.announce_channel,
        reminders=config.reminder_offsets,
    )


def _service_key(service: str | None) -> str | None:
    return service.strip().lower() if service and service.strip() else None


def effective_policy(
    deps: Deps, team_id: str, channel_id: str, service: str | None = None
) -> Effective:
    """The policy for a release of `service` proposed in `channel_id` now."""
    with deps.db.read_session() as session:
        return policy.effective(
            session, team_id, channel_id, _service_key(service), defaults(deps.config)
        )


def checked_value(client: WebClient, key: Key, value: Value) -> Value:
    """A value Slack must vouch for: approvers who exist, a channel the bot is in."""
    if key == Key.APPROVERS:
        assert isinstance(value, tuple)
        specs = [a for a in value if isinstance(a, ApproverSpec)]
        return policy.clean_approvers(directory.check_approvers(client, specs))
    if key in (Key.ANNOUNCE, Key.ESCALATION):
        assert isinstance(value, str)
        return policy.check_channel(key, value, directory.bot_is_member(client, value))
    if isinstance(value, DigestSchedule):
        policy.check_channel(
            key, value.channel_id, directory.bot_is_member(client, value.channel_id)
        )
    return value


def change(
    deps: Deps,
    client: WebClient,
    actor: Actor,
    scope: Scope,
    target: str,
    key: Key,
    value: Value | None,
) -> policy.Change:
    """Set (None: unset) one key for a channel or a service; release managers only."""
    require_manager(deps, client, actor, WHAT)
    if value is not None:
        value = checked_value(client, key, value)
    with deps.db.session() as session:
        return policy.change(
            session,
            actor.team_id,
            actor.user_id,
            scope,
            target,
            key,
            value,
            channel_id=actor.channel_id or "",
            defaults=defaults(deps.config),
            now=deps.clock(),
        )


def change_many(
    deps: Deps, client: WebClient, actor: Actor, channel_id: str, values: dict[Key, Value | None]
) -> list[policy.Change]:
    """The policy form saved: each key that differs from what the channel sets is set or
    unset, in one transaction (values are checked already)."""
    require_manager(deps, client, actor, WHAT)
    made: list[policy.Change] = []
    with deps.db.session() as session:
        current = policy.settings_of(session, actor.team_id, Scope.CHANNEL, channel_id)
        # Approvers before the quorum, so a quorum checks against the new list.
        for key in sorted(values, key=lambda k: k != Key.APPROVERS):
            value = values[key]
            if value == current.get(key) or (value is None and key not in current):
                continue
            made.append(
                policy.change(
                    session,
                    actor.team_id,
                    actor.user_id,
                    Scope.CHANNEL,
                    channel_id,
                    key,
                    value,
                    channel_id=channel_id,
                    defaults=defaults(deps.config),
                    now=deps.clock(),
                )
            )
    return made


def history(deps: Deps, team_id: str, channel_id: str) -> list[policy.HistoryEntry]:
    with deps.db.read_session() as session:
        return policy.history(session, team_id, channel_id)


# --- edits under the policy ---------------------------------------------------------------


def edited_approvers(
    client: WebClient, view: ReleaseView, named: Sequence[ApproverSpec], *, plain: bool = False
) -> list[ApproverSpec]:
    """The approvers an edit asks for, with the policy's kept (nobody removes those), checked
    against the release's quorum rule. `named` exist already (directory.check_approvers)."""
    release = view.release
    required = [
        ApproverSpec(a.slack_id, ApproverKind(a.kind), a.handle)
        for a in view.approvers
        if a.required
    ]
    wanted = proposing.with_required(
        required, named, release.owner_id, owner_may_sign=release.owner_can_approve
    )
    needed = quorum.of(release.quorum).needed(len(wanted))
    barred = "" if release.owner_can_approve else release.owner_id
    directory.check_quorum(client, wanted, barred, plain=plain, needed=needed)
    return wanted
