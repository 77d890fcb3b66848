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
    SENDING = "sending"  # claimed by one bot process
    SENT = "sent"
    SKIPPED = "skipped"  # missed while the bot was down and no longer useful
    FAILED = "failed"  # Slack refused for good (channel gone, account inactive)


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
    # When it is meant for (from the release's time), and when it goes next: a retry moves
    # `due_at` on, never `slot_at`, so re-planning tells a retry from a moved release.
    slot_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    status: str = Field(default=ReminderStatus.PENDING.value, max_length=16)
    attempts: int = Field(default=0)
    claimed_by: str | None = Field(default=None, max_length=100)
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
