"""Who is a release manager: named in the settings, added from Slack, a member of a group
that is either, or a workspace admin or owner (Slack says so). Asked afresh for every
decision it makes; an owner acting on their own release costs no Slack call."""

from __future__ import annotations

from dataclasses import dataclass, replace

from slack_sdk import WebClient

from handlers.deps import Deps
from handlers.slack_kit import directory
from models import roles
from models.release import queries
from models.release.proposing import ApproverSpec
from models.release.queries import Actor
from models.release.records import ApproverKind


@dataclass(frozen=True)
class ManagerList:
    """Who the release managers are, and where each comes from."""

    configured: tuple[str, ...]  # from RELEASEBOT_RELEASE_MANAGERS (U… and S… ids)
    added: tuple[roles.ReleaseManager, ...]  # added from Slack


def manager_list(deps: Deps, team_id: str) -> ManagerList:
    with deps.db.read_session() as session:
        added = tuple(roles.managers(session, team_id))
    return ManagerList(deps.config.release_managers, added)


def is_release_manager(deps: Deps, client: WebClient, team_id: str, user_id: str) -> bool:
    listed = manager_list(deps, team_id)
    ids = set(listed.configured) | {m.slack_id for m in listed.added}
    if user_id in ids:
        return True
    groups = [i for i in ids if i.startswith("S")]
    if groups and directory.groups_of(client, user_id, groups, fresh=True):
        return True
    return directory.is_workspace_admin(client, user_id)


def require_manager(deps: Deps, client: WebClient, actor: Actor, what: str) -> Actor:
    """The actor, as a release manager; refused (privately) when they are not one."""
    actor = replace(actor, manager=is_release_manager(deps, client, actor.team_id, actor.user_id))
    roles.require(actor, what)
    return actor


def acting_on(deps: Deps, client: WebClient, actor: Actor, release_id: int) -> Actor:
    """The actor of an owner's step (go, advance, roll back …): marked a release manager
    when they are one, so they may act on a release they don't own."""
    with deps.db.read_session() as session:
        owner = queries.get(session, actor, release_id).owner_id
    if owner == actor.user_id:
        return actor
    return replace(actor, manager=is_release_manager(deps, client, actor.team_id, actor.user_id))


def change_managers(
    deps: Deps, client: WebClient, actor: Actor, verb: str, people: tuple[ApproverSpec, ...]
) -> tuple[list[str], list[str]]:
    """Add or remove managers (release managers only); returns (changed, unchanged) ids."""
    require_manager(deps, client, actor, "change who the release managers are")
    if verb == "add":
        directory.check_approvers(client, people)  # real, active people and groups
    changed: list[str] = []
    unchanged: list[str] = []
    with deps.db.session() as session:
        for person in people:
            if verb == "add":
                kind = (
                    roles.MemberKind.USERGROUP
                    if person.kind == ApproverKind.USERGROUP
                    else roles.MemberKind.USER
                )
                added = roles.add(
                    session, actor.team_id, actor.user_id, person.slack_id, kind, now=deps.clock()
                )
                (changed if added else unchanged).append(person.slack_id)
            else:
                roles.remove(
                    session, actor.team_id, actor.user_id, person.slack_id, now=deps.clock()
                )
                changed.append(person.slack_id)
    return changed, unchanged
