"""Reminder rows: the database is the truth about what is due, sent or skipped."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.columns import UTCDateTime, utcnow


class ReminderKind(StrEnum):
    BEFORE = "before"  # at an offset before the target time
    WINDOW_OPEN = "window_open"  # at the target time
    OVERDUE = "overdue"  # two hours after the target, if not released yet


class ReminderStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"  # its messages are owed to the outbox, which sends them
    SKIPPED = "skipped"  # missed while the bot was down and no longer useful


class Reminder(SQLModel, table=True):
    __tablename__ = "reminder"
    __table_args__ = (
        UniqueConstraint("release_id", "kind", "offset_minutes", name="uq_reminder_slot"),
        Index("ix_reminder_due", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="release.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=16)
    # Minutes before the target (positive), or after it (negative, for the overdue nudge).
    offset_minutes: int = Field(default=0)
    # When it is meant for (from the release's time), and when it goes.
    slot_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    status: str = Field(default=ReminderStatus.PENDING.value, max_length=16)
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
