"""The four-eyes matching on its own: which sign-offs can each get a different person."""

from __future__ import annotations

import pytest

from models.errors import Code
from models.release.proposing import ApproverSpec
from models.release.records import ApproverKind
from models.release.signers import QuorumUnreachable, Shortfall, check_quorum, shortfall


def test_a_matching_that_needs_an_augmenting_path_is_found() -> None:
    # Row 0 first takes "a"; row 1 can only have "a", so row 0 must move to "b".
    assert shortfall([{"a", "b"}, {"a"}]) is None
    assert shortfall([{"a", "b", "c"}, {"a", "b"}, {"a"}]) is None


def test_the_first_rows_that_share_too_few_people_are_named() -> None:
    assert shortfall([{"a", "b", "c"}, {"a"}, {"a"}]) == Shortfall((1, 2), frozenset({"a"}))
    assert shortfall([{"x"}, set()]) == Shortfall((1,), frozenset())


def test_the_owner_signs_nothing() -> None:
    qa = ApproverSpec("S_QA", ApproverKind.USERGROUP, "qa")
    bob = ApproverSpec("U_BOB")
    check_quorum([bob, qa], {"S_QA": {"U_BOB", "U_CAROL", "U_OWNER"}}, "U_OWNER")
    with pytest.raises(QuorumUnreachable) as refused:
        check_quorum([bob, qa], {"S_QA": {"U_BOB", "U_OWNER"}}, "U_OWNER")
    assert refused.value.approvers == (bob, qa)
    assert refused.value.people == frozenset({"U_BOB"})
    assert refused.value.field == "approvers"
    assert refused.value.code == Code.QUORUM_UNREACHABLE
    assert not hasattr(refused.value, "message")  # models/ words nothing: handlers do
