"""`GET /calendar/<token>.ics`: the subscribable release calendar, with HTTP validators.

Calendar apps poll this every few minutes, so the common answer is 304. It costs two
indexed lookups (the token, the workspace's change marker) while `ValidatorCache` holds
the feed's validators, else one aggregate query (`models.calendar.feed_fingerprint`);
the feed itself is only built when it changed. Any unusable link (unknown, revoked,
malformed) gets the same 404, so a response never tells which.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

import anyio
from starlette.requests import Request
from starlette.responses import Response

from models import calendar
from models.calendar import Fingerprint
from models.calendar_token import CalendarToken
from models.db import Database
from scheduler.feed import FEED_FORMAT, build_feed

CACHE_CONTROL = "private, max-age=300"
FEED_THREADS = 2
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


def validators_for(token: CalendarToken, fingerprint: Fingerprint, now: datetime) -> Validators:
    basis = f"{FEED_FORMAT}|{calendar.calendar_name(token)}|{fingerprint.etag_basis()}"
    last_modified = fingerprint.last_modified(fallback=token.created_at, now=now)
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


# Keyed by token: it fixes the workspace and the filter, and also the person, whose
# private releases (owned or to approve) make two people's feeds of one filter differ.
CacheKey = int


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
class FeedOutcome:
    validators: Validators | None = None  # None: no such feed
    body: bytes | None = None  # None (with validators): not modified


def load_feed(
    db: Database,
    raw_token: str,
    now: datetime,
    conditions: Conditions,
    cache: ValidatorCache | None = None,
) -> FeedOutcome:
    """Blocking: the token, the validators and, only if needed, the feed itself."""
    with db.read_session() as session:
        token = calendar.resolve_token(session, raw_token)
        if token is None:
            return FeedOutcome()
        assert token.id is not None
        marker = calendar.change_marker(session, token.team_id) if cache is not None else None
        if cache is not None and conditions.present:
            cached = cache.get(token.id, marker, now)
            if cached is not None and conditions.not_modified(cached):
                return FeedOutcome(cached)
        fingerprint = calendar.feed_fingerprint(session, token, now)
        validators = validators_for(token, fingerprint, now)
        if cache is not None:
            cache.put(token.id, marker, validators, fingerprint, now)
        if conditions.not_modified(validators):
            return FeedOutcome(validators)
        # Same snapshot as the fingerprint, so the ETag describes exactly these bytes.
        releases = calendar.feed_release_rows(session, token, now)
        approvers = calendar.feed_approver_rows(session, token, now)
        name = calendar.calendar_name(token)
    body = build_feed(releases, approvers, calendar_name=name, now=now)
    return FeedOutcome(validators, body)


def token_from_path(name: str) -> str | None:
    """`<token>.ics` -> the token; anything else -> None."""
    if not name.endswith(_SUFFIX):
        return None
    raw = name[: -len(_SUFFIX)]
    return raw if calendar.is_token_shaped(raw) else None


def not_found() -> Response:
    return Response(
        "Not found\n",
        status_code=404,
        media_type="text/plain",
        headers={"Cache-Control": "no-store"},
    )


def calendar_endpoint(
    db: Database, clock: Callable[[], datetime], cache: ValidatorCache | None = None
) -> Callable[[Request], Awaitable[Response]]:
    # Few threads: a burst of full builds (CPU-bound, under the GIL) must not starve the
    # Slack acks served by the same process; 304s are quick and wait little.
    builders = anyio.CapacityLimiter(FEED_THREADS)

    async def calendar_feed(request: Request) -> Response:
        raw = token_from_path(request.path_params["name"])
        if raw is None:
            return not_found()
        conditions = Conditions(
            request.headers.get("if-none-match"), request.headers.get("if-modified-since")
        )
        outcome = await anyio.to_thread.run_sync(
            load_feed, db, raw, clock(), conditions, cache, limiter=builders
        )
        if outcome.validators is None:
            return not_found()
        headers = outcome.validators.headers()
        if outcome.body is None:
            return Response(status_code=304, headers=headers)
        return Response(outcome.body, media_type=MEDIA_TYPE, headers=headers)

    return calendar_feed


# Access logs would otherwise keep every subscriber's secret link in plain text.
_FEED_PATH = re.compile(r"/calendar/[^\s/?\"]+")


class RedactFeedTokens(logging.Filter):
    """Hides calendar tokens in access-log lines (install on "uvicorn.access")."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _FEED_PATH.sub("/calendar/<redacted>", a) if isinstance(a, str) else a
                for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _FEED_PATH.sub("/calendar/<redacted>", record.msg)
        return True
