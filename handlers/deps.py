"""What handlers need from the composition root, passed to every `register`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from handlers.flows.outbox_sender import MessageSender
from models.columns import utcnow
from models.db import Database
from models.release.records import Release
from models.reminders import planning

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HandlerConfig:
    public_url: str = "http://localhost:3000"
    # Where Slack's response_urls live: a form's stored response_url is used only there.
    slack_hooks_url: str = "https://hooks.slack.com/"
    announce_channel: str | None = None
    checklist: tuple[str, ...] = ()
    reminder_offsets: tuple[timedelta, ...] = ()


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
        future = self._executor.submit(self._when_quiet, fn, *args)
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


@dataclass
class Deps:
    db: Database
    # Sends what the outbox says releases owe Slack (after each change, and on retries).
    messages: MessageSender
    config: HandlerConfig = field(default_factory=HandlerConfig)
    work: BackgroundWork = field(default_factory=BackgroundWork)
    clock: Callable[[], datetime] = utcnow
    # Called with a release id after every committed change (the scheduler listens).
    on_release_changed: list[Callable[[int], None]] = field(default_factory=list)

    def plan_reminders(self, session: Session, release: Release) -> None:
        """Keep the release's reminder rows in step with it, in the same transaction."""
        planning.plan(session, release, self.config.reminder_offsets, self.clock())

    def release_changed(self, release_id: int | None) -> None:
        if release_id is None:
            return
        for listener in self.on_release_changed:
            try:
                listener(release_id)
            except Exception:
                logger.exception("release-change listener failed for release %s", release_id)
