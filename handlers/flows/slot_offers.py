"""The next free slots, for `/release slot` and for the "Move to next free slot" button a
conflict warning or a freeze refusal offers the release's owner."""

from __future__ import annotations

from datetime import datetime, timedelta

from handlers.deps import Deps
from handlers.flows.policy_changes import defaults
from models import policy
from models.release import free_slots
from models.release.free_slots import MoveOffer
from models.release.queries import Actor
from models.release.records import Release


def free_slots_for(
    deps: Deps, actor: Actor, service: str, length_minutes: int | None, after: datetime | None
) -> tuple[timedelta, list[datetime]]:
    """The length asked (default: the service's `window` where the person asks) and the
    next free windows of it from `after` (default: now)."""
    channel_id = actor.channel_id or ""
    with deps.db.read_session() as session:
        if length_minutes is None:
            length_minutes = policy.effective(
                session, actor.team_id, channel_id, service, defaults(deps.config)
            ).policy.window_minutes
        length = timedelta(minutes=length_minutes)
        wanted = free_slots.Wanted(
            team_id=actor.team_id,
            channel_id=channel_id,
            service=service,
            length=length,
            after=after or deps.clock(),
        )
        return length, free_slots.find(session, wanted)


def offer_for(deps: Deps, release_id: int, actor: Actor) -> MoveOffer | None:
    """The next free window for the release, when `actor` owns it and may still move it."""
    with deps.db.read_session() as session:
        release = session.get(Release, release_id)
        if release is None:
            return None
        return free_slots.offer(session, release, actor.user_id, deps.clock())
