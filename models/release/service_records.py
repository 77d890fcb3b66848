"""A service's record: its releases over their whole life (the definitive software library),
the version in production, and the recent track record a new proposal's card shows.

Every query here takes its reader (`visibility.Reader`: a person, `PUBLIC_READER` for an
API token, `Reader.members_of(c)` for a message everyone in a channel reads): a private
release is never listed nor counted where it may not be seen. Figures
are computed by the database; at most one page of rows is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from models.api.api_reads import Shipped
from models.errors import Code, InvalidInput
from models.release import rules
from models.release.outcomes import OUTCOMES, WENT_OUT, ReleaseOutcome
from models.release.production import ProductionRecord
from models.release.records import Approver, Release, ReleaseStatus
from models.release.rules import Activity
from models.release.visibility import Reader, shown_to

DEFAULT_HISTORY = 10
MAX_HISTORY_PAGE = 50
TRACK_RECORD_SIZE = 10


def _values(states: tuple[ReleaseStatus, ...]) -> list[str]:
    return [state.value for state in states]


# --- a service's history -------------------------------------------------------------


@dataclass(frozen=True)
class PastRelease:
    """A release that came to an outcome, with its approvers; `at`: when (its last change)."""

    release: Release
    approvers: list[Approver] = field(default_factory=list)

    @property
    def at(self) -> datetime:
        return self.release.updated_at


@dataclass(frozen=True)
class History:
    service: str
    in_production: Shipped | None
    in_flight: list[Release]
    in_flight_total: int
    releases: list[PastRelease]
    # The uid of the last release listed, when older ones remain (the `before` of the next page).
    next: str | None


def history(
    session: Session,
    team_id: str,
    service: str,
    reader: Reader,
    *,
    limit: int = DEFAULT_HISTORY,
    before: str | None = None,
    in_flight_limit: int = 10,
) -> History:
    """A page of `service`'s releases that came to an outcome, newest proposed first,
    older than the release `before` names (its uid), with what is in production and in
    flight. `before` naming no release listed here is refused (HISTORY_CURSOR)."""
    limit = max(1, min(limit, MAX_HISTORY_PAGE))
    of_service = and_(
        col(Release.team_id) == team_id, col(Release.service) == service, shown_to(reader)
    )
    finished = select(Release).where(of_service, col(Release.status).in_(_values(OUTCOMES)))
    if before is not None:
        cursor = session.exec(finished.where(Release.uid == before)).first()
        if cursor is None:
            raise InvalidInput(Code.HISTORY_CURSOR, service=service)
        finished = finished.where(
            or_(
                col(Release.created_at) < cursor.created_at,
                and_(col(Release.created_at) == cursor.created_at, col(Release.id) < cursor.id),
            )
        )
    rows = list(
        session.exec(
            finished.order_by(col(Release.created_at).desc(), col(Release.id).desc()).limit(
                limit + 1
            )
        )
    )
    page, more = rows[:limit], len(rows) > limit
    approvers = _approvers_of(session, [r.id for r in page if r.id is not None])
    in_flight_query = select(Release).where(
        of_service, col(Release.status).in_(rules.states(Activity.IN_FLIGHT))
    )
    in_flight = list(
        session.exec(
            in_flight_query.order_by(col(Release.target_at), col(Release.id)).limit(in_flight_limit)
        )
    )
    in_flight_total = len(in_flight)
    if in_flight_total == in_flight_limit:
        in_flight_total = session.exec(
            select(func.count()).select_from(in_flight_query.subquery())
        ).one()
    return History(
        service=service,
        in_production=in_production(session, team_id, service, reader),
        in_flight=in_flight,
        in_flight_total=in_flight_total,
        releases=[PastRelease(r, approvers.get(r.id or 0, [])) for r in page],
        next=page[-1].uid if more and page else None,
    )


def in_production(session: Session, team_id: str, service: str, reader: Reader) -> Shipped | None:
    """The version last released to production by a release that may be seen."""
    found = session.exec(
        select(ProductionRecord, Release)
        .join(Release, col(Release.id) == col(ProductionRecord.release_id))
        .where(
            ProductionRecord.team_id == team_id,
            ProductionRecord.service == service,
            shown_to(reader),
        )
        .order_by(col(ProductionRecord.released_at).desc(), col(ProductionRecord.id).desc())
        .limit(1)
    ).first()
    return Shipped(*found) if found is not None else None


def _approvers_of(session: Session, release_ids: list[int]) -> dict[int, list[Approver]]:
    found: dict[int, list[Approver]] = {}
    if not release_ids:
        return found
    for approver in session.exec(
        select(Approver)
        .where(col(Approver.release_id).in_(release_ids))
        .order_by(col(Approver.release_id), col(Approver.position), col(Approver.id))
    ):
        found.setdefault(approver.release_id, []).append(approver)
    return found


# --- the services that have releases --------------------------------------------------


@dataclass(frozen=True)
class ServiceLine:
    service: str
    releases: int
    in_production: ProductionRecord | None


@dataclass(frozen=True)
class Services:
    lines: list[ServiceLine]
    total: int  # services in all (the page holds `lines`)


def services(
    session: Session,
    team_id: str,
    reader: Reader,
    *,
    offset: int = 0,
    limit: int = 30,
) -> Services:
    """The services with releases that may be seen, by name, with their production version."""
    mine = and_(col(Release.team_id) == team_id, shown_to(reader))
    total = session.exec(select(func.count(func.distinct(col(Release.service)))).where(mine)).one()
    counts = list(
        session.exec(
            select(Release.service, func.count())
            .where(mine)
            .group_by(col(Release.service))
            .order_by(col(Release.service))
            .offset(offset)
            .limit(limit)
        )
    )
    names = [name for name, _count in counts]
    latest: dict[str, ProductionRecord] = {}
    if names:
        ranked = (
            select(
                col(ProductionRecord.id).label("record_id"),
                func.row_number()
                .over(
                    partition_by=col(ProductionRecord.service),
                    order_by=(
                        col(ProductionRecord.released_at).desc(),
                        col(ProductionRecord.id).desc(),
                    ),
                )
                .label("rank"),
            )
            .join(Release, col(Release.id) == col(ProductionRecord.release_id))
            .where(
                ProductionRecord.team_id == team_id,
                col(ProductionRecord.service).in_(names),
                shown_to(reader),
            )
            .subquery()
        )
        for record in session.exec(
            select(ProductionRecord)
            .join(ranked, ranked.c.record_id == col(ProductionRecord.id))
            .where(ranked.c.rank == 1)
        ):
            latest[record.service] = record
    return Services(
        lines=[ServiceLine(name, count, latest.get(name)) for name, count in counts],
        total=total,
    )


# --- the track record on a new proposal's card ----------------------------------------


@dataclass(frozen=True)
class TrackRecord:
    service: str
    counted: int  # of the last TRACK_RECORD_SIZE releases that went out
    released: int
    rolled_back: int
    last_rollback_at: datetime | None
    median_sign_off_wait: timedelta | None  # proposal to its last sign-off


def track_record(session: Session, release: Release) -> TrackRecord:
    """The record of `release`'s service before it: its last releases that went out, as
    every member of the release's channel may see them (a private release of another
    channel never counts). Read from the releases' outcome rows (outcomes.py): when each
    ended, and its wait for the last sign-off."""
    o = ReleaseOutcome
    of_service = and_(
        col(o.team_id) == release.team_id,
        col(o.service) == release.service,
        col(o.release_id) != release.id,
        shown_to(Reader.members_of(release.channel_id), o),
        col(o.outcome).in_(_values(WENT_OUT)),
    )
    last = session.exec(
        select(col(o.outcome), col(o.sign_off_s))
        .where(of_service)
        .order_by(col(o.ended_at).desc(), col(o.release_id).desc())
        .limit(TRACK_RECORD_SIZE)
    ).all()
    last_rollback = session.exec(
        select(func.max(col(o.ended_at))).where(
            of_service, col(o.outcome) == ReleaseStatus.ROLLED_BACK.value
        )
    ).one()
    released = sum(1 for outcome, _ in last if outcome == ReleaseStatus.RELEASED.value)
    rolled_back = len(last) - released
    waits = [timedelta(seconds=wait) for _, wait in last if wait is not None]
    return TrackRecord(
        service=release.service,
        counted=len(last),
        released=released,
        rolled_back=rolled_back,
        last_rollback_at=_utc(last_rollback) if last_rollback is not None else None,
        median_sign_off_wait=_median(waits),
    )


def _median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _utc(value: datetime) -> datetime:
    """Aggregates (max) come back without the column's type on SQLite: naive UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# --- recent outcomes, for Home ---------------------------------------------------------


@dataclass(frozen=True)
class Recent:
    releases: list[Release]
    total: int  # how many came to an outcome in all (the list holds the latest)


def recent(session: Session, team_id: str, reader: Reader, *, limit: int = 10) -> Recent:
    """The releases that came to an outcome most recently, the latest first."""
    where = and_(
        col(Release.team_id) == team_id,
        shown_to(reader),
        col(Release.status).in_(_values(OUTCOMES)),
    )
    releases = list(
        session.exec(
            select(Release)
            .where(where)
            .order_by(col(Release.updated_at).desc(), col(Release.id).desc())
            .limit(limit)
        )
    )
    total = len(releases)
    if total == limit:
        total = session.exec(select(func.count()).select_from(Release).where(where)).one()
    return Recent(releases, total)
