"""Creating a release, from any surface (slash command, form, API): under the policy in
force where it is proposed (models/proposals.py, which Slack helps by saying who is in each
group), written first with the messages it owes, then its card is posted.

If Slack refuses the card for good (not in the channel, say), the release, untouched by
anyone yet, is removed again, so no release exists that nobody can see; the person is told
why. A retried request finds its release and stops.
"""

from __future__ import annotations

from dataclasses import replace

from slack_sdk import WebClient

from handlers.deps import Deps
from handlers.flows.changes import (
    NotShownYet,
    not_shown_text,
    owe_cards,
    owe_messages,
    send_cards,
    send_owed,
)
from handlers.flows.policy_changes import defaults
from handlers.rendering.freeze_notes import blocking, window_warning
from handlers.slack_kit import directory
from models import proposals
from models.errors import Conflict
from models.outbox import MessageKind
from models.release import conflicts, queries
from models.release.conflicts import WindowConflict
from models.release.proposing import Proposal
from models.release.records import Release
from models.release.signers import Members
from models.release.visibility import Reader


def under_policy(deps: Deps, proposal: Proposal) -> Proposal:
    """The proposal under the policy in force where it is proposed (refused when the
    policy leaves nobody to sign it)."""
    with deps.db.read_session() as session:
        return proposals.under_policy(session, proposal, defaults(deps.config))


def check_sign_offs(client: WebClient, proposal: Proposal, *, plain: bool = False) -> Members:
    """Refuse, worded for Slack, a proposal (under its policy) whose sign-offs could never
    each come from a different person; returns the members of its groups. `plain`: for a
    form, which shows no mentions."""
    planned = proposals.sign_offs(proposal)
    return directory.check_quorum(
        client, planned.approvers, planned.barred, plain=plain, needed=planned.needed
    )


def create_release(deps: Deps, client: WebClient, proposal: Proposal) -> int | None:
    """Propose a release as every surface does; None when this request made it already."""
    # Asked before the transaction: a Slack call must not hold the database.
    proposal = replace(proposal, private=directory.channel_is_private(client, proposal.channel_id))
    members = check_sign_offs(client, under_policy(deps, proposal))
    try:
        with deps.db.session() as session:
            if proposal.request_key and queries.by_request_key(session, proposal.request_key):
                return None
            release = proposals.propose(
                session, proposal, defaults(deps.config), members, now=deps.clock()
            )
            view = queries.load_view(session, release)
            # Accepted in a freeze, with a word in its thread (and on its card).
            owe_messages(deps, session, view, window_warning(blocking(view)))
            # The releases it conflicts with say so on their cards too.
            neighbours = conflicts.involved(session, release)
            owe_cards(deps, session, neighbours)
            release_id = release.id
    except Conflict:
        # A retry racing its original waits on the unique key, then loses: stay silent.
        if proposal.request_key and _already_handled(deps, proposal.request_key):
            return None
        raise
    failures = send_owed(deps, client, view)
    send_cards(deps, neighbours)
    refused = [f for f in failures if f.kind == MessageKind.CARD and f.permanent]
    if refused:
        raise refused[0].exception  # the release is gone again; say why, as Slack said it
    if failures:
        raise NotShownYet(not_shown_text(view.release, failures))
    return release_id


def _already_handled(deps: Deps, request_key: str) -> bool:
    with deps.db.read_session() as session:
        return queries.by_request_key(session, request_key) is not None


def conflicts_for(deps: Deps, release_id: int, reader: Reader) -> list[WindowConflict]:
    """The release's window conflicts as `reader` may read them: what a surface answers the
    person who proposed or moved it (the card says them as its channel may)."""
    with deps.db.read_session() as session:
        release = session.get(Release, release_id)
        return [] if release is None else conflicts.find(session, release, reader)
