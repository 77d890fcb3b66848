"""The calendar page in headless Chromium: a valid and a wrong link, times in the reader's
own time zone, and a script in a release's notes that is shown and never runs.

The `browser_page` fixture fails a test on any JavaScript error or console.error.
Screenshots go to tests/artifacts/; with RELEASEBOT_UPDATE_DOCS=1 the page's is also
copied to docs/calendar-page.png (the README's picture).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.sandbox.slack_standin import FakeSlack
from tests.handlers.calendar_feed.test_calendar_page import (
    HOSTILE_NOTES,
    TYPED_NOTES,
    month_of,
    page_path,
    propose,
)
from tests.support.browser import screenshot
from tests.support.harness import Harness, ahead, iso

pytestmark = pytest.mark.browser
DOCS = Path(__file__).resolve().parents[3] / "docs"


@pytest.fixture
def harness(database_url: str, fake_slack: FakeSlack) -> Iterator[Harness]:
    with Harness(database_url, fake_slack, RELEASEBOT_RELEASE_MANAGERS="U_PM") as running:
        yield running


def open_page(page: Any, harness: Harness, path: str, month: str) -> Any:
    response = page.goto(f"{harness.server.url}{path}?month={month}")
    page.wait_for_selector("html.local-times")  # the script has run
    return response


def a_month_of_releases(harness: Harness) -> datetime:
    """Releases in several states, a freeze, and hostile notes; returns the main one's time."""
    when = ahead(days=8, hour=15)
    propose(
        harness,
        "payments@2.4.0",
        "<@U_QA|qa> <@U_SEC|sec> phased 10,50,100 notes: card form v2",
        when=when,
    )
    propose(harness, "search@1.0.0", when=ahead(days=3, hour=9))
    propose(harness, "checkout@3.1.0", "<!subteam^S_QA|@qa>", when=ahead(days=10, hour=11))
    propose(harness, "ledger@0.9.0", when=ahead(days=12, hour=16))
    harness.command("cancel ledger@0.9.0 waiting for the audit")
    propose(harness, "billing@5.0.0", f"notes: {HOSTILE_NOTES}", when=ahead(days=14, hour=13))
    harness.command(
        f'freeze add "Year-end" {iso(ahead(days=16, hour=0))} to {iso(ahead(days=18, hour=0))}',
        user_id="U_PM",
    )
    return when


def test_a_valid_link_shows_the_page_and_a_wrong_one_the_404(
    browser_page: Any, harness: Harness
) -> None:
    when = a_month_of_releases(harness)
    path = page_path(harness)
    response = open_page(browser_page, harness, path, month_of(when))
    assert response.status == 200
    assert browser_page.title().startswith("Releases · ")
    agenda = browser_page.locator("section.agenda")
    assert agenda.locator("#release-" + harness.release("payments@2.4.0").uid).is_visible()
    item = agenda.locator("li.release", has_text="payments 2.4.0")
    assert item.locator("dd.owner").inner_text() == "Olivia Owner"
    assert "Quinn QA" in item.locator("dd.approvers").inner_text()
    assert (
        item.locator("a.thread").get_attribute("href")
        == harness.release("payments@2.4.0").permalink
    )
    # Subscribe buttons on the same token.
    token = path.rsplit("/", 1)[1]
    hrefs = browser_page.locator("nav.subscribe a").evaluate_all("a => a.map(x => x.href)")
    assert hrefs[0] == f"webcal://releasebot.example.com/calendar/{token}.ics"
    assert hrefs[1].startswith("https://calendar.google.com/calendar/render?cid=webcal://")
    assert hrefs[2].startswith("https://outlook.live.com/calendar/0/addfromweb?url=https%3A")
    shot = screenshot(browser_page, "calendar-page")
    if os.environ.get("RELEASEBOT_UPDATE_DOCS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOCS / "calendar-page.png")

    # A wrong link, in a page of its own: Chromium logs the 404 itself as a console error,
    # which would fail this test's page; there only that message may appear.
    other = browser_page.context.new_page()
    logged: list[str] = []
    other.on("console", lambda message: logged.append(message.text))
    other.on("pageerror", lambda error: logged.append(f"pageerror: {error}"))
    wrong = other.goto(f"{harness.server.url}/calendar/{'A' * 43}?month=2026-12")
    assert wrong.status == 404
    assert wrong.headers["content-security-policy"].startswith("default-src 'none'")
    assert other.locator("body").inner_text().strip() == "Not found"
    assert logged and all("status of 404" in text for text in logged), logged
    screenshot(other, "calendar-page-404")


@pytest.mark.parametrize(
    ("browser_page", "zone"),
    [("America/New_York", "America/New_York"), ("Asia/Tokyo", "Asia/Tokyo")],
    indirect=["browser_page"],
)
def test_times_show_in_the_readers_time_zone(
    browser_page: Any, harness: Harness, zone: str
) -> None:
    when = ahead(days=8, hour=15)  # 10:00 in New York, 00:00 the next day in Tokyo
    release = propose(harness, "payments@2.4.0", when=when)
    open_page(browser_page, harness, page_path(harness), month_of(when))
    local = when.astimezone(ZoneInfo(zone))

    assert browser_page.locator("#viewer-zone").inner_text() == zone
    shown = browser_page.locator(f"#release-{release.uid} p.when time").first.inner_text()
    assert f"{local:%H:%M}" in shown and f"{local.day}" in shown, shown
    assert "UTC" not in shown
    # In the month view, on the local day.
    chip = browser_page.locator("li.chip", has_text="payments 2.4.0")
    day = chip.evaluate("chip => chip.closest('td').dataset.date")
    assert day == local.date().isoformat()
    assert chip.locator("time").inner_text() == f"{local:%H:%M}"
    screenshot(browser_page, f"calendar-page-{zone.replace('/', '-')}")


def test_a_script_in_the_notes_is_shown_as_text_and_never_runs(
    browser_page: Any, harness: Harness
) -> None:
    when = ahead(days=8)
    release = propose(harness, "payments@2.4.0", f"notes: {HOSTILE_NOTES}", when=when)
    open_page(browser_page, harness, page_path(harness), month_of(when))
    notes = browser_page.locator(f"#release-{release.uid} .notes").inner_text()
    assert notes == TYPED_NOTES + " @channel"
    assert browser_page.evaluate("typeof window.__pwned") == "undefined"
    # The page's one script is its own file: nothing inline, nothing injected.
    sources = browser_page.locator("script").evaluate_all("s => s.map(x => x.src)")
    assert sources == [
        f"{browser_page.url.split('/calendar/')[0]}/calendar-static/calendar_page.js"
    ]
    # (browser_page fails the test on any console.error, which the script would log)


def test_without_javascript_times_read_in_utc(chromium: Any, harness: Harness) -> None:
    when = ahead(days=8, hour=15)
    release = propose(harness, "payments@2.4.0", when=when)
    context = chromium.new_context(java_script_enabled=False, timezone_id="Asia/Tokyo")
    try:
        page = context.new_page()
        page.goto(f"{harness.server.url}{page_path(harness)}?month={month_of(when)}")
        shown = page.locator(f"#release-{release.uid} p.when time").first.inner_text()
        assert shown == when.strftime("%a %-d %b %Y, %H:%M UTC")
        assert page.locator("#viewer-zone").inner_text() == "UTC"
        chip = page.locator("li.chip", has_text="payments 2.4.0")
        assert chip.evaluate("chip => chip.closest('td').dataset.date") == f"{when:%Y-%m-%d}"
    finally:
        context.close()
