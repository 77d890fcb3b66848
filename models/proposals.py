"""The one way a release is proposed, whatever the surface: a slash command, the propose
form, the HTTP API, and any surface added later.

The policy in force where it is proposed (models/policy.py) is applied: its approvers are
joined by those named, never replaced, and the release keeps its quorum rule, owner rule,
checklist, announce and escalation channels, reminders and window. A policy that names
approvers never yields a release that needs none. Every sign-off must be able to come from
its own person, the owner only where the policy lets them (four eyes, models/release/
signers.py). Then the release is written (models/release/proposing.py `write_release`).

Nothing here asks Slack: a surface calls `under_policy` and `sign_offs` to learn whom to
check and which groups' members to fetch, then `propose` with those members.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from models import policy
from models.errors import Code, InvalidInput
from models.fields import FIELD_APPROVERS
from models.policy import Key, Policy, Scope, Source
from models.release import proposing, quorum, signers
from models.release.proposing import ApproverSpec, Proposal
from models.release.records import ApproverKind, Release


@dataclass(frozen=True)
class SignOffs:
    """Who signs a proposal under its policy, and how many of them must."""

    approvers: tuple[ApproverSpec, ...]  # the policy's first, then those named
    barred: str  # the owner, who signs none of them ("" where the policy lets them)
    needed: int

    @property
    def groups(self) -> list[str]:
        return [a.slack_id for a in self.approvers if a.kind == ApproverKind.USERGROUP]


def under_policy(session: Session, proposal: Proposal, defaults: Policy) -> Proposal:
    """The proposal with the policy in force where it is proposed (`defaults` where
    nothing is set); refused when the policy leaves it nobody to sign."""
    service = proposing.clean_service(proposal.service)
    found = policy.effective(session, proposal.team_id, proposal.channel_id, service, defaults)
    applied = policy.apply_to(proposal, found.policy)
    if applied.required_approvers and not sign_offs(applied).approvers:
        by_service = found.sources[Key.APPROVERS] == Source.SERVICE
        raise InvalidInput(
            Code.POLICY_ONLY_OWNER,
            field=FIELD_APPROVERS,
            scope=Scope.SERVICE if by_service else Scope.CHANNEL,
            target=service if by_service else proposal.channel_id,
        )
    return applied


def sign_offs(proposal: Proposal) -> SignOffs:
    """The approvers of a proposal already under its policy, and the sign-offs it needs."""
    approvers = proposing.with_required(
        proposal.required_approvers,
        proposal.approvers,
        proposal.owner_id,
        owner_may_sign=proposal.owner_can_approve,
    )
    return SignOffs(
        approvers=tuple(approvers),
        barred="" if proposal.owner_can_approve else proposal.owner_id,
        needed=quorum.of(proposal.quorum).needed(len(approvers)),
    )


def propose(
    session: Session,
    proposal: Proposal,
    defaults: Policy,
    members: signers.Members,
    *,
    now: datetime | None = None,
) -> Release:
    """Propose a release under the policy in force, in the caller's transaction (which
    commits). `members` holds the members of every group among its approvers (a group
    missing counts as nobody): a release that could never be signed is refused."""
    applied = under_policy(session, proposal, defaults)
    planned = sign_offs(applied)
    signers.check_quorum(planned.approvers, members, planned.barred, planned.needed)
    return proposing.write_release(session, applied, now=now)
