"""What is due and when, on its own: models/reminders/planning.py against a real database.

tests/scheduler/test_reminders.py drives the same decisions end to end through Slack; here
each decision is pinned directly, at exact times.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, col, select

from models.db import Database
from models.release.records import Release, ReleaseStatus
from models.reminders import planning
from models.reminders.planning import OVERDUE_GRACE, Slot
from models.reminders.table import Reminder, ReminderKind, ReminderStatus
from tests.models.conftest import NewRelease

# Dates, weekdays and times of day: CI runs these with the clock travelled (.ci/run).
pytestmark = pytest.mark.clock

TARGET = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
OFFSETS = (timedelta(hours=24), timedelta(hours=1))
BEFORE, WINDOW, OVERDUE = ReminderKind.BEFORE, ReminderKind.WINDOW_OPEN, ReminderKind.OVERDUE
Key = tuple[str, int]


FINISHED = {s for s in ReleaseStatus if s.is_finished}


def release_at(
    target: datetime = TARGET, status: ReleaseStatus = ReleaseStatus.PROPOSED
) -> Release:
    return Release(
        team_id="T1",
        service="svc",
        version="1",
        channel_id="C1",
        owner_id="U1",
        target_at=target,
        status=status.value,
    )


def plan(db: Database, release: Release, now: datetime, offsets=OFFSETS) -> list[Key]:
    """Plans, commits, and returns the pending rows' keys that plan() answered."""
    with db.session() as session:
        row = session.get(Release, release.id)
        assert row is not None
        row.target_at, row.status = release.target_at, release.status
        pending = planning.plan(session, row, offsets, now)
        return sorted((r.kind, r.offset_minutes) for r in pending)


def table(db: Database) -> dict[Key, Reminder]:
    with db.read_session() as session:
        return {(r.kind, r.offset_minutes): r for r in session.exec(select(Reminder))}


def statuses(db: Database) -> dict[Key, str]:
    return {key: row.status for key, row in table(db).items()}


def by_key(db: Database, kind: ReminderKind, offset: int) -> Reminder:
    return table(db)[(kind.value, offset)]


def mark(session: Session, reminder_id: int, status: ReminderStatus, at: datetime) -> None:
    """The row as a scheduler leaves it: sent (its messages owed) or skipped."""
    row = session.get(Reminder, reminder_id)
    assert row is not None
    row.status, row.sent_at = status.value, at if status == ReminderStatus.SENT else None
    session.add(row)


# --- slots --------------------------------------------------------------------------------


def test_slots_are_before_at_and_after_the_target() -> None:
    assert planning.slots(release_at(), OFFSETS) == [
        Slot(BEFORE, 1440, TARGET - timedelta(hours=24)),
        Slot(BEFORE, 60, TARGET - timedelta(hours=1)),
        Slot(WINDOW, 0, TARGET),
        Slot(OVERDUE, -120, TARGET + timedelta(hours=2)),
    ]


def test_without_offsets_only_the_window_and_the_overdue_nudge() -> None:
    assert [(s.kind, s.offset_minutes) for s in planning.slots(release_at(), ())] == [
        (WINDOW, 0),
        (OVERDUE, -120),
    ]


def test_offsets_are_exact_durations_in_whole_minutes() -> None:
    slot = planning.slots(release_at(), (timedelta(days=2, minutes=30, seconds=59),))[0]
    assert slot.offset_minutes == 2 * 24 * 60 + 30
    assert slot.due_at == TARGET - timedelta(days=2, minutes=30, seconds=59)


# --- plan ---------------------------------------------------------------------------------


def test_plan_writes_every_future_slot_pending(db: Database, new_release: NewRelease) -> None:
    release = new_release(TARGET)
    now = TARGET - timedelta(days=3)
    assert plan(db, release, now) == [
        ("before", 60),
        ("before", 1440),
        ("overdue", -120),
        ("window_open", 0),
    ]
    rows = table(db)
    assert {key: row.due_at for key, row in rows.items()} == {
        ("before", 1440): TARGET - timedelta(hours=24),
        ("before", 60): TARGET - timedelta(hours=1),
        ("window_open", 0): TARGET,
        ("overdue", -120): TARGET + timedelta(hours=2),
    }
    assert all(row.created_at == now for row in rows.values())


def test_a_slot_already_past_is_recorded_as_skipped(db: Database, new_release: NewRelease) -> None:
    release = new_release(TARGET)
    now = TARGET - timedelta(hours=5)
    assert plan(db, release, now) == [("before", 60), ("overdue", -120), ("window_open", 0)]
    assert statuses(db)[("before", 1440)] == "skipped"
    # A slot due exactly now has passed too: the planner never sends one late.
    exact = new_release(TARGET)
    assert plan(db, exact, TARGET - timedelta(hours=1)) == [("overdue", -120), ("window_open", 0)]
    with db.read_session() as session:
        rows = session.exec(select(Reminder).where(Reminder.release_id == exact.id))
        assert {(r.kind, r.offset_minutes): r.status for r in rows}[("before", 60)] == "skipped"


def test_planning_again_changes_nothing(db: Database, new_release: NewRelease) -> None:
    release = new_release(TARGET)
    now = TARGET - timedelta(days=3)
    plan(db, release, now)
    before = {key: (row.id, row.due_at, row.status) for key, row in table(db).items()}
    assert len(plan(db, release, now + timedelta(hours=1))) == 4
    assert {key: (row.id, row.due_at, row.status) for key, row in table(db).items()} == before


def test_a_moved_release_moves_its_reminders_and_resends_those_sent(
    db: Database, new_release: NewRelease
) -> None:
    release = new_release(TARGET)
    now = TARGET - timedelta(days=3)
    plan(db, release, now)
    day_before = by_key(db, BEFORE, 1440)
    with db.session() as session:
        mark(session, day_before.id or 0, ReminderStatus.SENT, now)
    release.target_at = TARGET + timedelta(days=2)
    assert len(plan(db, release, now)) == 4
    rows = table(db)
    moved = rows[("before", 1440)]
    assert moved.id == day_before.id  # the same row, moved
    assert (moved.status, moved.due_at, moved.sent_at) == (
        "pending",
        TARGET + timedelta(days=1),
        None,
    )
    assert rows[("window_open", 0)].due_at == TARGET + timedelta(days=2)


@pytest.mark.parametrize("status", sorted(FINISHED))
def test_a_finished_release_loses_its_pending_reminders_only(
    db: Database, new_release: NewRelease, status: ReleaseStatus
) -> None:
    release = new_release(TARGET)
    plan(db, release, TARGET - timedelta(days=3))
    with db.session() as session:
        mark(session, by_key(db, BEFORE, 1440).id or 0, ReminderStatus.SENT, TARGET)
    release.status = status.value
    assert plan(db, release, TARGET - timedelta(hours=2)) == []
    assert statuses(db) == {("before", 1440): "sent"}


def test_an_offset_no_longer_configured_is_dropped_unless_sent(
    db: Database, new_release: NewRelease
) -> None:
    release = new_release(TARGET)
    now = TARGET - timedelta(days=3)
    plan(db, release, now, offsets=(timedelta(hours=48), timedelta(hours=24), timedelta(hours=1)))
    with db.session() as session:
        mark(session, by_key(db, BEFORE, 2880).id or 0, ReminderStatus.SENT, now)
    assert plan(db, release, now, offsets=(timedelta(minutes=15),)) == [
        ("before", 15),
        ("overdue", -120),
        ("window_open", 0),
    ]
    assert statuses(db) == {
        ("before", 2880): "sent",
        ("before", 15): "pending",
        ("window_open", 0): "pending",
        ("overdue", -120): "pending",
    }


# --- what is due --------------------------------------------------------------------------


def test_pending_times_and_due(db: Database, new_release: NewRelease) -> None:
    first, second = new_release(TARGET), new_release(TARGET + timedelta(minutes=30))
    now = TARGET - timedelta(days=3)
    plan(db, first, now)
    plan(db, second, now)
    with db.read_session() as session:
        times = planning.pending_times(session, TARGET)
        assert sorted(due for _, due in times) == [
            TARGET + timedelta(minutes=30),
            TARGET + timedelta(hours=2),
            TARGET + timedelta(hours=2, minutes=30),
        ]
        at = TARGET - timedelta(minutes=30)
        due = planning.due(session, at)
        rows = {r.id: r for r in session.exec(select(Reminder))}
    assert [(rows[i].release_id, rows[i].kind, rows[i].offset_minutes) for i in due] == [
        (first.id, "before", 1440),
        (second.id, "before", 1440),
        (first.id, "before", 60),
        (second.id, "before", 60),  # due exactly then
    ]
    assert [rows[i].due_at for i in due] == sorted(rows[i].due_at for i in due)
    with db.read_session() as session:
        assert planning.due(session, at, limit=2) == due[:2]
        assert planning.due(session, TARGET - timedelta(days=2)) == []


def test_due_leaves_out_what_is_not_pending(db: Database, new_release: NewRelease) -> None:
    release = new_release(TARGET)
    plan(db, release, TARGET - timedelta(days=3))
    with db.session() as session:
        mark(session, by_key(db, BEFORE, 1440).id or 0, ReminderStatus.SKIPPED, TARGET)
        mark(session, by_key(db, BEFORE, 60).id or 0, ReminderStatus.SENT, TARGET)
    with db.read_session() as session:
        due = planning.due(session, TARGET)
        assert due == [by_key(db, WINDOW, 0).id]


# --- worth sending and superseded (pure decisions) ----------------------------------------


def reminder(kind: ReminderKind, due_at: datetime, offset: int = 0) -> Reminder:
    return Reminder(
        release_id=1, kind=kind.value, offset_minutes=offset, slot_at=due_at, due_at=due_at
    )


@pytest.mark.parametrize("kind", [BEFORE, WINDOW])
def test_a_reminder_helps_until_the_window_closes(kind: ReminderKind) -> None:
    release = release_at()
    release.window_minutes = 90
    row = reminder(kind, TARGET - timedelta(hours=1))
    assert planning.worth_sending(row, release, TARGET - timedelta(days=1))
    assert planning.worth_sending(row, release, TARGET + timedelta(minutes=89, seconds=59))
    assert not planning.worth_sending(row, release, TARGET + timedelta(minutes=90))


def test_the_overdue_nudge_helps_for_a_day() -> None:
    release = release_at()
    row = reminder(OVERDUE, TARGET + timedelta(hours=2), -120)
    assert planning.worth_sending(row, release, TARGET + timedelta(hours=2))
    assert planning.worth_sending(row, release, row.due_at + OVERDUE_GRACE - timedelta(seconds=1))
    assert not planning.worth_sending(row, release, row.due_at + OVERDUE_GRACE)
    release.status = ReleaseStatus.ROLLING_OUT.value  # still not released: still a nudge
    assert planning.worth_sending(row, release, TARGET + timedelta(hours=3))


@pytest.mark.parametrize("status", sorted(FINISHED))
@pytest.mark.parametrize("kind", [BEFORE, WINDOW, OVERDUE])
def test_nothing_helps_a_finished_release(status: ReleaseStatus, kind: ReminderKind) -> None:
    release = release_at(status=status)
    assert not planning.worth_sending(reminder(kind, TARGET), release, TARGET - timedelta(days=1))


def test_a_missed_before_reminder_is_superseded_by_a_later_one_also_due(
    db: Database, new_release: NewRelease
) -> None:
    release = new_release(TARGET)
    plan(db, release, TARGET - timedelta(days=3))
    day, hour = by_key(db, BEFORE, 1440), by_key(db, BEFORE, 60)
    window, overdue = by_key(db, WINDOW, 0), by_key(db, OVERDUE, -120)
    with db.read_session() as session:
        # Only the day-before one is due: it goes.
        assert not planning.superseded(session, day, TARGET - timedelta(hours=2))
        # The bot was down until the hour-before one was due too: only that one helps.
        assert planning.superseded(session, day, TARGET - timedelta(hours=1))
        assert not planning.superseded(session, hour, TARGET - timedelta(minutes=1))
        assert planning.superseded(session, hour, TARGET)  # the window opened meanwhile
        # The window and the overdue nudge say other things: never superseded.
        assert not planning.superseded(session, window, TARGET + timedelta(hours=3))
        assert not planning.superseded(session, overdue, TARGET + timedelta(days=1))
    other = new_release(TARGET - timedelta(hours=23))
    plan(db, other, TARGET - timedelta(days=3))
    with db.read_session() as session:
        # Another release's later reminders are no reason to drop this one.
        assert not planning.superseded(session, day, TARGET - timedelta(hours=2))


# --- claim, finish, retries, stale claims -------------------------------------------------


def test_take_due_is_exclusive_and_only_when_due(db: Database, new_release: NewRelease) -> None:
    release = new_release(TARGET)
    plan(db, release, TARGET - timedelta(days=3))
    window_id = by_key(db, WINDOW, 0).id or 0
    with db.session() as session:
        assert planning.take_due(session, window_id, TARGET - timedelta(seconds=1)) is None
    with db.session() as session:
        taken = planning.take_due(session, window_id, TARGET)
        assert taken is not None and taken[1].id == release.id
    with db.session() as session:
        assert planning.take_due(session, window_id, TARGET) is None
        assert planning.take_due(session, 999_999, TARGET) is None
    row = by_key(db, WINDOW, 0)
    assert (row.status, row.sent_at) == ("sent", TARGET)


def test_take_due_skips_what_no_longer_helps(db: Database, new_release: NewRelease) -> None:
    release = new_release(TARGET)
    plan(db, release, TARGET - timedelta(days=3))
    # At the target the 1 h reminder is superseded by the window; the day-before one too.
    with db.session() as session:
        assert planning.take_due(session, by_key(db, BEFORE, 60).id or 0, TARGET) is None
        assert planning.take_due(session, by_key(db, WINDOW, 0).id or 0, TARGET) is not None
    assert statuses(db)[("before", 60)] == "skipped"
    assert statuses(db)[("window_open", 0)] == "sent"


def test_rows_keep_to_their_release(db: Database, new_release: NewRelease) -> None:
    first, second = new_release(TARGET), new_release(TARGET)
    plan(db, first, TARGET - timedelta(days=3))
    plan(db, second, TARGET - timedelta(days=3))
    second.status = ReleaseStatus.CANCELLED.value
    plan(db, second, TARGET - timedelta(days=2))
    with db.read_session() as session:
        left = session.exec(select(Reminder.release_id).order_by(col(Reminder.id))).all()
    assert set(left) == {first.id}
    assert len(left) == 4
