"""How fast release statistics are computed over 100,000 releases, against the bare
aggregate query over the same rows, in the same run.

It migrates a fresh SQLite file (and, when RELEASEBOT_TEST_POSTGRES_URL is reachable, a
scratch schema there; `--no-postgres` skips it), bulk-inserts `--releases` releases
(default 100,000) over the last 365 days, across 50 services, as the lifecycle leaves
them: 80% released (a production record each), 8% rolled back, 6% no-go, 6% cancelled
(an audit event each), one release in ten a fix (half of them naming the release before),
half with a commit time, one or two approved sign-offs each, 1% with a freeze override,
5% private. Then, `--runs` times each (median reported):

- `statistics.compute` (models/release/statistics.py): every figure `/release stats` and
  GET /api/v1/stats show, for the whole year of every service (every release in the
  period), the last 30 days, and one service over the year;
- the floor: one bare `SELECT status, count(*), min(created_at), max(updated_at) FROM
  release WHERE team_id = … AND NOT private GROUP BY status` over the same rows.

Target: statistics within 15 times the floor (each case's median; the old target, 1 s,
was 11 times the floor on SQLite and 21 times on PostgreSQL here). Prints the ratio to the
floor and PASS/FAIL; exit status 1 on a FAIL with `--strict`. `--smoke`: 300 releases on
SQLite, one run, targets not checked.

    uv run python benchmarks/stats.py [--releases 100000] [--runs 5] [--no-postgres] [--strict]
        [--smoke]
"""

from __future__ import annotations

import argparse
import random
import statistics as stats_math
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

ROOT = Path(__file__).resolve().parents[1]
# `python benchmarks/stats.py` puts benchmarks/ first: the project root goes before it.
sys.path.insert(0, str(ROOT))

from bot import migrate  # noqa: E402
from models.audit import AuditEvent  # noqa: E402
from models.db import Database  # noqa: E402
from models.freezes import FreezeOverride  # noqa: E402
from models.release import outcomes, statistics  # noqa: E402
from models.release.production import ProductionRecord  # noqa: E402
from models.release.records import Approver, Release, ReleaseStatus  # noqa: E402
from models.release.statistics import Scope  # noqa: E402

TEAM = "T0001"
FACTOR = 15.0  # × the bare aggregate
SERVICES = 50
BATCH = 5_000


def seed(db: Database, count: int, now: datetime) -> None:
    rng = random.Random(11)
    releases: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    approvers: list[dict[str, Any]] = []
    overrides: list[dict[str, Any]] = []
    last_of: dict[str, int] = {}
    span = timedelta(days=365).total_seconds()
    # Oldest first, so each release's predecessor of its service is known.
    starts = sorted(now - timedelta(seconds=rng.uniform(3600 * 24, span)) for _ in range(count))
    for index, proposed in enumerate(starts, start=1):
        service = f"svc{index % SERVICES}"
        roll = rng.random()
        status = (
            ReleaseStatus.RELEASED
            if roll < 0.80
            else ReleaseStatus.ROLLED_BACK
            if roll < 0.88
            else ReleaseStatus.NO_GO
            if roll < 0.94
            else ReleaseStatus.CANCELLED
        )
        ended = proposed + timedelta(hours=rng.uniform(0.5, 20))
        target = proposed + timedelta(hours=rng.uniform(0.5, 20))
        is_fix = rng.random() < 0.10
        fixes = last_of.get(service) if is_fix and rng.random() < 0.5 else None
        releases.append(
            {
                "id": index,
                "uid": f"u{index}",
                "team_id": TEAM,
                "service": service,
                "version": f"1.{index}",
                "target_at": target,
                "window_minutes": 60,
                "channel_id": "C0001",
                "private": rng.random() < 0.05,
                "owner_id": "U_OWNER",
                "status": status.value,
                "rollout_stages": "",
                "notes": "",
                "status_reason": "",
                "quorum": "all",
                "owner_can_approve": False,
                "sequence": 0,
                "revision": 0,
                "is_fix": is_fix,
                "fixes_release_id": fixes,
                "committed_at": proposed - timedelta(hours=rng.uniform(1, 48))
                if rng.random() < 0.5
                else None,
                "created_at": proposed,
                "updated_at": ended,
            }
        )
        if status == ReleaseStatus.RELEASED:
            records.append(
                {
                    "team_id": TEAM,
                    "service": service,
                    "version": f"1.{index}",
                    "release_id": index,
                    "released_by": "U_OWNER",
                    "released_at": ended,
                }
            )
            last_of[service] = index
        events.append(
            {
                "team_id": TEAM,
                "release_id": index,
                "actor_id": "U_OWNER",
                "action": status.value,
                "at": ended,
                "detail": "",
            }
        )
        for position in range(rng.choice((1, 2))):
            approvers.append(
                {
                    "release_id": index,
                    "position": position,
                    "kind": "user" if position == 0 else "usergroup",
                    "slack_id": f"U{rng.randrange(40)}"
                    if position == 0
                    else f"S{rng.randrange(8)}",
                    "handle": "" if position == 0 else "qa",
                    "state": "approved",
                    "signed_by": "U_SIGNER",
                    "signed_at": proposed + timedelta(hours=rng.uniform(0.1, 10)),
                    "reason": "",
                    "required": False,
                }
            )
        if rng.random() < 0.01:
            overrides.append(
                {
                    "release_id": index,
                    "freeze_uid": "f1",
                    "freeze_name": "Black Friday",
                    "occurrence_start": ended - timedelta(hours=1),
                    "occurrence_end": ended + timedelta(hours=1),
                    "by": "U_PM",
                    "reason": "hotfix",
                    "at": ended,
                }
            )
    # Fixes name a release inserted before them; with foreign keys checked row by row,
    # releases go in id order.
    with db.session() as session:
        for table, rows in (
            (Release, releases),
            (ProductionRecord, records),
            (AuditEvent, events),
            (Approver, approvers),
            (FreezeOverride, overrides),
        ):
            for start in range(0, len(rows), BATCH):
                session.execute(insert(table), rows[start : start + BATCH])
        if db.engine.dialect.name == "postgresql":
            session.execute(text("SELECT setval('release_id_seq', (SELECT max(id) FROM release))"))
    # Rows written with Core bypass the session's upkeep of the outcome rows: work them
    # out as every commit does.
    started = time.perf_counter()
    with db.session() as session:
        outcomes.rebuild(session)
    print(f"  outcome rows worked out for every release in {time.perf_counter() - started:.1f} s")
    # What autovacuum would have done after so many inserts: statistics for the planner
    # (and on PostgreSQL the visibility map, for index-only scans).
    command = "VACUUM ANALYZE" if db.engine.dialect.name == "postgresql" else "ANALYZE"
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(command))


def timed(runs: int, work: Callable[[], object]) -> float:
    work()  # warm: plans, caches, pages
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        samples.append(time.perf_counter() - started)
    return stats_math.median(samples)


def bench(url: str, backend: str, releases: int, runs: int, smoke: bool) -> list[bool]:
    db = Database(url)
    try:
        migrate.upgrade(db.engine)
        now = datetime.now(UTC)
        started = time.perf_counter()
        seed(db, releases, now)
        print(
            f"\n{backend}: {releases:,} releases inserted in {time.perf_counter() - started:.1f} s"
        )

        def bare() -> object:
            with db.read_session() as session:
                return session.execute(
                    text(
                        "SELECT status, count(*), min(created_at), max(updated_at) FROM release "
                        "WHERE team_id = :team AND NOT private GROUP BY status"
                    ),
                    {"team": TEAM},
                ).all()

        floor = timed(runs, bare)
        cases = [
            ("all services, 365 days", Scope.last_days(TEAM, 365, now)),
            ("all services, 30 days", Scope.last_days(TEAM, 30, now)),
            ("one service, 365 days", Scope.last_days(TEAM, 365, now, service="svc7")),
        ]
        print(f"  bare aggregate (GROUP BY status over every row): {floor * 1000:8.1f} ms")
        print(f"  {'statistics':<28} {'median':>10} {'ratio':>8}  target ≤ {FACTOR:g}x")
        results = []
        for name, scope in cases:
            figures: list[statistics.Statistics] = []

            def compute(
                scope: Scope = scope, figures: list[statistics.Statistics] = figures
            ) -> object:
                with db.read_session() as session:
                    figures.append(statistics.compute(session, scope))
                return figures[-1]

            took = timed(runs, compute)
            ok = took <= FACTOR * floor
            results.append(ok)
            last = figures[-1]
            rate = 100 * (last.change_failure_rate or 0)
            print(
                f"  {name:<28} {took * 1000:8.1f} ms {took / floor:7.1f}x  "
                f"{'' if smoke else 'PASS' if ok else 'FAIL'}  ({last.released:,} released, "
                f"{last.deployments:,} deployments, CFR {rate:.1f}%)"
            )
        return results
    finally:
        db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--smoke", action="store_true", help="300 releases on SQLite, targets not checked"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.releases, args.runs, args.no_postgres = 300, 1, True
    results: list[bool] = []
    with ExitStack() as stack:
        directory = stack.enter_context(tempfile.TemporaryDirectory())
        results += bench(
            f"sqlite:///{directory}/stats-bench.db", "SQLite", args.releases, args.runs, args.smoke
        )
        if not args.no_postgres:
            from tests.support.databases import PostgresSchema, postgres_unavailable_reason

            reason = postgres_unavailable_reason()
            if reason is None:
                schema = PostgresSchema()
                stack.callback(schema.close)
                results += bench(schema.url, "PostgreSQL", args.releases, args.runs, args.smoke)
            else:
                print(f"\nPostgreSQL skipped: {reason}")
    if args.smoke:
        print("\nsmoke run: targets not checked")
        return 0
    print(f"\n{'PASS' if all(results) else 'FAIL'}: statistics within {FACTOR:g}x the floor")
    return 1 if args.strict and not all(results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
