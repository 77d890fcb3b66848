"""Each finished release's outcome and its durations, kept in narrow rows for statistics.

Working out when a release ended (its first production record, or the audit event of its
rollback, no-go or cancellation) and how long each step took means reading four tables per
release; over a year of a busy workspace that is most of the time `/release stats` takes.
So it is worked out once, when the release changes, and kept here: one `ReleaseOutcome`
per release that has an outcome, and one `SignOffOutcome` per approved sign-off of a
release that went out (released or rolled back). Statistics (statistics.py) read only
these rows, through indexes that hold every column a figure reads.

They are a cache of what the release's own rows say, never written by hand: at each
commit, the releases whose rows changed in the session (the release, its production
records, approvers, or an outcome's audit event) are worked out again (`refresh`), so
every path that changes a release keeps them right. Rows written with Core statements
bypass the session: whoever writes releases that way (benchmarks, migrations) calls
`refresh` or `rebuild` itself.

A release's outcome and when:
- released: its first production record (the go of a big-bang release marked done, or the
  last stage of a rollout, by a person or a deployment report);
- rolled back: its first rollback (when it failed); no-go, cancelled: the last one (a
  no-go may be asked again); else the release's last change.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    and_,
    case,
    delete,
    event,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import UOWTransaction
from sqlmodel import Field, Session, SQLModel, col

from models.audit import AuditEvent
from models.columns import UTCDateTime
from models.release.production import ProductionRecord
from models.release.records import Approver, Release, ReleaseStatus, SignOffState
from models.release.sql_time import epoch, floor_int

OUTCOMES = (
    ReleaseStatus.RELEASED,
    ReleaseStatus.ROLLED_BACK,
    ReleaseStatus.NO_GO,
    ReleaseStatus.CANCELLED,
)
WENT_OUT = (ReleaseStatus.RELEASED, ReleaseStatus.ROLLED_BACK)
# Weeks are numbered from Monday 5 January 1970, 00:00 UTC: week n starts n × 7 days later.
FIRST_MONDAY_S = 4 * 86400
WEEK_S = 7 * 86400
# Where a scope is read: each index starts with the team and holds the columns filtered on.
_SCOPE = ("ended_at", "service", "private", "channel_id")


class ReleaseOutcome(SQLModel, table=True):
    __tablename__ = "release_outcome"
    __table_args__ = (
        # Outcomes by week, read in the GROUP BY's order, with every column a count reads.
        Index(
            "ix_outcome_week",
            "team_id",
            "week",
            "outcome",
            "ended_at",
            "on_time",
            "service",
            "private",
            "channel_id",
            "lead_s",
            "commit_lead_s",
            "sign_off_s",
        ),
        # A duration's percentiles: its values in order, with the scope's columns.
        Index("ix_outcome_lead", "team_id", "lead_s", *_SCOPE),
        Index("ix_outcome_commit_lead", "team_id", "commit_lead_s", *_SCOPE),
        Index("ix_outcome_sign_off", "team_id", "sign_off_s", *_SCOPE),
        # The release of a service released just before or after a time (release_id last:
        # ties in time are ordered by it).
        Index("ix_outcome_service", "team_id", "service", "outcome", "ended_at", "release_id"),
        # The fixes, with all a figure reads of them.
        Index(
            "ix_outcome_fix",
            "team_id",
            "is_fix",
            "outcome",
            "ended_at",
            "service",
            "private",
            "channel_id",
            "fixes_release_id",
            "release_id",
        ),
        # The fixes that name a release.
        Index(
            "ix_outcome_fixes_release",
            "fixes_release_id",
            "team_id",
            "is_fix",
            "outcome",
            "ended_at",
            "service",
            "private",
            "channel_id",
        ),
    )

    release_id: int = Field(
        sa_column=Column(Integer, ForeignKey("release.id", ondelete="CASCADE"), primary_key=True)
    )
    team_id: str = Field(max_length=32)
    service: str = Field(max_length=64)
    channel_id: str = Field(max_length=32)
    private: bool
    outcome: str = Field(max_length=32)
    ended_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    week: int  # of ended_at, numbered from FIRST_MONDAY_S
    # Seconds, where the figure measures this release: proposal to released (released
    # only); commit to released (released, with a commit time); proposal to the last
    # approved sign-off (released or rolled back, with one).
    lead_s: float | None = None
    commit_lead_s: float | None = None
    sign_off_s: float | None = None
    on_time: bool  # released by the end of its planned window
    is_fix: bool
    fixes_release_id: int | None = None  # the release a fix names, if it names one


class SignOffOutcome(SQLModel, table=True):
    """One approved sign-off of a release that went out, and how long after the proposal."""

    __tablename__ = "release_outcome_sign_off"
    __table_args__ = (
        Index("ix_outcome_sign_off_approver", "team_id", "approver", "wait_s", *_SCOPE),
    )

    release_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("release_outcome.release_id", ondelete="CASCADE"),
            primary_key=True,
        )
    )
    position: int = Field(primary_key=True)
    team_id: str = Field(max_length=32)
    service: str = Field(max_length=64)
    channel_id: str = Field(max_length=32)
    private: bool
    ended_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    approver: str = Field(max_length=64)  # "user:U…" or "usergroup:S…"
    wait_s: float


def _ended_at() -> Any:
    def audit_at(pick: Any, action: Any) -> Any:
        return (
            select(pick(AuditEvent.at))
            .where(col(AuditEvent.release_id) == col(Release.id), col(AuditEvent.action) == action)
            .correlate(Release)
            .scalar_subquery()
        )

    first_production = (
        select(func.min(ProductionRecord.released_at))
        .where(col(ProductionRecord.release_id) == col(Release.id))
        .correlate(Release)
        .scalar_subquery()
    )
    status = col(Release.status)
    return case(
        (status == ReleaseStatus.RELEASED.value, first_production),
        (
            status == ReleaseStatus.ROLLED_BACK.value,
            func.coalesce(audit_at(func.min, status), Release.updated_at),
        ),
        else_=func.coalesce(audit_at(func.max, status), Release.updated_at),
    )


def _outcome_rows(release_ids: list[int] | None) -> Any:
    """SELECT of the ReleaseOutcome rows of these releases (all, for None)."""
    finished: ColumnElement[bool] = col(Release.status).in_([o.value for o in OUTCOMES])
    if release_ids is not None:
        finished = and_(finished, col(Release.id).in_(release_ids))
    ended = (
        select(col(Release.id).label("release_id"), _ended_at().label("ended_at"))
        .where(finished)
        .cte("ended")
        .prefix_with("MATERIALIZED")  # when it ended: looked up once, read seven times
    )
    status = col(Release.status)
    released = status == ReleaseStatus.RELEASED.value
    went = status.in_([o.value for o in WENT_OUT])
    ended_s = epoch(ended.c.ended_at)
    last_sign_off = (
        select(func.max(Approver.signed_at))
        .where(
            col(Approver.release_id) == col(Release.id),
            col(Approver.state) == SignOffState.APPROVED.value,
        )
        .correlate(Release)
        .scalar_subquery()
    )
    deadline_s = epoch(Release.target_at) + col(Release.window_minutes) * 60
    return (
        select(
            ended.c.release_id,
            col(Release.team_id),
            col(Release.service),
            col(Release.channel_id),
            col(Release.private),
            status.label("outcome"),
            ended.c.ended_at,
            floor_int((ended_s - FIRST_MONDAY_S) / WEEK_S).label("week"),
            case((released, ended_s - epoch(Release.created_at))).label("lead_s"),
            case((released, ended_s - epoch(Release.committed_at))).label("commit_lead_s"),
            case((went, epoch(last_sign_off) - epoch(Release.created_at))).label("sign_off_s"),
            case((and_(released, ended_s <= deadline_s), True), else_=False).label("on_time"),
            col(Release.is_fix),
            col(Release.fixes_release_id),
        )
        .join(Release, col(Release.id) == ended.c.release_id)
        .where(ended.c.ended_at.isnot(None))
    )


def _sign_off_rows(release_ids: list[int] | None) -> Any:
    outcome = ReleaseOutcome
    query = (
        select(
            col(Approver.release_id),
            col(Approver.position),
            col(outcome.team_id),
            col(outcome.service),
            col(outcome.channel_id),
            col(outcome.private),
            col(outcome.ended_at),
            (col(Approver.kind) + literal(":") + col(Approver.slack_id)).label("approver"),
            (epoch(Approver.signed_at) - epoch(Release.created_at)).label("wait_s"),
        )
        .join(outcome, col(outcome.release_id) == col(Approver.release_id))
        .join(Release, col(Release.id) == col(Approver.release_id))
        .where(
            col(outcome.outcome).in_([o.value for o in WENT_OUT]),
            col(Approver.state) == SignOffState.APPROVED.value,
            col(Approver.signed_at).isnot(None),
        )
    )
    if release_ids is not None:
        query = query.where(col(Approver.release_id).in_(release_ids))
    return query


BATCH = 500  # ids per statement: well under SQLite's bound-parameter limit


def _work_out(executor: Any, release_ids: list[int] | None) -> None:
    """Replaces the outcome rows of these releases (of all, for None) with what their own
    rows say. `executor`: a Session or a Connection."""
    for table in (SignOffOutcome, ReleaseOutcome):  # the sign-offs refer to the outcomes
        gone = delete(table)
        if release_ids is not None:
            gone = gone.where(col(table.release_id).in_(release_ids))
        executor.execute(gone)
    # The sign-offs' rows read the outcomes' (when each ended): outcomes first.
    for table, rows in (
        (ReleaseOutcome, _outcome_rows(release_ids)),
        (SignOffOutcome, _sign_off_rows(release_ids)),
    ):
        executor.execute(insert(table).from_select(list(rows.selected_columns.keys()), rows))


def refresh(session: Session | OrmSession, release_ids: Iterable[int]) -> None:
    """Works out these releases' outcome rows again from their own rows."""
    ids = sorted(set(release_ids))
    for start in range(0, len(ids), BATCH):
        _work_out(session, ids[start : start + BATCH])


def rebuild(connection: Any) -> None:
    """Works out every release's outcome rows again (a Connection or a Session)."""
    _work_out(connection, None)


# --- kept up to date at each commit -----------------------------------------------------

_TOUCHED = "release_outcome_touched"
_OUTCOME_ACTIONS = frozenset(o.value for o in OUTCOMES)


def _release_of(instance: object) -> int | None:
    if isinstance(instance, Release):
        return instance.id
    if isinstance(instance, ProductionRecord | Approver):
        return instance.release_id
    if isinstance(instance, AuditEvent) and instance.action in _OUTCOME_ACTIONS:
        return instance.release_id
    return None


def touch(session: Session | OrmSession, release_ids: Iterable[int]) -> None:
    """Has these releases' rows worked out again at the commit: for changes the session
    does not see (Core statements)."""
    session.info.setdefault(_TOUCHED, set()).update(release_ids)


@event.listens_for(OrmSession, "after_flush")
def _note_touched(session: OrmSession, _flush: UOWTransaction) -> None:
    touched: set[int] = session.info.setdefault(_TOUCHED, set())
    for instance in (*session.new, *session.dirty, *session.deleted):
        release_id = _release_of(instance)
        if release_id is not None:
            touched.add(release_id)


@event.listens_for(OrmSession, "before_commit")
def _refresh_touched(session: OrmSession) -> None:
    session.flush()
    touched: set[int] = session.info.pop(_TOUCHED, set())
    if touched:
        refresh(session, touched)


@event.listens_for(OrmSession, "after_rollback")
def _forget_touched(session: OrmSession) -> None:
    session.info.pop(_TOUCHED, None)
