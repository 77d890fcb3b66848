"""The subscribable release calendar: `/release calendar` links, fetched over real HTTP.

The feed is checked with two independent parsers (icalendar and vobject), byte for byte
against icalendar's `to_ical()` of the whole calendar (also after changes, when most
events come from fragments kept since an earlier request), and for what calendar apps rely
on: stable UIDs, SEQUENCE, validators (ETag / Last-Modified / 304) and links that stop
working when revoked.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import httpx
import icalendar
import pytest
import vobject
from sqlmodel import SQLModel, select

from bot.sandbox.slack_requests import SignedSlackClient
from bot.sandbox.slack_standin import validate_message
from bot.web import create_web_app
from handlers.calendar_feed import route
from handlers.calendar_feed.ics import (
    EventData,
    FragmentCache,
    event_data,
    feed_bytes,
    fragment_key,
    icalendar_calendar,
    new_event,
)
from handlers.calendar_feed.route import (
    Conditions,
    FeedAnswer,
    PendingFeed,
    RedactFeedTokens,
    ValidatorCache,
    load_feed,
)
from handlers.slack_kit import ids
from models import bearer_secrets
from models.calendar_feed import subscriptions
from models.calendar_feed.tokens import CalendarToken
from models.release.records import Release
from tests.support.harness import CHANNEL, Harness, ahead, iso
from tests.support.server import BackgroundServer

# One client for every request: building one per request costs more than the request.
HTTP = httpx.Client(timeout=10)
LINK = re.compile(r"https://releasebot\.example\.com(/calendar/([A-Za-z0-9_-]+)\.ics)")


# --- helpers ----------------------------------------------------------------------------


def subscribe(harness: Harness, text: str = "calendar", **kwargs: Any) -> str:
    """Ask for a link as a person would; returns the feed's path (/calendar/<token>.ics)."""
    reply = harness.private_reply(harness.command(text, **kwargs))
    match = LINK.search(reply)
    assert match, reply
    assert f"webcal://releasebot.example.com{match.group(1)}" in reply
    return match.group(1)


def fetch(harness: Harness, path: str, **headers: str) -> httpx.Response:
    return HTTP.get(harness.server.url + path, headers=headers)


def parse(response: httpx.Response) -> icalendar.Calendar:
    assert response.status_code == 200, response.text
    return icalendar.Calendar.from_ical(response.content)


def events_by_summary(feed: icalendar.Calendar) -> dict[str, icalendar.Component]:
    return {str(event["SUMMARY"]): event for event in feed.walk("VEVENT")}


def propose(
    harness: Harness, ref: str, *extra: str, when: datetime | None = None, **kw: Any
) -> Release:
    service, version = ref.split("@")
    harness.command(f"propose {service} {version} {iso(when or ahead())} {' '.join(extra)}", **kw)
    return harness.release(ref)


def token_of(path: str) -> str:
    match = LINK.search("https://releasebot.example.com" + path)
    assert match
    return match.group(2)


# --- the feed itself --------------------------------------------------------------------


@pytest.mark.clock
def test_feed_is_valid_icalendar_with_everything_a_calendar_app_needs(harness: Harness) -> None:
    when = ahead(days=3)
    payments = propose(
        harness,
        "payments@2.4.0",
        "<@U_QA|qa> <!subteam^S_QA|@qa> phased 10,50 notes: see the wiki",
        when=when,
    )
    propose(harness, "search@1.0.0", when=ahead(days=5))
    response = fetch(harness, subscribe(harness))

    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["cache-control"] == "private, max-age=300"
    assert re.fullmatch(r'"[0-9a-f]{32}"', response.headers["etag"])
    assert parsedate_to_datetime(response.headers["last-modified"]).tzinfo is not None
    body = response.content
    assert body.startswith(b"BEGIN:VCALENDAR\r\n") and body.endswith(b"END:VCALENDAR\r\n")
    assert b"\r\nREFRESH-INTERVAL;VALUE=DURATION:PT15M\r\n" in body
    assert b"\r\nX-PUBLISHED-TTL:PT15M\r\n" in body

    feed = parse(response)
    assert str(feed["PRODID"]) == "-//releasebot//release calendar//EN"
    assert (str(feed["VERSION"]), str(feed["CALSCALE"]), str(feed["METHOD"])) == (
        "2.0",
        "GREGORIAN",
        "PUBLISH",
    )
    assert str(feed["X-WR-CALNAME"]) == "Releases"
    # Every time is UTC ("Z"), never floating or tied to a VTIMEZONE.
    for name in (b"DTSTART", b"DTEND", b"DTSTAMP", b"CREATED", b"LAST-MODIFIED"):
        values = re.findall(rb"\r\n" + name + rb"([;:][^\r]*)", body)
        assert len(values) == 2 and all(re.fullmatch(rb":\d{8}T\d{6}Z", v) for v in values)

    first, second = feed.walk("VEVENT")  # ordered by time
    assert str(first["SUMMARY"]) == "payments 2.4.0" and str(second["SUMMARY"]) == "search 1.0.0"
    assert str(first["UID"]) == f"release-{payments.uid}@releasebot"
    assert first.decoded("DTSTART") == when
    assert first.decoded("DTEND") == when + timedelta(hours=1)
    assert first.decoded("DTSTAMP") == payments.updated_at.replace(microsecond=0)
    assert first.decoded("CREATED") == payments.created_at.replace(microsecond=0)
    assert first.decoded("LAST-MODIFIED") == payments.updated_at.replace(microsecond=0)
    assert (str(first["STATUS"]), int(str(first["SEQUENCE"]))) == ("TENTATIVE", 0)
    assert str(second["STATUS"]) == "CONFIRMED"  # no approvers: approved at once
    assert str(first["URL"]) == payments.permalink
    description = str(first["DESCRIPTION"])
    assert "Status: Proposed\nOwner: U_OWNER\n" in description
    assert "Rollout: phased 10% → 50% → 100%" in description
    assert "Approvers: U_QA (pending), @qa (pending)" in description
    assert f"Notes:\nsee the wiki\nIn Slack: {payments.permalink}" in description

    # An independent parser agrees, and finds nothing to complain about.
    parsed = vobject.readOne(response.text)
    assert parsed.validate(raiseException=True)
    [vevent, _] = parsed.vevent_list
    assert vevent.uid.value == str(first["UID"])
    assert vevent.dtstart.value == when
    assert vevent.description.value == description


def test_unchanged_feed_is_byte_identical_and_uids_never_change(harness: Harness) -> None:
    propose(harness, "payments@2.4.0")
    propose(harness, "search@1.0.0")
    path = subscribe(harness)
    first, second = fetch(harness, path), fetch(harness, path)
    assert first.content == second.content
    assert first.headers["etag"] == second.headers["etag"]
    uids = {str(e["SUMMARY"]): str(e["UID"]) for e in parse(first).walk("VEVENT")}

    propose(harness, "billing@3.0.0", when=ahead(days=1))  # now first in the feed
    harness.command("cancel search@1.0.0")
    after = {str(e["SUMMARY"]): str(e["UID"]) for e in parse(fetch(harness, path)).walk("VEVENT")}
    assert after["payments 2.4.0"] == uids["payments 2.4.0"]
    assert after["search 1.0.0 (cancelled)"] == uids["search 1.0.0"]


def test_a_reschedule_moves_the_event_and_raises_its_sequence(harness: Harness) -> None:
    release = propose(harness, "payments@2.4.0")
    path = subscribe(harness)
    before = parse(fetch(harness, path)).walk("VEVENT")[0]
    later = ahead(days=9, hour=10)
    harness.command(f"update payments@2.4.0 when={iso(later)}")
    assert harness.release("payments@2.4.0").target_at == later, "the update was not applied"

    after = parse(fetch(harness, path)).walk("VEVENT")[0]
    assert str(after["UID"]) == str(before["UID"]) == f"release-{release.uid}@releasebot"
    assert int(str(after["SEQUENCE"])) == int(str(before["SEQUENCE"])) + 1
    assert after.decoded("DTSTART") == later
    assert after.decoded("DTEND") == later + timedelta(hours=1)
    assert after.decoded("DTSTAMP") >= before.decoded("DTSTAMP")  # whole seconds


def test_a_cancelled_release_stays_marked_cancelled(harness: Harness) -> None:
    propose(harness, "payments@2.4.0")
    harness.command("cancel payments@2.4.0 found a blocker")
    event = events_by_summary(parse(fetch(harness, subscribe(harness))))[
        "payments 2.4.0 (cancelled)"
    ]
    assert str(event["STATUS"]) == "CANCELLED"
    assert int(str(event["SEQUENCE"])) == 1
    assert "Cancelled by U_OWNER: found a blocker" in str(event["DESCRIPTION"])


@pytest.mark.clock
def test_old_cancellations_and_long_past_releases_leave_the_feed(harness: Harness) -> None:
    for ref in ("stale@1.0", "recent@1.0", "ancient@1.0", "kept@1.0"):
        propose(harness, ref)
    harness.command("cancel stale@1.0")
    harness.command("cancel recent@1.0")
    now = datetime.now(UTC)
    with harness.session() as session:
        for release in session.exec(select(Release)):
            if release.service == "stale":
                release.updated_at = now - timedelta(days=31)
            elif release.service == "recent":
                release.updated_at = now - timedelta(days=29)
            elif release.service == "ancient":
                release.target_at = now - timedelta(days=181)
            session.add(release)
    feed = parse(fetch(harness, subscribe(harness)))
    assert set(events_by_summary(feed)) == {"recent 1.0 (cancelled)", "kept 1.0"}


HOSTILE_NOTES = (
    "Line one, with commas; and semicolons: all plain text\n"
    "Backslashes \\ and \\\\ and C:\\New\\folder, a literal \\n and \\, too\n"
    "\n" + "Ünïcödé ✓ — 😀 " * 25 + "\nhttps://wiki.example.com/a,b;c\\d " + "x" * 300
)


def test_hostile_text_is_escaped_folded_and_comes_back_intact(harness: Harness) -> None:
    propose(harness, "payments@2.4.0", f"notes: {HOSTILE_NOTES}")
    harness.command("cancel payments@2.4.0 why; because, \\reasons\\")
    release = harness.release("payments@2.4.0")
    assert release.notes == HOSTILE_NOTES  # stored exactly as typed

    response = fetch(harness, subscribe(harness))
    lines = response.content.split(b"\r\n")
    assert all(len(line) <= 75 for line in lines)
    assert any(line.startswith(b" ") for line in lines)  # long lines were folded
    assert b"\n" not in response.content.replace(b"\r\n", b"")
    response.content.decode("utf-8")  # never split inside a character

    [event] = parse(response).walk("VEVENT")
    description = str(event["DESCRIPTION"])
    assert f"Notes:\n{release.notes}\nIn Slack:" in description
    assert "Cancelled by U_OWNER: why; because, \\reasons\\" in description
    assert vobject.readOne(response.text).vevent.description.value == description


def whole_calendar(harness: Harness, path: str) -> bytes:
    """icalendar's `to_ical()` of the feed's whole calendar, built afresh from the database."""
    with harness.session() as session:
        token = subscriptions.resolve_token(session, token_of(path))
        assert token is not None
        now = datetime.now(UTC)
        approvers = subscriptions.feed_approvers(session, token, now)
        events = [
            event_data(r, approvers.get(r.id or 0, []))
            for r in subscriptions.feed_releases(session, token, now)
        ]
        name = subscriptions.calendar_name(token)
    return bytes(icalendar_calendar(events, calendar_name=name).to_ical())


def test_served_bytes_are_icalendars_whole_calendar_also_after_changes(
    harness: Harness,
) -> None:
    """The server keeps each event's bytes between requests: after every kind of change,
    the feed is still exactly what icalendar writes for the whole calendar as it is now."""
    payments = propose(
        harness, "payments@2.4.0", f"<@U_QA|qa> <!subteam^S_QA|@qa> notes: {HOSTILE_NOTES}"
    )
    propose(harness, "search@1.0.0", "phased 10,50")
    propose(harness, "billing@3.0.0", "<@U_QA|qa>")
    harness.command("cancel search@1.0.0 no; longer, needed")
    path = subscribe(harness)
    served = fetch(harness, path).content
    assert served == whole_calendar(harness, path)
    assert b"C:\\\\New" in served  # a literal backslash-N, kept as typed

    def changed() -> None:
        nonlocal served
        before, served = served, fetch(harness, path).content
        assert served != before
        assert served == whole_calendar(harness, path)

    harness.click(harness.card(payments), ids.APPROVE, user_id="U_QA")  # a sign-off only
    changed()
    harness.command("withdraw payments@2.4.0", user_id="U_QA")
    changed()
    harness.command("update payments@2.4.0 approvers=<@U_QA2|qa2>")
    changed()
    harness.command(f"update billing@3.0.0 when={iso(ahead(days=4))}")
    changed()
    with harness.session() as session:  # behind the domain's back: no audit event
        release = session.exec(select(Release).where(Release.service == "billing")).one()
        release.notes = "edited directly"
        session.add(release)
    changed()


def test_only_events_of_changed_releases_are_built_again(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []
    real = route.event_fragment

    def counting(release: Any, approvers: Any) -> bytes:
        built.append(release.service)
        return real(release, approvers)

    monkeypatch.setattr(route, "event_fragment", counting)
    release = propose(harness, "payments@2.4.0", "<@U_QA|qa>")
    propose(harness, "search@1.0.0")
    path, fragments = subscribe(harness), FragmentCache()

    def load() -> bytes:
        outcome = load_feed(
            harness.bot.db, token_of(path), datetime.now(UTC), Conditions(), None, None, fragments
        )
        assert outcome.body is not None
        return outcome.body

    first = load()
    assert sorted(built) == ["payments", "search"]
    assert load() == first and len(built) == 2  # all kept
    harness.click(harness.card(release), ids.APPROVE, user_id="U_QA")
    assert b"U_QA (approved)" in load()
    assert built[2:] == ["payments"]
    assert load_feed(harness.bot.db, token_of(path), datetime.now(UTC), Conditions()).body == load()


def test_a_sign_off_moves_the_releases_revision(harness: Harness) -> None:
    """What the kept events rely on: a change to the sign-offs alone updates the row."""
    release = propose(harness, "payments@2.4.0", "<@U_QA|qa>")
    before = fragment_key(release)
    harness.click(harness.card(release), ids.APPROVE, user_id="U_QA")
    approved = harness.release("payments@2.4.0")
    assert approved.revision > release.revision and fragment_key(approved) != before
    harness.command("withdraw payments@2.4.0", user_id="U_QA")
    assert harness.release("payments@2.4.0").revision > approved.revision


# --- conditional requests ---------------------------------------------------------------


@pytest.mark.both_databases
def test_etag_and_if_modified_since_answer_304(harness: Harness) -> None:
    propose(harness, "payments@2.4.0")
    path = subscribe(harness)
    full = fetch(harness, path)
    etag, last_modified = full.headers["etag"], full.headers["last-modified"]

    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = fetch(harness, path, **{"If-None-Match": header})
        assert response.status_code == 304, header
        assert response.content == b""
        assert response.headers["etag"] == etag
        assert response.headers["last-modified"] == last_modified
        assert response.headers["cache-control"] == "private, max-age=300"

    assert fetch(harness, path, **{"If-Modified-Since": last_modified}).status_code == 304
    earlier = parsedate_to_datetime(last_modified) - timedelta(seconds=1)
    since_earlier = {"If-Modified-Since": format_datetime(earlier, usegmt=True)}
    assert fetch(harness, path, **since_earlier).status_code == 200
    assert fetch(harness, path, **{"If-Modified-Since": "not a date"}).status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
    both = {"If-None-Match": '"stale"', "If-Modified-Since": last_modified}
    assert fetch(harness, path, **both).status_code == 200


@pytest.mark.both_databases
def test_any_change_after_a_304_gives_a_new_etag(harness: Harness) -> None:
    release = propose(harness, "payments@2.4.0", "<@U_QA|qa> <@U_QA2|qa2>")
    path = subscribe(harness)
    etag = fetch(harness, path).headers["etag"]
    assert fetch(harness, path, **{"If-None-Match": etag}).status_code == 304

    # One sign-off of two changes nothing but the description: the feed must still change.
    harness.click(harness.card(release), ids.APPROVE, user_id="U_QA")
    changed = fetch(harness, path, **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    [event] = parse(changed).walk("VEVENT")
    assert "Approvers: U_QA (approved), U_QA2 (pending)" in str(event["DESCRIPTION"])

    etag = changed.headers["etag"]
    propose(harness, "search@1.0.0")
    assert fetch(harness, path, **{"If-None-Match": etag}).headers["etag"] != etag


@pytest.mark.clock
@pytest.mark.both_databases
def test_releases_ageing_out_change_the_validators(harness: Harness) -> None:
    """Time alone changes the feed: each release leaving it is a modification."""
    now = datetime.now(UTC).replace(microsecond=0)
    harness.clock.pin(now)
    soon = propose(harness, "soon@1.0", when=now + timedelta(days=2))
    propose(harness, "later@1.0", when=now + timedelta(days=400))
    propose(harness, "dropped@1.0", when=now + timedelta(days=300))
    harness.command("cancel dropped@1.0")
    path = subscribe(harness)
    # The same app with a clock the test moves (the harness's server uses real time).
    server = BackgroundServer(
        create_web_app(harness.bot.bolt, harness.bot.db, clock=harness.clock)
    ).start()

    def get(**headers: str) -> httpx.Response:
        return HTTP.get(server.url + path, headers=headers)

    try:
        first = get()
        assert set(events_by_summary(parse(first))) == {
            "soon 1.0",
            "dropped 1.0 (cancelled)",
            "later 1.0",
        }
        harness.clock.advance(timedelta(days=31))  # the cancellation is 31 days old
        second = get(**{"If-Modified-Since": first.headers["last-modified"]})
        assert set(events_by_summary(parse(second))) == {"soon 1.0", "later 1.0"}
        assert second.headers["etag"] != first.headers["etag"]
        assert get(**{"If-None-Match": second.headers["etag"]}).status_code == 304

        harness.clock.pin(soon.target_at + timedelta(days=181))
        third = get(**{"If-Modified-Since": second.headers["last-modified"]})
        assert set(events_by_summary(parse(third))) == {"later 1.0"}
        assert third.headers["etag"] != second.headers["etag"]
        assert parsedate_to_datetime(third.headers["last-modified"]) == (
            soon.target_at + timedelta(days=180)
        )
    finally:
        server.stop()


# --- the per-process validator cache (load_feed directly, with chosen times) -----------


def _load(
    harness: Harness, path: str, now: datetime, cache: ValidatorCache, etag: str = ""
) -> FeedAnswer:
    conditions = Conditions(if_none_match=etag) if etag else Conditions()
    return load_feed(harness.bot.db, token_of(path), now, conditions, cache)


def test_cached_validators_give_way_to_any_audited_change(harness: Harness) -> None:
    propose(harness, "payments@2.4.0", "<@U_QA|qa>")
    path, cache, now = subscribe(harness), ValidatorCache(), datetime.now(UTC)
    first = _load(harness, path, now, cache)
    assert first.validators and first.body
    etag = first.validators.etag
    assert _load(harness, path, now, cache, etag).body is None  # 304, from the cache

    harness.command("update payments@2.4.0 notes=new notes")  # writes an audit event
    changed = _load(harness, path, now + timedelta(seconds=1), cache, etag)
    assert changed.body and b"new notes" in changed.body
    assert changed.validators and changed.validators.etag != etag


def test_a_change_without_an_audit_event_shows_within_the_cache_age(harness: Harness) -> None:
    propose(harness, "payments@2.4.0")
    path, now = subscribe(harness), datetime.now(UTC)
    cache = ValidatorCache(max_age=timedelta(seconds=30))
    etag = _load(harness, path, now, cache).validators.etag  # type: ignore[union-attr]
    with harness.session() as session:  # behind the domain's back: no audit event
        release = session.exec(select(Release)).one()
        release.notes, release.updated_at = "edited directly", now + timedelta(seconds=1)
        session.add(release)
    assert _load(harness, path, now + timedelta(seconds=2), cache, etag).body is None
    later = _load(harness, path, now + timedelta(seconds=31), cache, etag)
    assert later.body and b"edited directly" in later.body


@pytest.mark.both_databases
def test_a_change_committed_after_a_later_stamped_one_still_changes_the_etag(
    harness: Harness,
) -> None:
    """Two changes commit in the opposite order to their timestamps (concurrent
    transactions): a poll between the commits must not hide the first-stamped one."""
    propose(harness, "payments@2.4.0")
    propose(harness, "checkout@1.0")
    now = datetime.now(UTC)
    with harness.session() as session:
        token = subscriptions.resolve_token(session, token_of(subscribe(harness)))
        assert token is not None
        checkout = session.exec(select(Release).where(Release.service == "checkout")).one()
        checkout.updated_at = now + timedelta(seconds=2)  # the later stamp commits first
        session.add(checkout)
    with harness.session() as session:
        polled = subscriptions.feed_fingerprint(session, token, now).etag_basis()
    with harness.session() as session:
        payments = session.exec(select(Release).where(Release.service == "payments")).one()
        payments.notes, payments.updated_at = "late commit", now + timedelta(seconds=1)
        session.add(payments)
    with harness.session() as session:
        after = subscriptions.feed_fingerprint(session, token, now).etag_basis()
    assert after != polled


@pytest.mark.clock
def test_cached_validators_expire_when_a_release_is_due_to_age_out(harness: Harness) -> None:
    propose(harness, "payments@2.4.0")
    propose(harness, "search@1.0.0")
    harness.command("cancel search@1.0.0")
    path, now = subscribe(harness), datetime.now(UTC)
    with harness.session() as session:  # cancelled 30 days ago less 5 seconds
        search = session.exec(select(Release).where(Release.service == "search")).one()
        search.updated_at = now - timedelta(days=30) + timedelta(seconds=5)
        session.add(search)
    cache = ValidatorCache(max_age=timedelta(hours=1))
    first = _load(harness, path, now, cache)
    assert first.body and b"search 1.0.0" in first.body and first.validators
    assert (
        _load(harness, path, now + timedelta(seconds=4), cache, first.validators.etag).body is None
    )
    after = _load(harness, path, now + timedelta(seconds=6), cache, first.validators.etag)
    assert after.body and b"search 1.0.0" not in after.body


def test_a_channel_feed_polled_unchanged_asks_slack_only_once_members_only_releases_exist(
    harness: Harness,
) -> None:
    """Without a membership answer, a 304 that needed none stands while its validators do
    (Slack is not asked); a release only members see, proposed since, shows on the next
    poll, after one look at who is in the channel."""
    now = datetime(2027, 3, 10, 9, 0, tzinfo=UTC)  # pinned: a feed's answers depend on now
    harness.clock.pin(now)
    harness.slack.set_channel_members("G_SECRET", ["U_OWNER", "U_PM"])
    path = subscribe(harness, "calendar <#G_SECRET|secret>", user_id="U_PM")
    asked = len(harness.slack.calls("conversations.members"))

    first = fetch(harness, path)
    assert first.status_code == 200 and b"BEGIN:VEVENT" not in first.content
    etag = first.headers["etag"]
    for _ in range(3):
        assert fetch(harness, path, **{"If-None-Match": etag}).status_code == 304
    assert len(harness.slack.calls("conversations.members")) == asked

    harness.command(f"propose payments 2.4.0 {iso(now + timedelta(days=2))}", channel_id="G_SECRET")
    assert harness.release("payments@2.4.0").private
    shown = fetch(harness, path, **{"If-None-Match": etag})
    assert shown.status_code == 200 and b"payments 2.4.0" in shown.content
    assert len(harness.slack.calls("conversations.members")) == asked + 1


def test_a_304_never_waits_behind_feeds_being_built(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    propose(harness, "payments@2.4.0")
    path = subscribe(harness)
    etag = fetch(harness, path).headers["etag"]
    building, done = threading.Semaphore(0), threading.Event()
    real = route.build_feed

    def slow(pending: PendingFeed, fragments: FragmentCache) -> FeedAnswer:
        building.release()
        done.wait(10)
        return real(pending, fragments)

    monkeypatch.setattr(route, "build_feed", slow)
    url = harness.server.url + path
    with ThreadPoolExecutor(route.BUILD_THREADS + 1) as pool:
        full = [pool.submit(httpx.get, url, timeout=20) for _ in range(route.BUILD_THREADS + 1)]
        try:
            for _ in range(route.BUILD_THREADS):  # every build thread is busy
                assert building.acquire(timeout=10)
            polled = httpx.get(url, headers={"If-None-Match": etag}, timeout=3)
            assert polled.status_code == 304
        finally:
            done.set()
        assert [f.result().status_code for f in full] == [200] * (route.BUILD_THREADS + 1)


def test_head_answers_like_get_without_a_body(harness: Harness) -> None:
    propose(harness, "payments@2.4.0")
    path = subscribe(harness)
    get = fetch(harness, path)
    head = HTTP.head(harness.server.url + path)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["content-type"] == "text/calendar; charset=utf-8"


# --- links: who sees what, and revoking -------------------------------------------------


def _not_found(response: httpx.Response) -> tuple[int, bytes, str, str]:
    headers = response.headers
    return (
        response.status_code,
        response.content,
        headers["content-type"],
        headers.get("etag", ""),
    )


def test_wrong_revoked_and_malformed_links_all_get_the_same_404(harness: Harness) -> None:
    propose(harness, "payments@2.4.0")
    revoked = subscribe(harness)
    other = subscribe(harness)
    reply = harness.private_reply(harness.command("calendar revoke"))
    assert "Revoked 2 calendar links" in reply

    token = token_of(other)
    answers = [
        fetch(harness, f"/calendar/{secrets.token_urlsafe(32)}.ics"),  # never issued
        fetch(harness, revoked),
        fetch(harness, other),
        fetch(harness, f"/calendar/{token}"),
        fetch(harness, f"/calendar/{token}.ics/extra"),
        fetch(harness, f"/calendar/{token[:-1]}.ics"),
        fetch(harness, "/calendar/"),
        fetch(harness, "/calendar/..%2F..%2Fetc%2Fpasswd.ics"),
        fetch(harness, "/calendar/' OR 1=1 --.ics"),
    ]
    shapes = {_not_found(r) for r in answers}
    assert shapes == {(404, b"Not found\n", "text/plain; charset=utf-8", "")}

    assert "You had no calendar links" in harness.private_reply(harness.command("calendar revoke"))
    assert fetch(harness, subscribe(harness)).status_code == 200  # a new link works


def test_revoking_stops_only_your_own_links(harness: Harness) -> None:
    propose(harness, "payments@2.4.0")
    mine = subscribe(harness)
    theirs = subscribe(harness, user_id="U_OTHER")
    harness.command("calendar revoke")
    assert fetch(harness, mine).status_code == 404
    assert fetch(harness, theirs).status_code == 200


def test_a_link_never_shows_another_workspaces_releases(harness: Harness) -> None:
    propose(harness, "payments@2.4.0")
    other_team = SignedSlackClient(harness.server.url, "test-signing-secret", team_id="T0002")
    response = other_team.command(
        f"propose payments 9.9.9 {iso(ahead())}", response_url=harness.slack.new_response_url()
    )
    assert response.status_code == 200
    harness.wait()
    asked = other_team.command("calendar payments", response_url=harness.slack.new_response_url())
    harness.wait()
    reply = harness.private_reply(asked)
    match = LINK.search(reply)
    assert match

    ours = events_by_summary(parse(fetch(harness, subscribe(harness))))
    assert set(ours) == {"payments 2.4.0"}
    theirs = events_by_summary(parse(fetch(harness, match.group(1))))
    assert set(theirs) == {"payments 9.9.9"}


def test_filtered_feeds_by_channel_and_by_service(harness: Harness) -> None:
    propose(harness, "payments@2.4.0")
    propose(harness, "search@1.0.0", channel_id="C_OTHER")
    propose(harness, "payments-api@5.0.0", channel_id="C_OTHER")

    reply = harness.private_reply(harness.command("calendar <#C_OTHER|other>"))
    assert "releases proposed in <#C_OTHER>" in reply
    channel_path = LINK.search(reply)
    assert channel_path
    by_channel = parse(fetch(harness, channel_path.group(1)))
    assert set(events_by_summary(by_channel)) == {"search 1.0.0", "payments-api 5.0.0"}
    assert str(by_channel["X-WR-CALNAME"]) == "Releases: channel C_OTHER"

    reply = harness.private_reply(harness.command("calendar Payments"))
    assert "releases of payments" in reply and "none yet" not in reply
    by_service = LINK.search(reply)
    assert by_service
    assert set(events_by_summary(parse(fetch(harness, by_service.group(1))))) == {"payments 2.4.0"}

    assert "none yet" in harness.private_reply(harness.command("calendar paymnets"))
    assert "is not a service name" in harness.private_reply(harness.command("calendar pay/ments"))


def test_the_link_is_private_and_never_stored_in_the_clear(harness: Harness) -> None:
    for text in ("calendar", "calendar revoke"):
        harness.command(text, channel_id=CHANNEL)
        answer = harness.slack.calls("response_url")[-1].args
        assert answer["response_type"] == "ephemeral"
        assert validate_message(answer) is None  # blocks Slack would accept
    assert harness.slack.calls("chat.postMessage") == []
    raw = token_of(subscribe(harness))
    assert len(raw) >= 43  # 32 random bytes

    with harness.session() as session:
        [stored] = [
            t
            for t in session.exec(select(CalendarToken))
            if t.token_hash == bearer_secrets.hash_secret(raw)
        ]
        assert stored.token_hash == hashlib.sha256(raw.encode()).hexdigest()
        for table in SQLModel.metadata.sorted_tables:
            for row in session.execute(table.select()):
                assert raw not in repr(tuple(row)), table.name


def test_access_logs_never_show_a_link() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/calendar/s3cr3t-token_value.ics?x=1", "1.1", 200),
        None,
    )
    assert RedactFeedTokens().filter(record)
    assert "s3cr3t" not in record.getMessage()
    assert "/calendar/<redacted>?x=1" in record.getMessage()


# --- kept fragments against icalendar's whole calendar (no database needed) ------------


def test_fragments_joined_are_the_whole_calendars_to_ical_on_random_text() -> None:
    rnd = random.Random(11)
    alphabet = "ab ,;:\\\nN\t\"'é€😀<>&" + "x" * 8
    start = datetime(2026, 5, 1, 12, tzinfo=UTC)

    def text(limit: int) -> str:
        return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, limit)))

    events = [
        EventData(
            uid=f"release-{i}@releasebot",
            summary=text(90),
            start=start + timedelta(hours=i),
            end=start + timedelta(hours=i, minutes=90),
            stamp=start - timedelta(days=i),
            created=start - timedelta(days=2 * i),
            modified=start - timedelta(days=i),
            sequence=i % 5,
            status=rnd.choice(["TENTATIVE", "CONFIRMED", "CANCELLED"]),
            description=text(2500),
            url=f"https://example.slack.com/archives/C1/p{i}" if i % 2 else None,
        )
        for i in range(150)
    ]
    name = "Releases: a, b; c"
    body = feed_bytes(name, [bytes(new_event(event).to_ical()) for event in events])
    assert body == icalendar_calendar(events, calendar_name=name).to_ical()
    parsed = icalendar.Calendar.from_ical(body).walk("VEVENT")
    assert [(str(e["SUMMARY"]), str(e["DESCRIPTION"])) for e in parsed] == [
        (event.summary, event.description) for event in events
    ]
    assert feed_bytes(name, []) == icalendar_calendar([], calendar_name=name).to_ical()


@pytest.mark.parametrize("value", ["C:\\New", "\\N", "a\\nb", "\\\\N,;", "\\NN\\N"])
def test_a_literal_backslash_n_survives_where_icalendar_would_mangle_it(value: str) -> None:
    moment = datetime(2026, 5, 1, 12, tzinfo=UTC)
    event = EventData(
        "u@x", value, moment, moment, moment, moment, moment, 0, "CONFIRMED", value, None
    )
    body = feed_bytes(value, [bytes(new_event(event).to_ical())])
    [parsed] = icalendar.Calendar.from_ical(body).walk("VEVENT")
    assert str(parsed["SUMMARY"]) == str(parsed["DESCRIPTION"]) == value
    assert vobject.readOne(body.decode()).vevent.description.value == value


def test_kept_fragments_are_bounded_least_recently_used_first() -> None:
    moment = datetime(2026, 5, 1, 12, tzinfo=UTC)
    a, b, c = (("a", 0, moment), ("b", 0, moment), ("c", 0, moment))
    fragments = FragmentCache(max_bytes=10)
    fragments.put(a, b"aaaa")
    fragments.put(b, b"bbbb")
    assert fragments.get_many([a, c]) == [b"aaaa", None]  # a is now the most recent
    fragments.put(c, b"cccc")  # 12 bytes: b, the least recently used, goes
    assert fragments.get_many([a, b, c]) == [b"aaaa", None, b"cccc"]
    fragments.put(a, b"a" * 11)  # alone over the limit: nothing is kept
    assert len(fragments) == 0
