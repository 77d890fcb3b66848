"""Waiting for something to happen: the condition, polled until a deadline, never a fixed
sleep that a loaded machine outlasts (or that passes without the thing happening)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T | None], *, timeout: float = 10, every: float = 0.02, what: str = ""
) -> T:
    """The condition's first truthy value; fails the test if none came within `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout:g} s in vain for {what or condition!r}")
        time.sleep(every)
