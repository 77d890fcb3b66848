"""Freeze windows: times when releases must not move toward production (go, advance,
mark released: `rules.TOWARD_PRODUCTION`), workspace-wide or for one service, and the
overrides release managers grant one release during one.

A one-off freeze is a span [starts_at, ends_at). A recurring one is an RFC 5545
recurrence rule (`rrule`, e.g. FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0;BYSECOND=0)
read in its IANA zone (`tz`) from `starts_at` (its first occurrence, as DTSTART), each
occurrence lasting `duration_minutes` of wall-clock time in that zone. The rule is
evaluated by dateutil, never by our own date arithmetic: t is inside the freeze when the
last occurrence starting at or before t (searched from t - duration) has not ended by t.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulebase, rrulestr
from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from models import audit
from models.columns import UTCDateTime, utcnow
from models.errors import Code, Conflict, InvalidInput, NotFound

MAX_NAME = 80
# A freeze longer than this is an outage of the release process, not a freeze.
MAX_ONE_OFF = timedelta(days=90)
MAX_AHEAD = timedelta(days=2 * 366)
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,80}$")


class Freeze(SQLModel, table=True):
    __tablename__ = "freeze"
    __table_args__ = (
        UniqueConstraint("team_id", "name_key", name="uq_freeze_name"),
        UniqueConstraint("uid", name="uq_freeze_uid"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Its public name in buttons and calendar UIDs: random, never reused.
    uid: str = Field(default_factory=lambda: secrets.token_urlsafe(12), max_length=32)
    team_id: str = Field(max_length=32, index=True)
    name: str = Field(max_length=MAX_NAME)
    name_key: str = Field(max_length=MAX_NAME)  # the name casefolded: one freeze per name
    # None: the whole workspace.
    service: str | None = Field(default=None, max_length=64)
    # One-off: the start; recurring: the first occurrence (the rule's DTSTART).
    starts_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # One-off: the end; recurring: None (it ends never).
    ends_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    rrule: str = Field(default="", max_length=200)  # "" for a one-off freeze
    duration_minutes: int = Field(default=0)  # of each occurrence (recurring)
    tz: str = Field(default="UTC", max_length=64)  # the zone the rule is read in
    created_by: str = Field(max_length=32)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )

    @property
    def recurring(self) -> bool:
        return bool(self.rrule)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def duration(self) -> timedelta:
        if self.recurring:
            return timedelta(minutes=self.duration_minutes)
        assert self.ends_at is not None
        return self.ends_at - self.starts_at

    def covers(self, service: str) -> bool:
        return self.service is None or self.service == service

    def rule(self) -> rrulebase:
        """The recurrence, with DTSTART in the freeze's zone (wall-clock occurrences)."""
        dtstart = self.starts_at.astimezone(self.zone)
        return rrulestr(self.rrule, dtstart=dtstart)

    def occurrence_at(self, when: datetime) -> Span | None:
        """The occurrence in force at `when`, if any."""
        return next(self.occurrences(when, when + timedelta(microseconds=1)), None)

    def occurrences(self, start: datetime, end: datetime) -> Iterator[Span]:
        """Occurrences overlapping [start, end), earliest first (all in UTC)."""
        if not self.recurring:
            assert self.ends_at is not None
            if self.starts_at < end and self.ends_at > start:
                yield Span(self, self.starts_at, self.ends_at)
            return
        rule, length = self.rule(), self.duration
        # An occurrence overlapping `start` began at most one duration (of wall-clock
        # time: across a DST change an occurrence lasts an hour more or less) before it;
        # an hour's margin covers clocks going back inside that span. UTC bounds: aware
        # datetimes in different zones compare as instants, not as wall times.
        wall_start = start.astimezone(self.zone)
        lower = (wall_start - length).astimezone(UTC) - timedelta(hours=1)
        upper = end.astimezone(UTC)
        for begin in rule.between(lower, upper, inc=True):
            # Wall-clock length: the same tzinfo keeps the local time, then to UTC.
            span = Span(self, begin.astimezone(UTC), (begin + length).astimezone(UTC))
            if span.starts_at < end and span.ends_at > start:
                yield span

    def next_span(self, now: datetime) -> Span | None:
        """The occurrence in force at `now`, else the next one."""
        current = self.occurrence_at(now)
        if current is not None:
            return current
        if not self.recurring:
            assert self.ends_at is not None
            return Span(self, self.starts_at, self.ends_at) if self.starts_at > now else None
        begin = self.rule().after(now.astimezone(UTC))
        if begin is None:
            return None
        return Span(self, begin.astimezone(UTC), (begin + self.duration).astimezone(UTC))


@dataclass(frozen=True)
class Span:
    """One occurrence of a freeze, in UTC."""

    freeze: Freeze
    starts_at: datetime
    ends_at: datetime

    def contains(self, when: datetime) -> bool:
        return self.starts_at <= when < self.ends_at


class FreezeOverride(SQLModel, table=True):
    """A release manager let one release go (and roll out) during one occurrence of a
    freeze. The freeze's name is kept, so the override reads right after it is removed."""

    __tablename__ = "freeze_override"
    __table_args__ = (
        UniqueConstraint("release_id", "freeze_uid", "occurrence_start", name="uq_freeze_override"),
    )

    id: int | None = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="release.id", index=True, ondelete="CASCADE")
    freeze_uid: str = Field(max_length=32)
    freeze_name: str = Field(max_length=MAX_NAME)
    occurrence_start: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    occurrence_end: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    by: str = Field(max_length=32)
    reason: str = Field(max_length=500)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


# --- what people ask for ----------------------------------------------------------------


@dataclass(frozen=True)
class WeeklySpan:
    """`every fri 16:00 to mon 08:00`: weekdays 0 (Monday) .. 6, minutes since midnight."""

    start_day: int
    start_minute: int
    end_day: int
    end_minute: int

    @property
    def duration(self) -> timedelta:
        minutes = (self.end_day - self.start_day) * 1440 + self.end_minute - self.start_minute
        minutes %= 7 * 1440
        return timedelta(minutes=minutes)

    @property
    def rrule(self) -> str:
        hour, minute = divmod(self.start_minute, 60)
        return (
            f"FREQ=WEEKLY;BYDAY={WEEKDAYS[self.start_day]};BYHOUR={hour};"
            f"BYMINUTE={minute};BYSECOND=0"
        )


def clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not _NAME.match(name):
        raise InvalidInput(Code.FREEZE_NAME_INVALID, limit=MAX_NAME)
    return name


def check_zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(Code.FREEZE_ZONE_UNKNOWN, zone=tz) from None


def _check_free(session: Session, team_id: str, name: str) -> None:
    if session.exec(
        select(Freeze.id).where(Freeze.team_id == team_id, Freeze.name_key == name.casefold())
    ).first():
        raise Conflict(Code.FREEZE_EXISTS, name=name)


def _snapshot(freeze: Freeze) -> dict[str, object]:
    return {
        "name": freeze.name,
        "service": freeze.service,
        "starts_at": freeze.starts_at.isoformat(),
        "ends_at": freeze.ends_at.isoformat() if freeze.ends_at else None,
        "rrule": freeze.rrule,
        "duration_minutes": freeze.duration_minutes,
        "tz": freeze.tz,
    }


def _add(session: Session, freeze: Freeze, now: datetime) -> Freeze:
    _check_free(session, freeze.team_id, freeze.name)
    session.add(freeze)
    audit.record(
        session,
        team_id=freeze.team_id,
        release_id=None,
        actor_id=freeze.created_by,
        action="freeze_added",
        after=_snapshot(freeze),
        at=now,
    )
    session.flush()
    return freeze


def add_one_off(
    session: Session,
    team_id: str,
    actor_id: str,
    name: str,
    starts_at: datetime,
    ends_at: datetime,
    *,
    service: str | None = None,
    tz: str = "UTC",
    now: datetime | None = None,
) -> Freeze:
    """A freeze from `starts_at` until `ends_at` (managers only: handlers check)."""
    now = now or utcnow()
    name = clean_name(name)
    starts_at, ends_at = starts_at.astimezone(UTC), ends_at.astimezone(UTC)
    if ends_at <= starts_at or ends_at - starts_at > MAX_ONE_OFF:
        raise InvalidInput(Code.FREEZE_RANGE, days=MAX_ONE_OFF.days)
    if ends_at <= now:
        raise InvalidInput(Code.FREEZE_PAST)
    if starts_at > now + MAX_AHEAD:
        raise InvalidInput(Code.WHEN_TOO_FAR)
    freeze = Freeze(
        team_id=team_id,
        name=name,
        name_key=name.casefold(),
        service=service,
        starts_at=starts_at,
        ends_at=ends_at,
        tz=tz,
        created_by=actor_id,
        created_at=now,
    )
    return _add(session, freeze, now)


def add_weekly(
    session: Session,
    team_id: str,
    actor_id: str,
    name: str,
    weekly: WeeklySpan,
    tz: str,
    *,
    service: str | None = None,
    now: datetime | None = None,
) -> Freeze:
    """A freeze every week from one weekday and time to another, in zone `tz`."""
    now = now or utcnow()
    name = clean_name(name)
    zone = check_zone(tz)
    if weekly.duration <= timedelta(0):
        raise InvalidInput(Code.FREEZE_RANGE, days=7)
    # DTSTART: the first occurrence of the rule from a week back, so a freeze added in the
    # middle of its span is in force at once (and DTSTART is an occurrence, as RFC 5545
    # asks).
    hour, minute = divmod(weekly.start_minute, 60)
    week_ago = (now.astimezone(zone) - timedelta(days=8)).replace(
        hour=hour, minute=minute, second=0, microsecond=0
    )
    first = rrulestr(weekly.rrule, dtstart=week_ago).after(week_ago, inc=True)
    freeze = Freeze(
        team_id=team_id,
        name=name,
        name_key=name.casefold(),
        service=service,
        starts_at=first.astimezone(UTC),
        rrule=weekly.rrule,
        duration_minutes=int(weekly.duration.total_seconds() // 60),
        tz=zone.key,
        created_by=actor_id,
        created_at=now,
    )
    return _add(session, freeze, now)


def remove(
    session: Session, team_id: str, actor_id: str, name: str, *, now: datetime | None = None
) -> Freeze:
    """Remove a freeze by name (managers only: handlers check); audited."""
    now = now or utcnow()
    key = " ".join(name.split()).casefold()
    freeze = session.exec(
        select(Freeze).where(Freeze.team_id == team_id, Freeze.name_key == key)
    ).first()
    if freeze is None:
        raise NotFound(Code.NO_SUCH_FREEZE, name=name)
    session.delete(freeze)
    audit.record(
        session,
        team_id=team_id,
        release_id=None,
        actor_id=actor_id,
        action="freeze_removed",
        before=_snapshot(freeze),
        at=now,
    )
    session.flush()
    return freeze


# --- queries ----------------------------------------------------------------------------


def all_freezes(session: Session, team_id: str) -> list[Freeze]:
    return list(
        session.exec(select(Freeze).where(Freeze.team_id == team_id).order_by(col(Freeze.id)))
    )


def in_force(session: Session, team_id: str, now: datetime) -> list[Span]:
    """The occurrences in force at `now`, of every freeze in the workspace."""
    spans = (f.occurrence_at(now) for f in all_freezes(session, team_id))
    return [s for s in spans if s is not None]


def overlapping(
    session: Session, team_id: str, service: str, start: datetime, end: datetime
) -> list[Span]:
    """Occurrences of freezes covering `service` that overlap [start, end)."""
    return [
        span
        for freeze in all_freezes(session, team_id)
        if freeze.covers(service)
        for span in freeze.occurrences(start, end)
    ]


def current_and_next(session: Session, team_id: str, now: datetime) -> list[Span]:
    """Each freeze's occurrence in force now, else its next one; in force first, then by
    start. Freezes that are over are left out."""
    spans = [s for f in all_freezes(session, team_id) if (s := f.next_span(now)) is not None]
    return sorted(spans, key=lambda s: (not s.contains(now), s.starts_at, s.freeze.name_key))


def overrides_of(session: Session, release_id: int) -> list[FreezeOverride]:
    return list(
        session.exec(
            select(FreezeOverride)
            .where(FreezeOverride.release_id == release_id)
            .order_by(col(FreezeOverride.at), col(FreezeOverride.id))
        )
    )


def blocking(
    spans: Sequence[Span], service: str, overrides: Sequence[FreezeOverride]
) -> list[Span]:
    """The spans covering `service` that no override lets this release through."""
    granted = {(o.freeze_uid, o.occurrence_start) for o in overrides}
    return [
        s for s in spans if s.freeze.covers(service) and (s.freeze.uid, s.starts_at) not in granted
    ]


def holding(
    session: Session, team_id: str, release_id: int, service: str, now: datetime
) -> list[Span]:
    """The freezes in force at `now` that hold this release: covering its service, and not
    overridden for it. The one answer to "is it frozen?" (lifecycle moves, the gate)."""
    return blocking(in_force(session, team_id, now), service, overrides_of(session, release_id))


def record_override(
    session: Session,
    team_id: str,
    release_id: int,
    span: Span,
    actor_id: str,
    reason: str,
    now: datetime,
) -> FreezeOverride:
    override = FreezeOverride(
        release_id=release_id,
        freeze_uid=span.freeze.uid,
        freeze_name=span.freeze.name,
        occurrence_start=span.starts_at,
        occurrence_end=span.ends_at,
        by=actor_id,
        reason=reason,
        at=now,
    )
    session.add(override)
    audit.record(
        session,
        team_id=team_id,
        release_id=release_id,
        actor_id=actor_id,
        action="freeze_overridden",
        after={
            "freeze": span.freeze.name,
            "freeze_uid": span.freeze.uid,
            "from": span.starts_at.isoformat(),
            "until": span.ends_at.isoformat(),
        },
        detail=reason,
        at=now,
    )
    return override
