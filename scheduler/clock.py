"""APScheduler as the clock for reminder rows that live in the database.

Each pending reminder gets an exact-time job; a periodic sweep takes whatever is due that
this process has no job for (planned by another replica). A due reminder is marked sent
in the transaction that owes its messages to the outbox, so two processes never both owe
them, and a restart loses none: the outbox sends them, with its retries and its keys.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlmodel import select

from models import audit, outbox
from models.columns import utcnow
from models.db import Database
from models.release.queries import ReleaseView, load_view
from models.reminders import planning
from models.reminders.table import Reminder, ReminderStatus

logger = logging.getLogger(__name__)

# What a reminder says (handlers word it), and what sends a release's owed messages now.
Word = Callable[[Reminder, ReleaseView], planning.Said]
Send = Callable[[int], object]


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
        word: Word,
        send: Send,
        *,
        clock: Callable[[], datetime] = utcnow,
        sweep_interval: timedelta | None = timedelta(seconds=30),
    ) -> None:
        self.db = db
        self._word = word
        self._send = send
        self.clock = clock
        self.sweep_interval = sweep_interval
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
        with self.db.read_session() as session:
            upcoming = planning.pending_times(session, self.clock())
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
        """Hand every reminder that is due now to the outbox; returns how many this process
        handed over."""
        handed = 0
        with self.db.read_session() as session:
            due_ids = planning.due(session, self.clock())
        for reminder_id in due_ids:
            handed += self.deliver(reminder_id)
        return handed

    def deliver(self, reminder_id: int) -> bool:
        """Take it, check it still helps, owe its messages, send them. True when this
        process owed them."""
        with audit.acting_from(audit.SCHEDULER):
            try:
                release_id = self._hand_over(reminder_id)
            except Exception:
                # Whatever went wrong, the scheduler itself keeps going (it is still due).
                logger.exception("reminder %s could not be handled", reminder_id)
                return False
            if release_id is None:
                return False
            try:
                self._send(release_id)  # now; the outbox's sweep retries what fails
            except Exception:
                logger.exception("reminder %s is owed but not sent yet", reminder_id)
            return True

    def _hand_over(self, reminder_id: int) -> int | None:
        """The release whose outbox now owes the reminder's messages; None: nothing owed."""
        now = self.clock()
        with self.db.session() as session:
            taken = planning.take_due(session, reminder_id, now)
            if taken is None:
                return None  # another process has it, or it was done, moved or skipped
            reminder, release = taken
            said = self._word(reminder, load_view(session, release))
            replies = (said.thread,) if said.thread else ()
            outbox.enqueue(session, release, (), replies=replies, direct=said.direct, now=now)
            return release.id
