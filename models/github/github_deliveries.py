"""Webhook deliveries from GitHub, kept until they are handled: the queue between the
answer GitHub gets (within its 10 seconds) and the work they ask for.

Each delivery is written once, keyed by GitHub's `X-GitHub-Delivery` id under a unique
constraint: a redelivery, to this process or another on the same database, finds the row
and is not handled again. A worker claims a row with a conditional UPDATE, so one process
handles it; one that died mid-way leaves a stale claim that is taken up again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Column, Index, Text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from models.columns import UTCDateTime, utcnow
from models.durable_queue import Backoff, Queue


class DeliveryState(StrEnum):
    PENDING = "pending"
    HANDLING = "handling"  # claimed by one process
    DONE = "done"
    FAILED = "failed"  # it kept failing: given up


class GitHubDelivery(SQLModel, table=True):
    __tablename__ = "github_delivery"
    __table_args__ = (Index("ix_github_delivery_due", "state", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(max_length=64, unique=True)  # X-GitHub-Delivery
    event: str = Field(max_length=64)  # X-GitHub-Event
    body: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(default=DeliveryState.PENDING.value, max_length=16)
    attempts: int = Field(default=0)
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str = Field(default="", max_length=500)
    received_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


# Handled after the answer to GitHub: a failure (the database, Slack) is tried again after
# 10 s, 30 s, 90 s…, five times in all.
DELIVERIES = Queue(
    GitHubDelivery,
    backoff=Backoff(pauses=(timedelta(seconds=10),), pause_factor=3, max_attempts=5),
    stale_after=timedelta(minutes=2),
    claimed=DeliveryState.HANDLING.value,
    done=DeliveryState.DONE.value,
    status_column="state",
    created_column="received_at",
)


def receive(session: Session, delivery_id: str, event: str, body: str, now: datetime) -> int | None:
    """The new row's id; None when this delivery was received already (a redelivery)."""
    row = GitHubDelivery(delivery_id=delivery_id, event=event, body=body, due_at=now)
    row.received_at = now
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return None
    return row.id


def due(session: Session, now: datetime, *, limit: int = 100) -> list[int]:
    return [
        i
        for i in session.exec(
            select(GitHubDelivery.id)
            .where(
                GitHubDelivery.state == DeliveryState.PENDING.value,
                col(GitHubDelivery.due_at) <= now,
            )
            .order_by(col(GitHubDelivery.id))
            .limit(limit)
        )
        if i is not None
    ]
