"""Release statistics over a period, DORA-style, computed by the database.

Everything is aggregated in SQL (window functions and GROUP BY, which SQLite and
PostgreSQL both have); Python only reads the aggregates back: a handful of rows per
figure, whatever the number of releases.

A release's *outcome* is where it ended and when:
- released: the time of its production record (the go of a big-bang release marked
  done, or the last stage of a rollout, by a person or a deployment report);
- rolled back, no-go, cancelled: the time of that audit event (the first rollback, the
  last no-go or cancellation), else the release's last change.
A release counts in the period its outcome falls in. Releases still in flight have none.

Percentiles interpolate linearly between the two nearest values: PostgreSQL's own
`percentile_cont`; on SQLite, which has none, the same computed from ROW_NUMBER and COUNT
windows with integer arithmetic for the rows to pick (tests check both on the same history).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    String,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session, col

from models.audit import AuditEvent
from models.freezes import FreezeOverride
from models.release.production import ProductionRecord
from models.release.records import Approver, Release, ReleaseStatus, SignOffState

PERIODS = (30, 90, 365)  # days a person may ask for
DEFAULT_DAYS = 30
# A fix released this soon after a release marks that release as failed.
FIX_WINDOW = timedelta(days=7)
WEEK = timedelta(days=7)

OUTCOMES = (
    ReleaseStatus.RELEASED,
    ReleaseStatus.ROLLED_BACK,
    ReleaseStatus.NO_GO,
    ReleaseStatus.CANCELLED,
)


# --- SQL helpers that read the same on both databases ----------------------------------


class epoch(FunctionElement[float]):  # noqa: N801  (used like a SQL function)
    """Seconds since 1970 of a stored UTC time."""

    type = Float()
    inherit_cache = True


@compiles(epoch)
def _epoch_default(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    return f"EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})"


@compiles(epoch, "postgresql")
def _epoch_postgresql(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    # date_part returns double precision as is; EXTRACT computes a numeric (slower), cast.
    return f"date_part('epoch', {compiler.process(element.clauses, **kw)})"


@compiles(epoch, "sqlite")
def _epoch_sqlite(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC): julianday reads it.
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


class floor_int(FunctionElement[int]):  # noqa: N801
    """The whole number at or below a non-negative value (CAST rounds on PostgreSQL)."""

    type = Integer()
    inherit_cache = True


@compiles(floor_int)
def _floor_default(element: floor_int, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(FLOOR({compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(floor_int, "sqlite")
def _floor_sqlite(element: floor_int, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS INTEGER)"


class bytewise(FunctionElement[str]):  # noqa: N801
    """A text compared byte by byte, for grouping and partitioning only (where the order of
    the groups does not matter): PostgreSQL's "C" collation, without the locale's rules
    (SQLite compares bytes anyway)."""

    type = String()
    inherit_cache = True


@compiles(bytewise)
def _bytewise_default(element: bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(bytewise, "postgresql")
def _bytewise_postgresql(element: bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    return f'({compiler.process(element.clauses, **kw)}) COLLATE "C"'


# --- what is asked, and what is answered -----------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Which releases count: a workspace's, whose outcome falls in [since, until), of one
    service (or of `services` only: an API token's), and the private ones of
    `channel_id` only (the channel the figures are shown in); other private releases never."""

    team_id: str
    since: datetime
    until: datetime
    service: str | None = None
    services: tuple[str, ...] | None = None
    channel_id: str | None = None

    @classmethod
    def last_days(
        cls,
        team_id: str,
        days: int,
        now: datetime,
        *,
        service: str | None = None,
        services: tuple[str, ...] | None = None,
        channel_id: str | None = None,
    ) -> Scope:
        return cls(team_id, now - timedelta(days=days), now, service, services, channel_id)

    @property
    def days(self) -> float:
        return (self.until - self.since).total_seconds() / 86400

    @property
    def first_monday(self) -> datetime:
        """00:00 UTC on the Monday of the week `since` falls in: weeks start there."""
        day = self.since.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class Spread:
    """Durations in seconds: how many, their median and 90th percentile (None if none)."""

    count: int = 0
    median: float | None = None
    p90: float | None = None


@dataclass(frozen=True)
class Week:
    """One calendar week (Monday 00:00 UTC) of outcomes."""

    start: datetime
    released: int = 0
    rolled_back: int = 0
    no_go: int = 0
    cancelled: int = 0
    failed: int = 0

    @property
    def deployments(self) -> int:
        return self.released + self.rolled_back

    @property
    def change_failure_rate(self) -> float | None:
        return self.failed / self.deployments if self.deployments else None


@dataclass(frozen=True)
class SlowApprover:
    """The approver (a person or a user group) whose sign-offs came slowest, by median."""

    slack_id: str
    kind: str
    handle: str
    wait: Spread


@dataclass(frozen=True)
class Statistics:
    scope: Scope
    weeks: list[Week] = field(default_factory=list)
    on_time: int = 0
    lead_time: Spread = Spread()
    commit_lead_time: Spread = Spread()
    restore: Spread = Spread()
    unrestored: int = 0  # rollbacks with no successful release of the service since
    sign_off_wait: Spread = Spread()
    slowest_approver: SlowApprover | None = None
    freeze_overrides: int = 0

    @property
    def released(self) -> int:
        return sum(w.released for w in self.weeks)

    @property
    def rolled_back(self) -> int:
        return sum(w.rolled_back for w in self.weeks)

    @property
    def no_go(self) -> int:
        return sum(w.no_go for w in self.weeks)

    @property
    def cancelled(self) -> int:
        return sum(w.cancelled for w in self.weeks)

    @property
    def failed(self) -> int:
        return sum(w.failed for w in self.weeks)

    @property
    def deployments(self) -> int:
        """Releases that reached production, in full or in part: released or rolled back."""
        return self.released + self.rolled_back

    @property
    def per_week(self) -> float:
        """Deployment frequency: releases released per week of the period."""
        return self.released / (self.scope.days / 7) if self.scope.days > 0 else 0.0

    @property
    def change_failure_rate(self) -> float | None:
        return self.failed / self.deployments if self.deployments else None

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.released if self.released else None


# --- the queries ------------------------------------------------------------------------


def _counted(scope: Scope, release: Any = Release) -> ColumnElement[bool]:
    """The releases `scope` counts (as a filter on `release`, the table or an alias)."""
    private_here = (
        col(release.channel_id) == scope.channel_id if scope.channel_id is not None else false()
    )
    conditions = [
        release.team_id == scope.team_id,
        or_(col(release.private).is_(False), private_here),
    ]
    if scope.service is not None:
        conditions.append(release.service == scope.service)
    if scope.services is not None:
        conditions.append(col(release.service).in_(scope.services))
    return and_(*conditions)


def _release_columns() -> list[Any]:
    return [
        col(Release.id).label("release_id"),
        col(Release.service).label("service"),
        col(Release.created_at).label("created_at"),
        col(Release.target_at).label("target_at"),
        col(Release.window_minutes).label("window_minutes"),
        col(Release.committed_at).label("committed_at"),
        col(Release.is_fix).label("is_fix"),
        col(Release.fixes_release_id).label("fixes_release_id"),
    ]


def _outcomes(scope: Scope) -> Any:
    """One row per counted release with an outcome in the period (one pass over the
    releases): `outcome`, `ended_at`, and as seconds since 1970, computed once: `ended_s`,
    `created_s`, `committed_s` and `deadline_s` (the end of its planned window)."""

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
    ended_at = case(
        (status == ReleaseStatus.RELEASED.value, first_production),
        # The first rollback: when it failed.
        (
            status == ReleaseStatus.ROLLED_BACK.value,
            func.coalesce(audit_at(func.min, status), Release.updated_at),
        ),
        # The last no-go (it may be asked again) or cancellation.
        else_=func.coalesce(audit_at(func.max, status), Release.updated_at),
    )
    every = (
        select(*_release_columns(), status.label("outcome"), ended_at.label("ended_at"))
        .where(
            _counted(scope),
            status.in_([o.value for o in OUTCOMES]),
            # An outcome is the release's last change: nothing older can end in the period.
            col(Release.updated_at) >= scope.since,
            col(Release.created_at) < scope.until,
        )
        .cte("every_outcome")
        .prefix_with("MATERIALIZED")  # each outcome's time is looked up once
    )
    ended = epoch(every.c.ended_at)
    return (
        select(
            every,
            ended.label("ended_s"),
            epoch(every.c.created_at).label("created_s"),
            epoch(every.c.committed_at).label("committed_s"),
            (epoch(every.c.target_at) + every.c.window_minutes * 60).label("deadline_s"),
        )
        .where(every.c.ended_at >= scope.since, every.c.ended_at < scope.until)
        .cte("outcome")
        .prefix_with("MATERIALIZED")
    )


def _facts(scope: Scope) -> Any:
    """The outcomes, each with `failed` (1 or 0) and `on_time` (1 or 0)."""
    outcome = _outcomes(scope)
    # The next release of the same service to reach production (released ones only).
    partition = [bytewise(outcome.c.service), bytewise(outcome.c.outcome)]
    order = [outcome.c.ended_s, outcome.c.release_id]

    def next_one(column: Any) -> Any:
        return func.lead(column).over(partition_by=partition, order_by=order)

    # Only what the figures read: the window sorts these rows.
    with_next = select(
        outcome.c.release_id,
        outcome.c.service,
        outcome.c.outcome,
        outcome.c.ended_at,
        outcome.c.ended_s,
        outcome.c.created_s,
        outcome.c.committed_s,
        outcome.c.deadline_s,
        next_one(outcome.c.is_fix).label("next_is_fix"),
        next_one(outcome.c.ended_s).label("next_s"),
        next_one(outcome.c.fixes_release_id).label("next_fixes"),
    ).subquery("with_next")
    # Fixes that name the release they fix: the first one of each to reach production.
    fix = Release.__table__.alias("fix")  # type: ignore[attr-defined]
    named = (
        select(
            fix.c.fixes_release_id.label("fixed_id"),
            func.min(ProductionRecord.released_at).label("at"),
        )
        .join(ProductionRecord, col(ProductionRecord.release_id) == fix.c.id)
        .where(_counted(scope, fix.c), fix.c.is_fix.is_(True), fix.c.fixes_release_id.isnot(None))
        .group_by(fix.c.fixes_release_id)
        .subquery("named_fix")
    )
    ended = with_next.c.ended_s
    within = FIX_WINDOW.total_seconds()
    fixed_next = and_(
        with_next.c.next_is_fix.is_(True),
        with_next.c.next_s - ended <= within,
        or_(
            with_next.c.next_fixes.is_(None),
            with_next.c.next_fixes == with_next.c.release_id,
        ),
    )
    fixed_by_name = and_(named.c.at.isnot(None), epoch(named.c.at) - ended <= within)
    is_released = with_next.c.outcome == ReleaseStatus.RELEASED.value
    failed = case(
        (with_next.c.outcome == ReleaseStatus.ROLLED_BACK.value, 1),
        (and_(is_released, or_(fixed_next, fixed_by_name)), 1),
        else_=0,
    )
    on_time = case((and_(is_released, ended <= with_next.c.deadline_s), 1), else_=0)
    return (
        select(with_next, failed.label("failed"), on_time.label("on_time"))
        .outerjoin(named, named.c.fixed_id == with_next.c.release_id)
        .cte("fact")
        .prefix_with("MATERIALIZED")
    )


def _percentile(value: Any, rank: Any, n: Any, percent: int) -> Any:
    """The `percent` percentile of the rows' `value` (ranked 1..n by `rank`), linearly
    interpolated; summed over the rows of one group."""
    position = (n - 1) * percent  # hundredths of a row: integer arithmetic in both SQLs
    low = position // 100 + 1
    weight = position % 100
    return (
        func.sum(
            case(
                (rank == low, value * (100 - weight)),
                (rank == low + 1, value * weight),
                else_=0,
            )
        )
        / 100.0
    )


def _spread_rows(measured: Any, postgresql: bool, *, by_key: bool) -> Any:
    """(metric, key, n, median, p90) of the `value`s of `measured` (rows of metric, key and
    value), one row per key if `by_key`, else one row (none if there are no values)."""
    measured = measured.subquery()
    value = measured.c.value
    key = bytewise(measured.c.key)
    if postgresql:
        # PostgreSQL's own ordered-set aggregate (both percentiles from one sort of the
        # values): the same interpolation, without ranking every row in a window first.
        query = select(
            func.max(measured.c.metric).label("metric"),
            (func.max(measured.c.key) if not by_key else key).label("key"),
            func.count().label("n"),
            func.percentile_cont(0.5).within_group(value).label("a"),
            func.percentile_cont(0.9).within_group(value).label("b"),
        ).where(value.isnot(None))
        return query.group_by(key) if by_key else query.having(func.count() > 0)
    # SQLite: one sort; the rank and the group's size come from the same window (the
    # whole partition for the count), and only the rows a percentile reads are summed.
    partition = [key] if by_key else None
    ranked = (
        select(
            measured.c.metric,
            measured.c.key,
            value,
            func.row_number().over(partition_by=partition, order_by=value).label("rank"),
            func.count().over(partition_by=partition, order_by=value, rows=(None, None)).label("n"),
        )
        .where(value.isnot(None))
        .subquery("ranked")
    )
    picked = [
        ranked.c.rank == ((ranked.c.n - 1) * percent) // 100 + step
        for percent in (50, 90)
        for step in (1, 2)
    ]
    return (
        select(
            ranked.c.metric,
            ranked.c.key,
            func.max(ranked.c.n).label("n"),
            _percentile(ranked.c.value, ranked.c.rank, ranked.c.n, 50).label("a"),
            _percentile(ranked.c.value, ranked.c.rank, ranked.c.n, 90).label("b"),
        )
        .where(or_(*picked))
        .group_by(ranked.c.metric, ranked.c.key)
    )


Spreads = dict[tuple[str, str], tuple[int, float, float]]


def _aggregates(session: Session, scope: Scope) -> tuple[list[Week], int, Spreads]:
    """In one statement, so that the outcomes are worked out once: the outcomes counted by
    calendar week, how many releases were on time, and (metric, key) -> (count, median,
    p90) of each duration measured, in seconds."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    fact = _facts(scope)
    released = fact.c.outcome == ReleaseStatus.RELEASED.value
    went = fact.c.outcome.in_([ReleaseStatus.RELEASED.value, ReleaseStatus.ROLLED_BACK.value])
    ended = fact.c.ended_s
    # Restored: the next successful release of the service after the rollback.
    later = Release.__table__.alias("later")  # type: ignore[attr-defined]
    # (The first in index order, LIMIT 1: not a MIN over every later release.)
    restored_at = (
        select(col(ProductionRecord.released_at))
        .join(later, later.c.id == col(ProductionRecord.release_id))
        .where(
            col(ProductionRecord.team_id) == scope.team_id,
            ProductionRecord.service == fact.c.service,
            col(ProductionRecord.released_at) > fact.c.ended_at,
            _counted(scope, later.c),
        )
        .order_by(col(ProductionRecord.released_at))
        .limit(1)
        .correlate(fact)
        .scalar_subquery()
    )
    rollback = (
        select(fact.c.ended_at, fact.c.ended_s, restored_at.label("restored_at"))
        .where(fact.c.outcome == ReleaseStatus.ROLLED_BACK.value)
        .cte("rollback")
        .prefix_with("MATERIALIZED")  # read twice; restored looked up once
    )
    # Each approved sign-off of the releases that went out, and how long after the
    # proposal it came (joined once; two figures read it).
    by_release: Any = col(Approver.release_id)
    if postgresql:
        # PostgreSQL cannot estimate how many outcomes end in the period (a range over a
        # computed time: it guesses 0.5%), and would look the sign-offs up one release at
        # a time through the index; hashing them all is several times faster.
        by_release = by_release + 0
    signed = (
        select(
            fact.c.release_id,
            (col(Approver.kind) + literal(":") + col(Approver.slack_id)).label("approver"),
            (epoch(Approver.signed_at) - fact.c.created_s).label("wait"),
        )
        .select_from(fact)
        .join(Approver, by_release == fact.c.release_id)
        .where(
            went,
            col(Approver.state) == SignOffState.APPROVED.value,
            col(Approver.signed_at).isnot(None),
        )
        .cte("signed")
        .prefix_with("MATERIALIZED")
    )
    key = literal("")
    # Each measured set on its own (no sort of every duration by its metric's name): the
    # durations, and for the approvers' their key.
    measured = [
        select(
            literal("lead").label("metric"),
            key.label("key"),
            (ended - fact.c.created_s).label("value"),
        ).where(released),
        select(
            literal("commit").label("metric"),
            key.label("key"),
            (ended - fact.c.committed_s).label("value"),
        ).where(released, fact.c.committed_s.isnot(None)),
        select(
            literal("restore").label("metric"),
            key.label("key"),
            (epoch(rollback.c.restored_at) - rollback.c.ended_s).label("value"),
        ),
        # Rollbacks not restored yet (value 0: only their number counts).
        select(
            literal("unrestored").label("metric"),
            key.label("key"),
            literal(0.0).label("value"),
        ).where(rollback.c.restored_at.is_(None)),
        select(
            literal("sign_off").label("metric"),
            key.label("key"),
            func.max(signed.c.wait).label("value"),
        ).group_by(signed.c.release_id),
    ]
    by_approver = select(
        literal("approver").label("metric"),
        signed.c.approver.label("key"),
        signed.c.wait.label("value"),
    )
    percentiles = [_spread_rows(each, postgresql, by_key=False) for each in measured]
    percentiles.append(_spread_rows(by_approver, postgresql, by_key=True))
    # The weeks' rows: metric "week:<outcome>", key the week's number, a failed, b on time.
    start = scope.first_monday
    week = floor_int((fact.c.ended_s - start.timestamp()) / WEEK.total_seconds())
    by_week = select(
        (literal(WEEK_ROW) + fact.c.outcome).label("metric"),
        cast(week, String).label("key"),
        func.count().label("n"),
        cast(func.sum(fact.c.failed), Float).label("a"),
        cast(func.sum(fact.c.on_time), Float).label("b"),
    ).group_by(week, fact.c.outcome)
    rows = session.execute(union_all(*percentiles, by_week)).all()

    count = max(1, math.ceil((scope.until - start) / WEEK))
    counters = ("released", "rolled_back", "no_go", "cancelled", "failed")
    weeks: list[dict[str, Any]] = [
        {"start": start + i * WEEK, **dict.fromkeys(counters, 0)} for i in range(count)
    ]
    on_time = 0
    spreads: Spreads = {}
    for row in rows:
        metric = str(row.metric)
        if metric.startswith(WEEK_ROW):
            index = min(max(int(row.key), 0), count - 1)
            weeks[index][metric.removeprefix(WEEK_ROW)] += int(row.n)
            weeks[index]["failed"] += int(row.a or 0)
            on_time += int(row.b or 0)
        else:
            spreads[(metric, str(row.key))] = (int(row.n), float(row.a), float(row.b))
    return [Week(**w) for w in weeks], on_time, spreads


WEEK_ROW = "week:"


def _overrides(session: Session, scope: Scope) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(FreezeOverride)
            .join(Release, col(Release.id) == col(FreezeOverride.release_id))
            .where(
                _counted(scope),
                col(FreezeOverride.at) >= scope.since,
                col(FreezeOverride.at) < scope.until,
            )
        ).scalar_one()
    )


def compute(session: Session, scope: Scope) -> Statistics:
    """The figures for `scope`, from one snapshot (read them in a read session)."""
    if session.get_bind().dialect.name == "postgresql":
        # The correlated lookups make the planner's cost high enough to compile the query
        # (JIT), which costs more than the query itself.
        session.execute(text("SET LOCAL jit = off"))
        # The percentiles sort every measured duration: in memory, not on disk.
        session.execute(text("SET LOCAL work_mem = '64MB'"))
    weeks, on_time, spreads = _aggregates(session, scope)

    def spread(metric: str) -> Spread:
        found = spreads.get((metric, ""))
        return Spread(*found) if found else Spread()

    slowest = None
    approvers = [(key, v) for (metric, key), v in spreads.items() if metric == "approver"]
    if approvers:
        key, (n, median, p90) = max(approvers, key=lambda kv: (kv[1][1], kv[1][0], kv[0]))
        kind, _, slack_id = key.partition(":")
        handle = session.execute(
            select(func.max(Approver.handle)).where(col(Approver.slack_id) == slack_id)
        ).scalar_one()
        slowest = SlowApprover(slack_id, kind, handle or "", Spread(n, median, p90))
    return Statistics(
        scope=scope,
        weeks=weeks,
        on_time=on_time,
        lead_time=spread("lead"),
        commit_lead_time=spread("commit"),
        restore=spread("restore"),
        unrestored=spread("unrestored").count,
        sign_off_wait=spread("sign_off"),
        slowest_approver=slowest,
        freeze_overrides=_overrides(session, scope),
    )
