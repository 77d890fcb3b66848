"""The release state machine: one table of allowed transitions."""

from __future__ import annotations

from models.errors import InvalidTransition
from models.release.records import Release, ReleaseStatus

S = ReleaseStatus

# action -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[ReleaseStatus], ReleaseStatus]] = {
    "approve": (frozenset({S.PROPOSED}), S.APPROVED),
    "request_changes": (frozenset({S.PROPOSED, S.APPROVED}), S.CHANGES_REQUESTED),
    "reopen": (
        frozenset({S.APPROVED, S.CHANGES_REQUESTED, S.NO_GO, S.PROPOSED}),
        S.PROPOSED,
    ),
    "go": (frozenset({S.APPROVED}), S.GO),
    "no_go": (frozenset({S.PROPOSED, S.APPROVED, S.CHANGES_REQUESTED}), S.NO_GO),
    "start_rollout": (frozenset({S.GO}), S.ROLLING_OUT),
    "advance": (frozenset({S.ROLLING_OUT}), S.ROLLING_OUT),
    "pause": (frozenset({S.ROLLING_OUT}), S.PAUSED),
    "resume": (frozenset({S.PAUSED}), S.ROLLING_OUT),
    "mark_released": (frozenset({S.GO, S.ROLLING_OUT}), S.RELEASED),
    "roll_back": (frozenset({S.GO, S.ROLLING_OUT, S.PAUSED}), S.ROLLED_BACK),
    "cancel": (
        frozenset({S.PROPOSED, S.CHANGES_REQUESTED, S.APPROVED, S.NO_GO}),
        S.CANCELLED,
    ),
}

# What doing each action to a release is called, with {ref} where the release goes.
_PHRASES = {
    "approve": "approve {ref}",
    "request_changes": "request changes to {ref}",
    "reopen": "reopen {ref}",
    "go": "give the go for {ref}",
    "no_go": "call no-go on {ref}",
    "start_rollout": "start the rollout of {ref}",
    "advance": "advance {ref}",
    "pause": "pause {ref}",
    "resume": "resume {ref}",
    "mark_released": "mark {ref} as released",
    "roll_back": "roll back {ref}",
    "cancel": "cancel {ref}",
    "change": "change {ref}",
}


def describe(release: Release) -> str:
    state = release.state
    return {
        S.PROPOSED: "is still waiting for sign-offs",
        S.CHANGES_REQUESTED: "has changes requested",
        S.APPROVED: "is approved and waiting for a go/no-go",
        S.GO: "has the go and is being rolled out",
        S.ROLLING_OUT: "is rolling out",
        S.PAUSED: "has its rollout paused",
        S.RELEASED: "is already released",
        S.NO_GO: "was called no-go",
        S.ROLLED_BACK: "was rolled back",
        S.CANCELLED: "is cancelled",
    }[state]


def check(release: Release, action: str) -> ReleaseStatus:
    """The state `action` leads to, or an error saying why it cannot happen now."""
    sources, target = TRANSITIONS[action]
    if release.state not in sources:
        hint = ""
        if action == "cancel" and release.state.is_in_flight:
            hint = " Roll it back instead if it must be stopped."
        elif action == "go" and release.state in (S.PROPOSED, S.CHANGES_REQUESTED):
            hint = " Every sign-off must be in first."
        raise InvalidTransition(f"Can't {phrase(action, release)}: it {describe(release)}.{hint}")
    return target


def phrase(action: str, release: Release) -> str:
    """`action` done to this release, in words: "roll back payments@2.4.0"."""
    return _PHRASES[action].format(ref=release.ref)
