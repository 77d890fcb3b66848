"""Creating a release and posting its card, as one step: all of it or none of it."""

from __future__ import annotations

from dataclasses import replace

from slack_sdk import WebClient

from handlers import directory
from handlers.deps import Deps
from handlers.publishing import delete_message, post_card
from handlers.surfaces import involved, post_checklist, publish_homes
from models import releases
from models.errors import Conflict
from models.releases import Proposal


def create_release(deps: Deps, client: WebClient, proposal: Proposal) -> int | None:
    """Write the release and post its card in one transaction.

    If Slack refuses the card (not in the channel, say) the transaction rolls back, so no
    release exists that nobody can see; if it refuses the checklist, the card is taken back
    too. A retried request finds its release and stops.
    """
    # Asked before the transaction: a Slack call must not hold the database.
    proposal = replace(proposal, private=directory.channel_is_private(client, proposal.channel_id))
    try:
        with deps.db.session() as session:
            if proposal.request_key and releases.by_request_key(session, proposal.request_key):
                return None
            release = releases.propose(session, proposal, now=deps.clock())
            deps.plan_reminders(session, release)
            view = releases.load_view(session, release)
            post_card(client, session, view)
            if view.checklist:
                try:
                    post_checklist(client, session, view)
                except Exception:
                    # The release rolls back: its card must not stay behind, orphaned.
                    delete_message(client, release.channel_id, release.message_ts)
                    raise
            release_id = release.id
    except Conflict:
        # A retry racing its original waits on the unique key, then loses: stay silent.
        if proposal.request_key and _already_handled(deps, proposal.request_key):
            return None
        raise
    deps.release_changed(release_id)
    publish_homes(deps, client, proposal.team_id, involved(client, view))
    return release_id


def _already_handled(deps: Deps, request_key: str) -> bool:
    with deps.db.read_session() as session:
        return releases.by_request_key(session, request_key) is not None
