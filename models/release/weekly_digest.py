"""The week ahead, as the weekly digest tells it: the open releases of the next seven days
(soonest first) with those in a conflict marked, the freezes in force or coming in that
week, and last week's figures (released, rolled back: `/release stats` over 7 days).

Whoever reads decides what shows: the releases `reader` may see (models/release/visibility.py),
and last week's private releases only of the reader's channels, as `/release stats` counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Column, UniqueConstraint
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, Session, SQLModel, col, select

from models import freezes
from models.columns import UTCDateTime
from models.freezes import Span
from models.policy import Key, PolicySetting
from models.policy import Scope as Scope_
from models.release import conflicts, queries, statistics
from models.release.digest_schedule import DigestSchedule
from models.release.records import Release
from models.release.statistics import Scope, Statistics
from models.release.visibility import Reader

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
    reader: Reader,
    now: datetime,
    *,
    channel_id: str | None = None,
    service: str | None = None,
) -> WeekAhead:
    """The next seven days from `now` as `reader` may read them; with `channel_id` or
    `service`, only that channel's or that service's releases (a digest's scope)."""
    until = now + WEEK
    releases = [
        r
        for r in queries.upcoming(session, team_id, reader, limit=MOST)
        if r.target_at < until
        and (channel_id is None or r.channel_id == channel_id)
        and (service is None or r.service == service)
    ]
    spans = [
        s
        for s in freezes.current_and_next(session, team_id, now)
        if s.starts_at < until and (service is None or s.freeze.covers(service))
    ]
    # Last week's figures as `/release stats` counts them where the reader is: by channel.
    figures_reader = Reader(channel_ids=reader.channel_ids)
    scope = Scope.last_days(team_id, 7, now, service=service, reader=figures_reader)
    return WeekAhead(
        since=now,
        until=until,
        releases=releases,
        conflicting=conflicts.conflicting(session, team_id, releases),
        freezes=spans,
        last_week=statistics.compute(session, scope),
    )


# --- posting it once a week ------------------------------------------------------------

# A digest missed for longer than this (the bot was down) is not posted late.
LATE_BY_AT_MOST = timedelta(days=1)


class WeeklyDigestPost(SQLModel, table=True):
    """One digest posted (or being posted) to one channel for one week: the unique key
    makes it once, whichever process or restart gets there first."""

    __tablename__ = "weekly_digest_post"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "due_at", name="uq_weekly_digest_post"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    channel_id: str = Field(max_length=32)
    # The week's posting time: a week is its own.
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    scope: str = Field(max_length=16)  # the policy's: a channel's digest, or a service's
    target: str = Field(max_length=64)
    claimed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


@dataclass(frozen=True)
class Due:
    team_id: str
    scope: Scope_
    target: str  # the channel or service whose releases it tells
    schedule: DigestSchedule
    due_at: datetime


def due(session: Session, now: datetime) -> list[Due]:
    """The digests whose time has come this week and that nobody has posted yet."""
    found = []
    for row in session.exec(
        select(PolicySetting).where(PolicySetting.key == Key.WEEKLY_DIGEST.value)
    ):
        schedule = DigestSchedule.read(str(row.value))
        due_at = schedule.last_due(now)
        if now - due_at > LATE_BY_AT_MOST:
            continue
        posted = session.exec(
            select(WeeklyDigestPost.id).where(
                WeeklyDigestPost.team_id == row.team_id,
                WeeklyDigestPost.channel_id == schedule.channel_id,
                WeeklyDigestPost.due_at == due_at,
            )
        ).first()
        if posted is None:
            found.append(Due(row.team_id, Scope_(row.scope), row.target, schedule, due_at))
    return found


def claim(session: Session, digest: Due, now: datetime) -> bool:
    """Take this week's digest for the channel: True for the one process that did."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    inserted = session.execute(
        dialect.insert(WeeklyDigestPost)
        .values(
            team_id=digest.team_id,
            channel_id=digest.schedule.channel_id,
            due_at=digest.due_at,
            scope=digest.scope.value,
            target=digest.target,
            claimed_at=now,
        )
        .on_conflict_do_nothing(index_elements=["team_id", "channel_id", "due_at"])
        .returning(col(WeeklyDigestPost.id))
    ).first()
    return inserted is not None


def for_channel(session: Session, digest: Due, now: datetime) -> WeekAhead:
    """The week ahead of the digest's scope, as the channel it is posted in may read it
    (private releases only of that channel, as a card's channel reads them)."""
    reader = Reader.members_of(digest.schedule.channel_id)
    if digest.scope == Scope_.SERVICE:
        return week_ahead(session, digest.team_id, reader, now, service=digest.target)
    return week_ahead(session, digest.team_id, reader, now, channel_id=digest.target)
