"""The release state machine: which state allows what, and where each move leads.

`ALLOWED` is the one table of state rules: every question of the form "may X happen to a
release in state S" (a move along the state machine, signing, editing, ticking the
checklist, and which controls and lists show it) is answered by it, through `allows` and
`check`. `TRANSITIONS` says which state each move leads to. Nothing else lists states.
"""

from __future__ import annotations

from enum import StrEnum

from models.errors import Code, InvalidTransition
from models.release.records import Release, ReleaseStatus

S = ReleaseStatus


class Activity(StrEnum):
    # Moves along the state machine (TRANSITIONS says where each leads).
    APPROVE = "approve"  # the last sign-off comes in
    REQUEST_CHANGES = "request_changes"  # an approver objects
    REOPEN = "reopen"  # back to waiting for sign-offs
    GO = "go"
    NO_GO = "no_go"
    START_ROLLOUT = "start_rollout"  # a phased release's first stage, right after go
    ADVANCE = "advance"  # a phased rollout's next stage
    PAUSE = "pause"
    RESUME = "resume"
    MARK_RELEASED = "mark_released"
    ROLL_BACK = "roll_back"
    CANCEL = "cancel"
    # What can happen to a release without moving it.
    SIGN = "sign"  # give a sign-off (one click of Approve)
    WITHDRAW = "withdraw"  # take one's sign-off back
    EDIT = "edit"  # the owner changes version, time, notes, approvers
    TICK = "tick"  # tick or untick a checklist item
    ADD_ITEM = "add_item"  # add a checklist item
    ASK_AGAIN = "ask_again"  # the owner's update answers an objection: sign-offs reopen
    OVERRIDE_FREEZE = "override_freeze"  # a release manager lets it through a freeze
    REPORT_DEPLOYMENT = "report_deployment"  # a pipeline reports deploying it (in flight)
    # How it shows.
    OPEN = "open"  # listed as upcoming/open (not finished); reminders still due
    IN_FLIGHT = "in_flight"  # go given and not finished: announced, never overdue
    AWAIT_SIGN_OFF = "await_sign_off"  # on Home as waiting for its pending approvers
    SIGN_OFF_BUTTONS = "sign_off_buttons"  # the card shows Approve / Request changes
    DECISION_BUTTONS = "decision_buttons"  # the checklist shows Go / No-go
    CHECKBOXES = "checkboxes"  # the checklist shows checkboxes
    SHOW_REASON = "show_reason"  # the card says who decided it, and why


_BEFORE_SIGN_OFFS = frozenset({S.PROPOSED, S.APPROVED})
# Before the go decision: still waiting for sign-offs or for the owner to decide.
_BEFORE_DECISION = frozenset({S.PROPOSED, S.CHANGES_REQUESTED, S.APPROVED})
# What the owner may still change: before the decision, and after a no-go (to ask again).
_CHANGEABLE = _BEFORE_DECISION | {S.NO_GO}
_IN_FLIGHT = frozenset({S.GO, S.ROLLING_OUT, S.PAUSED})
_FINISHED = frozenset({S.RELEASED, S.ROLLED_BACK, S.CANCELLED})

# activity -> the states it may happen in
ALLOWED: dict[Activity, frozenset[ReleaseStatus]] = {
    Activity.APPROVE: frozenset({S.PROPOSED}),
    Activity.REQUEST_CHANGES: _BEFORE_SIGN_OFFS,
    Activity.REOPEN: frozenset({S.APPROVED, S.CHANGES_REQUESTED, S.NO_GO, S.PROPOSED}),
    Activity.GO: frozenset({S.APPROVED}),
    Activity.NO_GO: _BEFORE_DECISION,
    Activity.START_ROLLOUT: frozenset({S.GO}),
    Activity.ADVANCE: frozenset({S.ROLLING_OUT}),
    Activity.PAUSE: frozenset({S.ROLLING_OUT}),
    Activity.RESUME: frozenset({S.PAUSED}),
    Activity.MARK_RELEASED: frozenset({S.GO, S.ROLLING_OUT}),
    Activity.ROLL_BACK: _IN_FLIGHT,
    Activity.CANCEL: _CHANGEABLE,
    Activity.SIGN: _BEFORE_SIGN_OFFS,
    Activity.WITHDRAW: _BEFORE_SIGN_OFFS,
    Activity.EDIT: _CHANGEABLE,
    Activity.TICK: _CHANGEABLE,
    Activity.ADD_ITEM: _CHANGEABLE,
    Activity.ASK_AGAIN: frozenset({S.CHANGES_REQUESTED, S.NO_GO}),
    # While a move toward production is still to come.
    Activity.OVERRIDE_FREEZE: _BEFORE_DECISION | _IN_FLIGHT,
    Activity.REPORT_DEPLOYMENT: _IN_FLIGHT,  # nothing is deployed before the go
    Activity.OPEN: frozenset(ReleaseStatus) - _FINISHED,
    Activity.IN_FLIGHT: _IN_FLIGHT,
    Activity.AWAIT_SIGN_OFF: _BEFORE_DECISION,
    Activity.SIGN_OFF_BUTTONS: _BEFORE_SIGN_OFFS,
    Activity.DECISION_BUTTONS: _BEFORE_DECISION,
    Activity.CHECKBOXES: _CHANGEABLE,
    Activity.SHOW_REASON: frozenset({S.CHANGES_REQUESTED, S.NO_GO, S.ROLLED_BACK, S.CANCELLED}),
}

# move -> the state it leads to (it may start from the states ALLOWED lists for it)
TRANSITIONS: dict[Activity, ReleaseStatus] = {
    Activity.APPROVE: S.APPROVED,
    Activity.REQUEST_CHANGES: S.CHANGES_REQUESTED,
    Activity.REOPEN: S.PROPOSED,
    Activity.GO: S.GO,
    Activity.NO_GO: S.NO_GO,
    Activity.START_ROLLOUT: S.ROLLING_OUT,
    Activity.ADVANCE: S.ROLLING_OUT,
    Activity.PAUSE: S.PAUSED,
    Activity.RESUME: S.ROLLING_OUT,
    Activity.MARK_RELEASED: S.RELEASED,
    Activity.ROLL_BACK: S.ROLLED_BACK,
    Activity.CANCEL: S.CANCELLED,
}


def allows(activity: Activity, state: ReleaseStatus) -> bool:
    return state in ALLOWED[activity]


def states(activity: Activity) -> list[str]:
    """The states `activity` may happen in, as stored (for queries), in a stable order."""
    return [state.value for state in ReleaseStatus if state in ALLOWED[activity]]


def check(release: Release, activity: Activity) -> ReleaseStatus:
    """Refuse `activity` unless the release's state allows it; for a move, the state it
    leads to (else the state the release stays in)."""
    if not allows(activity, release.state):
        raise InvalidTransition(
            Code.BAD_STATE,
            ref=release.ref,
            action=activity,
            state=release.state,
            owner_id=release.owner_id,
        )
    return TRANSITIONS.get(activity, release.state)


# The moves toward production: a freeze covering the release holds each of them, unless a
# release manager overrode that freeze for that release (`lifecycle` checks, for every move).
TOWARD_PRODUCTION = frozenset(
    {Activity.GO, Activity.START_ROLLOUT, Activity.ADVANCE, Activity.MARK_RELEASED}
)

# What a release manager may do to any release, as its owner would; editing a release
# (its version, time, notes, approvers) stays its owner's.
MANAGERS_MAY = frozenset(
    {
        Activity.GO,
        Activity.NO_GO,
        Activity.ADVANCE,
        Activity.PAUSE,
        Activity.RESUME,
        Activity.MARK_RELEASED,
        Activity.ROLL_BACK,
        Activity.CANCEL,
        Activity.REPORT_DEPLOYMENT,
    }
)
