"""Release statistics on a hand-built history whose right answers are worked out here,
on SQLite and PostgreSQL (the percentiles are computed in each database's SQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.db import Database
from models.release import statistics
from models.release.records import ReleaseStatus
from models.release.statistics import Scope, Spread, Week
from models.release.visibility import Reader
from tests.support.release_history import History

# On PostgreSQL too: SQL aggregates and window functions, percentiles against percentile_cont.
pytestmark = [pytest.mark.both_databases, pytest.mark.clock]

TEAM = "T1"
# A Monday noon: 30 days back is Saturday 31 October, in the week of Monday 26 October.
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
H = 3600.0


def at(month: int, day: int, hour: float = 12) -> datetime:
    whole = int(hour)
    return datetime(2026, month, day, whole, int((hour - whole) * 60), tzinfo=UTC)


R = ReleaseStatus


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def history(db: Database) -> Database:
    """payments and search over November 2026; the numbers each test expects are worked
    out next to the release that makes them."""
    with db.session() as session:
        h = History(session)
        # Before the period: never counted.
        old = h.release(
            "payments@0.9", proposed=at(10, 20, 9), outcome=R.RELEASED, ended=at(10, 20)
        )
        h.override(old, at(10, 20, 11))
        # R1: lead 3 h, on time (due by 12:30), commit 24 h before; sign-offs after 1 h and
        # 2 h: the last after 2 h.
        h.release(
            "payments@1.0",
            proposed=at(11, 2, 9),
            outcome=R.RELEASED,
            ended=at(11, 2, 12),
            target=at(11, 2, 11.5),
            committed=at(11, 1, 12),
            sign_offs=[("U_QA", "", 1), ("S_QA", "qa", 2)],
        )
        # R2: lead 1 h, late (due by 09:00); the next payments release is a fix 3 days
        # later: failed.
        h.release(
            "payments@1.1",
            proposed=at(11, 9, 9),
            outcome=R.RELEASED,
            ended=at(11, 9, 10),
            target=at(11, 9, 8),
        )
        # R3: the fix, lead 6 h, on time (released at its target).
        h.release(
            "payments@1.1.1",
            proposed=at(11, 12, 8),
            outcome=R.RELEASED,
            ended=at(11, 12, 14),
            target=at(11, 12, 14),
            is_fix=True,
        )
        # R4: rolled back twice (the second time recorded again): counted once, failed,
        # restored from its first rollback (16 Nov 13:00) by R6 48 h later. Its sign-off
        # came after 30 min.
        h.release(
            "payments@1.2",
            proposed=at(11, 16, 9),
            outcome=R.ROLLED_BACK,
            ended=[at(11, 16, 13), at(11, 16, 13.5)],
            sign_offs=[("U_QA", "", 0.5)],
        )
        # R5: rolled back too: restored by R6 25 h later.
        h.release("payments@1.3", proposed=at(11, 17, 9), outcome=R.ROLLED_BACK, ended=at(11, 17))
        # R6: lead 4 h, on time (due by 13:30), commit 48 h before; sign-offs after 3 h and
        # 1 h: the last after 3 h; a freeze overridden for it.
        r6 = h.release(
            "payments@1.4",
            proposed=at(11, 18, 9),
            outcome=R.RELEASED,
            ended=at(11, 18, 13),
            target=at(11, 18, 12.5),
            committed=at(11, 16, 13),
            sign_offs=[("U_QA", "", 3), ("S_QA", "qa", 1)],
        )
        h.override(r6, at(11, 18, 11))
        # R7: lead 2 h, late (due by 09:00); the fix after it comes 9 days later: not failed.
        h.release(
            "payments@1.5",
            proposed=at(11, 20, 8),
            outcome=R.RELEASED,
            ended=at(11, 20, 10),
            target=at(11, 20, 8),
        )
        # R8: the late fix, lead 2 h, on time.
        h.release(
            "payments@1.5.1",
            proposed=at(11, 29, 8),
            outcome=R.RELEASED,
            ended=at(11, 29, 10),
            target=at(11, 29, 10),
            is_fix=True,
        )
        # A no-go (its sign-off, after 10 h, never led to a deployment: not counted in the
        # waits) and a cancellation.
        h.release(
            "payments@2.0",
            proposed=at(11, 21, 8),
            outcome=R.NO_GO,
            ended=at(11, 21),
            sign_offs=[("U_LATE", "", 10), ("U_SLOW", "", None)],
        )
        h.release("payments@2.1", proposed=at(11, 22, 8), outcome=R.CANCELLED, ended=at(11, 22))
        # search: S1 lead 5 h; S1.5 lead 1 h; S2 lead 8 h is a fix naming S1 (4 days after
        # it): S1 failed, S1.5 (released between them) did not. All on time.
        s1 = h.release(
            "search@1.0",
            proposed=at(11, 10, 7),
            outcome=R.RELEASED,
            ended=at(11, 10, 12),
            target=at(11, 10, 11.5),
        )
        h.release(
            "search@1.5",
            proposed=at(11, 12, 11),
            outcome=R.RELEASED,
            ended=at(11, 12, 12),
            target=at(11, 12, 11.5),
        )
        h.release(
            "search@2.0",
            proposed=at(11, 14, 4),
            outcome=R.RELEASED,
            ended=at(11, 14, 12),
            target=at(11, 14, 11.5),
            fixes=s1,
        )
        # Private to G_PRIV: a rollback of billing nothing has restored yet, with an override.
        private = h.release(
            "billing@3.0",
            proposed=at(11, 24, 8),
            outcome=R.ROLLED_BACK,
            ended=at(11, 24),
            channel="G_PRIV",
            private=True,
        )
        h.override(private, at(11, 24, 10))
        # Another workspace's release: never counted.
        h.release(
            "payments@1.0",
            proposed=at(11, 3, 9),
            outcome=R.ROLLED_BACK,
            ended=at(11, 3),
            team="T2",
        )
    return db


def compute(db: Database, days: int = 30, **kwargs: Any) -> statistics.Statistics:
    return compute_scope(db, Scope.last_days(TEAM, days, NOW, **kwargs))


def compute_scope(db: Database, scope: Scope) -> statistics.Statistics:
    with db.read_session() as session:
        return statistics.compute(session, scope)


def close(value: float | None, expected: float) -> bool:
    return value is not None and abs(value - expected) < 1.0  # within a second


def test_every_figure_on_the_hand_built_history(history: Database) -> None:
    stats = compute(history)
    # Public releases: payments R1 R2 R3 R6 R7 R8 and search S1 S1.5 S2 released.
    assert (stats.released, stats.rolled_back, stats.no_go, stats.cancelled) == (9, 2, 1, 1)
    assert stats.deployments == 11
    # Failed: R2 (fix next, 3 days), R4 and R5 (rolled back), S1 (a fix names it).
    assert stats.failed == 4
    assert stats.change_failure_rate == pytest.approx(4 / 11)
    assert stats.per_week == pytest.approx(9 / (30 / 7))
    # Leads 1 1 2 2 3 4 5 6 8 h: median the 5th; p90 at 7.2: 6 + 0.2 × (8 - 6).
    assert stats.lead_time.count == 9
    assert close(stats.lead_time.median, 3 * H) and close(stats.lead_time.p90, 6.4 * H)
    # Commit to released: 24 h and 48 h.
    assert stats.commit_lead_time.count == 2
    assert close(stats.commit_lead_time.median, 36 * H)
    assert close(stats.commit_lead_time.p90, 45.6 * H)
    # Restore: 48 h (from R4's first rollback) and 25 h.
    assert stats.restore.count == 2 and stats.unrestored == 0
    assert close(stats.restore.median, 36.5 * H)
    # Last sign-off: 0.5 h (R4), 2 h (R1), 3 h (R6); the no-go's is left out.
    assert stats.sign_off_wait.count == 3
    assert close(stats.sign_off_wait.median, 2 * H) and close(stats.sign_off_wait.p90, 2.8 * H)
    # U_QA signed after 1, 0.5 and 3 h (median 1 h); @qa after 2 and 1 h (median 1.5 h).
    slowest = stats.slowest_approver
    assert slowest is not None
    assert (slowest.slack_id, slowest.kind, slowest.handle) == ("S_QA", "usergroup", "qa")
    assert slowest.wait.count == 2 and close(slowest.wait.median, 1.5 * H)
    # On time: R1 R3 R6 R8 S1 S1.5 S2; late: R2 R7.
    assert stats.on_time == 7 and stats.on_time_rate == pytest.approx(7 / 9)
    assert stats.freeze_overrides == 1  # R6's (the old one is before the period)


def test_weeks_start_on_mondays_and_count_each_outcome(history: Database) -> None:
    weeks = compute(history).weeks
    assert [w.start for w in weeks] == [at(10, 26, 0) + timedelta(weeks=i) for i in range(6)]
    assert weeks[0] == Week(at(10, 26, 0))
    assert weeks[1] == Week(at(11, 2, 0), released=1)
    assert weeks[2] == Week(at(11, 9, 0), released=5, failed=2)  # R2, S1
    assert weeks[3] == Week(
        at(11, 16, 0), released=2, rolled_back=2, no_go=1, cancelled=1, failed=2
    )
    assert weeks[3].change_failure_rate == pytest.approx(0.5)
    assert weeks[4] == Week(at(11, 23, 0), released=1)
    assert weeks[5] == Week(at(11, 30, 0))
    assert weeks[5].change_failure_rate is None


def test_one_service(history: Database) -> None:
    stats = compute(history, service="search")
    assert (stats.released, stats.rolled_back, stats.failed) == (3, 0, 1)
    assert stats.change_failure_rate == pytest.approx(1 / 3)
    assert close(stats.lead_time.median, 5 * H)
    assert stats.restore == Spread() and stats.sign_off_wait == Spread()
    assert stats.slowest_approver is None and stats.freeze_overrides == 0


def test_a_service_with_no_releases_and_an_empty_period(history: Database) -> None:
    for stats in (
        compute(history, service="nothing"),
        compute_scope(history, Scope(TEAM, at(1, 1), at(2, 1))),
    ):
        assert (stats.released, stats.deployments, stats.failed, stats.on_time) == (0, 0, 0, 0)
        assert stats.change_failure_rate is None and stats.on_time_rate is None
        assert stats.per_week == 0
        assert stats.lead_time == stats.restore == stats.sign_off_wait == Spread()
        assert stats.slowest_approver is None and stats.freeze_overrides == 0
        assert all(w.deployments == 0 for w in stats.weeks)


def test_private_releases_count_only_in_their_own_channel(history: Database) -> None:
    public = compute(history, reader=Reader.members_of("C_PUBLIC"))
    assert (public.rolled_back, public.unrestored, public.freeze_overrides) == (2, 0, 1)
    own = compute(history, reader=Reader.members_of("G_PRIV"))
    assert (own.rolled_back, own.failed, own.unrestored, own.freeze_overrides) == (3, 5, 1, 2)
    assert own.change_failure_rate == pytest.approx(5 / 12)
    assert own.restore.count == 2  # the private rollback is not restored: not measured


def test_a_longer_period_takes_in_older_releases(history: Database) -> None:
    stats = compute(history, days=90)
    assert stats.released == 10 and stats.freeze_overrides == 2
    assert len(stats.weeks) == 14  # 90 days from Tuesday 1 September: 13 weeks and a bit


def test_percentiles_agree_with_postgresqls_percentile_cont(history: Database) -> None:
    if history.engine.dialect.name != "postgresql":
        pytest.skip("percentile_cont is PostgreSQL's")
    from sqlalchemy import text

    with history.read_session() as session:
        median, p90 = session.execute(
            text(
                "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v), "
                "percentile_cont(0.9) WITHIN GROUP (ORDER BY v) FROM ("
                "SELECT EXTRACT(EPOCH FROM p.released_at - r.created_at) AS v "
                "FROM release r JOIN production_record p ON p.release_id = r.id "
                "WHERE r.team_id = 'T1' AND NOT r.private AND p.released_at >= :since) AS x"
            ),
            {"since": NOW - timedelta(days=30)},
        ).one()
    stats = compute(history)
    assert close(stats.lead_time.median, float(median))
    assert close(stats.lead_time.p90, float(p90))
