"""Waiters at the gate share their re-checks: one read serves many, a change makes it stale."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from handlers.api.gate_waits import GateWaits, SharedReads

KEY = ("T1", "payments", "2.4.0", "check")
T = TypeVar("T")


def run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """asyncio.run on a thread of its own: the browser tests' Playwright keeps an event
    loop running on the main thread, where asyncio.run refuses to start another."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(main())).result()


def test_waiters_woken_together_share_one_read() -> None:
    reads = SharedReads()
    calls: list[int] = []
    gate = threading.Event()

    def work() -> int:
        gate.wait(5)
        calls.append(1)
        return len(calls)

    async def main() -> list[int]:
        waiting = [asyncio.create_task(reads.read(KEY, work)) for _ in range(50)]
        await asyncio.sleep(0)  # one turn of the loop: each task starts and joins the read
        gate.set()
        return await asyncio.gather(*waiting)

    assert run(main) == [1] * 50
    assert calls == [1]


def test_a_result_serves_briefly_and_a_change_of_the_service_makes_it_stale() -> None:
    reads = SharedReads(fresh_for=60)
    counter = iter(range(1, 100))

    async def main() -> list[int]:
        first = await reads.read(KEY, lambda: next(counter))
        again = await reads.read(KEY, lambda: next(counter))
        other_version = await reads.read(
            ("T1", "payments", "2.5.0", "check"), lambda: next(counter)
        )
        reads.service_changed("T1", "payments")
        after_change = await reads.read(KEY, lambda: next(counter))
        reads.service_changed("T1", "search")  # another service: still fresh
        still = await reads.read(KEY, lambda: next(counter))
        return [first, again, other_version, after_change, still]

    assert run(main) == [1, 1, 2, 3, 3]


def test_a_read_that_began_before_a_change_is_not_kept() -> None:
    reads = SharedReads(fresh_for=60)
    started, release = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        release.wait(5)
        return "before"

    async def main() -> tuple[str, str]:
        task = asyncio.create_task(reads.read(KEY, slow))
        await asyncio.to_thread(started.wait, 5)
        reads.service_changed("T1", "payments")  # lands while the read is in flight
        release.set()
        old = await task
        return old, await reads.read(KEY, lambda: "after")

    assert run(main) == ("before", "after")


def test_a_change_in_this_process_makes_the_waiters_reads_stale() -> None:
    waits = GateWaits(lambda release_id: ("T1", "payments"))

    async def main() -> tuple[int, int]:
        with waits.waiting("T1", "payments"):
            first = await waits.reads.read(KEY, lambda: 1)
            waits.release_changed(7)
            return first, await waits.reads.read(KEY, lambda: 2)

    assert run(main) == (1, 2)
