"""Personal calendar-feed tokens: only a hash is stored; revocable."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from models.columns import UTCDateTime, utcnow


class CalendarToken(SQLModel, table=True):
    __tablename__ = "calendar_token"

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    user_id: str = Field(max_length=32)
    token_hash: str = Field(max_length=64, unique=True)
    # A filtered feed: one channel's releases, or one service's (neither: all).
    channel_id: str | None = Field(default=None, max_length=32)
    service: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
