"""What is due and when: reminder rows planned from a release, taken when due.

The database is the truth. A due reminder is taken with a conditional UPDATE that marks it
sent, in the transaction that owes its messages to the outbox (which sends them): when
several bot processes share one database exactly one of them owes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.engine import CursorResult
from sqlmodel import Session, col, select

from models.outbox import Direct
from models.release.records import Release, ReleaseStatus
from models.reminders.table import Reminder, ReminderKind, ReminderStatus

OVERDUE_AFTER = timedelta(hours=2)
# An overdue nudge missed while the bot was down is still worth sending this long after.
OVERDUE_GRACE = timedelta(hours=24)


@dataclass(frozen=True)
class Said:
    """What a reminder says: a reply in the release's thread, and direct messages."""

    thread: str | None
    direct: tuple[Direct, ...] = ()


@dataclass(frozen=True)
class Slot:
    kind: ReminderKind
    offset_minutes: int
    due_at: datetime


def slots(release: Release, offsets: Sequence[timedelta]) -> list[Slot]:
    """Every reminder a release should have: before it, at it, and the overdue nudge.

    Offsets are exact durations, so across a DST change "24h before" is 24 real hours.
    """
    target = release.target_at
    planned = [
        Slot(ReminderKind.BEFORE, int(offset.total_seconds() // 60), target - offset)
        for offset in offsets
    ]
    planned.append(Slot(ReminderKind.WINDOW_OPEN, 0, target))
    overdue = int(-OVERDUE_AFTER.total_seconds() // 60)
    planned.append(Slot(ReminderKind.OVERDUE, overdue, target + OVERDUE_AFTER))
    return planned


def plan(
    session: Session, release: Release, offsets: Sequence[timedelta], now: datetime
) -> list[Reminder]:
    """Bring the release's reminder rows in line with its time and state.

    A finished release loses its pending reminders. A moved release gets its reminders
    moved, and one already sent for the old time is sent again for the new one.
    """
    assert release.id is not None
    existing = {
        (r.kind, r.offset_minutes): r
        for r in session.exec(select(Reminder).where(Reminder.release_id == release.id))
    }
    if release.state.is_finished:
        session.execute(
            delete(Reminder).where(
                col(Reminder.release_id) == release.id,
                col(Reminder.status) == ReminderStatus.PENDING.value,
            )
        )
        return []
    wanted = {(s.kind.value, s.offset_minutes): s for s in slots(release, offsets)}
    for key, row in existing.items():
        if key not in wanted and row.status == ReminderStatus.PENDING.value:
            session.delete(row)  # its offset is no longer configured
    rows: list[Reminder] = []
    for key, slot in wanted.items():
        # A slot whose time has already passed when it is planned is recorded, not sent.
        status = ReminderStatus.PENDING if slot.due_at > now else ReminderStatus.SKIPPED
        found = existing.get(key)
        if found is None:
            row = Reminder(
                release_id=release.id,
                kind=slot.kind.value,
                offset_minutes=slot.offset_minutes,
                slot_at=slot.due_at,
                due_at=slot.due_at,
                status=status.value,
                created_at=now,
            )
        elif found.slot_at != slot.due_at:
            row = found
            row.slot_at = row.due_at = slot.due_at
            row.status = status.value
            row.sent_at = None
        else:
            rows.append(found)
            continue
        session.add(row)
        rows.append(row)
    session.flush()
    return [r for r in rows if r.status == ReminderStatus.PENDING.value]


def pending_times(session: Session, after: datetime) -> list[tuple[int, datetime]]:
    """(id, due time) of pending reminders due after `after`: just what a schedule needs."""
    rows = session.execute(
        select(Reminder.id, Reminder.due_at).where(  # type: ignore[call-overload]
            col(Reminder.status) == ReminderStatus.PENDING.value, col(Reminder.due_at) > after
        )
    )
    return [(int(reminder_id), due_at) for reminder_id, due_at in rows]


def due(session: Session, now: datetime, *, limit: int = 500) -> list[int]:
    rows = session.exec(
        select(Reminder)
        .where(Reminder.status == ReminderStatus.PENDING.value, col(Reminder.due_at) <= now)
        .order_by(col(Reminder.due_at))
        .limit(limit)
    )
    return [r.id for r in rows if r.id is not None]


def worth_sending(reminder: Reminder, release: Release, now: datetime) -> bool:
    """Whether a reminder whose time has come (maybe long ago) still helps anyone."""
    if release.state.is_finished:
        return False
    kind = ReminderKind(reminder.kind)
    if kind == ReminderKind.OVERDUE:
        return release.state != ReleaseStatus.RELEASED and now < reminder.slot_at + OVERDUE_GRACE
    # Before the release, or while its window is open.
    return now < release.target_at + release.window


def superseded(session: Session, reminder: Reminder, now: datetime) -> bool:
    """A missed "before" reminder is pointless when a later one is also due now."""
    if reminder.kind != ReminderKind.BEFORE.value:
        return False
    later = session.exec(
        select(Reminder).where(
            Reminder.release_id == reminder.release_id,
            col(Reminder.kind).in_([ReminderKind.BEFORE.value, ReminderKind.WINDOW_OPEN.value]),
            col(Reminder.slot_at) > reminder.slot_at,
            col(Reminder.due_at) <= now,
        )
    ).first()
    return later is not None


def take_due(session: Session, reminder_id: int, now: datetime) -> tuple[Reminder, Release] | None:
    """A due reminder and its release, marked sent in the caller's transaction, when this
    process is the one to send it and it still helps anyone; None when another process
    took it, it was moved or done, or it is skipped now. The caller owes its messages to
    the outbox in the same transaction: they are owed once, however many processes run."""
    taken = session.execute(
        update(Reminder)
        .where(
            col(Reminder.id) == reminder_id,
            col(Reminder.status) == ReminderStatus.PENDING.value,
            col(Reminder.due_at) <= now,
        )
        .values(status=ReminderStatus.SENT.value, sent_at=now)
    )
    assert isinstance(taken, CursorResult)
    if taken.rowcount != 1:
        return None
    reminder = session.get(Reminder, reminder_id, populate_existing=True)
    assert reminder is not None
    release = session.get(Release, reminder.release_id)
    if (
        release is None
        or not worth_sending(reminder, release, now)
        or superseded(session, reminder, now)
    ):
        reminder.status, reminder.sent_at = ReminderStatus.SKIPPED.value, None
        session.add(reminder)
        return None
    return reminder, release
