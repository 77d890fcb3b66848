"""Conflicts in the release calendar: a release's window against the other open releases and
the release hours. The one rule every surface's proposal and reschedule, the card and
`/release list` use. A conflict is a warning, never a refusal.

A window [target_at, target_at + window) conflicts with an open release whose window
overlaps it when that release is of the same service, of a service it depends on, or of
one that depends on it (policy key `depends-on`, of either release's service or channel);
with its channel's releases when more than `max-concurrent` would run at one instant; and
with `release-hours` when it does not lie within the hours of one day. The policy read is
the one in force now (these keys are the calendar's, not copied into a release).

Who reads the warning decides what it names: the releases they may see (the one rule of
models/release/queries.py), the others only counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import Session, col, select

from models import policy
from models.policy import Policy
from models.release import rules
from models.release.records import Release
from models.release.release_hours import ReleaseHours
from models.release.rules import Activity
from models.release.visibility import Reader, may_see

# The longest window a policy allows: an earlier release can't reach into this one's.
_LONGEST_WINDOW = timedelta(minutes=policy.MAX_WINDOW)


class Kind(StrEnum):
    SAME_SERVICE = "same-service"
    DEPENDS_ON = "depends-on"
    MAX_CONCURRENT = "max-concurrent"
    RELEASE_HOURS = "release-hours"


@dataclass(frozen=True)
class WindowConflict:
    kind: Kind
    others: tuple[Release, ...] = ()  # the releases it collides with that the reader may see
    hidden: int = 0  # how many more it collides with, that the reader may not see
    dependent: str = ""  # DEPENDS_ON: the service that depends …
    dependency: str = ""  # … on this one
    limit: int = 0  # MAX_CONCURRENT
    hours: ReleaseHours | None = None  # RELEASE_HOURS


class Policies:
    """The calendar keys in force for each (channel, service), read once per check."""

    def __init__(self, session: Session, team_id: str) -> None:
        self._session = session
        self._team_id = team_id
        self._found: dict[tuple[str, str], Policy] = {}

    def of(self, release: Release) -> Policy:
        return self.at(release.channel_id, release.service)

    def at(self, channel_id: str, service: str) -> Policy:
        place = (channel_id, service)
        if place not in self._found:
            # The calendar keys have no setting of the bot's: their built-in defaults apply.
            self._found[place] = policy.effective(
                self._session, self._team_id, channel_id, service, Policy()
            ).policy
        return self._found[place]


def _window(release: Release) -> tuple[datetime, datetime]:
    return release.target_at, release.target_at + release.window


def _overlap(a: Release, b: Release) -> bool:
    (a_start, a_end), (b_start, b_end) = _window(a), _window(b)
    return a_start < b_end and b_start < a_end


def open_around(session: Session, team_id: str, since: datetime, until: datetime) -> list[Release]:
    """Open releases whose window may overlap [since, until)."""
    return list(
        session.exec(
            select(Release).where(
                Release.team_id == team_id,
                col(Release.status).in_(rules.states(Activity.OPEN)),
                col(Release.target_at) < until,
                col(Release.target_at) > since - _LONGEST_WINDOW,
            )
        )
    )


def _peak(release: Release, others: Sequence[Release]) -> list[Release]:
    """The most of `others` running at one instant of the release's window (at its start,
    or at one of theirs)."""
    start, end = _window(release)
    instants = [start, *(o.target_at for o in others if start < o.target_at < end)]
    best: list[Release] = []
    for instant in instants:
        running = [o for o in others if o.target_at <= instant < o.target_at + o.window]
        if len(running) > len(best):
            best = running
    return best


def _of(release: Release, around: Iterable[Release], policies: Policies) -> list[WindowConflict]:
    """Each conflict of `release`, naming every release in it (whoever reads)."""
    mine = policies.of(release)
    found: list[WindowConflict] = []
    start, end = _window(release)
    if mine.release_hours is not None and not mine.release_hours.contain(start, end):
        found.append(WindowConflict(Kind.RELEASE_HOURS, hours=mine.release_hours))
    others = [o for o in around if o.id != release.id and _overlap(release, o)]
    for other in sorted(others, key=lambda o: (o.target_at, o.id or 0)):
        if other.service == release.service:
            found.append(WindowConflict(Kind.SAME_SERVICE, (other,)))
        elif other.service in mine.depends_on:
            found.append(
                WindowConflict(
                    Kind.DEPENDS_ON, (other,), dependent=release.service, dependency=other.service
                )
            )
        elif release.service in policies.of(other).depends_on:
            found.append(
                WindowConflict(
                    Kind.DEPENDS_ON, (other,), dependent=other.service, dependency=release.service
                )
            )
    if mine.max_concurrent is not None:
        peak = _peak(release, [o for o in others if o.channel_id == release.channel_id])
        if len(peak) + 1 > mine.max_concurrent:
            found.append(
                WindowConflict(Kind.MAX_CONCURRENT, tuple(peak), limit=mine.max_concurrent)
            )
    return found


def find(session: Session, release: Release, reader: Reader) -> list[WindowConflict]:
    """The conflicts of an open release's window, as `reader` may read them (none once it
    is finished)."""
    if release.state.is_finished:
        return []
    start, end = _window(release)
    around = open_around(session, release.team_id, start, end)
    conflicts: list[WindowConflict] = []
    for conflict in _of(release, around, Policies(session, release.team_id)):
        shown = tuple(o for o in conflict.others if may_see(session, o, reader))
        conflicts.append(replace(conflict, others=shown, hidden=len(conflict.others) - len(shown)))
    return conflicts


def involved(session: Session, release: Release) -> set[int]:
    """The ids of the other releases in its window's conflicts, whoever may see them (their
    cards say the conflict too)."""
    if release.state.is_finished:
        return set()
    start, end = _window(release)
    around = open_around(session, release.team_id, start, end)
    found = _of(release, around, Policies(session, release.team_id))
    return {o.id for c in found for o in c.others if o.id is not None}


def conflicting(session: Session, team_id: str, releases: Sequence[Release]) -> set[int]:
    """The ids of those of `releases` (open ones) that have a conflict, whoever reads."""
    open_ones = [r for r in releases if not r.state.is_finished]
    if not open_ones:
        return set()
    since = min(r.target_at for r in open_ones)
    until = max(r.target_at + r.window for r in open_ones)
    around = open_around(session, team_id, since, until)
    policies = Policies(session, team_id)
    return {r.id for r in open_ones if r.id is not None and _of(r, around, policies)}
