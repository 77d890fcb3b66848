"""Work done after the ack, on a few threads, behind the acks (see `BackgroundWork`)."""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

logger = logging.getLogger(__name__)


class BackgroundWork:
    """Runs work after the ack, and knows when none is left (graceful stop, tests).

    Acks come first: Python runs one thread at a time, so a job starts only when no ack is
    being computed (or after MAX_DEFER), instead of competing with acks for the CPU.
    """

    MAX_DEFER = 0.25  # seconds a job may wait for a quiet moment; it never starves

    def __init__(self, max_workers: int = 4) -> None:
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="work")
        self._pending = 0
        self._queued: set[Hashable] = set()
        self._idle = threading.Condition()
        self._acking = 0
        self._quiet = threading.Condition()

    @contextmanager
    def foreground(self) -> Iterator[None]:
        """Marks an ack being computed; jobs hold back meanwhile."""
        with self._quiet:
            self._acking += 1
        try:
            yield
        finally:
            with self._quiet:
                self._acking -= 1
                if self._acking == 0:
                    self._quiet.notify_all()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        with self._idle:
            self._pending += 1
        # In the submitter's context: what it set (e.g. where the work came from, for the
        # audit trail) holds in the job too.
        context = contextvars.copy_context()
        future = self._executor.submit(context.run, self._when_quiet, fn, *args)
        future.add_done_callback(self._done)
        return future

    def submit_once(self, key: Hashable, fn: Callable[..., Any], *args: Any) -> None:
        """Submit unless a job with this key is still waiting to start."""
        with self._idle:
            if key in self._queued:
                return
            self._queued.add(key)

        def run() -> None:
            with self._idle:
                self._queued.discard(key)
            fn(*args)

        self.submit(run)

    def _when_quiet(self, fn: Callable[..., Any], *args: Any) -> Any:
        with self._quiet:
            self._quiet.wait_for(lambda: self._acking == 0, timeout=self.MAX_DEFER)
        return fn(*args)

    def _done(self, future: Future[Any]) -> None:
        if not future.cancelled() and (error := future.exception()) is not None:
            logger.error("background work failed", exc_info=error)
        with self._idle:
            self._pending -= 1
            if self._pending == 0:
                self._idle.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)
