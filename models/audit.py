"""The audit trail: one row for every change to a release."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, Session, SQLModel, col, select

from models.columns import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    release_id: int | None = Field(default=None, foreign_key="release.id", index=True)
    actor_id: str = Field(max_length=32)
    action: str = Field(max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    detail: str = Field(default="", max_length=2000)


def record(
    session: Session,
    *,
    team_id: str,
    release_id: int | None,
    actor_id: str,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: str = "",
    at: datetime | None = None,
) -> AuditEvent:
    event = AuditEvent(
        team_id=team_id,
        release_id=release_id,
        actor_id=actor_id,
        action=action,
        before=before,
        after=after,
        detail=detail[:2000],
        at=at or utcnow(),
    )
    session.add(event)
    # What the transaction did, for what it owes beyond the database (webhooks).
    session.info.setdefault(RECORDED, []).append(event)
    return event


RECORDED = "releasebot.audit_recorded"


def take_recorded(session: Session, release_id: int) -> list[AuditEvent]:
    """The events recorded for a release in this session and not taken yet, oldest first."""
    recorded: list[AuditEvent] = session.info.get(RECORDED, [])
    taken = [e for e in recorded if e.release_id == release_id]
    session.info[RECORDED] = [e for e in recorded if e.release_id != release_id]
    return taken


# Events that record a read, not a change: audited (and exported), but a release's history
# would drown in them (a pipeline polling the gate writes one per answer).
READS = ("gate_checked",)


def history(session: Session, release_id: int) -> list[AuditEvent]:
    """What happened to a release, oldest first: its changes, without the reads."""
    return list(
        session.exec(
            select(AuditEvent)
            .where(AuditEvent.release_id == release_id, col(AuditEvent.action).not_in(READS))
            .order_by(col(AuditEvent.at), col(AuditEvent.id))
        )
    )
