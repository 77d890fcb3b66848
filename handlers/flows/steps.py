"""One function per thing a person can do to a release, shared by buttons, modals and
commands: run the domain change, then tell the thread and refresh what shows it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import datetime
from typing import Protocol

from slack_sdk import WebClient
from sqlmodel import Session

from handlers.delivery.home_publisher import publish_homes
from handlers.deps import Deps
from handlers.flows.changes import (
    NotShownYet,
    actor_groups,
    apply_change,
    group_memberships,
    owe_cards,
    owe_messages,
    send_cards,
    show_change,
)
from handlers.flows.escalation import escalate_overrides
from handlers.flows.manager_role import acting_on, is_release_manager, require_manager
from handlers.rendering import conflict_notes, freeze_notes
from handlers.rendering import step_notes as say
from handlers.rendering.parts import slack_date
from handlers.slack_kit import directory
from handlers.slack_kit.mrkdwn import escape
from handlers.slack_kit.payloads import OverrideStep
from models.errors import Code, NotAllowed
from models.freezes import FreezeOverride
from models.release import conflicts, free_slots, lifecycle, queries
from models.release.conflicts import WindowConflict
from models.release.proposing import ApproverSpec
from models.release.queries import Actor, ReleaseView
from models.release.records import ApproverKind, Release
from models.release.rules import Activity
from models.release.visibility import Reader


def approve(deps: Deps, client: WebClient, actor: Actor, release_id: int) -> str | None:
    """Returns a private note when the click changed nothing (already signed)."""
    members = group_memberships(deps, client, actor, release_id)
    with deps.db.session() as session:
        result = lifecycle.approve(session, actor, release_id, members, now=deps.clock())
        if not result.counted:
            return f"Your sign-off on {escape(result.release.ref)} is already in."
        view = queries.load_view(session, result.release)
        owe_messages(deps, session, view, say.approved(view, actor.user_id, result.quorum_reached))
    show_change(deps, client, view)
    return None


def check_may_sign(deps: Deps, client: WebClient, actor: Actor, release_id: int) -> None:
    members = group_memberships(deps, client, actor, release_id)
    with deps.db.read_session() as session:
        lifecycle.check_may_sign(session, actor, release_id, members)


def check_may_edit(deps: Deps, actor: Actor, release_id: int) -> ReleaseView:
    """The release with its approvers (the edit form shows them), if this person may edit."""
    with deps.db.read_session() as session:
        return queries.load_view(session, lifecycle.check_may_edit(session, actor, release_id))


def check_may_decide(
    deps: Deps, client: WebClient, actor: Actor, release_id: int, action: str
) -> None:
    actor = acting_on(deps, client, actor, release_id)
    with deps.db.read_session() as session:
        lifecycle.check_may_decide(session, actor, release_id, action)


def request_changes(
    deps: Deps, client: WebClient, actor: Actor, release_id: int, reason: str
) -> None:
    members = group_memberships(deps, client, actor, release_id)
    apply_change(
        deps,
        client,
        lambda s: lifecycle.request_changes(
            s, actor, release_id, members, reason, now=deps.clock()
        ),
        lambda view: say.changes_requested(view, actor.user_id, view.release.status_reason),
    )


def withdraw(deps: Deps, client: WebClient, actor: Actor, release_id: int) -> None:
    apply_change(
        deps,
        client,
        lambda s: lifecycle.withdraw(s, actor, release_id, now=deps.clock()),
        lambda view: say.withdrawn(view, actor.user_id),
    )


def update(
    deps: Deps,
    client: WebClient,
    actor: Actor,
    release_id: int,
    *,
    version: str | None,
    target_at: datetime | None,
    notes: str | None,
    approvers: Sequence[ApproverSpec] | None = None,
    expected_sequence: int | None = None,
    digest: str | None = None,
    commit_sha: str | None = None,
) -> list[WindowConflict]:
    """`approvers`, when given, must have passed `directory.check_quorum` already. Returns
    the conflicts of its new window, as the person may read them (none if not moved)."""
    with deps.db.session() as session:
        before = queries.get(session, actor, release_id)
        neighbours = conflicts.involved(session, before) if target_at is not None else set()
        result = lifecycle.update(
            session,
            actor,
            release_id,
            version=version,
            target_at=target_at,
            notes=notes,
            approvers=approvers,
            expected_sequence=expected_sequence,
            digest=digest,
            commit_sha=commit_sha,
            now=deps.clock(),
        )
        view = queries.load_view(session, result.release)
        text = say.updated(
            view,
            version_changed=result.version_changed,
            time_changed=result.time_changed,
            notes_changed=result.notes_changed,
            reopened=result.reopened,
            previous_time=slack_date(result.previous_target_at) if result.time_changed else None,
            added=result.added,
            removed=result.removed,
            quorum_reached=result.quorum_reached,
            digest_changed=result.digest_changed,
            commit_changed=result.commit_changed,
        )
        moved: list[WindowConflict] = []
        if result.time_changed:
            # A new window is checked against the calendar: warned about, never refused.
            in_thread = conflicts.find(
                session, result.release, Reader.members_of(result.release.channel_id)
            )
            moved = conflicts.find(session, result.release, actor.reader)
            for warning in (
                freeze_notes.window_warning(freeze_notes.blocking(view)),
                conflict_notes.warning(in_thread),
            ):
                if warning:
                    text = f"{text}\n{warning}" if text else warning
            # Those it conflicted with before or does now: their cards change too.
            neighbours |= conflicts.involved(session, result.release)
            owe_cards(deps, session, neighbours)
        owe_messages(deps, session, view, text)
    if result.removed:
        # Their Home tabs no longer wait for them; `show_change` reaches only who is left.
        publish_homes(deps, client, actor.team_id, _people(client, result.removed))
    send_cards(deps, neighbours)
    show_change(deps, client, view)
    return moved


def move_to_free_slot(
    deps: Deps, client: WebClient, actor: Actor, release_id: int, start: datetime, sequence: int
) -> list[WindowConflict]:
    """The owner's move to the free window offered: a reschedule (sign-offs kept,
    approvers told, the feed's SEQUENCE bumped), refused once the window is taken or the
    release moved since the offer (a second click)."""
    with deps.db.read_session() as session:
        release = queries.get(session, actor, release_id)
        lifecycle.check_may_edit(session, actor, release_id)
        free_slots.check_still_free(session, release, start)
    return update(
        deps,
        client,
        actor,
        release_id,
        version=None,
        target_at=start,
        notes=None,
        expected_sequence=sequence,
    )


def _people(client: WebClient, approvers: Sequence[ApproverSpec]) -> set[str]:
    people: set[str] = set()
    for approver in approvers:
        if approver.kind == ApproverKind.USER:
            people.add(approver.slack_id)
        else:
            # A Home tab left a little stale is no reason to fail the update.
            with suppress(Exception):
                people |= directory.group_members(client, approver.slack_id)
    return people


def set_item(
    deps: Deps, client: WebClient, actor: Actor, release_id: int, changes: dict[int, bool]
) -> None:
    """Tick/untick items; each change is recorded (repeats of the current state are no-ops)."""
    groups = actor_groups(deps, client, actor, release_id)
    with deps.db.session() as session:
        for position, checked in sorted(changes.items()):
            lifecycle.set_checklist_item(
                session, actor, release_id, position, checked, groups, now=deps.clock()
            )
        view = queries.load_view(session, queries.get(session, actor, release_id))
        owe_messages(deps, session, view, None)
    show_change(deps, client, view)


def add_item(deps: Deps, client: WebClient, actor: Actor, release_id: int, text: str) -> None:
    groups = actor_groups(deps, client, actor, release_id)

    def change(session: Session) -> Release:
        lifecycle.add_checklist_item(session, actor, release_id, text, groups, now=deps.clock())
        return queries.get(session, actor, release_id)

    apply_change(deps, client, change, lambda view: say.item_added(actor.user_id, text))


def go(
    deps: Deps, client: WebClient, actor: Actor, release_id: int, override: str | None = None
) -> None:
    """`override`: a release manager's reason to override the freezes holding it."""
    _through_freezes(
        deps,
        client,
        actor,
        release_id,
        override,
        Activity.GO,
        lambda s, a, now: lifecycle.go(s, a, release_id, now=now),
        say.decided_go,
    )


def no_go(deps: Deps, client: WebClient, actor: Actor, release_id: int, reason: str) -> None:
    actor = acting_on(deps, client, actor, release_id)  # a release manager may act too
    now = deps.clock()
    apply_change(
        deps,
        client,
        lambda s: lifecycle.no_go(s, actor, release_id, reason, now=now),
        lambda view: say.no_go(actor.user_id, view.release.status_reason),
    )


def advance(
    deps: Deps,
    client: WebClient,
    actor: Actor,
    release_id: int,
    to_percentage: int | None = None,
    override: str | None = None,
) -> None:
    """`override`: as for `go`."""
    _through_freezes(
        deps,
        client,
        actor,
        release_id,
        override,
        Activity.ADVANCE,
        lambda s, a, now: lifecycle.advance(s, a, release_id, to_percentage=to_percentage, now=now),
        say.advanced,
    )


def mark_released(
    deps: Deps, client: WebClient, actor: Actor, release_id: int, override: str | None = None
) -> None:
    """`override`: as for `go`."""
    _through_freezes(
        deps,
        client,
        actor,
        release_id,
        override,
        Activity.MARK_RELEASED,
        lambda s, a, now: lifecycle.mark_released(s, a, release_id, now=now),
        say.released,
    )


class OverridableStep(Protocol):
    def __call__(
        self, deps: Deps, client: WebClient, actor: Actor, release_id: int, *, override: str
    ) -> None: ...


# The moves a release manager may take through a freeze, by their command word (the
# `go|advance|done … override:` commands, the Override button's form).
OVERRIDABLE: dict[OverrideStep, OverridableStep] = {
    "go": go,
    "advance": advance,
    "done": mark_released,
}


# A move toward production, which freezes hold: (session, actor, now) -> the release.
HeldStep = Callable[[Session, Actor, datetime], Release]


def _through_freezes(
    deps: Deps,
    client: WebClient,
    actor: Actor,
    release_id: int,
    override: str | None,
    activity: Activity,
    step: HeldStep,
    note: Callable[[Release, str], str],
) -> None:
    """Run `step` (the domain refuses it while a freeze holds the release); with `override`
    (a release manager's reason), override the freezes first, in the same transaction, then
    take the step unless the release is past it, and escalate once committed."""
    actor = acting_on(deps, client, actor, release_id)  # a release manager may act too
    if override is not None:
        actor = require_manager(deps, client, actor, "override a freeze")
    now = deps.clock()
    made: list[FreezeOverride] = []
    notes: list[str] = []

    def change(session: Session) -> Release:
        if override is not None:
            overridden = lifecycle.override_freezes(
                session, actor, release_id, override, activity, now=now
            )
            made.extend(overridden.overrides)
            if not overridden.step_due:
                return overridden.release
        release = step(session, actor, now)
        notes.append(note(release, actor.user_id))
        return release

    try:
        apply_change(
            deps,
            client,
            change,
            lambda view: "\n".join([*notes, *(freeze_notes.override_line(o) for o in made)]),
        )
    except NotShownYet:
        _escalate(deps, client, actor, release_id, made)  # committed all the same
        raise
    except NotAllowed as error:
        if error.code == Code.FROZEN:
            raise _frozen_for(deps, client, actor, error) from None
        raise
    _escalate(deps, client, actor, release_id, made)


def _frozen_for(deps: Deps, client: WebClient, actor: Actor, error: NotAllowed) -> NotAllowed:
    """The freeze refusal, saying whether this person may override it (its button)."""
    may = actor.manager or is_release_manager(deps, client, actor.team_id, actor.user_id)
    with deps.db.read_session() as session:
        release_id = queries.id_by_uid(session, actor, str(error.data["release_uid"]))
        release = queries.get(session, actor, release_id)
        offer = free_slots.offer(session, release, actor.user_id, deps.clock())
    return NotAllowed(
        Code.FROZEN, field=error.field, **{**error.data, "overridable": may, "move": offer}
    )


def _escalate(
    deps: Deps, client: WebClient, actor: Actor, release_id: int, made: list[FreezeOverride]
) -> None:
    """After the commit: the overrides it made, to the escalation channel."""
    if not made:
        return
    with deps.db.read_session() as session:
        release = queries.get(session, actor, release_id)
    escalate_overrides(deps, client, release, made)


def check_may_override(deps: Deps, client: WebClient, actor: Actor, release_id: int) -> None:
    """Before the override form opens: only release managers, on a release they see."""
    acting_on(deps, client, actor, release_id)  # refuses a release they may not see
    require_manager(deps, client, actor, "override a freeze")


def pause(deps: Deps, client: WebClient, actor: Actor, release_id: int) -> None:
    actor = acting_on(deps, client, actor, release_id)  # a release manager may act too
    now = deps.clock()
    apply_change(
        deps,
        client,
        lambda s: lifecycle.pause(s, actor, release_id, now=now),
        lambda view: say.paused(actor.user_id),
    )


def resume(deps: Deps, client: WebClient, actor: Actor, release_id: int) -> None:
    actor = acting_on(deps, client, actor, release_id)  # a release manager may act too
    now = deps.clock()
    apply_change(
        deps,
        client,
        lambda s: lifecycle.resume(s, actor, release_id, now=now),
        lambda view: say.resumed(actor.user_id),
    )


def roll_back(deps: Deps, client: WebClient, actor: Actor, release_id: int, reason: str) -> None:
    actor = acting_on(deps, client, actor, release_id)  # a release manager may act too
    now = deps.clock()
    apply_change(
        deps,
        client,
        lambda s: lifecycle.roll_back(s, actor, release_id, reason, now=now),
        lambda view: say.rolled_back(actor.user_id, view.release.status_reason),
    )


def cancel(deps: Deps, client: WebClient, actor: Actor, release_id: int, reason: str) -> None:
    actor = acting_on(deps, client, actor, release_id)  # a release manager may act too
    now = deps.clock()
    apply_change(
        deps,
        client,
        lambda s: lifecycle.cancel(s, actor, release_id, reason, now=now),
        lambda view: say.cancelled(actor.user_id, view.release.status_reason),
    )
