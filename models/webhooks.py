"""Outgoing webhooks: where a team wants to hear of its releases, and what it is owed.

A change to a release writes one delivery row per matching webhook in its own transaction
(like the Slack outbox): nothing is lost when a receiver is down or the bot restarts. A
sender claims a row with a conditional UPDATE, so with several processes on one database
each delivery is sent by one of them, and retries with growing pauses for a day.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from models.audit import AuditEvent
from models.columns import UTCDateTime, utcnow
from models.durable_queue import HOURLY_FOR_A_DAY, Queue
from models.release.records import Release
from models.release.visibility import PUBLIC_READER, may_see

# The events a webhook may ask for; a webhook that names none gets them all.
EVENTS = (
    "release.proposed",
    "release.approved",
    "release.changes_requested",
    "release.go",
    "release.no_go",
    "release.stage",
    "release.released",
    "release.rolled_back",
    "release.cancelled",
    "freeze.overridden",
)

# Audit actions -> the event they send.
ACTION_EVENTS = {
    "proposed": "release.proposed",
    "approved": "release.approved",  # a sign-off; `status` says when the quorum is reached
    "changes_requested": "release.changes_requested",
    "go": "release.go",
    "no_go": "release.no_go",
    "rollout_started": "release.stage",  # the first stage of a phased rollout
    "advanced": "release.stage",
    "released": "release.released",
    "rolled_back": "release.rolled_back",
    "cancelled": "release.cancelled",
    "freeze_overridden": "freeze.overridden",
}

MAX_WEBHOOKS = 20
MAX_URL = 500


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by one process
    SENT = "sent"
    FAILED = "failed"  # refused for good, or tried for a day


class Webhook(SQLModel, table=True):
    __tablename__ = "webhook"
    __table_args__ = (UniqueConstraint("team_id", "url", name="uq_webhook_team_url"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    url: str = Field(max_length=MAX_URL)
    # Kept to sign each delivery; shown once, when the webhook is added.
    secret: str = Field(max_length=128)
    # The events it gets; empty: all of them.
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_by: str = Field(max_length=32)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )

    def wants(self, event: str) -> bool:
        return not self.events or event in self.events

    @property
    def shown_url(self) -> str:
        return shown_url(self.url)


def shown_url(url: str) -> str:
    """A webhook's URL as shown after the answer that added it (list, deliveries, audit):
    scheme, host and path; a query, where receivers often take a secret, is `?…`."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_due", "status", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    # The id receivers see (payload and header): the same on every try.
    uid: str = Field(max_length=36, unique=True)
    webhook_id: int = Field(foreign_key="webhook.id", index=True, ondelete="CASCADE")
    # A release that goes as if never made (its card could never be posted) takes its
    # deliveries with it.
    release_id: int | None = Field(
        default=None, foreign_key="release.id", index=True, ondelete="CASCADE"
    )
    event: str = Field(max_length=40)
    # The JSON body, as of the change (signed afresh on every try).
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default=DeliveryStatus.PENDING.value, max_length=16)
    attempts: int = Field(default=0)
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


# A claim older than this belongs to a process that died mid-send: send again (receivers
# drop duplicates by the delivery id).
DELIVERIES = Queue(WebhookDelivery, backoff=HOURLY_FOR_A_DAY, stale_after=timedelta(minutes=2))


# --- webhooks ---------------------------------------------------------------------------


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def add(
    session: Session,
    team_id: str,
    url: str,
    events: Sequence[str],
    created_by: str,
    *,
    now: datetime | None = None,
) -> Webhook | None:
    """A new webhook with a fresh secret; None when the team has one at that URL."""
    existing = session.exec(
        select(Webhook).where(Webhook.team_id == team_id, Webhook.url == url)
    ).first()
    if existing is not None:
        return None
    webhook = Webhook(
        team_id=team_id,
        url=url,
        secret=new_secret(),
        events=list(dict.fromkeys(events)),
        created_by=created_by,
        created_at=now or utcnow(),
    )
    session.add(webhook)
    session.flush()
    return webhook


def of_team(session: Session, team_id: str) -> list[Webhook]:
    return list(
        session.exec(select(Webhook).where(Webhook.team_id == team_id).order_by(col(Webhook.id)))
    )


def matching(session: Session, team_id: str, url: str) -> list[Webhook]:
    """The team's webhook at that URL, or else those shown as it (with or without its
    `?…`): a person names one by what the list shows them."""
    exact = session.exec(
        select(Webhook).where(Webhook.team_id == team_id, Webhook.url == url)
    ).first()
    if exact is not None:
        return [exact]
    return [
        hook
        for hook in of_team(session, team_id)
        if url in (hook.shown_url, hook.shown_url.removesuffix("?…"))
    ]


def remove(session: Session, webhook: Webhook) -> None:
    """The webhook and its deliveries (still owed ones are not sent)."""
    session.execute(
        WebhookDelivery.__table__.delete().where(  # type: ignore[attr-defined]
            WebhookDelivery.__table__.c.webhook_id == webhook.id  # type: ignore[attr-defined]
        )
    )
    session.delete(webhook)
    session.flush()


# --- what a change owes -----------------------------------------------------------------


def release_payload(release: Release) -> dict[str, Any]:
    stage = None
    if release.stage_index is not None and release.stages:
        stage = release.stages[release.stage_index]
    return {
        "ref": release.ref,
        "uid": release.uid,
        "service": release.service,
        "version": release.version,
        "status": release.status,
        "stage": stage,
        "target_at": release.target_at.isoformat() if release.target_at else None,
        "owner": release.owner_id,
        "commit_sha": release.commit_sha,
        "digest": release.digest,
    }


def owe(
    session: Session,
    release: Release,
    recorded: Sequence[AuditEvent],
    *,
    now: datetime | None = None,
) -> int:
    """In the change's transaction: a delivery for each of its events to each webhook of
    the team that wants it. Returns how many. A private release owes none: its receivers
    are outside Slack, where nobody's membership can be checked (like API tokens)."""
    now = now or utcnow()
    if not may_see(session, release, PUBLIC_READER):
        return 0
    happened = [(ACTION_EVENTS[e.action], e) for e in recorded if e.action in ACTION_EVENTS]
    if not happened:
        return 0
    hooks = of_team(session, release.team_id)
    if not hooks:
        return 0
    owed = 0
    for event, audit_event in happened:
        for hook in hooks:
            if not hook.wants(event):
                continue
            uid = str(uuid.uuid4())
            body = {
                "id": uid,
                "event": event,
                "at": audit_event.at.isoformat(),
                "actor": audit_event.actor_id,
                "release": release_payload(release),
            }
            if event == "freeze.overridden" and audit_event.after:
                after = audit_event.after
                body["freeze"] = {
                    "name": after.get("freeze"),
                    "uid": after.get("freeze_uid"),
                    "from": after.get("from"),
                    "until": after.get("until"),
                    "reason": audit_event.detail,
                }
            assert hook.id is not None
            session.add(
                WebhookDelivery(
                    uid=uid,
                    webhook_id=hook.id,
                    release_id=release.id,
                    event=event,
                    body=json.dumps(body, separators=(",", ":")),
                    due_at=now,
                    created_at=now,
                )
            )
            owed += 1
    session.flush()
    return owed


# --- sending ----------------------------------------------------------------------------


def due(session: Session, now: datetime, webhook_id: int, *, limit: int = 100) -> list[int]:
    """The deliveries to that webhook that may be sent now, oldest first."""
    return [
        i
        for i in session.exec(
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.webhook_id == webhook_id,
                WebhookDelivery.status == DeliveryStatus.PENDING.value,
                col(WebhookDelivery.due_at) <= now,
            )
            .order_by(col(WebhookDelivery.due_at), col(WebhookDelivery.id))
            .limit(limit)
        )
        if i is not None
    ]


def due_webhooks(session: Session, now: datetime) -> list[int]:
    """The webhooks that have deliveries to send now."""
    rows = session.exec(
        select(WebhookDelivery.webhook_id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING.value,
            col(WebhookDelivery.due_at) <= now,
        )
        .distinct()
    )
    return sorted(rows)


def recent(session: Session, webhook_id: int, *, limit: int = 20) -> list[WebhookDelivery]:
    return list(
        session.exec(
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == webhook_id)
            .order_by(col(WebhookDelivery.created_at).desc(), col(WebhookDelivery.id).desc())
            .limit(limit)
        )
    )
