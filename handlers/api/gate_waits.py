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
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

Key = tuple[str, str]  # (team, service)


class GateWaits:
    def __init__(self, service_of: Callable[[int], Key | None]) -> None:
        """`service_of`: a release id's (team, service), read from the database."""
        self._service_of = service_of
        self._waiting: dict[Key, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self._lock = threading.Lock()
        self.stopping = False

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

    def release_changed(self, release_id: int) -> None:
        """A deps.on_release_changed listener; costs nothing while nobody waits."""
        with self._lock:
            if not self._waiting:
                return
        key = self._service_of(release_id)
        if key is None:
            return
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
