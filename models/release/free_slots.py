"""The next free slots in the release calendar: windows of a given length that lie inside
the release hours, outside every freeze covering the service, and free of conflicts with
the open releases (the rules of models/release/conflicts.py), within the next 30 days.

Worked out with intervals, never by stepping through time: the times a window may lie in
(each day's release hours, or all of it) minus the times it must not touch (each freeze's
occurrences from its recurrence rule, the windows of releases it would conflict with, and
where its channel is already at `max-concurrent`). Each free stretch then holds windows
back to back from its start, rounded up to the quarter hour.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from models import freezes
from models.errors import Code, Conflict
from models.policy import Policy
from models.release import rules
from models.release.conflicts import Policies, open_around
from models.release.records import Release
from models.release.rules import Activity

HORIZON = timedelta(days=30)
SLOTS = 3
STEP = timedelta(minutes=15)

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Wanted:
    """A window to find: for `service` proposed in `channel_id`, `length` long, from
    `after` on; `moving`, a release whose own window doesn't count (it is the one moved)."""

    team_id: str
    channel_id: str
    service: str
    length: timedelta
    after: datetime
    moving: int | None = None


def _round_up(when: datetime) -> datetime:
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    steps = -((epoch - when) // STEP)  # ceiling division
    return epoch + steps * STEP


def _merged(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _minus(span: Interval, busy: Sequence[Interval]) -> list[Interval]:
    """`span` without the (merged, sorted) `busy` intervals."""
    free: list[Interval] = []
    start, end = span
    for busy_start, busy_end in busy:
        if busy_end <= start:
            continue
        if busy_start >= end:
            break
        if busy_start > start:
            free.append((start, busy_start))
        start = max(start, busy_end)
    if start < end:
        free.append((start, end))
    return free


def _crowded(windows: Sequence[Interval], limit: int) -> list[Interval]:
    """Where at least `limit` of `windows` run at once (a sweep over their ends)."""
    edges = sorted([(s, 1) for s, _ in windows] + [(e, -1) for _, e in windows])
    crowded: list[Interval] = []
    running, since = 0, None
    for at, change in edges:  # an end sorts before a start at one instant: -1 < 1
        running += change
        if running >= limit and since is None:
            since = at
        elif running < limit and since is not None:
            if since < at:
                crowded.append((since, at))
            since = None
    return crowded


def _busy(
    session: Session, wanted: Wanted, mine: Policy, policies: Policies, until: datetime
) -> list[Interval]:
    """The times a window of `wanted` must not overlap, merged."""
    busy: list[Interval] = [
        (span.starts_at, span.ends_at)
        for span in freezes.overlapping(
            session, wanted.team_id, wanted.service, wanted.after, until
        )
    ]
    others = [
        r
        for r in open_around(session, wanted.team_id, wanted.after, until)
        if r.id != wanted.moving
    ]
    for other in others:
        if (
            other.service == wanted.service
            or other.service in mine.depends_on
            or wanted.service in policies.of(other).depends_on
        ):
            busy.append((other.target_at, other.target_at + other.window))
    if mine.max_concurrent is not None:
        in_channel = [
            (r.target_at, r.target_at + r.window)
            for r in others
            if r.channel_id == wanted.channel_id
        ]
        busy += _crowded(in_channel, mine.max_concurrent)
    return _merged(busy)


def find(session: Session, wanted: Wanted, *, count: int = SLOTS) -> list[datetime]:
    """The starts of the next `count` free windows (fewer when the 30 days hold fewer)."""
    start = _round_up(wanted.after)
    last_start = wanted.after + HORIZON
    until = last_start + wanted.length
    policies = Policies(session, wanted.team_id)
    mine = policies.at(wanted.channel_id, wanted.service)
    hours = mine.release_hours
    allowed = [(start, until)] if hours is None else hours.opening_times(start, until)
    busy = _busy(session, wanted, mine, policies, until)
    found: list[datetime] = []
    for day in allowed:
        for free_start, free_end in _minus((max(day[0], start), day[1]), busy):
            slot = _round_up(free_start)
            while slot + wanted.length <= free_end and slot <= last_start:
                found.append(slot)
                if len(found) == count:
                    return found
                slot += wanted.length
    return found


def for_release(release: Release, after: datetime) -> Wanted:
    """Where `release` may move to: its own length, service and channel, from `after`."""
    return Wanted(
        team_id=release.team_id,
        channel_id=release.channel_id,
        service=release.service,
        length=release.window,
        after=after,
        moving=release.id,
    )


def next_for(session: Session, release: Release, now: datetime) -> datetime | None:
    """The release's next free window from its own time (or now, if that has passed)."""
    found = find(session, for_release(release, max(now, release.target_at)), count=1)
    return found[0] if found else None


@dataclass(frozen=True)
class MoveOffer:
    """A free window offered to a release's owner, as the release stood (`sequence`)."""

    release_uid: str
    ref: str
    sequence: int
    start: datetime


def offer(session: Session, release: Release, owner_id: str, now: datetime) -> MoveOffer | None:
    """The next free window for the release, offered only to its owner while it may still
    be moved, and only when that is a move."""
    if release.owner_id != owner_id or not rules.allows(Activity.EDIT, release.state):
        return None
    start = next_for(session, release, now)
    if start is None or start == release.target_at:
        return None
    return MoveOffer(release.uid, release.ref, release.sequence, start)


def check_still_free(session: Session, release: Release, start: datetime) -> None:
    """Refuse a move to `start` once that window is no longer free (the calendar changed
    since it was offered)."""
    found = find(session, for_release(release, start), count=1)
    if not found or found[0] != start:
        raise Conflict(Code.SLOT_TAKEN, ref=release.ref)
