"""Headless Chromium for the browser tests: Debian's ``chromium``, driven by Playwright.

Browsers can't be downloaded here, so Playwright launches the system's executable. Where none
is installed the browser tests skip with a reason, except under ``RELEASEBOT_REQUIRE_BROWSER=1``
(set by ``.ci/run``, which installs chromium), where they fail instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def chromium_executable() -> str | None:
    configured = os.environ.get("RELEASEBOT_CHROMIUM")
    if configured:
        return configured
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def skip_or_fail_without_chromium() -> str:
    executable = chromium_executable()
    if executable is not None:
        return executable
    reason = (
        "no Chromium here: install Debian's chromium (apt-get install chromium) "
        "or set RELEASEBOT_CHROMIUM to run the browser tests"
    )
    if os.environ.get("RELEASEBOT_REQUIRE_BROWSER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@contextmanager
def launched_chromium(executable: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield browser
        finally:
            browser.close()


class ConsoleErrors:
    """JavaScript errors a page raised or logged: a browser test fails on any."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: object) -> None:
        page.on("console", self._on_console)  # type: ignore[attr-defined]
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))  # type: ignore[attr-defined]

    def _on_console(self, message: object) -> None:
        if message.type == "error":  # type: ignore[attr-defined]
            self.errors.append(f"console.error: {message.text}")  # type: ignore[attr-defined]


def screenshot(page: object, name: str) -> Path:
    """Saves the page to tests/artifacts/<name>.png (git-ignored) and returns the path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path
