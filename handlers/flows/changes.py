"""Running one domain change and showing its outcome: the pattern every handler shares.

The change, its reminders and the Slack messages it owes (the outbox) commit together;
the messages go out after the commit. If Slack doesn't take one, the person is told the
truth: the change stands, and the message is retried until it is posted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from slack_sdk import WebClient
from sqlmodel import Session

from handlers.delivery.home_publisher import involved, publish_homes
from handlers.deps import Deps, Failure
from handlers.slack_kit import directory
from handlers.slack_kit.mrkdwn import escape
from models import audit, outbox, webhooks
from models.outbox import MessageKind
from models.release import queries
from models.release.queries import Actor, ReleaseView
from models.release.records import Release


class NotShownYet(Exception):
    """The change is recorded, but Slack did not take a message it requires (yet)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def apply_change(
    deps: Deps,
    client: WebClient,
    change: Callable[[Session], Release],
    thread_text: Callable[[ReleaseView], str | None] | None = None,
) -> ReleaseView:
    """Commit `change` with the messages it owes, then send them and refresh Home tabs."""
    with deps.db.session() as session:
        release = change(session)
        view = queries.load_view(session, release)
        owe_messages(deps, session, view, thread_text(view) if thread_text else None)
    show_change(deps, client, view)
    return view


def owe_messages(deps: Deps, session: Session, view: ReleaseView, text: str | None) -> None:
    """In the change's transaction: its reminders, every message that shows it, and the
    webhook deliveries its events owe."""
    release = view.release
    deps.plan_reminders(session, release)
    outbox.enqueue(
        session, release, live_messages(view), replies=(text,) if text else (), now=deps.clock()
    )
    assert release.id is not None
    webhooks.owe(session, release, audit.take_recorded(session, release.id), now=deps.clock())


def owe_cards(deps: Deps, session: Session, release_ids: set[int]) -> None:
    """In a change's transaction: the cards of other releases whose conflicts it changed
    (a window moved into or out of theirs)."""
    for release_id in sorted(release_ids):
        other = session.get(Release, release_id)
        if other is not None:
            outbox.enqueue(session, other, (MessageKind.CARD,), now=deps.clock())


def send_cards(deps: Deps, release_ids: set[int]) -> None:
    """After the commit: those cards; one Slack doesn't take now is retried by the outbox."""
    for release_id in sorted(release_ids):
        deps.messages.flush(release_id)


def live_messages(view: ReleaseView) -> tuple[MessageKind, ...]:
    """The messages that show this release's state: the card, its checklist once it has
    items, and the rollout announcement from the go on."""
    release = view.release
    kinds = [MessageKind.CARD]
    if view.checklist or release.checklist_ts:
        kinds.append(MessageKind.CHECKLIST)
    if release.announcement_ts or release.state.is_in_flight:
        kinds.append(MessageKind.ANNOUNCEMENT)
    return tuple(kinds)


def show_change(deps: Deps, client: WebClient, view: ReleaseView) -> None:
    """After the commit: send what it owes; tell the person if Slack didn't take it."""
    failures = send_owed(deps, client, view)
    if failures:
        raise NotShownYet(not_shown_text(view.release, failures))


def send_owed(deps: Deps, client: WebClient, view: ReleaseView) -> list[Failure]:
    """After the commit: listeners (the scheduler), Slack messages, Home tabs."""
    assert view.release.id is not None
    try:
        failures = deps.messages.flush(view.release.id)
    finally:
        # After the flush: a release whose card can never be posted is gone by now, and
        # its webhook deliveries with it.
        deps.release_changed(view.release.id)
    publish_homes(deps, client, view.release.team_id, involved(client, view))
    return failures


_WHAT = {
    MessageKind.CARD: "its card",
    MessageKind.CHECKLIST: "its checklist",
    MessageKind.ANNOUNCEMENT: "the rollout announcement",
    MessageKind.REPLY: "a note in its thread",
    MessageKind.DIRECT: "a direct message about it",
}


def not_shown_text(release: Release, failures: Sequence[Failure]) -> str:
    ref = escape(release.ref)
    what = ", ".join(dict.fromkeys(_WHAT[f.kind] for f in failures))
    codes = ", ".join(dict.fromkeys(f.error for f in failures))
    if all(f.permanent for f in failures):
        return (
            f"Done: {ref} is recorded as {release.state.label.lower()}, but Slack "
            f"refused {what} (`{codes}`). `/release status` shows it."
        )
    return (
        f"Done: {ref} is recorded as {release.state.label.lower()}. Slack didn't take "
        f"{what} yet (`{codes}`); I'll keep trying until it is posted."
    )


def group_memberships(
    deps: Deps, client: WebClient, actor: Actor, release_id: int
) -> dict[str, frozenset[str]]:
    """The members of each of the release's approver groups (asked of Slack)."""
    with deps.db.read_session() as session:
        queries.get(session, actor, release_id)  # refuses what the person may not see
        groups = [a.slack_id for a in queries.approvers_of(session, release_id) if a.is_group]
    # Fresh from Slack: this decides whether the person may act.
    return directory.members_of(client, groups, fresh=True)


def actor_groups(deps: Deps, client: WebClient, actor: Actor, release_id: int) -> set[str]:
    """Which of the release's approver groups the person belongs to (asked of Slack), for
    the checklist's rights. The owner and named approvers keep the checklist whatever
    their groups, so Slack is not asked for them (an empty set)."""
    with deps.db.read_session() as session:
        release = queries.get(session, actor, release_id)  # refuses what they may not see
        approvers = queries.approvers_of(session, release_id)
    if actor.user_id == release.owner_id or any(
        not a.is_group and a.slack_id == actor.user_id for a in approvers
    ):
        return set()
    members = group_memberships(deps, client, actor, release_id)
    return {group for group, people in members.items() if actor.user_id in people}
