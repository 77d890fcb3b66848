"""Release managers: who may change policy, manage freezes and override them, and act on
any release as its owner would. Managers named at start-up (settings) and workspace
admins are managers too; handlers ask Slack about those. This table holds the ones added
from Slack, each change audited."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from models import audit
from models.columns import UTCDateTime, utcnow
from models.errors import Code, InvalidInput, NotAllowed
from models.release.queries import Actor


class MemberKind(StrEnum):
    USER = "user"
    USERGROUP = "usergroup"


class ReleaseManager(SQLModel, table=True):
    __tablename__ = "release_manager"
    __table_args__ = (UniqueConstraint("team_id", "slack_id", name="uq_release_manager"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    slack_id: str = Field(max_length=32)
    kind: str = Field(default=MemberKind.USER.value, max_length=16)
    added_by: str = Field(max_length=32)
    added_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


def require(actor: Actor, what: str) -> None:
    """Only release managers may do `what` (handlers find out who is one)."""
    if not actor.manager:
        raise NotAllowed(Code.NOT_MANAGER, what=what)


def managers(session: Session, team_id: str) -> list[ReleaseManager]:
    return list(
        session.exec(
            select(ReleaseManager)
            .where(ReleaseManager.team_id == team_id)
            .order_by(col(ReleaseManager.added_at), col(ReleaseManager.id))
        )
    )


def add(
    session: Session,
    team_id: str,
    actor_id: str,
    slack_id: str,
    kind: MemberKind,
    *,
    now: datetime | None = None,
) -> bool:
    """Make someone (or a user group) a release manager; False when they already were."""
    now = now or utcnow()
    if session.exec(
        select(ReleaseManager.id).where(
            ReleaseManager.team_id == team_id, ReleaseManager.slack_id == slack_id
        )
    ).first():
        return False
    session.add(
        ReleaseManager(
            team_id=team_id, slack_id=slack_id, kind=kind.value, added_by=actor_id, added_at=now
        )
    )
    audit.record(
        session,
        team_id=team_id,
        release_id=None,
        actor_id=actor_id,
        action="manager_added",
        after={"manager": slack_id, "kind": kind.value},
        at=now,
    )
    session.flush()
    return True


def remove(
    session: Session, team_id: str, actor_id: str, slack_id: str, *, now: datetime | None = None
) -> None:
    """Take the role back from someone added from Slack (those from the settings stay)."""
    now = now or utcnow()
    row = session.exec(
        select(ReleaseManager).where(
            ReleaseManager.team_id == team_id, ReleaseManager.slack_id == slack_id
        )
    ).first()
    if row is None:
        raise InvalidInput(Code.NOT_A_MANAGER, manager=slack_id)
    session.delete(row)
    audit.record(
        session,
        team_id=team_id,
        release_id=None,
        actor_id=actor_id,
        action="manager_removed",
        before={"manager": slack_id, "kind": row.kind},
        at=now,
    )
    session.flush()
