"""Calendar-feed tokens: only a hash is stored; revocable.

A personal token shows what its person may see (private releases included). A shared one
(`shared_name` set) is a workspace's named link for people outside Slack: it shows only
releases that are not private, whoever created it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.columns import UTCDateTime, utcnow

SHARED_NAME_LIMIT = 80


class CalendarToken(SQLModel, table=True):
    __tablename__ = "calendar_token"
    # One live shared link per name (case-insensitively) in a workspace: `shared_key` is
    # the lowercased name while the link is live, NULL once revoked (NULLs never clash).
    __table_args__ = (
        UniqueConstraint("team_id", "shared_key", name="uq_calendar_token_shared_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    user_id: str = Field(max_length=32)  # its person; for a shared link, who created it
    token_hash: str = Field(max_length=64, unique=True)
    # A filtered feed: one channel's releases, or one service's (neither: all).
    channel_id: str | None = Field(default=None, max_length=32)
    service: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # Shared links only: the name as given, its live key, and the last recorded use.
    shared_name: str | None = Field(default=None, max_length=SHARED_NAME_LIMIT)
    shared_key: str | None = Field(default=None, max_length=SHARED_NAME_LIMIT)
    last_used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))

    @property
    def shared(self) -> bool:
        return self.shared_name is not None
