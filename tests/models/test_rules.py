"""The state rules on their own: which state allows what, and where each move leads.
Pure: no database, no Slack."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models.errors import Code, InvalidTransition
from models.release.records import Release, ReleaseStatus
from models.release.rules import ALLOWED, TRANSITIONS, Activity, allows, check, states

S = ReleaseStatus
A = Activity
BEFORE_DECISION = {S.PROPOSED, S.CHANGES_REQUESTED, S.APPROVED}
IN_FLIGHT = {S.GO, S.ROLLING_OUT, S.PAUSED}
FINISHED = {S.RELEASED, S.ROLLED_BACK, S.CANCELLED}

# Every entry of both tables, written out: a change to a rule must change this too.
EXPECTED_ALLOWED = {
    A.APPROVE: {S.PROPOSED},
    A.REQUEST_CHANGES: {S.PROPOSED, S.APPROVED},
    A.REOPEN: {S.PROPOSED, S.APPROVED, S.CHANGES_REQUESTED, S.NO_GO},
    A.GO: {S.APPROVED},
    A.NO_GO: BEFORE_DECISION,
    A.START_ROLLOUT: {S.GO},
    A.ADVANCE: {S.ROLLING_OUT},
    A.PAUSE: {S.ROLLING_OUT},
    A.RESUME: {S.PAUSED},
    A.MARK_RELEASED: {S.GO, S.ROLLING_OUT},
    A.ROLL_BACK: IN_FLIGHT,
    A.CANCEL: BEFORE_DECISION | {S.NO_GO},
    A.SIGN: {S.PROPOSED, S.APPROVED},
    A.WITHDRAW: {S.PROPOSED, S.APPROVED},
    A.EDIT: BEFORE_DECISION | {S.NO_GO},
    A.TICK: BEFORE_DECISION | {S.NO_GO},
    A.ADD_ITEM: BEFORE_DECISION | {S.NO_GO},
    A.ASK_AGAIN: {S.CHANGES_REQUESTED, S.NO_GO},
    A.OVERRIDE_FREEZE: BEFORE_DECISION | IN_FLIGHT,
    A.REPORT_DEPLOYMENT: IN_FLIGHT,
    A.OPEN: set(S) - FINISHED,
    A.IN_FLIGHT: IN_FLIGHT,
    A.AWAIT_SIGN_OFF: BEFORE_DECISION,
    A.SIGN_OFF_BUTTONS: {S.PROPOSED, S.APPROVED},
    A.DECISION_BUTTONS: BEFORE_DECISION,
    A.CHECKBOXES: BEFORE_DECISION | {S.NO_GO},
    A.SHOW_REASON: {S.CHANGES_REQUESTED, S.NO_GO, S.ROLLED_BACK, S.CANCELLED},
}

EXPECTED_TRANSITIONS = {
    A.APPROVE: S.APPROVED,
    A.REQUEST_CHANGES: S.CHANGES_REQUESTED,
    A.REOPEN: S.PROPOSED,
    A.GO: S.GO,
    A.NO_GO: S.NO_GO,
    A.START_ROLLOUT: S.ROLLING_OUT,
    A.ADVANCE: S.ROLLING_OUT,
    A.PAUSE: S.PAUSED,
    A.RESUME: S.ROLLING_OUT,
    A.MARK_RELEASED: S.RELEASED,
    A.ROLL_BACK: S.ROLLED_BACK,
    A.CANCEL: S.CANCELLED,
}


def release(state: ReleaseStatus) -> Release:
    return Release(
        team_id="T1",
        service="payments",
        version="2.4.0",
        target_at=datetime(2030, 1, 1, tzinfo=UTC),
        channel_id="C1",
        owner_id="U_OWNER",
        status=state.value,
    )


def test_every_activity_has_exactly_its_states() -> None:
    assert set(ALLOWED) == set(Activity)
    for activity, expected in EXPECTED_ALLOWED.items():
        assert set(ALLOWED[activity]) == expected, activity
        for state in S:
            assert allows(activity, state) == (state in expected), (activity, state)
        assert states(activity) == [s.value for s in S if s in expected]


def test_every_move_leads_where_the_table_says() -> None:
    assert TRANSITIONS == EXPECTED_TRANSITIONS
    assert set(TRANSITIONS) <= set(ALLOWED)  # every move starts from the one table


@pytest.mark.parametrize("state", list(S))
def test_check_moves_only_from_allowed_states(state: ReleaseStatus) -> None:
    for activity in Activity:
        if allows(activity, state):
            stays_or_moves = TRANSITIONS.get(activity, state)
            assert check(release(state), activity) == stays_or_moves
        else:
            with pytest.raises(InvalidTransition) as refused:
                check(release(state), activity)
            assert refused.value.code == Code.BAD_STATE
            assert dict(refused.value.data) == {
                "ref": "payments@2.4.0",
                "action": activity,
                "state": state,
                "owner_id": "U_OWNER",
            }


def test_go_only_from_approved() -> None:
    assert [s for s in S if allows(A.GO, s)] == [S.APPROVED]


def test_checklist_ticks_only_before_the_decision_and_after_no_go() -> None:
    for state in S:
        tickable = state in BEFORE_DECISION or state == S.NO_GO
        assert allows(A.TICK, state) == tickable
        assert allows(A.ADD_ITEM, state) == tickable
        assert allows(A.CHECKBOXES, state) == tickable  # the boxes show where ticks count


def test_what_shows_matches_what_may_happen() -> None:
    for state in S:
        assert allows(A.SIGN_OFF_BUTTONS, state) == allows(A.SIGN, state)
        assert allows(A.SIGN, state) == allows(A.REQUEST_CHANGES, state)
        assert allows(A.WITHDRAW, state) == allows(A.SIGN, state)
        assert allows(A.DECISION_BUTTONS, state) == allows(A.NO_GO, state)
        assert allows(A.CANCEL, state) == allows(A.EDIT, state)  # before go: cancel
        assert allows(A.ROLL_BACK, state) == allows(A.IN_FLIGHT, state)  # after go: roll back


def test_a_finished_release_allows_nothing_but_showing_its_reason() -> None:
    for state in FINISHED:
        assert [a for a in Activity if allows(a, state)] in ([], [A.SHOW_REASON])
        assert state.is_finished and not state.is_in_flight


def test_status_properties_follow_the_table() -> None:
    for state in S:
        assert state.is_finished == (state in FINISHED)
        assert state.is_in_flight == (state in IN_FLIGHT)


def test_every_state_has_a_label_and_is_reachable() -> None:
    for state in S:
        assert state.label and state.label[0].isupper()
    reached = {S.PROPOSED, S.APPROVED} | set(TRANSITIONS.values())  # proposing starts these
    assert reached == set(S)
