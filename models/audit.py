"""The audit trail: one row for every change to a release, and every change of who may
do what (managers, policy, freezes, tokens, webhooks).

Each row says where the change came from (`source`): "slack", "api:<token name>",
"scheduler" or "cli". The entry point sets it once for everything its work records
(`acting_from`); the operations below it need not know. Rows recorded before sources were
kept (migration 0015) have "" unless it could be told from the row itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, Session, SQLModel, col, select

from models.columns import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    # Statistics: when a release was rolled back, called off or cancelled, from the index
    # alone.
    __table_args__ = (Index("ix_audit_event_release_action_at", "release_id", "action", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    release_id: int | None = Field(default=None, foreign_key="release.id", index=True)
    actor_id: str = Field(max_length=32)
    action: str = Field(max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    detail: str = Field(default="", max_length=2000)
    # Where the change came from (see the module's docstring); "" when not known.
    source: str = Field(default="", max_length=80, sa_column_kwargs={"server_default": ""})


SLACK = "slack"
SCHEDULER = "scheduler"
CLI = "cli"
MAX_SOURCE = 80


def api_source(token_name: str) -> str:
    """The source of what an API token did: "api:" and the token's name."""
    return f"api:{token_name}"[:MAX_SOURCE]


# Where the work running in this context came from; copied into the background work it
# starts (bot.background), so what a Slack command does after its ack is still "slack".
_source: ContextVar[str] = ContextVar("releasebot_audit_source", default="")


@contextmanager
def acting_from(source: str) -> Iterator[None]:
    """Everything recorded inside (in this thread, and in work it hands on) came from
    `source`."""
    token = _source.set(source[:MAX_SOURCE])
    try:
        yield
    finally:
        _source.reset(token)


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
    source: str | None = None,
) -> AuditEvent:
    """`source`: where the change came from; by default, where this context's work did
    (`acting_from`)."""
    event = AuditEvent(
        team_id=team_id,
        release_id=release_id,
        actor_id=actor_id,
        action=action,
        before=before,
        after=after,
        detail=detail[:2000],
        at=at or utcnow(),
        source=(source if source is not None else _source.get())[:MAX_SOURCE],
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
