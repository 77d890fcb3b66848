"""The week ahead, as the weekly digest tells it: the open releases of the next seven days
(soonest first) with those in a conflict marked, the freezes in force or coming in that
week, and last week's figures (released, rolled back: `/release stats` over 7 days).

Whoever reads decides what shows: the releases `viewer` may see (models/release/queries.py),
and last week's private releases only of the viewer's channel, as `/release stats` counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from models import freezes
from models.freezes import Span
from models.release import conflicts, queries, statistics
from models.release.queries import Viewer
from models.release.records import Release
from models.release.statistics import Scope, Statistics

WEEK = timedelta(days=7)
# More than any week holds; enough to say the week is full.
MOST = 500


@dataclass(frozen=True)
class WeekAhead:
    since: datetime
    until: datetime
    releases: list[Release]
    conflicting: set[int]  # ids of those in a conflict of the calendar
    freezes: list[Span]
    last_week: Statistics


def week_ahead(
    session: Session,
    team_id: str,
    viewer: Viewer,
    now: datetime,
    *,
    channel_id: str | None = None,
    service: str | None = None,
) -> WeekAhead:
    """The next seven days from `now` as `viewer` may read them; with `channel_id` or
    `service`, only that channel's or that service's releases (a digest's scope)."""
    until = now + WEEK
    releases = [
        r
        for r in queries.upcoming(session, team_id, viewer, limit=MOST)
        if r.target_at < until
        and (channel_id is None or r.channel_id == channel_id)
        and (service is None or r.service == service)
    ]
    spans = [
        s
        for s in freezes.current_and_next(session, team_id, now)
        if s.starts_at < until and (service is None or s.freeze.covers(service))
    ]
    scope = Scope.last_days(
        team_id, 7, now, service=service, channel_id=channel_id or viewer.channel_id
    )
    return WeekAhead(
        since=now,
        until=until,
        releases=releases,
        conflicting=conflicts.conflicting(session, team_id, releases),
        freezes=spans,
        last_week=statistics.compute(session, scope),
    )
