"""Four eyes: every required sign-off comes from a different person, never the owner.

Who can give which sign-off is a bipartite matching of sign-offs to people: a person signs
for themself, any member signs for a group. At most MAX_APPROVERS sign-offs, so a simple
augmenting-path search (Kuhn's) is plenty. Pure: group members are passed in, nothing here
asks Slack or words a message for it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from models.errors import Code, InvalidInput
from models.fields import FIELD_APPROVERS
from models.release.proposing import ApproverSpec
from models.release.records import Approver, ApproverKind, SignOffState

# group id -> the ids of its members
Members = Mapping[str, Collection[str]]


@dataclass(frozen=True)
class Shortfall:
    """Sign-offs that together need more different people than can give any of them."""

    rows: tuple[int, ...]  # positions in the list checked, ascending
    people: frozenset[str]  # everyone who could give one of them: fewer than the rows


def shortfall(candidates: Sequence[Collection[str]]) -> Shortfall | None:
    """None when each row can have its own person from its candidates; else the first
    set of rows (in order) that can't, with the people they share (Hall's condition)."""
    holder: dict[str, int] = {}  # person -> the row they give

    def augment(row: int, rows: set[int], people: set[str]) -> bool:
        rows.add(row)
        for person in sorted(candidates[row]):
            if person in people:
                continue
            people.add(person)
            if person not in holder or augment(holder[person], rows, people):
                holder[person] = row
                return True
        return False

    for row in range(len(candidates)):
        rows: set[int] = set()
        people: set[str] = set()
        if not augment(row, rows, people):
            # The search reached exactly these rows and people: |people| == |rows| - 1.
            return Shortfall(tuple(sorted(rows)), frozenset(people))
    return None


def matched(candidates: Sequence[Collection[str]]) -> int:
    """How many rows can each have their own person at once (a maximum matching)."""
    holder: dict[str, int] = {}

    def augment(row: int, seen: set[str]) -> bool:
        for person in sorted(candidates[row]):
            if person in seen:
                continue
            seen.add(person)
            if person not in holder or augment(holder[person], seen):
                holder[person] = row
                return True
        return False

    return sum(1 for row in range(len(candidates)) if augment(row, set()))


def _can_give(is_group: bool, slack_id: str, members: Members, owner_id: str) -> frozenset[str]:
    # A group missing from `members` (added since they were asked) counts as nobody.
    people = frozenset(members.get(slack_id, ())) if is_group else frozenset({slack_id})
    return people - {owner_id}


class QuorumUnreachable(InvalidInput):
    """Some sign-offs can't each get their own person besides the owner.

    `approvers` are those sign-offs, `people` everyone (not the owner) who could give one
    of them; handlers word it for Slack.
    """

    def __init__(
        self,
        approvers: Sequence[ApproverSpec],
        people: frozenset[str],
        needed: int | None = None,
    ) -> None:
        needed = len(approvers) if needed is None else needed
        super().__init__(
            Code.QUORUM_UNREACHABLE,
            field=FIELD_APPROVERS,
            approvers=tuple(approvers),
            people=people,
            needed=needed,
        )
        self.approvers = tuple(approvers)
        self.people = people
        self.needed = needed


def check_quorum(
    approvers: Sequence[ApproverSpec],
    members: Members,
    owner_id: str,
    needed: int | None = None,
) -> None:
    """Refuse approvers whose sign-offs (all, or the `needed` many of a quorum of N) can't
    each come from a different person who is not the owner (`owner_id` "" when the owner
    may sign): such a release could never be approved. `members` holds every group's."""
    candidates = [
        _can_give(a.kind == ApproverKind.USERGROUP, a.slack_id, members, owner_id)
        for a in approvers
    ]
    if needed is not None and needed < len(approvers):
        if matched(candidates) < needed:
            people = frozenset().union(*candidates) if candidates else frozenset()
            raise QuorumUnreachable(approvers, people, needed)
        return
    found = shortfall(candidates)
    if found is not None:
        raise QuorumUnreachable([approvers[i] for i in found.rows], found.people)


def signers_of(approvers: Sequence[Approver]) -> set[str]:
    """Who has given a sign-off on the release: each of them gives no other."""
    return {a.signed_by for a in approvers if a.sign_off == SignOffState.APPROVED and a.signed_by}


def _open_candidates(
    pending: Sequence[Approver], members: Members, owner_id: str, taken: set[str]
) -> list[frozenset[str]]:
    return [_can_give(a.is_group, a.slack_id, members, owner_id) - taken for a in pending]


def row_to_sign(
    approvers: Sequence[Approver],
    person: str,
    members: Members,
    owner_id: str,
    needed: int | None = None,
) -> Approver | None:
    """The one sign-off a click by `person` gives (who has given none yet): their own
    first; else one of their groups', in approver order, preferring one that leaves enough
    other open sign-offs someone to give them (all, or the `needed` many of a quorum of N).
    None when nothing they could sign is open."""
    pending = [a for a in approvers if a.sign_off != SignOffState.APPROVED]
    for row in pending:
        if not row.is_group and row.slack_id == person:
            return row
    mine = [a for a in pending if a.is_group and person in members.get(a.slack_id, ())]
    taken = signers_of(approvers) | {person}
    signed = len(approvers) - len(pending)
    for row in mine:
        rest = [a for a in pending if a is not row]
        open_rows = _open_candidates(rest, members, owner_id, taken)
        if needed is None or needed >= len(approvers):
            if shortfall(open_rows) is None:
                return row
        elif signed + 1 + matched(open_rows) >= needed:
            return row
    return mine[0] if mine else None


@dataclass(frozen=True)
class Unsignable:
    """An open sign-off nobody may give any more: its people are the owner or have each
    given another sign-off on the release (`signed`)."""

    approver: Approver
    signed: frozenset[str]
    owner_is_member: bool


def unsignable(approvers: Sequence[Approver], members: Members, owner_id: str) -> list[Unsignable]:
    """Open sign-offs nobody left can give. Groups missing from `members` are skipped."""
    taken = signers_of(approvers)
    found = []
    for row in approvers:
        if row.sign_off == SignOffState.APPROVED or (row.is_group and row.slack_id not in members):
            continue
        people = frozenset(members[row.slack_id]) if row.is_group else frozenset({row.slack_id})
        if not people - taken - {owner_id}:
            found.append(Unsignable(row, people & taken, owner_id in people))
    return found
