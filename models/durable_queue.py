"""One durable queue for every table of work that leaves the process: Slack messages
(the outbox), webhook deliveries, GitHub's deliveries and the callbacks answering it.

A row waits `pending` until its `due_at`; one process claims it (a conditional UPDATE,
so two processes on one database never both get it), counts the try and sends it; it
ends done or failed, or goes back with a pause chosen by the queue's `Backoff`. A claim
older than `stale_after` belongs to a process that died mid-send: the row is pending
again (its receiver drops duplicates, or the sender looks before it sends again).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import update
from sqlalchemy.engine import CursorResult
from sqlmodel import Session, SQLModel, col

MAX_ERROR = 500  # characters of the last error kept on the row

Row = TypeVar("Row", bound=SQLModel)


@dataclass(frozen=True)
class Backoff:
    """The pause after each failed try: `pauses` in turn, then `pause_factor` times the
    previous one, at most `longest`; given up when the next try would fall more than
    `give_up_after` after the row was made, or after `max_attempts` tries."""

    pauses: tuple[timedelta, ...]
    pause_factor: float = 1.0
    longest: timedelta | None = None
    give_up_after: timedelta | None = None
    max_attempts: int | None = None

    def pause_after(self, attempts: int) -> timedelta:
        """How long to wait after the `attempts`-th try failed."""
        n = max(attempts, 1)
        if n <= len(self.pauses):
            pause = self.pauses[n - 1]
        else:
            pause = self.pauses[-1] * self.pause_factor ** (n - len(self.pauses))
        return min(pause, self.longest) if self.longest is not None else pause

    def next_try(self, attempts: int, created_at: datetime, now: datetime) -> datetime | None:
        """When to try again; None: give up."""
        if self.max_attempts is not None and attempts >= self.max_attempts:
            return None
        due_at = now + self.pause_after(attempts)
        if self.give_up_after is not None and due_at - created_at > self.give_up_after:
            return None
        return due_at


@dataclass(frozen=True)
class Queue(Generic[Row]):
    """The queue over `table`, whose rows have `id`, a status column (`status_column`),
    `attempts`, `due_at`, `claimed_at`, `last_error` and a creation time (`created_column`)."""

    table: type[Row]
    backoff: Backoff
    stale_after: timedelta
    pending: str = "pending"
    claimed: str = "sending"
    done: str = "sent"
    failed: str = "failed"
    status_column: str = "status"
    created_column: str = "created_at"

    def _column(self, name: str) -> Any:
        return col(getattr(self.table, name))

    def claim(
        self, session: Session, row_id: int, now: datetime, *, due: bool = True
    ) -> Row | None:
        """Take one row for this process; None when another has it, it is done, or (with
        `due`) its time has not come."""
        status = self._column(self.status_column)
        conditions = [self._column("id") == row_id, status == self.pending]
        if due:
            conditions.append(self._column("due_at") <= now)
        result = session.execute(
            update(self.table)
            .where(*conditions)
            .values(
                {
                    self.status_column: self.claimed,
                    "claimed_at": now,
                    "attempts": self._column("attempts") + 1,
                }
            )
        )
        assert isinstance(result, CursorResult)
        if result.rowcount != 1:
            return None
        return session.get(self.table, row_id, populate_existing=True)

    def finish(self, session: Session, row_id: int, **values: object) -> None:
        """Done: sent or handled (`values`: what else the row keeps of it)."""
        self.set(session, row_id, **{self.status_column: self.done, "last_error": ""}, **values)

    def fail(self, session: Session, row_id: int, error: str) -> None:
        """Failed for good: no try will be made again."""
        self.set(session, row_id, **{self.status_column: self.failed}, last_error=error[:MAX_ERROR])

    def retry_later(
        self, session: Session, row: Row, now: datetime, error: str, **values: object
    ) -> datetime | None:
        """Back in the queue after a temporary failure, when its backoff says; None (and
        failed) once it says give up."""
        row_id, attempts, created_at = (
            getattr(row, name) for name in ("id", "attempts", self.created_column)
        )
        due_at = self.backoff.next_try(attempts, created_at, now)
        if due_at is None:
            self.fail(session, row_id, f"gave up after {attempts} tries: {error}")
            return None
        self.set(
            session,
            row_id,
            **{self.status_column: self.pending},
            due_at=due_at,
            last_error=error[:MAX_ERROR],
            **values,
        )
        return due_at

    def put_back(self, session: Session, row_id: int) -> None:
        """Unclaimed without counting as a try (it waits for another row first)."""
        self.set(
            session,
            row_id,
            **{self.status_column: self.pending},
            attempts=self._column("attempts") - 1,
        )

    def hold(self, session: Session, row_ids: Sequence[int], until: datetime) -> None:
        """Pending rows wait until then, untried (their receiver is failing)."""
        if not row_ids:
            return
        session.execute(
            update(self.table)
            .where(
                self._column("id").in_(row_ids),
                self._column(self.status_column) == self.pending,
                self._column("due_at") < until,
            )
            .values(due_at=until)
        )

    def release_stale_claims(self, session: Session, now: datetime, **values: object) -> int:
        """Rows a dead process had claimed: pending again, due now (`values`: what else to
        mark on them). Returns how many."""
        result = session.execute(
            update(self.table)
            .where(
                self._column(self.status_column) == self.claimed,
                self._column("claimed_at") < now - self.stale_after,
            )
            .values({self.status_column: self.pending, "due_at": now, **values})
        )
        assert isinstance(result, CursorResult)
        return int(result.rowcount)

    def set(self, session: Session, row_id: int, **values: object) -> None:
        session.execute(update(self.table).where(self._column("id") == row_id).values(**values))


# About 2 s, 10 s, 1 min, 5 min, 30 min, then hourly, for a day: for receivers on the
# internet (webhooks, GitHub's callbacks), which may be down for a while.
HOURLY_FOR_A_DAY = Backoff(
    pauses=(
        timedelta(seconds=2),
        timedelta(seconds=10),
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=30),
    ),
    pause_factor=2,
    longest=timedelta(hours=1),
    give_up_after=timedelta(hours=24),
)
