"""Wakes the gate's long-polls when a release of their service changes in this process.

A waiting request holds no thread and no database connection: it awaits an asyncio event
on the server's loop. A flow (in whatever thread) calls `release_changed` after its
commit; when someone waits on that release's service, the events are set on their own
loop through `call_soon_threadsafe`. Changes made by another process are caught by the
gate's periodic re-check instead.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

Key = tuple[str, str]  # (team, service)
ReadKey = tuple[str, str, str, str]  # (team, service, version, what is read)
T = TypeVar("T")


class GateWaits:
    def __init__(self, service_of: Callable[[int], Key | None]) -> None:
        """`service_of`: a release id's (team, service), read from the database."""
        self._service_of = service_of
        self._waiting: dict[Key, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self._lock = threading.Lock()
        self.stopping = False
        self.reads = SharedReads()

    @contextmanager
    def waiting(self, team_id: str, service: str) -> Iterator[asyncio.Event]:
        """An event set when a release of `service` changes (call on the event loop)."""
        key = (team_id, service.strip().lower())
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiting.setdefault(key, set()).add(entry)
        try:
            yield entry[1]
        finally:
            with self._lock:
                entries = self._waiting.get(key)
                if entries is not None:
                    entries.discard(entry)
                    if not entries:
                        del self._waiting[key]

    def waiters(self, team_id: str, service: str) -> int:
        """How many requests wait on `service` now."""
        with self._lock:
            return len(self._waiting.get((team_id, service.strip().lower()), ()))

    def release_changed(self, release_id: int) -> None:
        """A deps.on_release_changed listener; costs nothing while nobody waits."""
        with self._lock:
            if not self._waiting:
                return
        key = self._service_of(release_id)
        if key is None:
            return
        self.reads.service_changed(*key)
        with self._lock:
            entries = list(self._waiting.get(key, ()))
        for loop, event in entries:
            with suppress(RuntimeError):  # its loop closed meanwhile: nobody waits there
                loop.call_soon_threadsafe(event.set)

    def stop(self) -> None:
        """The server stops: every wait ends now (from any thread), so none holds it up."""
        self.stopping = True
        with self._lock:
            entries = [entry for entries in self._waiting.values() for entry in entries]
        for loop, event in entries:
            with suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)


class SharedReads:
    """Waiters at the gate for the same release share their re-checks.

    Pipelines that wait together wake together: on a change, and every few seconds to
    catch other processes' changes. One read answers all of them instead of one read
    each (500 waiters would be 500 reads a round): a read in flight is joined, and its
    result serves for `fresh_for` seconds, unless the service changed since it began.
    """

    def __init__(self, fresh_for: float = 1.0) -> None:
        self.fresh_for = fresh_for
        self._lock = threading.Lock()
        self._results: dict[ReadKey, tuple[float, Any]] = {}
        self._changed_at: dict[Key, float] = {}
        self._in_flight: dict[ReadKey, asyncio.Task[Any]] = {}

    async def read(self, key: ReadKey, work: Callable[[], T]) -> T:
        """`work`'s result for `key` (its first two parts are team and service)."""
        now = time.monotonic()
        with self._lock:
            found = self._results.get(key)
            if found is not None and now - found[0] < self.fresh_for:
                result: T = found[1]
                return result
        task = self._in_flight.get(key)
        if task is None:
            started = now

            async def run() -> T:
                value = await run_in_threadpool(work)
                with self._lock:
                    if self._changed_at.get((key[0], key[1]), 0.0) < started:
                        self._results[key] = (started, value)
                return value

            task = asyncio.ensure_future(run())
            self._in_flight[key] = task
            task.add_done_callback(lambda _: self._in_flight.pop(key, None))
        shared: T = await asyncio.shield(task)
        return shared

    def service_changed(self, team_id: str, service: str) -> None:
        """A release of the service changed (any thread): what was read before is stale."""
        now = time.monotonic()
        with self._lock:
            self._changed_at[(team_id, service)] = now
            for key in [k for k in self._results if (k[0], k[1]) == (team_id, service)]:
                del self._results[key]
            for key, (read_at, _) in list(self._results.items()):
                if now - read_at > self.fresh_for:
                    del self._results[key]
