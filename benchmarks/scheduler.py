"""Start-up of the reminder scheduler with 10,000 pending reminders: time and memory.

Beside it, in the same run, the floor: the bare SELECT of the rows and APScheduler alone
taking the same 10,000 date jobs. Target: start-up within 2 times the floor's time. Exit
status 1 on a FAIL with `--strict`. `--smoke`: 100 reminders, targets not checked.

    uv run python benchmarks/scheduler.py [--reminders 10000] [--database-url URL]
        [--strict] [--smoke]
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import migrate  # noqa: E402
from models.db import Database  # noqa: E402
from models.release.records import Release  # noqa: E402
from models.reminders.planning import Said  # noqa: E402
from models.reminders.table import Reminder  # noqa: E402
from scheduler.clock import ReminderScheduler  # noqa: E402

TIME_FACTOR = 2.0  # × the floor's start-up


def noop(reminder_id: int) -> None:
    """The floor's job: the same shape as ours, doing nothing."""


def seed(db: Database, count: int, now: datetime) -> None:
    """`count` releases over the next 30 days, each with one pending reminder."""
    releases = [
        {
            "team_id": "T1",
            "service": f"svc{n}",
            "version": "1.0",
            "target_at": now + timedelta(hours=2, minutes=n % (30 * 24 * 60)),
            "window_minutes": 60,
            "channel_id": "C1",
            "owner_id": "U1",
            "status": "proposed",
            "rollout_stages": "",
            "notes": "",
            "status_reason": "",
            "sequence": 0,
            "created_at": now,
            "updated_at": now,
            "uid": f"bench{n:011d}",
        }
        for n in range(count)
    ]
    with db.session() as session:
        session.execute(insert(Release), releases)
        ids = [row[0] for row in session.execute(text("SELECT id FROM release ORDER BY id"))]
        session.execute(
            insert(Reminder),
            [
                {
                    "release_id": release_id,
                    "kind": "before",
                    "offset_minutes": 60,
                    "slot_at": now + timedelta(hours=1, minutes=n % (30 * 24 * 60)),
                    "due_at": now + timedelta(hours=1, minutes=n % (30 * 24 * 60)),
                    "status": "pending",
                    "attempts": 0,
                    "last_error": "",
                    "created_at": now,
                }
                for n, release_id in enumerate(ids)
            ],
        )


def measure(label: str, make: Callable[[], Callable[[], object]]) -> tuple[float, float]:
    """Warm up, time one run, then trace the memory of another (tracing slows code down)."""
    make()()
    run = make()
    gc.collect()
    started = time.perf_counter()
    run()
    elapsed = time.perf_counter() - started
    run = make()
    gc.collect()
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label:<44} {elapsed * 1000:8.1f} ms   peak {peak / 2**20:6.1f} MiB")
    return elapsed, peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reminders", type=int, default=10_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--smoke", action="store_true", help="100 reminders, a few seconds, targets not checked"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.reminders = 100
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        db = Database(url)
        migrate.upgrade(db.engine)
        seed(db, args.reminders, now)
        print(f"{args.reminders} pending reminders in {db.engine.dialect.name}\n")

        started: list[ReminderScheduler | BackgroundScheduler] = []

        def bare() -> Callable[[], object]:
            def run() -> None:
                with db.engine.connect() as connection:
                    rows = connection.execute(
                        select(Reminder.id, Reminder.due_at).where(  # type: ignore[call-overload]
                            Reminder.status == "pending"
                        )
                    ).all()
                plain = BackgroundScheduler(timezone=UTC)
                for reminder_id, due_at in rows:
                    plain.add_job(
                        noop, "date", run_date=due_at, args=[reminder_id], id=f"r{reminder_id}"
                    )
                plain.start()
                started.append(plain)

            return run

        def ours() -> Callable[[], object]:
            scheduler = ReminderScheduler(
                db, lambda reminder, view: Said(None), lambda release_id: None, clock=lambda: now
            )
            started.append(scheduler)
            return scheduler.start

        base, base_peak = measure("floor: SELECT + APScheduler with N jobs", bare)
        mine, mine_peak = measure("releasebot: ReminderScheduler.start()", ours)
        jobs = started[-1].scheduled_job_count()  # type: ignore[union-attr]
        for scheduler in started:
            scheduler.shutdown()
        db.dispose()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\njobs scheduled: {jobs}; process max RSS {rss:.0f} MiB")
    print(
        f"ratio releasebot / floor: time {mine / base:.2f}x, "
        f"peak memory {mine_peak / base_peak:.2f}x"
    )
    if args.smoke:
        print("smoke run: targets not checked")
        return 0
    fast = mine <= TIME_FACTOR * base
    print(
        f"{'PASS' if fast else 'FAIL'}: start-up {mine:.2f} s <= {TIME_FACTOR:g} x the floor's "
        f"{base:.2f} s"
    )
    return 1 if args.strict and not fast else 0


if __name__ == "__main__":
    sys.exit(main())
