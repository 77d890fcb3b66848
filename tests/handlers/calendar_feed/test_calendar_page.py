"""The release calendar as a web page (`/calendar/<token>`), over plain HTTP.

Same token, filters and privacy as the feed; strict security headers; every value escaped;
people by display name, asked of Slack once; the feed's 404 for any unusable link.
(Times in the reader's zone and scripts that must never run: test_calendar_page_browser.)
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import quote

import httpx
import pytest

from bot.sandbox.slack_standin import FakeSlack
from handlers.calendar_feed.calendar_page import grid_days, parse_month, shift_month
from handlers.calendar_feed.route import RedactFeedTokens
from models.release.records import Release
from tests.support.harness import Harness, ahead, iso

HTTP = httpx.Client(timeout=10)
PUBLIC = "https://releasebot.example.com"
PAGE_LINK = re.compile(r"<https://releasebot\.example\.com(/calendar/([A-Za-z0-9_-]{43}))\|")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# As typed, then as Slack sends it (it escapes & < > and marks up <!channel>).
TYPED_NOTES = '<script>window.__pwned = 1; console.error("pwned")</script> *x* "q" & é'
HOSTILE_NOTES = (
    TYPED_NOTES.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") + " <!channel>"
)


@pytest.fixture
def harness(database_url: str, fake_slack: FakeSlack) -> Iterator[Harness]:
    with Harness(database_url, fake_slack, RELEASEBOT_RELEASE_MANAGERS="U_PM") as running:
        yield running


def page_path(harness: Harness, text: str = "calendar", **kwargs: object) -> str:
    """Ask for a link as a person would; returns the page's path (/calendar/<token>)."""
    reply = harness.private_reply(harness.command(text, **kwargs))  # type: ignore[arg-type]
    match = PAGE_LINK.search(reply)
    assert match, reply
    assert f"{PUBLIC}{match.group(1)}.ics" in reply  # the feed's link, same token
    return match.group(1)


def get(harness: Harness, path: str, **params: str) -> httpx.Response:
    return HTTP.get(harness.server.url + path, params=params)


def month_of(when: datetime) -> str:
    return when.strftime("%Y-%m")


def propose(harness: Harness, ref: str, *extra: str, when: datetime, **kw: object) -> Release:
    service, version = ref.split("@")
    harness.command(f"propose {service} {version} {iso(when)} {' '.join(extra)}", **kw)  # type: ignore[arg-type]
    return harness.release(ref)


def not_found_shape(response: httpx.Response) -> tuple[int, bytes, str]:
    return response.status_code, response.content, response.headers["content-type"]


# --- the page ---------------------------------------------------------------------------


@pytest.mark.clock
def test_the_page_shows_releases_with_names_status_links_and_subscribe_buttons(
    harness: Harness,
) -> None:
    when = ahead(days=5, hour=15)
    payments = propose(
        harness, "payments@2.4.0", "<@U_QA|qa> <!subteam^S_QA|@qa> phased 10,50", when=when
    )
    propose(harness, "search@1.0.0", when=ahead(days=6))
    path = page_path(harness)
    response = get(harness, path, month=month_of(when))

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    html = response.text
    # No inline script or style anywhere: only the page's own files.
    assert re.findall(r"<script[^>]*>", html) == [
        '<script src="/calendar-static/calendar_page.js" defer>'
    ]
    assert (
        "style=" not in html
        and "<style" not in html
        and " on" not in re.sub(r">[^<]*<", "><", html)
    )
    # The release, its status, its people by display name, its thread.
    assert "payments 2.4.0" in html and "search 1.0.0" in html
    assert 'class="release status-proposed"' in html
    assert 'class="release status-approved"' in html  # no approvers: approved at once
    assert '<dd class="owner">Olivia Owner</dd>' in html
    assert "Quinn QA <span" in html and "@qa <span" in html
    assert "U_OWNER" not in html and "U_QA" not in html
    assert "phased 10% → 50% → 100%" in html
    assert payments.permalink and f'href="{payments.permalink.replace("&", "&amp;")}"' in html
    # Its time in UTC for readers without JavaScript, and as ISO for the script.
    assert f'<time datetime="{when:%Y-%m-%dT%H:%M:%SZ}" data-format="datetime">' in html
    assert when.strftime("%H:%M UTC") in html
    # In the month view, on its (UTC) day.
    cell = re.search(rf'data-date="{when:%Y-%m-%d}">(.*?)</td>', html, re.DOTALL)
    assert cell and "payments 2.4.0" in cell.group(1)
    # Subscribe: webcal, Google Calendar, Outlook, all on the same token.
    token = path.rsplit("/", 1)[1]
    webcal = f"webcal://releasebot.example.com/calendar/{token}.ics"
    https = f"{PUBLIC}/calendar/{token}.ics"
    assert f'href="{webcal}"' in html
    assert f'href="https://calendar.google.com/calendar/render?cid={webcal}"' in html
    assert (
        f'href="https://outlook.live.com/calendar/0/addfromweb?url={quote(https, safe="")}"' in html
    )


def test_names_are_asked_of_slack_once_not_on_every_page_load(harness: Harness) -> None:
    when = ahead(days=5)
    propose(harness, "payments@2.4.0", "<@U_QA|qa> <@U_SEC|sec>", when=when)
    path = page_path(harness)
    before = len(harness.slack.calls("users.info"))
    first = get(harness, path, month=month_of(when))
    asked = len(harness.slack.calls("users.info")) - before
    assert 0 < asked <= 3  # owner and two approvers, at most once each
    for _ in range(3):
        again = get(harness, path, month=month_of(when))
        assert again.status_code == 200 and "Sam Security" in again.text
    assert len(harness.slack.calls("users.info")) - before == asked
    assert "Olivia Owner" in first.text


def test_every_value_is_escaped(harness: Harness) -> None:
    when = ahead(days=5)
    propose(harness, "payments@2.4.0", f"notes: {HOSTILE_NOTES}", when=when)
    assert harness.release("payments@2.4.0").notes == TYPED_NOTES + " @channel"
    html = get(harness, page_path(harness), month=month_of(when)).text
    assert "<script>window" not in html and "<!channel>" not in html
    notes = re.search(r'<div class="notes">(.*?)</div>', html, re.DOTALL)
    assert notes, html
    assert notes.group(1).startswith("&lt;script&gt;window.__pwned = 1;")
    assert "&amp;" in notes.group(1) and "&#34;q&#34;" in notes.group(1)


@pytest.mark.clock
def test_month_navigation_by_query(harness: Harness) -> None:
    when = ahead(days=5)
    propose(harness, "payments@2.4.0", when=when)
    path = page_path(harness)
    month = parse_month(month_of(when), when.date())
    shown = get(harness, path, month=month_of(when)).text
    assert f'<h2 id="month">{month:%B %Y}</h2>' in shown
    assert 'id="release-' in shown
    following = shift_month(month, 1)
    assert f'href="?month={following:%Y-%m}"' in shown
    later = get(harness, path, month=f"{following:%Y-%m}").text
    assert f'<h2 id="month">{following:%B %Y}</h2>' in later
    assert 'id="release-' not in later  # not in that month's agenda
    # Junk months show this month rather than failing.
    for junk in ("2026-13", "x", "99999-01", "2026-1", "<script>"):
        response = get(harness, path, month=junk)
        assert response.status_code == 200
        assert f"{harness.clock():%B %Y}</h2>" in response.text


def test_grid_is_whole_weeks_from_monday() -> None:
    days = grid_days(parse_month("2026-12", datetime(2026, 1, 1).date()))
    assert days[0].isoformat() == "2026-11-30" and days[0].weekday() == 0
    assert len(days) % 7 == 0 and days[-1].weekday() == 6
    assert shift_month(parse_month("2026-12", days[0]), 1).isoformat() == "2027-01-01"
    assert shift_month(parse_month("2026-01", days[0]), -1).isoformat() == "2025-12-01"


def test_private_releases_show_on_the_page_as_in_the_feed(harness: Harness) -> None:
    when = ahead(days=5)
    harness.command(f"propose payments 2.4.0 {iso(when)} <@U_QA|qa>", channel_id="G_SECRET")
    assert harness.release("payments@2.4.0").private
    propose(harness, "search@1.0.0", when=when)
    owner = get(harness, page_path(harness), month=month_of(when)).text
    approver = get(harness, page_path(harness, user_id="U_QA"), month=month_of(when)).text
    other = get(harness, page_path(harness, user_id="U_OTHER"), month=month_of(when)).text
    assert "payments 2.4.0" in owner and "payments 2.4.0" in approver
    assert "payments 2.4.0" not in other and "search 1.0.0" in other


def test_filters_apply_to_the_page(harness: Harness) -> None:
    when = ahead(days=5)
    propose(harness, "payments@2.4.0", when=when)
    propose(harness, "search@1.0.0", when=when, channel_id="C_OTHER")
    by_service = get(harness, page_path(harness, "calendar payments"), month=month_of(when)).text
    assert "payments 2.4.0" in by_service and "search 1.0.0" not in by_service
    assert "Releases: payments" in by_service
    by_channel = get(
        harness, page_path(harness, "calendar <#C_OTHER|other>"), month=month_of(when)
    ).text
    assert "search 1.0.0" in by_channel and "payments 2.4.0" not in by_channel


@pytest.mark.clock
def test_freezes_show_in_the_month_and_the_agenda(harness: Harness) -> None:
    start = ahead(days=4, hour=8)
    harness.command(
        # As Slack sends what was typed: "Holiday <b>freeze</b>".
        f'freeze add "Holiday &lt;b&gt;freeze&lt;/b&gt;" {iso(start)} '
        f"to {iso(ahead(days=6, hour=8))}",
        user_id="U_PM",
    )
    html = get(harness, page_path(harness), month=month_of(start)).text
    assert "Freeze: Holiday &lt;b&gt;freeze&lt;/b&gt;</a>" in html  # in the month view
    assert '<span class="title">Holiday &lt;b&gt;freeze&lt;/b&gt;</span>' in html  # agenda
    assert re.search(rf'class="day[^"]* frozen[^"]*" data-date="{start:%Y-%m-%d}"', html)


def test_wrong_revoked_and_malformed_page_links_get_the_feeds_404(harness: Harness) -> None:
    propose(harness, "payments@2.4.0", when=ahead(days=5))
    path = page_path(harness)
    token = path.rsplit("/", 1)[1]
    feed_404 = get(harness, f"/calendar/{secrets.token_urlsafe(32)}.ics")
    assert feed_404.status_code == 404
    answers = [
        get(harness, f"/calendar/{secrets.token_urlsafe(32)}"),  # never issued
        get(harness, f"/calendar/{token[:-1]}"),
        get(harness, f"/calendar/{token}x"),
        get(harness, f"/calendar/{token}/"),
        get(harness, f"/calendar/{token}/month"),
        get(harness, "/calendar/<script>alert(1)</script>"),
    ]
    assert get(harness, path).status_code == 200
    harness.command("calendar revoke")
    answers.append(get(harness, path))
    answers.append(get(harness, path, month="2026-12"))
    assert {not_found_shape(r) for r in answers} == {not_found_shape(feed_404)}
    for response in answers:
        assert response.headers["content-security-policy"] == CSP
        assert response.headers["x-content-type-options"] == "nosniff"


def test_assets_are_package_data_served_with_the_same_headers(harness: Harness) -> None:
    script = get(harness, "/calendar-static/calendar_page.js")
    assert script.status_code == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "Intl.DateTimeFormat" in script.text
    style = get(harness, "/calendar-static/calendar_page.css")
    assert style.headers["content-type"] == "text/css; charset=utf-8"
    for response in (script, style):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"] == CSP
    for missing in ("nope.js", "..%2Fcalendar_page.py", "calendar_page.html"):
        assert get(harness, f"/calendar-static/{missing}").status_code == 404


def test_access_logs_never_show_a_page_link() -> None:
    token = secrets.token_urlsafe(32)
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/calendar/{token}?month=2026-12", "1.1", 200),
        None,
    )
    assert RedactFeedTokens().filter(record)
    assert token not in record.getMessage()
    assert "/calendar/<redacted>?month=2026-12" in record.getMessage()


def test_head_answers_like_get_without_a_body(harness: Harness) -> None:
    path = page_path(harness)
    head = HTTP.head(harness.server.url + path)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-security-policy"] == CSP
    assert HTTP.head(harness.server.url + path + "x").status_code == 404
