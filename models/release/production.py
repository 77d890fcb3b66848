"""Release history: which version of each service is in production, and since when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index
from sqlmodel import Field, Session, SQLModel, col, select

from models.columns import UTCDateTime


class ProductionRecord(SQLModel, table=True):
    __tablename__ = "production_record"
    __table_args__ = (
        Index("ix_production_service", "team_id", "service", "released_at"),
        # Statistics: a release's first production time, read from the index alone.
        Index("ix_production_release_at", "release_id", "released_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    service: str = Field(max_length=64)
    version: str = Field(max_length=64)
    release_id: int = Field(foreign_key="release.id", index=True)
    released_by: str = Field(max_length=32)
    released_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


def current_version(session: Session, team_id: str, service: str) -> ProductionRecord | None:
    return session.exec(
        select(ProductionRecord)
        .where(ProductionRecord.team_id == team_id, ProductionRecord.service == service)
        .order_by(col(ProductionRecord.released_at).desc(), col(ProductionRecord.id).desc())
        .limit(1)
    ).first()
