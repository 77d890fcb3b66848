"""The four-eyes matching on its own: which sign-offs can each get a different person."""

from __future__ import annotations

from models.signers import Shortfall, shortfall


def test_a_matching_that_needs_an_augmenting_path_is_found() -> None:
    # Row 0 first takes "a"; row 1 can only have "a", so row 0 must move to "b".
    assert shortfall([{"a", "b"}, {"a"}]) is None
    assert shortfall([{"a", "b", "c"}, {"a", "b"}, {"a"}]) is None


def test_the_first_rows_that_share_too_few_people_are_named() -> None:
    assert shortfall([{"a", "b", "c"}, {"a"}, {"a"}]) == Shortfall((1, 2), frozenset({"a"}))
    assert shortfall([{"x"}, set()]) == Shortfall((1,), frozenset())
