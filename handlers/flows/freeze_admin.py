"""Adding, removing and listing freezes (release managers add and remove; audited)."""

from __future__ import annotations

from datetime import datetime

from slack_sdk import WebClient

from handlers.deps import Deps
from handlers.flows.manager_role import require_manager
from handlers.slack_kit import directory, parsing
from models import freezes
from models.freezes import Freeze, Span
from models.release import proposing
from models.release.queries import Actor


def resolve_when(client: WebClient, user_id: str, when: parsing.When, now: datetime) -> datetime:
    """A typed time as UTC: read in the person's Slack zone when it has no offset."""
    tz = directory.user_timezone(client, user_id) if when.needs_zone else None
    return when.resolve(tz, now=now)


def add(deps: Deps, client: WebClient, actor: Actor, command: parsing.FreezeAdd) -> Freeze:
    require_manager(deps, client, actor, "add freezes")
    service = proposing.clean_service(command.service) if command.service else None
    now = deps.clock()
    if command.weekly is not None:
        tz = command.tz or directory.user_timezone(client, actor.user_id) or "UTC"
        with deps.db.session() as session:
            return freezes.add_weekly(
                session,
                actor.team_id,
                actor.user_id,
                command.name,
                command.weekly,
                tz,
                service=service,
                now=now,
            )
    assert command.until is not None
    start = (
        now if command.start is None else resolve_when(client, actor.user_id, command.start, now)
    )
    until = resolve_when(client, actor.user_id, command.until, now)
    with deps.db.session() as session:
        return freezes.add_one_off(
            session,
            actor.team_id,
            actor.user_id,
            command.name,
            start,
            until,
            service=service,
            now=now,
        )


def remove(deps: Deps, client: WebClient, actor: Actor, name: str) -> Freeze:
    require_manager(deps, client, actor, "remove freezes")
    with deps.db.session() as session:
        return freezes.remove(session, actor.team_id, actor.user_id, name, now=deps.clock())


def listed(deps: Deps, team_id: str) -> list[Span]:
    with deps.db.read_session() as session:
        return freezes.current_and_next(session, team_id, deps.clock())
