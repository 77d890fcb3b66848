"""Release statistics over a period, DORA-style, computed by the database.

The figures read each finished release's outcome rows (outcomes.py: when it ended, its
durations in seconds, kept current at every commit), never the releases' history itself,
and every figure is an aggregate in SQL: counts by week, and percentiles read through an
index in the order of the value (a COUNT, then the one or two rows at the percentile's
place, `ORDER BY value LIMIT 2 OFFSET k`: no sort of every duration). Python reads back a
handful of rows per figure, whatever the number of releases.

A release counts in the period its outcome falls in (outcomes.py says when that is).
Releases still in flight have none.

Percentiles interpolate linearly between the two nearest values, as PostgreSQL's
`percentile_cont` does (a test checks both on the same history).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, true, union
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from models.freezes import FreezeOverride
from models.release.outcomes import (
    FIRST_MONDAY_S,
    WEEK_S,
    ReleaseOutcome,
    SignOffOutcome,
)
from models.release.records import Approver, Release, ReleaseStatus
from models.release.sql_time import epoch, unindexed
from models.release.visibility import PUBLIC_READER, Reader, shown_to

PERIODS = (30, 90, 365)  # days a person may ask for
DEFAULT_DAYS = 30
# A fix released this soon after a release marks that release as failed.
FIX_WINDOW = timedelta(days=7)
WEEK = timedelta(days=7)


# --- what is asked, and what is answered -----------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Which releases count: a workspace's, whose outcome falls in [since, until), of one
    service (or of `services` only: an API token's), that `reader` may see (the members
    of the channel the figures are shown in; by default, the public)."""

    team_id: str
    since: datetime
    until: datetime
    service: str | None = None
    services: tuple[str, ...] | None = None
    reader: Reader = PUBLIC_READER

    @classmethod
    def last_days(
        cls,
        team_id: str,
        days: int,
        now: datetime,
        *,
        service: str | None = None,
        services: tuple[str, ...] | None = None,
        reader: Reader = PUBLIC_READER,
    ) -> Scope:
        return cls(team_id, now - timedelta(days=days), now, service, services, reader)

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

RELEASED = ReleaseStatus.RELEASED.value
ROLLED_BACK = ReleaseStatus.ROLLED_BACK.value


def _visible(scope: Scope, row: Any) -> ColumnElement[bool]:
    """Rows of `scope`'s workspace its reader may see, of its services."""
    conditions = [row.team_id == scope.team_id, shown_to(scope.reader, row)]
    if scope.service is not None:
        conditions.append(row.service == scope.service)
    if scope.services is not None:
        conditions.append(col(row.service).in_(scope.services))
    return and_(*conditions)


def _counted(scope: Scope, row: Any, *, in_value_order: bool = False) -> ColumnElement[bool]:
    """Visible rows whose outcome falls in the period (`in_value_order`: read through an
    index on a value, not on the time)."""
    ended: Any = unindexed(col(row.ended_at)) if in_value_order else col(row.ended_at)
    return and_(_visible(scope, row), ended >= scope.since, ended < scope.until)


def _spread(
    session: Session,
    value: Any,
    where: ColumnElement[bool],
    count: int,
) -> Spread:
    """How many `value`s, their median and 90th percentile, each read as the one or two
    values at its place in order (through an index on the value and the scope's columns,
    where there is one: no sort)."""
    if count == 0:
        return Spread()

    def percentile(percent: int) -> float:
        place, weight = _places(count, percent)
        query = select(value).where(where, value.isnot(None)).order_by(value)
        rows = session.execute(query.limit(2).offset(place)).all()
        low = float(rows[0][0])
        return _between(low, float(rows[1][0]) if len(rows) > 1 else low, weight)

    return Spread(count, percentile(50), percentile(90))


@dataclass
class _Totals:
    first_week: int  # the number (outcomes.py) of the period's first week
    weeks: list[dict[str, Any]]
    on_time: int = 0
    lead: int = 0
    commit_lead: int = 0
    sign_off: int = 0

    def week(self, number: int) -> dict[str, Any]:
        """The counters of week `number` (the period's first or last, outside it)."""
        return self.weeks[min(max(number - self.first_week, 0), len(self.weeks) - 1)]


def _weeks(session: Session, scope: Scope) -> _Totals:
    """Outcomes by week, and how many of each duration there are, in one pass."""
    o = ReleaseOutcome
    first = int(scope.first_monday.timestamp() - FIRST_MONDAY_S) // WEEK_S
    count = max(1, math.ceil((scope.until - scope.first_monday) / WEEK))
    counters = ("released", "rolled_back", "no_go", "cancelled", "failed")
    totals = _Totals(
        first,
        [
            {"start": scope.first_monday + i * WEEK, **dict.fromkeys(counters, 0)}
            for i in range(count)
        ],
    )
    rows = session.execute(
        select(
            col(o.week),
            col(o.outcome),
            func.count(),
            func.sum(case((col(o.on_time).is_(True), 1), else_=0)),
            func.count(col(o.lead_s)),
            func.count(col(o.commit_lead_s)),
            func.count(col(o.sign_off_s)),
        )
        # The weeks the period touches (the index's range), then the period exactly.
        .where(col(o.week) >= first, col(o.week) <= first + count - 1, _counted(scope, o))
        .group_by(col(o.week), col(o.outcome))
    ).all()
    for week, outcome, n, on_time, lead, commit_lead, sign_off in rows:
        counters_of = totals.week(int(week))
        counters_of[outcome] += int(n)
        if outcome == ROLLED_BACK:
            counters_of["failed"] += int(n)
        totals.on_time += int(on_time or 0)
        totals.lead += int(lead)
        totals.commit_lead += int(commit_lead)
        totals.sign_off += int(sign_off)
    return totals


def _fixed(session: Session, scope: Scope) -> list[tuple[int, int]]:
    """(week, how many) of the released releases a fix marked as failed: the next release
    of the service to be released was a fix within FIX_WINDOW (unless it names another
    release), or a released fix names it, within FIX_WINDOW. Found from the fixes (a few),
    each looking its release up through an index, not by ordering every release."""
    # (Aliases of the table: typed Any, as mypy reads their columns as plain values.)
    fix: Any = aliased(ReleaseOutcome)
    before: Any = aliased(ReleaseOutcome)
    named: Any = aliased(ReleaseOutcome)
    within = FIX_WINDOW.total_seconds()
    # The release of the service released last before each fix (in the period, visible).
    previous = (
        select(before.release_id)
        .where(
            _visible(scope, before),
            before.service == fix.service,
            before.outcome == RELEASED,
            # In the period up to the fix (the index's range: the fix is in the period),
            # and before it in (time, id) order.
            col(before.ended_at) >= scope.since,
            col(before.ended_at) <= fix.ended_at,
            or_(col(before.ended_at) < fix.ended_at, col(before.release_id) < fix.release_id),
        )
        .order_by(col(before.ended_at).desc(), col(before.release_id).desc())
        .limit(1)
        .correlate(fix)
        .scalar_subquery()
    )
    fixes = (
        select(
            fix.release_id.label("fix_id"),
            fix.ended_at.label("fix_at"),
            fix.fixes_release_id.label("names"),
            previous.label("previous_id"),
        )
        .where(_counted(scope, fix), col(fix.is_fix).is_(True), fix.outcome == RELEASED)
        .cte("fix_before")
        .prefix_with("MATERIALIZED")  # each fix's previous release looked up once
    )
    failed: Any = aliased(ReleaseOutcome)
    next_was_fix = (
        select(failed.release_id, failed.week)
        .join(fixes, fixes.c.previous_id == failed.release_id)
        .where(
            or_(fixes.c.names.is_(None), fixes.c.names == failed.release_id),
            epoch(fixes.c.fix_at) - epoch(failed.ended_at) <= within,
        )
    )
    # A released fix that names its release, whenever it was released (visible).
    named_fix = (
        select(named.release_id, named.week)
        .select_from(fix)
        .join(named, named.release_id == fix.fixes_release_id)
        .where(
            _visible(scope, fix),
            col(fix.is_fix).is_(True),
            fix.outcome == RELEASED,
            _counted(scope, named),
            named.outcome == RELEASED,
            epoch(fix.ended_at) - epoch(named.ended_at) <= within,
        )
    )
    both = union(next_was_fix, named_fix).subquery("fixed")
    rows = session.execute(select(both.c.week, func.count()).group_by(both.c.week)).all()
    return [(int(week), int(n)) for week, n in rows]


def _restores(session: Session, scope: Scope) -> tuple[Spread, int]:
    """Time to restore of the period's rollbacks (to the next release of the service
    released after it, visible here) and how many are not restored yet."""
    rollback: Any = aliased(ReleaseOutcome)
    later: Any = aliased(ReleaseOutcome)
    restored_at = (
        select(later.ended_at)
        .where(
            _visible(scope, later),
            later.service == rollback.service,
            later.outcome == RELEASED,
            col(later.ended_at) > rollback.ended_at,
        )
        .order_by(col(later.ended_at))
        .limit(1)
        .correlate(rollback)
        .scalar_subquery()
    )
    restores = (
        select((epoch(restored_at) - epoch(rollback.ended_at)).label("value"))
        .where(_counted(scope, rollback), rollback.outcome == ROLLED_BACK)
        .cte("restore")
        .prefix_with("MATERIALIZED")  # each rollback's restore looked up once
    )
    spread, every = _spread_of_few(session, restores)
    return spread, every - spread.count


def _places(count: int, percent: int) -> tuple[int, int]:
    """The 0-based place in order of the value a percentile starts from, and the
    hundredths of the way to the next one (linear interpolation, as percentile_cont)."""
    position = (count - 1) * percent
    return position // 100, position % 100


def _between(low: float, high: float, weight: int) -> float:
    return (low * (100 - weight) + high * weight) / 100


def _spread_of_few(session: Session, rows: Any) -> tuple[Spread, int]:
    """`_spread` of the `value`s of `rows`, computed per row (no index holds them; a few
    thousand at most, such as rollbacks), and how many rows there are, value or NULL: in
    one statement, the values ranked and only those at a percentile's places read."""
    value = rows.c.value
    totals = select(func.count().label("every"), func.count(value).label("n")).subquery()
    ranked = (
        select(
            value,
            func.row_number().over(order_by=value).label("rank"),
            func.count().over().label("n"),
        )
        .where(value.isnot(None))
        .subquery("ranked")
    )
    n = ranked.c.n
    places = [(n - 1) * percent // 100 + step for percent in (50, 90) for step in (1, 2)]
    picked = select(ranked.c.rank, ranked.c.value).where(ranked.c.rank.in_(places)).subquery()
    found = session.execute(
        select(totals.c.every, totals.c.n, picked.c.rank, picked.c.value).select_from(
            totals.outerjoin(picked, true())
        )
    ).all()
    every, count = int(found[0].every), int(found[0].n)
    if count == 0:
        return Spread(), every
    at = {int(row.rank): float(row.value) for row in found}

    def percentile(percent: int) -> float:
        place, weight = _places(count, percent)
        low = at[place + 1]
        return _between(low, at.get(place + 2, low), weight)

    return Spread(count, percentile(50), percentile(90)), every


def _slowest_approver(session: Session, scope: Scope) -> SlowApprover | None:
    """The approver with the slowest median sign-off (then the most sign-offs)."""
    s = SignOffOutcome
    counted = _counted(scope, s)
    counts = session.execute(
        select(col(s.approver), func.count()).where(counted).group_by(col(s.approver))
    ).all()
    if not counts:
        return None

    def median(approver: str, n: int) -> float:
        spread = _spread(session, col(s.wait_s), and_(counted, col(s.approver) == approver), n)
        assert spread.median is not None
        return spread.median

    ranked = [(median(str(a), int(n)), int(n), str(a)) for a, n in counts]
    _, n, approver = max(ranked)
    wait = _spread(session, col(s.wait_s), and_(counted, col(s.approver) == approver), n)
    kind, _, slack_id = approver.partition(":")
    handle = session.execute(
        select(func.max(Approver.handle)).where(col(Approver.slack_id) == slack_id)
    ).scalar_one()
    return SlowApprover(slack_id, kind, handle or "", wait)


def _overrides(session: Session, scope: Scope) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(FreezeOverride)
            .join(Release, col(Release.id) == col(FreezeOverride.release_id))
            .where(
                _visible(scope, Release),
                col(FreezeOverride.at) >= scope.since,
                col(FreezeOverride.at) < scope.until,
            )
        ).scalar_one()
    )


def compute(session: Session, scope: Scope) -> Statistics:
    """The figures for `scope`, from one snapshot (read them in a read session)."""
    o = ReleaseOutcome
    by_value = _counted(scope, o, in_value_order=True)
    totals = _weeks(session, scope)
    for week, n in _fixed(session, scope):
        totals.week(week)["failed"] += n
    restore, unrestored = _restores(session, scope)
    return Statistics(
        scope=scope,
        weeks=[Week(**w) for w in totals.weeks],
        on_time=totals.on_time,
        lead_time=_spread(session, col(o.lead_s), by_value, totals.lead),
        commit_lead_time=_spread(session, col(o.commit_lead_s), by_value, totals.commit_lead),
        restore=restore,
        unrestored=unrestored,
        sign_off_wait=_spread(session, col(o.sign_off_s), by_value, totals.sign_off),
        slowest_approver=_slowest_approver(session, scope),
        freeze_overrides=_overrides(session, scope),
    )
