"""Idempotency keys (the IETF `Idempotency-Key` header) for requests that create things.

The first request with a key claims it (a row, unique per token and key, so two
concurrent duplicates can't both claim it, on PostgreSQL as on SQLite); once it has
succeeded, its answer is stored and a retry with the same key and the same body gets it
again. The same key with another body is refused; a retry while the first is still
running is told so. A request that fails gives its key back, so it may be tried again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlalchemy import delete as sql_delete
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from models.columns import UTCDateTime, utcnow

MAX_KEY_LENGTH = 255
# A claim older than this whose request never finished (the process died) may be taken
# over by a retry.
STALE_AFTER = timedelta(minutes=10)
# How long a finished request's answer is kept for retries.
KEPT = timedelta(hours=24)


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("token_id", "key", name="uq_idempotency_token_key"),)

    id: int | None = Field(default=None, primary_key=True)
    token_id: int = Field(foreign_key="api_token.id", ondelete="CASCADE")
    key: str = Field(max_length=MAX_KEY_LENGTH)
    # SHA-256 of the request (its method, path and canonical body).
    request_hash: str = Field(max_length=64)
    # None while the first request runs; then its status and answer.
    status_code: int | None = Field(default=None)
    response: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


def request_hash(method: str, path: str, body: Any) -> str:
    """The same request, whatever the order of its JSON keys or its spacing."""
    canonical = json.dumps(
        [method.upper(), path, body], sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class KeyState(StrEnum):
    CLAIMED = "claimed"  # this request runs; `complete` or `give_back` when it ends
    REPLAY = "replay"  # done before: `status_code` and `response` are its answer
    MISMATCH = "mismatch"  # the key was used with another request
    RUNNING = "running"  # the first request with the key has not finished


@dataclass(frozen=True)
class Claim:
    state: KeyState
    claim_id: int | None = None
    status_code: int | None = None
    response: dict[str, Any] | None = None


def claim(
    session: Session, token_id: int, key: str, hashed: str, *, now: datetime | None = None
) -> Claim:
    """Claim `key` for this request; the caller commits at once (a short transaction)."""
    now = now or utcnow()
    # Answers kept long enough are forgotten: the key may then be used afresh.
    session.execute(
        sql_delete(IdempotencyKey).where(
            col(IdempotencyKey.token_id) == token_id,
            col(IdempotencyKey.created_at) < now - KEPT,
            col(IdempotencyKey.status_code).is_not(None),
        )
    )
    row = IdempotencyKey(token_id=token_id, key=key, request_hash=hashed, created_at=now)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
        assert row.id is not None
        return Claim(KeyState.CLAIMED, claim_id=row.id)
    except IntegrityError:
        pass  # held already: by a request that finished, or one still running
    existing = session.exec(
        select(IdempotencyKey)
        .where(IdempotencyKey.token_id == token_id, IdempotencyKey.key == key)
        .execution_options(populate_existing=True)
    ).one()
    assert existing.id is not None
    if existing.request_hash != hashed:
        return Claim(KeyState.MISMATCH)
    if existing.status_code is not None:
        return Claim(KeyState.REPLAY, status_code=existing.status_code, response=existing.response)
    # Still running, unless its process died long ago: then this retry takes it over
    # (atomically: of two such retries, one does).
    taken = session.execute(
        sql_update(IdempotencyKey)
        .where(
            col(IdempotencyKey.id) == existing.id,
            col(IdempotencyKey.status_code).is_(None),
            col(IdempotencyKey.created_at) < now - STALE_AFTER,
        )
        .values(created_at=now)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount == 1:  # type: ignore[attr-defined]
        return Claim(KeyState.CLAIMED, claim_id=existing.id)
    return Claim(KeyState.RUNNING)


def complete(session: Session, claim_id: int, status_code: int, response: dict[str, Any]) -> None:
    session.execute(
        sql_update(IdempotencyKey)
        .where(col(IdempotencyKey.id) == claim_id)
        .values(status_code=status_code, response=response)
        .execution_options(synchronize_session=False)
    )


def give_back(session: Session, claim_id: int) -> None:
    """The request failed: the key is free again, for a retry."""
    session.execute(sql_delete(IdempotencyKey).where(col(IdempotencyKey.id) == claim_id))
