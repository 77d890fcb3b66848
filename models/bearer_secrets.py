"""Bearer secrets kept as rows: API tokens and calendar links.

Whoever holds the secret is let in, so only its SHA-256 is stored: a database leak reveals
no working secret. A row has `token_hash`, `revoked_at` and `last_used_at`; this module
issues, finds, revokes and marks the use of such rows, the same way for every kind, with
the races settled here:
- two issues of one name: the database's unique key refuses the second, as `taken`;
- two revocations of one row: the row is locked, so the second finds it revoked;
- a use racing a revocation or another use: the use's mark is one conditional UPDATE that
  skips a revoked row, and skips (never waits for) a row another transaction holds: that
  one is revoking it or marking the same use.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, or_
from sqlalchemy import select as sql_select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

from models.errors import Conflict

# `secrets.token_urlsafe(32)`: 256 random bits, 43 URL-safe base64 characters.
_SECRET_BYTES = 32
_SECRET_BODY = r"[A-Za-z0-9_-]{43}"

Row = TypeVar("Row", bound=SQLModel)


def _columns(model: type[SQLModel]) -> Any:
    return model.__table__.c  # type: ignore[attr-defined]


def new_secret(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(_SECRET_BYTES)


def hash_secret(raw: str) -> str:
    return hashlib.sha256(raw.encode("ascii")).hexdigest()


def is_shaped(raw: str, prefix: str = "") -> bool:
    """Could `raw` be a secret we issued? Lets junk be refused without a query."""
    return re.fullmatch(re.escape(prefix) + _SECRET_BODY, raw) is not None


def find_live(session: Session, model: type[Row], raw: str, prefix: str = "") -> Row | None:
    """The live row `raw` is the secret of, or None (unknown, revoked or malformed alike)."""
    if not is_shaped(raw, prefix):
        return None
    c = _columns(model)
    query = select(model).where(c.token_hash == hash_secret(raw), c.revoked_at.is_(None))
    return session.exec(query).first()


def add_named(session: Session, row: SQLModel, taken: Conflict) -> None:
    """Write a new row whose name the database keeps unique among live ones: `taken` when a
    concurrent issue took the name between the caller's check and this write."""
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise taken from None


def lock_live(session: Session, model: type[Row], *where: ColumnElement[bool]) -> Row | None:
    """The live row matching `where`, locked until the transaction ends (None if there is
    none): a concurrent revocation waits, then finds it revoked."""
    c = _columns(model)
    query = select(model).where(*where, c.revoked_at.is_(None)).with_for_update()
    return session.exec(query).first()


def use_due(last_used_at: datetime | None, now: datetime, every: timedelta) -> bool:
    """Whether a use is worth marking (cheap: no query)."""
    return last_used_at is None or now - last_used_at >= every


def mark_used(
    session: Session, model: type[SQLModel], row_id: int, now: datetime, every: timedelta
) -> bool:
    """Set `last_used_at` unless the row is revoked, a use was marked less than `every`
    ago (by any process), or another transaction holds the row; whether it was set."""
    c = _columns(model)
    unmarked = (
        sql_select(c.id)
        .where(
            c.id == row_id,
            c.revoked_at.is_(None),
            or_(c.last_used_at.is_(None), c.last_used_at <= now - every),
        )
        .with_for_update(skip_locked=True)
    )
    result = session.execute(
        sql_update(model)
        .where(c.id.in_(unmarked))
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
