"""Gate checks are audited with a group commit: many answers, one transaction.

Every gate answer is audited before it is sent, but a pipeline fleet polling the gate
would otherwise write one transaction per answer, all queueing for the database's write
lock (SQLite has one writer; its busy handler sleeps, which made the tail seconds long).
Here one writer thread takes whatever answers are waiting and writes them together; each
answer still waits until its own row is committed, so nothing is answered unaudited.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from typing import Any

from models import audit
from models.db import Database

logger = logging.getLogger(__name__)

MAX_BATCH = 500  # rows in one transaction at most


class GroupedAuditWriter:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._pending: list[tuple[dict[str, Any], Future[None]]] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def record(self, **fields: Any) -> Future[None]:
        """Queues one audit event (audit.record's keywords); the future completes once it
        is committed, or carries the error that kept it out."""
        done: Future[None] = Future()
        with self._wake:
            self._pending.append((fields, done))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="gate-audit", daemon=True)
                self._thread.start()
            self._wake.notify()
        return done

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending:
                    self._wake.wait()
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            self._write(batch)

    def _write(self, batch: list[tuple[dict[str, Any], Future[None]]]) -> None:
        try:
            with self._db.session() as session:
                for fields, _ in batch:
                    audit.record(session, **fields)
                session.info.pop(audit.RECORDED, None)  # reads owe nothing beyond the table
        except Exception as exc:
            logger.exception("could not write %d gate-check audit events", len(batch))
            for _, done in batch:
                done.set_exception(exc)
            return
        for _, done in batch:
            done.set_result(None)
