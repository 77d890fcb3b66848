"""Freeze windows on their own: recurrence rules read in a zone, across DST changes,
midnight and week boundaries; adding, removing and overriding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from models import freezes
from models.audit import AuditEvent
from models.db import Database
from models.errors import Code, DomainError
from models.freezes import Freeze, WeeklySpan

# Dates, weekdays and times of day: CI runs these with the clock travelled (.ci/run).
pytestmark = pytest.mark.clock

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def z(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def weekly(
    db: Database,
    start: tuple[int, str],
    end: tuple[int, str],
    tz: str,
    now: datetime,
    *,
    name: str = "weekend",
    service: str | None = None,
) -> Freeze:
    def minutes(text: str) -> int:
        hours, mins = text.split(":")
        return int(hours) * 60 + int(mins)

    span = WeeklySpan(start[0], minutes(start[1]), end[0], minutes(end[1]))
    with db.session() as session:
        freeze = freezes.add_weekly(session, "T1", "U_PM", name, span, tz, service=service, now=now)
        session.expunge(freeze)
    return freeze


def inside(freeze: Freeze, when: datetime) -> bool:
    return freeze.occurrence_at(when) is not None


def test_the_rule_is_an_rfc_5545_weekly_rule_with_a_wall_clock_duration(db: Database) -> None:
    freeze = weekly(db, (FRI, "16:00"), (MON, "08:00"), "Europe/Berlin", z(2026, 10, 1))
    assert freeze.rrule == "FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0;BYSECOND=0"
    assert freeze.duration == timedelta(days=2, hours=16)
    assert freeze.tz == "Europe/Berlin"
    # DTSTART is an occurrence: a Friday, 16:00 in Berlin, no more than a week back.
    local = freeze.starts_at.astimezone(freeze.zone)
    assert (local.weekday(), local.hour, local.minute) == (FRI, 16, 0)
    assert z(2026, 9, 22) <= freeze.starts_at <= z(2026, 10, 1)


def test_europe_berlin_across_the_end_of_summer_time(db: Database) -> None:
    # Clocks go back on Sunday 25 October 2026, 03:00 CEST -> 02:00 CET.
    freeze = weekly(db, (FRI, "16:00"), (MON, "08:00"), "Europe/Berlin", z(2026, 10, 1))
    span = freeze.occurrence_at(z(2026, 10, 24, 12))
    assert span is not None
    assert span.starts_at == z(2026, 10, 23, 14)  # 16:00 CEST
    assert span.ends_at == z(2026, 10, 26, 7)  # 08:00 CET: 65 hours, not 64
    assert inside(freeze, z(2026, 10, 26, 6, 59))
    assert not inside(freeze, z(2026, 10, 26, 7))
    assert not inside(freeze, z(2026, 10, 23, 13, 59))
    # The next week it starts at 16:00 in winter time, one hour later in UTC.
    assert not inside(freeze, z(2026, 10, 30, 14, 30))
    assert inside(freeze, z(2026, 10, 30, 15))


def test_europe_berlin_across_the_start_of_summer_time(db: Database) -> None:
    # Clocks go forward on Sunday 28 March 2027, 02:00 CET -> 03:00 CEST.
    freeze = weekly(db, (FRI, "16:00"), (MON, "08:00"), "Europe/Berlin", z(2027, 3, 1))
    span = freeze.occurrence_at(z(2027, 3, 28, 12))
    assert span is not None
    assert (span.starts_at, span.ends_at) == (z(2027, 3, 26, 15), z(2027, 3, 29, 6))


def test_america_new_york_across_both_changes(db: Database) -> None:
    # Summer time ends Sunday 1 November 2026; it starts Sunday 14 March 2027.
    freeze = weekly(db, (FRI, "17:00"), (MON, "09:00"), "America/New_York", z(2026, 10, 1))
    autumn = freeze.occurrence_at(z(2026, 11, 1, 12))
    assert autumn is not None
    assert (autumn.starts_at, autumn.ends_at) == (z(2026, 10, 30, 21), z(2026, 11, 2, 14))
    spring = freeze.occurrence_at(z(2027, 3, 14, 12))
    assert spring is not None
    assert (spring.starts_at, spring.ends_at) == (z(2027, 3, 12, 22), z(2027, 3, 15, 13))
    assert inside(freeze, z(2027, 3, 15, 12, 59)) and not inside(freeze, z(2027, 3, 15, 13))


def test_a_span_from_sunday_into_monday_crosses_the_week_boundary(db: Database) -> None:
    freeze = weekly(db, (SUN, "22:00"), (MON, "06:00"), "UTC", z(2026, 11, 2))
    assert freeze.duration == timedelta(hours=8)
    assert not inside(freeze, z(2026, 11, 8, 21, 59))  # Sunday
    assert inside(freeze, z(2026, 11, 8, 22))
    assert inside(freeze, z(2026, 11, 9, 5, 59))  # Monday: the next ISO week
    assert not inside(freeze, z(2026, 11, 9, 6))
    assert not inside(freeze, z(2026, 11, 10, 3))  # Tuesday night is free


def test_a_freeze_crossing_midnight(db: Database) -> None:
    # Wednesday 23:00 to Thursday 01:00 in Berlin (CET, UTC+1, in December).
    freeze = weekly(db, (WED, "23:00"), (THU, "01:00"), "Europe/Berlin", z(2026, 12, 1))
    assert inside(freeze, z(2026, 12, 9, 23, 30))  # Thursday 00:30 in Berlin
    assert inside(freeze, z(2026, 12, 9, 22))  # Wednesday 23:00 in Berlin
    assert not inside(freeze, z(2026, 12, 10, 0))  # Thursday 01:00 in Berlin
    assert not inside(freeze, z(2026, 12, 9, 21, 59))


def test_a_span_ending_on_the_day_it_starts_but_earlier_lasts_almost_a_week(
    db: Database,
) -> None:
    freeze = weekly(db, (MON, "10:00"), (MON, "09:00"), "UTC", z(2026, 11, 2))
    assert freeze.duration == timedelta(days=6, hours=23)


def test_a_weekly_freeze_added_mid_span_is_in_force_at_once(db: Database) -> None:
    saturday = z(2026, 11, 7, 12)
    freeze = weekly(db, (FRI, "16:00"), (MON, "08:00"), "UTC", saturday)
    assert inside(freeze, saturday)
    with db.read_session() as session:
        [span] = freezes.in_force(session, "T1", saturday)
    assert span.ends_at == z(2026, 11, 9, 8)


def test_one_off_freezes_and_what_is_listed(db: Database) -> None:
    now = z(2026, 12, 1)
    with db.session() as session:
        freezes.add_one_off(
            session, "T1", "U_PM", "Holidays", z(2026, 12, 20), z(2027, 1, 4), now=now
        )
        freezes.add_one_off(
            session,
            "T1",
            "U_PM",
            "DB migration",
            z(2026, 11, 30),
            z(2026, 12, 2),
            service="payments",
            now=now,
        )
    weekly(db, (FRI, "16:00"), (MON, "08:00"), "UTC", now)
    with db.read_session() as session:
        listed = [s.freeze.name for s in freezes.current_and_next(session, "T1", now)]
        assert listed == ["DB migration", "weekend", "Holidays"]
        in_force = freezes.in_force(session, "T1", now)
        assert [s.freeze.name for s in in_force] == ["DB migration"]
        assert freezes.blocking(in_force, "search", []) == []
        window = freezes.overlapping(session, "T1", "search", z(2026, 12, 24), z(2026, 12, 25))
        assert [s.freeze.name for s in window] == ["Holidays"]
        later = [s.freeze.name for s in freezes.current_and_next(session, "T1", z(2027, 2, 1))]
        assert later == ["weekend"]  # the one-off freezes are over


def test_names_are_unique_ranges_checked_and_changes_audited(db: Database) -> None:
    now = z(2026, 12, 1)
    with db.session() as session:
        freezes.add_one_off(session, "T1", "U_PM", "Holidays", now, z(2026, 12, 2), now=now)
    cases = [
        ("holidays", now, z(2026, 12, 3), Code.FREEZE_EXISTS),
        ("x", z(2026, 12, 3), z(2026, 12, 2), Code.FREEZE_RANGE),
        ("x", now, now + timedelta(days=91), Code.FREEZE_RANGE),
        ("x", z(2026, 11, 1), z(2026, 11, 2), Code.FREEZE_PAST),
        ("", now, z(2026, 12, 3), Code.FREEZE_NAME_INVALID),
    ]
    for name, start, end, code in cases:
        with pytest.raises(DomainError) as refused, db.session() as session:
            freezes.add_one_off(session, "T1", "U_PM", name, start, end, now=now)
        assert refused.value.code == code, name
    with pytest.raises(DomainError) as refused, db.session() as session:
        freezes.add_weekly(
            session, "T1", "U_PM", "w", WeeklySpan(FRI, 0, MON, 0), "Mars/Olympus", now=now
        )
    assert refused.value.code == Code.FREEZE_ZONE_UNKNOWN
    with db.session() as session:
        freezes.remove(session, "T1", "U_PM", "HOLIDAYS", now=now)
    with pytest.raises(DomainError) as refused, db.session() as session:
        freezes.remove(session, "T1", "U_PM", "Holidays", now=now)
    assert refused.value.code == Code.NO_SUCH_FREEZE
    with db.read_session() as session:
        actions = [e.action for e in session.exec(select(AuditEvent))]
    assert actions == ["freeze_added", "freeze_removed"]
