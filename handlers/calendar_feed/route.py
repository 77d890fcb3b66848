"""`GET /calendar/<token>.ics`: the subscribable release calendar, with HTTP validators.

Calendar apps poll this every few minutes, so the common answer is 304. It costs two
indexed lookups (the token, the workspace's change marker) while `ValidatorCache` holds
the feed's validators, else one aggregate query (`subscriptions.feed_fingerprint`); the
feed itself is only sent when it changed, and then only the events of releases that
changed since this process last wrote them are built again (`ics.FragmentCache`).

A channel's feed shows the channel's private releases only while its person is in the
channel (`membership`): asked of Slack at most every few minutes, and only when the feed
holds releases that only members see (`subscriptions.shown_only_to_members`, one more
query, run while no answer is remembered and no 304 computed without one still stands).
Any unusable link (unknown, revoked, malformed) gets the same 404, so a response never
tells which.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import anyio
from sqlalchemy import Row
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from handlers.calendar_feed.freeze_events import with_freezes
from handlers.calendar_feed.ics import (
    FEED_FORMAT,
    FragmentCache,
    event_fragment,
    feed_bytes,
    fragment_key,
)
from handlers.calendar_feed.membership import ChannelMembership, Membership
from models import bearer_secrets
from models.calendar_feed import subscriptions
from models.calendar_feed.subscriptions import Fingerprint
from models.calendar_feed.tokens import CalendarToken
from models.db import Database
from models.freezes import Freeze

CACHE_CONTROL = "private, max-age=300"
# Threads answering polls (database reads, a question to Slack) and threads building
# events: a 304 never waits behind a build, and a burst of builds (CPU-bound, under the
# GIL) cannot take more than two threads from the Slack acks served by the same process.
FEED_THREADS = 4
BUILD_THREADS = 2
MEDIA_TYPE = "text/calendar"  # Starlette adds "; charset=utf-8"
_SUFFIX = ".ics"


@dataclass(frozen=True)
class Validators:
    etag: str  # quoted, as sent
    last_modified: datetime  # whole seconds: all an HTTP date can say

    def headers(self) -> dict[str, str]:
        return {
            "ETag": self.etag,
            "Last-Modified": format_datetime(self.last_modified, usegmt=True),
            "Cache-Control": CACHE_CONTROL,
        }


def validators_for(
    token: CalendarToken,
    fingerprint: Fingerprint,
    now: datetime,
    membership: Membership | None = None,
    freezes: Sequence[Freeze] = (),
) -> Validators:
    """`membership`: the person's standing in the token's channel, when the feed used it;
    `freezes`: those the feed shows."""
    in_channel = membership is not None and membership.member
    basis = (
        f"{FEED_FORMAT}|{subscriptions.calendar_name(token)}|{int(in_channel)}|"
        f"{fingerprint.etag_basis()}|{subscriptions.freezes_basis(freezes)}"
    )
    last_modified = fingerprint.last_modified(fallback=token.created_at, now=now)
    if freezes:
        last_modified = max(last_modified, min(max(f.created_at for f in freezes), now))
    if membership is not None:
        # Joining or leaving shows or hides releases that did not change themselves.
        last_modified = max(last_modified, min(membership.since, now))
    return Validators(
        etag='"' + hashlib.sha256(basis.encode()).hexdigest()[:32] + '"',
        last_modified=last_modified.astimezone(UTC).replace(microsecond=0),
    )


@dataclass(frozen=True)
class Conditions:
    """A request's conditional headers (RFC 9110 section 13)."""

    if_none_match: str | None = None
    if_modified_since: str | None = None

    @property
    def present(self) -> bool:
        return self.if_none_match is not None or self.if_modified_since is not None

    def not_modified(self, validators: Validators) -> bool:
        # If-None-Match wins: If-Modified-Since is ignored whenever it is present.
        if self.if_none_match is not None:
            return _etag_listed(self.if_none_match, validators.etag)
        if self.if_modified_since is not None:
            since = _http_date(self.if_modified_since)
            return since is not None and validators.last_modified <= since
        return False


def _etag_listed(header: str, etag: str) -> bool:
    """Weak comparison, as If-None-Match requires: W/"x" matches "x"."""
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


def _http_date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None  # not a valid HTTP date: the header is ignored
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# What decides a feed's validators besides the database: the token (its person, workspace
# and filter: two people with one filter may see different private releases) and the
# person's standing in the token's channel, if the feed asked about it.
CacheKey = tuple[int, Membership | None]


class ValidatorCache:
    """A feed's validators, kept per process so most polls cost two indexed lookups.

    An entry is reused only while the workspace's change marker (its latest audit event)
    is the one it was computed under, no release is due to age out, and for at most
    `max_age`: so even a change that wrote no audit event, or one whose audit id was
    handed out before an id already seen (PostgreSQL sequences may commit out of order),
    shows within `max_age`. Full responses always carry freshly computed validators.
    """

    def __init__(self, max_age: timedelta = timedelta(seconds=30), size: int = 10_000) -> None:
        self.max_age = max_age
        self.size = size
        self._entries: dict[CacheKey, tuple[int | None, Validators, datetime]] = {}
        self._lock = threading.Lock()

    def get(self, key: CacheKey, marker: int | None, now: datetime) -> Validators | None:
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or entry[0] != marker or now >= entry[2]:
            return None
        return entry[1]

    def put(
        self,
        key: CacheKey,
        marker: int | None,
        validators: Validators,
        fingerprint: Fingerprint,
        now: datetime,
    ) -> None:
        valid_until = now + self.max_age
        if fingerprint.next_drop is not None:
            valid_until = min(valid_until, fingerprint.next_drop)
        with self._lock:
            if len(self._entries) >= self.size:
                self._entries.clear()  # rare: as many polled links as `size` at once
            self._entries[key] = (marker, validators, valid_until)


@dataclass(frozen=True)
class FeedAnswer:
    validators: Validators | None = None  # None: no such feed
    body: bytes | None = None  # None (with validators): not modified


@dataclass(frozen=True)
class PendingFeed:
    """What a full answer needs, read in one snapshot; built after the session closes."""

    validators: Validators
    name: str
    keys: list[Row[Any]]  # the feed's releases, in order: what names each one's state
    fragments: list[bytes | None]  # each one's kept event (None: to build from the rows)
    releases: dict[int, Row[Any]]  # by id, the releases whose events are to be built
    approvers: dict[int, list[Row[Any]]]
    freezes: list[Freeze]


def load_feed(
    db: Database,
    raw_token: str,
    now: datetime,
    conditions: Conditions,
    cache: ValidatorCache | None = None,
    members: ChannelMembership | None = None,
    fragments: FragmentCache | None = None,
) -> FeedAnswer:
    """Blocking: the token, the validators and, only if needed, the feed itself.

    Without `members`, nobody counts as in a feed's channel: its private releases stay out.
    Without `fragments`, every event is built afresh.
    """
    fragments = fragments if fragments is not None else FragmentCache(max_bytes=0)
    read = read_feed(db, raw_token, now, conditions, cache, members, fragments)
    return read if isinstance(read, FeedAnswer) else build_feed(read, fragments)


def read_feed(
    db: Database,
    raw_token: str,
    now: datetime,
    conditions: Conditions,
    cache: ValidatorCache | None,
    members: ChannelMembership | None,
    fragments: FragmentCache,
) -> FeedAnswer | PendingFeed:
    """Blocking: `load_feed` up to the building of events (the answer, unless it is full).
    A shared link's use is recorded (at most every `subscriptions.SHARED_USE_EVERY`)."""
    resolved: list[CalendarToken] = []
    read = _read_feed(db, raw_token, now, conditions, cache, members, fragments, resolved)
    served = not isinstance(read, FeedAnswer) or read.validators is not None
    if served and resolved and subscriptions.shared_use_due(resolved[-1], now):
        note_shared_use(db, resolved[-1], now, "feed")
    return read


def note_shared_use(db: Database, token: CalendarToken, now: datetime, via: str) -> None:
    """Blocking: records a shared link's use unless one was recorded lately (any process)."""
    assert token.id is not None
    with db.session() as session:
        subscriptions.record_shared_use(session, token.id, now, via)


def _read_feed(
    db: Database,
    raw_token: str,
    now: datetime,
    conditions: Conditions,
    cache: ValidatorCache | None,
    members: ChannelMembership | None,
    fragments: FragmentCache,
    resolved: list[CalendarToken],
) -> FeedAnswer | PendingFeed:
    with db.read_session() as session:
        token = subscriptions.resolve_token(session, raw_token)
        if token is None:
            return FeedAnswer()
        resolved.append(token)
        assert token.id is not None
        marker = subscriptions.change_marker(session, token.team_id) if cache is not None else None
        membership: Membership | None = None
        must_ask = False
        # A shared link shows no private release: its channel's members are beside the point.
        if token.channel_id is not None and members is not None and not token.shared:
            membership = members.cached(token.team_id, token.channel_id, token.user_id, now)
            # No answer remembered: Slack is worth asking only if the feed holds releases
            # that members alone see. A 304 this process gave without asking (the feed
            # held none) stands while its validators do: a 304 shows nothing, and a
            # release that only members see, new since, shows once they lapse.
            must_ask = (
                membership is None
                and not _still_not_modified(cache, (token.id, None), marker, now, conditions)
                and subscriptions.shown_only_to_members(session, token, now)
            )
        if not must_ask:
            return _load(session, token, membership, marker, now, conditions, cache, fragments)
    # Slack is asked with no database session open: a slow answer holds no connection.
    assert members is not None and token.channel_id is not None
    membership = members.check(token.team_id, token.channel_id, token.user_id, now)
    with db.read_session() as session:
        token = subscriptions.resolve_token(session, raw_token)  # revoked meanwhile?
        if token is None:
            return FeedAnswer()
        marker = subscriptions.change_marker(session, token.team_id) if cache is not None else None
        return _load(session, token, membership, marker, now, conditions, cache, fragments)


def _still_not_modified(
    cache: ValidatorCache | None,
    key: CacheKey,
    marker: int | None,
    now: datetime,
    conditions: Conditions,
) -> bool:
    if cache is None or not conditions.present:
        return False
    cached = cache.get(key, marker, now)
    return cached is not None and conditions.not_modified(cached)


def _load(
    session: Session,
    token: CalendarToken,
    membership: Membership | None,
    marker: int | None,
    now: datetime,
    conditions: Conditions,
    cache: ValidatorCache | None,
    fragments: FragmentCache,
) -> FeedAnswer | PendingFeed:
    """A 304 (or 404) outcome, else what the full answer is built from."""
    assert token.id is not None
    in_channel = membership is not None and membership.member
    key: CacheKey = (token.id, membership)
    if cache is not None and conditions.present:
        cached = cache.get(key, marker, now)
        if cached is not None and conditions.not_modified(cached):
            return FeedAnswer(cached)
    fingerprint = subscriptions.feed_fingerprint(session, token, now, in_channel=in_channel)
    freezes = subscriptions.feed_freezes(session, token)
    validators = validators_for(token, fingerprint, now, membership, freezes)
    if cache is not None:
        cache.put(key, marker, validators, fingerprint, now)
    if conditions.not_modified(validators):
        return FeedAnswer(validators)
    # Same snapshot as the fingerprint, so the ETag describes exactly these bytes.
    keys = subscriptions.feed_release_keys(session, token, now, in_channel=in_channel)
    # The kept fragments themselves, not only whether they are kept: one evicted before
    # the feed is assembled is still at hand.
    kept = fragments.get_many([fragment_key(row) for row in keys])
    missing = [row.id for row, fragment in zip(keys, kept, strict=True) if fragment is None]
    releases, approvers = {}, {}
    if missing:
        releases = subscriptions.feed_release_rows(
            session, token, now, missing, in_channel=in_channel
        )
        approvers = subscriptions.feed_approver_rows(
            session, token, now, missing, in_channel=in_channel
        )
    name = subscriptions.calendar_name(token)
    return PendingFeed(validators, name, keys, kept, releases, approvers, freezes)


def build_feed(pending: PendingFeed, fragments: FragmentCache) -> FeedAnswer:
    """The feed: the kept events, and those built now with icalendar (then kept)."""
    parts: list[bytes] = []
    for row, fragment in zip(pending.keys, pending.fragments, strict=True):
        if fragment is None:
            fragment = event_fragment(pending.releases[row.id], pending.approvers.get(row.id, ()))
            fragments.put(fragment_key(row), fragment)
        parts.append(fragment)
    body = with_freezes(feed_bytes(pending.name, parts), pending.freezes)
    return FeedAnswer(pending.validators, body)


def token_from_path(name: str) -> str | None:
    """`<token>.ics` -> the token; anything else -> None."""
    if not name.endswith(_SUFFIX):
        return None
    raw = name[: -len(_SUFFIX)]
    return raw if bearer_secrets.is_shaped(raw) else None


# On the calendar page, its assets and every 404 under /calendar/: no inline script or
# style, nothing loaded from elsewhere, no framing, and no Referer (the address is secret).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def not_found() -> Response:
    """The one answer to any unusable link, feed or page alike."""
    return Response(
        "Not found\n",
        status_code=404,
        media_type="text/plain",
        headers={**SECURITY_HEADERS, "Cache-Control": "no-store"},
    )


def calendar_endpoint(
    db: Database,
    clock: Callable[[], datetime],
    cache: ValidatorCache | None = None,
    members: ChannelMembership | None = None,
    fragments: FragmentCache | None = None,
    page: Callable[[Request, str], Awaitable[Response]] | None = None,
) -> Callable[[Request], Awaitable[Response]]:
    """`fragments`: the events kept between requests (default: a new FragmentCache);
    `page`: answers `/calendar/<token>` (no `.ics`) with the calendar page."""
    kept = fragments if fragments is not None else FragmentCache()
    readers = anyio.CapacityLimiter(FEED_THREADS)
    builders = anyio.CapacityLimiter(BUILD_THREADS)

    async def calendar_feed(request: Request) -> Response:
        name = request.path_params["name"]
        if page is not None and bearer_secrets.is_shaped(name):
            return await page(request, name)
        raw = token_from_path(name)
        if raw is None:
            return not_found()
        conditions = Conditions(
            request.headers.get("if-none-match"), request.headers.get("if-modified-since")
        )
        read = await anyio.to_thread.run_sync(
            read_feed, db, raw, clock(), conditions, cache, members, kept, limiter=readers
        )
        if isinstance(read, FeedAnswer):
            outcome = read
        else:
            outcome = await anyio.to_thread.run_sync(build_feed, read, kept, limiter=builders)
        if outcome.validators is None:
            return not_found()
        headers = outcome.validators.headers()
        if outcome.body is None:
            return Response(status_code=304, headers=headers)
        return Response(outcome.body, media_type=MEDIA_TYPE, headers=headers)

    return calendar_feed


# Access logs would otherwise keep every subscriber's secret link in plain text.
_FEED_PATH = re.compile(r"/calendar/[^\s/?\"]+")


def redact(text: str) -> str:
    """`text` (a path, a log line) with any calendar token in it hidden."""
    return _FEED_PATH.sub("/calendar/<redacted>", text)


class RedactFeedTokens(logging.Filter):
    """Hides calendar tokens in access-log lines (install on "uvicorn.access")."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True
