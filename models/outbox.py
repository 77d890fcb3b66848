"""The messages a change owes Slack, written in the change's own transaction.

A change to a release never waits on Slack: it commits, with rows here saying which of the
release's messages must now show it (card, checklist, announcement) and which thread
replies it makes. A sender then posts them, after the commit; what fails for a while is
tried again with growing pauses until it is sent. So no database transaction spans a Slack
call, and nothing a change requires is lost when Slack fails once.

Each post carries `key` in Slack's message metadata: after a connection dropped mid-post,
the sender looks for a message with that key before posting again, so none is posted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial

from sqlalchemy import Column, Index
from sqlmodel import Field, Session, SQLModel, col, select

from models.columns import UTCDateTime, utcnow
from models.durable_queue import Backoff, Queue
from models.release.records import Release


class MessageKind(StrEnum):
    CARD = "card"  # the thread's root in the release's channel
    CHECKLIST = "checklist"  # the go/no-go checklist, in the thread
    ANNOUNCEMENT = "announcement"  # the rollout, in the announce channel
    REPLY = "reply"  # one sentence in the thread: a step of the release's log
    DIRECT = "direct"  # a direct message to one person about the release (a reminder)


# Messages that show the release's current state: one pending row each is enough, however
# many changes come before it is sent.
LIVE_MESSAGES = (MessageKind.CARD, MessageKind.CHECKLIST, MessageKind.ANNOUNCEMENT)
# Messages posted once with the text they were owed with, never updated.
ONE_OFF_MESSAGES = (MessageKind.REPLY, MessageKind.DIRECT)


@dataclass(frozen=True)
class Direct:
    """A direct message owed: to whom (a Slack user id), and what it says."""

    recipient: str
    text: str


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by one process
    SENT = "sent"
    FAILED = "failed"  # Slack refused for good, or it was tried for too long


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_due", "status", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="release.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=16)
    # A reply's or direct message's text, as written when it was owed (live messages
    # render afresh).
    text: str = Field(default="", max_length=4000)
    # Whom a direct message goes to (a Slack user id); empty for the release's messages.
    recipient: str = Field(default="", max_length=32)
    status: str = Field(default=OutboxStatus.PENDING.value, max_length=16)
    attempts: int = Field(default=0)
    # Set when a post may have reached Slack without us hearing back: look before posting.
    uncertain: bool = Field(default=False)
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str = Field(default="", max_length=500)
    # A digest of what a live message showed when sent: an update that would show the same
    # again is skipped.
    content: str = Field(default="", max_length=64)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )

    @property
    def message_kind(self) -> MessageKind:
        return MessageKind(self.kind)

    def key(self, release: Release) -> str:
        """What identifies the message in Slack (its metadata), never reused."""
        if self.message_kind in ONE_OFF_MESSAGES:
            return f"{release.uid}:{self.kind}:{self.id}"
        return f"{release.uid}:{self.kind}"


# After a temporary failure: 5 s, then three times longer each try up to 10 minutes, for a
# day. A claim older than STALE_CLAIM belongs to a process that died mid-send: try it
# again, carefully (it may have arrived).
FIRST_RETRY = timedelta(seconds=5)
MAX_RETRY = timedelta(minutes=10)
GIVE_UP_AFTER = timedelta(days=1)
STALE_CLAIM = timedelta(minutes=5)
MESSAGES = Queue(
    OutboxMessage,
    backoff=Backoff(
        pauses=(FIRST_RETRY,), pause_factor=3, longest=MAX_RETRY, give_up_after=GIVE_UP_AFTER
    ),
    stale_after=STALE_CLAIM,
)
# Taking a message (a sweep or a nudge may find it before its due time), giving it up.
claim = partial(MESSAGES.claim, due=False)
put_back = MESSAGES.put_back
failed = MESSAGES.fail


def enqueue(
    session: Session,
    release: Release,
    kinds: tuple[MessageKind, ...],
    *,
    replies: tuple[str, ...] = (),
    direct: tuple[Direct, ...] = (),
    now: datetime | None = None,
) -> None:
    """Owe Slack these messages, in the caller's transaction (before the commit): the
    live ones, then thread replies, then direct messages, sent in that order."""
    now = now or utcnow()
    assert release.id is not None
    pending = set(
        session.exec(
            select(OutboxMessage.kind).where(
                OutboxMessage.release_id == release.id,
                OutboxMessage.status == OutboxStatus.PENDING.value,
                col(OutboxMessage.kind).in_([k.value for k in kinds]),
            )
        )
    )
    # Created on the caller's clock, which `retry_later` measures the day it allows with.
    for kind in kinds:
        if kind.value not in pending:
            session.add(
                OutboxMessage(release_id=release.id, kind=kind.value, due_at=now, created_at=now)
            )
    for text in replies:
        session.add(
            OutboxMessage(
                release_id=release.id,
                kind=MessageKind.REPLY.value,
                text=text,
                due_at=now,
                created_at=now,
            )
        )
    for message in direct:
        session.add(
            OutboxMessage(
                release_id=release.id,
                kind=MessageKind.DIRECT.value,
                text=message.text,
                recipient=message.recipient,
                due_at=now,
                created_at=now,
            )
        )
    session.flush()


def due_for_release(session: Session, release_id: int, now: datetime) -> list[int]:
    """A release's messages that may go now, oldest first (the card before its thread)."""
    rows = session.exec(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.release_id == release_id,
            OutboxMessage.status == OutboxStatus.PENDING.value,
            col(OutboxMessage.due_at) <= now,
        )
        .order_by(col(OutboxMessage.id))
    )
    return [row for row in rows if row is not None]


def releases_due(session: Session, now: datetime, *, limit: int = 200) -> list[int]:
    """Releases with messages waiting (retries, or left by a process that stopped)."""
    return list(
        session.exec(
            select(OutboxMessage.release_id)
            .where(
                OutboxMessage.status == OutboxStatus.PENDING.value,
                col(OutboxMessage.due_at) <= now,
            )
            .distinct()
            .limit(limit)
        )
    )


def pending_before(session: Session, message: OutboxMessage) -> bool:
    """Whether an older message of the release is still unsent (its card, say): keep order."""
    earlier = session.exec(
        select(OutboxMessage.id).where(
            OutboxMessage.release_id == message.release_id,
            col(OutboxMessage.id) < (message.id or 0),
            col(OutboxMessage.status).in_([OutboxStatus.PENDING.value, OutboxStatus.SENDING.value]),
        )
    ).first()
    return earlier is not None


def sent(session: Session, message_id: int, content: str = "") -> None:
    MESSAGES.finish(session, message_id, uncertain=False, content=content)


def last_content(session: Session, message: OutboxMessage) -> str | None:
    """What the same live message showed when last sent (None: never, or not live)."""
    if message.message_kind in ONE_OFF_MESSAGES:
        return None
    return session.exec(
        select(OutboxMessage.content)
        .where(
            OutboxMessage.release_id == message.release_id,
            OutboxMessage.kind == message.kind,
            OutboxMessage.status == OutboxStatus.SENT.value,
        )
        .order_by(col(OutboxMessage.id).desc())
        .limit(1)
    ).first()


def retry_later(
    session: Session, message: OutboxMessage, now: datetime, error: str, *, uncertain: bool
) -> datetime | None:
    """Back in the queue after a temporary failure; None once it has been tried too long.
    A message that may have arrived stays marked so (it is looked for before it is sent)."""
    return MESSAGES.retry_later(
        session, message, now, error, uncertain=message.uncertain or uncertain
    )


def release_stale_claims(session: Session, now: datetime) -> int:
    """Messages a dead process was sending: pending again, and looked for before posting."""
    return MESSAGES.release_stale_claims(session, now, uncertain=True)


def unsent(session: Session, release_id: int) -> list[OutboxMessage]:
    """What is still owed for a release (pending or being sent)."""
    return list(
        session.exec(
            select(OutboxMessage).where(
                OutboxMessage.release_id == release_id,
                col(OutboxMessage.status).in_(
                    [OutboxStatus.PENDING.value, OutboxStatus.SENDING.value]
                ),
            )
        )
    )
