"""How many sign-offs a release needs: its quorum rule, kept on the release.

`all` (the default): every listed approver signs (a group is one sign-off, given by any one
member). `each-group`: one per listed group plus every listed person. A number N: any N of
the listed approvers, a group counting once. With the rule that a group is one sign-off,
`each-group` asks for the same sign-offs as `all`; it says so in words for policies that
list groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from models.errors import Code, InvalidInput
from models.release.records import Approver, SignOffState

QUORUM_KEY = "quorum"  # the policy key it is set with (named in errors)
MAX_QUORUM = 20  # at most MAX_APPROVERS sign-offs anyway


class QuorumKind(StrEnum):
    ALL = "all"
    COUNT = "count"
    EACH_GROUP = "each-group"


@dataclass(frozen=True)
class Quorum:
    kind: QuorumKind = QuorumKind.ALL
    count: int = 0  # for COUNT: how many sign-offs

    @classmethod
    def parse(cls, text: str) -> Quorum:
        """`all`, `each-group` or a number from 1 (refused, naming the key, otherwise)."""
        value = text.strip().lower()
        if value in ("all", ""):
            return cls()
        if value in ("each-group", "each_group", "eachgroup"):
            return cls(QuorumKind.EACH_GROUP)
        if value.isdigit() and 1 <= int(value) <= MAX_QUORUM:
            return cls(QuorumKind.COUNT, int(value))
        raise InvalidInput(Code.POLICY_BAD_VALUE, key=QUORUM_KEY, value=text)

    @property
    def text(self) -> str:
        """As stored on a release and in a policy: `all`, `each-group` or the number."""
        return str(self.count) if self.kind == QuorumKind.COUNT else self.kind.value

    def needed(self, approvers: int) -> int:
        """Sign-offs needed out of `approvers` listed (never more than are listed)."""
        if self.kind == QuorumKind.COUNT:
            return min(self.count, approvers)
        return approvers

    def met(self, approvers: Sequence[Approver]) -> bool:
        signed = sum(1 for a in approvers if a.sign_off == SignOffState.APPROVED)
        return signed >= self.needed(len(approvers))

    def missing(self, approvers: Sequence[Approver]) -> int:
        """How many more sign-offs it needs."""
        signed = sum(1 for a in approvers if a.sign_off == SignOffState.APPROVED)
        return max(0, self.needed(len(approvers)) - signed)


def of(quorum_text: str | None) -> Quorum:
    """A release's stored rule (releases from before policies hold `all`)."""
    try:
        return Quorum.parse(quorum_text or "all")
    except InvalidInput:
        return Quorum()
