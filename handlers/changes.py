"""Running one domain change and showing its outcome: the pattern every handler shares."""

from __future__ import annotations

from collections.abc import Callable

from slack_sdk import WebClient
from sqlmodel import Session

from handlers import directory
from handlers.deps import Deps
from handlers.publishing import thread_reply
from handlers.surfaces import refresh
from models import releases
from models.release import Release
from models.releases import Actor, ReleaseView


def apply_change(
    deps: Deps,
    client: WebClient,
    change: Callable[[Session], Release],
    thread_text: Callable[[ReleaseView], str | None] | None = None,
) -> ReleaseView:
    """Commit `change`, then say it in the thread and refresh every surface showing it."""
    with deps.db.session() as session:
        release = change(session)
        deps.plan_reminders(session, release)
        view = releases.load_view(session, release)
    show_change(deps, client, view, thread_text(view) if thread_text else None)
    return view


def show_change(deps: Deps, client: WebClient, view: ReleaseView, text: str | None) -> None:
    """After the commit: listeners (the scheduler), the thread, every surface."""
    deps.release_changed(view.release.id)
    if text:
        thread_reply(client, view.release, text)
    refresh(deps, client, view)


def group_memberships(
    deps: Deps, client: WebClient, actor: Actor, release_id: int
) -> dict[str, frozenset[str]]:
    """The members of each of the release's approver groups (asked of Slack)."""
    with deps.db.read_session() as session:
        releases.get(session, actor, release_id)  # refuses what the person may not see
        groups = [a.slack_id for a in releases.approvers_of(session, release_id) if a.is_group]
    # Fresh from Slack: this decides whether the person may act.
    return directory.members_of(client, groups, fresh=True)


def actor_groups(deps: Deps, client: WebClient, actor: Actor, release_id: int) -> set[str]:
    """Which of the release's approver groups the person belongs to (asked of Slack)."""
    members = group_memberships(deps, client, actor, release_id)
    return {group for group, people in members.items() if actor.user_id in people}
