"""APScheduler as the clock for reminder rows that live in the database.

Each pending reminder gets an exact-time job; a periodic sweep delivers whatever is due
that this process has no job for (planned by another replica, or retried). Every
delivery is claimed in the database first, so two processes never both send one.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlmodel import select

from models import audit
from models.columns import utcnow
from models.db import Database
from models.release.queries import ReleaseView, load_view
from models.release.records import Release
from models.reminders import planning
from models.reminders.table import Reminder, ReminderStatus

logger = logging.getLogger(__name__)

Deliver = Callable[[Reminder, ReleaseView], None]


def _logged(name: str, sweep: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        try:
            with audit.acting_from(audit.SCHEDULER):
                sweep()
        except Exception:
            logger.exception("sweep %s failed", name)

    return run


class ReminderScheduler:
    def __init__(
        self,
        db: Database,
        deliver: Deliver,
        *,
        clock: Callable[[], datetime] = utcnow,
        sweep_interval: timedelta | None = timedelta(seconds=30),
        worker_id: str | None = None,
    ) -> None:
        self.db = db
        self._deliver = deliver
        self.clock = clock
        self.sweep_interval = sweep_interval
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._sweeps: list[tuple[str, Callable[[], object], timedelta]] = []
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max_workers=4)},
            # A job that could not run on time still runs; the database decides if it helps.
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self) -> None:
        """Rebuild the schedule from the database, and catch up on what was missed."""
        now = self.clock()
        with self.db.session() as session:
            stale = planning.release_stale_claims(session, now)
            if stale:
                logger.warning("%d reminders were interrupted mid-delivery; not resent", stale)
            upcoming = planning.pending_times(session, now)
        for reminder_id, due_at in upcoming:
            self._add_job(reminder_id, due_at)
        if self.sweep_interval is not None:
            self._scheduler.add_job(
                self.run_due,
                "interval",
                seconds=self.sweep_interval.total_seconds(),
                id="reminder-sweep",
                replace_existing=True,
            )
        for name, sweep, every in self._sweeps:
            self._scheduler.add_job(
                _logged(name, sweep),
                "interval",
                seconds=every.total_seconds(),
                id=f"sweep-{name}",
                replace_existing=True,
            )
        self._scheduler.start()
        self.run_due()  # missed while the bot was down: sent once now, or skipped
        for name, sweep, _every in self._sweeps:
            _logged(name, sweep)()  # likewise: what was owed when the bot stopped

    def add_sweep(self, name: str, sweep: Callable[[], object], every: timedelta) -> None:
        """Another job that reads what is due from the database, every so often (before
        `start`): e.g. Slack messages the outbox still owes."""
        self._sweeps.append((name, sweep, every))

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)

    def scheduled_job_count(self) -> int:
        return len(self._scheduler.get_jobs())

    def release_changed(self, release_id: int) -> None:
        """Schedule the release's pending reminders at their (possibly new) times."""
        if not self._scheduler.running:
            return
        with self.db.read_session() as session:
            rows = session.exec(
                select(Reminder).where(
                    Reminder.release_id == release_id,
                    Reminder.status == ReminderStatus.PENDING.value,
                )
            )
            jobs = [(r.id, r.due_at) for r in rows]
        for reminder_id, due_at in jobs:
            assert reminder_id is not None
            self._add_job(reminder_id, due_at)

    def _add_job(self, reminder_id: int, due_at: datetime) -> None:
        self._scheduler.add_job(
            self.deliver,
            "date",
            run_date=max(due_at, self.clock()),
            args=[reminder_id],
            id=f"reminder-{reminder_id}",
            replace_existing=True,
        )

    def run_due(self) -> int:
        """Deliver every reminder that is due now; returns how many this process sent."""
        sent = 0
        with self.db.read_session() as session:
            due_ids = planning.due(session, self.clock())
        for reminder_id in due_ids:
            sent += self.deliver(reminder_id)
        return sent

    def deliver(self, reminder_id: int) -> bool:
        """Claim, check it still helps, send. True when this process sent it."""
        with audit.acting_from(audit.SCHEDULER):
            return self._claim_and_send(reminder_id)

    def _claim_and_send(self, reminder_id: int) -> bool:
        now = self.clock()
        try:
            with self.db.session() as session:
                if not planning.claim(session, reminder_id, self.worker_id, now):
                    return False  # another process has it, or it was done or moved
            with self.db.session() as session:
                reminder = session.get(Reminder, reminder_id)
                assert reminder is not None
                release = session.get(Release, reminder.release_id)
                if (
                    release is None
                    or not planning.worth_sending(reminder, release, now)
                    or planning.superseded(session, reminder, now)
                ):
                    planning.finish(session, reminder_id, ReminderStatus.SKIPPED, now)
                    return False
                view = load_view(session, release)
            return self._send(reminder, view, now)
        except Exception:
            # Whatever went wrong, the scheduler itself keeps going.
            logger.exception("reminder %s could not be handled", reminder_id)
            return False

    def _send(self, reminder: Reminder, view: ReleaseView, now: datetime) -> bool:
        assert reminder.id is not None
        try:
            try:
                self._deliver(reminder, view)
            except planning.DeliveryError:
                raise
            except Exception as unexpected:  # unknown trouble: worth another try, with backoff
                raise planning.DeliveryError(repr(unexpected), permanent=False) from unexpected
        except planning.DeliveryError as error:
            with self.db.session() as session:
                if error.permanent:
                    logger.error(
                        "reminder %s for %s failed for good: %s",
                        reminder.id,
                        view.release.ref,
                        error,
                    )
                    planning.finish(session, reminder.id, ReminderStatus.FAILED, now, str(error))
                    return False
                retry_at = planning.retry_later(session, reminder, now, str(error))
            logger.warning("reminder %s failed (%s); retry at %s", reminder.id, error, retry_at)
            if retry_at is not None and self._scheduler.running:
                self._add_job(reminder.id, retry_at)
            return False
        with self.db.session() as session:
            planning.finish(session, reminder.id, ReminderStatus.SENT, now)
        return True
