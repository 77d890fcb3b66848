"""The release calendar feed: personal tokens, and which releases a token's feed shows.

A token is a bearer secret in a URL that calendar apps poll (`models.bearer_secrets`: only
its hash is stored). The feed's freshness checks rely on two rules the
release domain keeps: every change to what the feed shows (status, time, notes,
sign-offs...) sets `Release.updated_at` (`feed_fingerprint`), and writes an audit event in
the same transaction (`change_marker`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, Row, and_, case, func, not_, or_
from sqlalchemy import select as sql_select
from sqlalchemy import update as sql_update
from sqlmodel import Session, col, select

from models import audit, bearer_secrets
from models.audit import AuditEvent
from models.calendar_feed.tokens import SHARED_NAME_LIMIT, CalendarToken
from models.columns import utcnow
from models.errors import Code, Conflict, InvalidInput, NotFound
from models.freezes import Freeze
from models.release.records import Approver, Release, ReleaseStatus
from models.release.visibility import PUBLIC_READER, Reader, shown_to

# Cancelled releases linger this long (so subscribers see the cancellation), then go.
CANCELLED_KEPT = timedelta(days=30)
# Releases further in the past than this leave the feed.
PAST_KEPT = timedelta(days=180)
MAX_LIVE_TOKENS = 20


# --- tokens -----------------------------------------------------------------------------


def live_tokens(session: Session, team_id: str, user_id: str) -> list[CalendarToken]:
    return list(
        session.exec(
            select(CalendarToken).where(
                CalendarToken.team_id == team_id,
                CalendarToken.user_id == user_id,
                col(CalendarToken.revoked_at).is_(None),
                col(CalendarToken.shared_name).is_(None),
            )
        )
    )


def issue_token(
    session: Session,
    team_id: str,
    user_id: str,
    *,
    channel_id: str | None = None,
    service: str | None = None,
    now: datetime | None = None,
) -> str:
    """A new feed link's secret, returned once; only its hash is kept."""
    if len(live_tokens(session, team_id, user_id)) >= MAX_LIVE_TOKENS:
        raise InvalidInput(Code.TOO_MANY_LINKS, limit=MAX_LIVE_TOKENS)
    raw = bearer_secrets.new_secret()
    session.add(
        CalendarToken(
            team_id=team_id,
            user_id=user_id,
            token_hash=bearer_secrets.hash_secret(raw),
            channel_id=channel_id,
            service=service,
            created_at=now or utcnow(),
        )
    )
    session.flush()
    return raw


def revoke_tokens(
    session: Session, team_id: str, user_id: str, *, now: datetime | None = None
) -> int:
    """Stop every live personal feed link of this person; how many there were. (Shared
    links they created are the workspace's: `revoke_shared` stops those.)"""
    result = session.execute(
        sql_update(CalendarToken)
        .where(
            col(CalendarToken.team_id) == team_id,
            col(CalendarToken.user_id) == user_id,
            col(CalendarToken.revoked_at).is_(None),
            col(CalendarToken.shared_name).is_(None),
        )
        .values(revoked_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def resolve_token(session: Session, raw: str) -> CalendarToken | None:
    """The live token `raw` names, or None (unknown, revoked or malformed alike)."""
    return bearer_secrets.find_live(session, CalendarToken, raw)


# --- what a feed shows ------------------------------------------------------------------
# `in_channel`: whether a channel feed's person is in that channel, which the caller asks of
# Slack (models never do); it defaults to no, so a caller that did not ask hides, not leaks.


def _reader(user_id: str, channel_id: str | None, in_channel: bool) -> Reader:
    """The person, and in a channel's own feed also a member of the channel while they are
    in it (`in_channel`, which the caller asks of Slack: naming a channel is no proof of
    being in it)."""
    return Reader.person(user_id, channel_id if in_channel else None)


def _scope(token: CalendarToken, in_channel: bool) -> list[ColumnElement[bool]]:
    # A shared link is nobody's view: releases that are not private, in its scope.
    reader = PUBLIC_READER if token.shared else _reader(token.user_id, token.channel_id, in_channel)
    return _filter(token.team_id, reader, channel_id=token.channel_id, service=token.service)


def _filter(
    team_id: str, reader: Reader, *, channel_id: str | None, service: str | None
) -> list[ColumnElement[bool]]:
    """A workspace's releases, narrowed to one channel or service if asked, that `reader`
    may see."""
    clauses = [col(Release.team_id) == team_id, shown_to(reader)]
    if channel_id is not None:
        clauses.append(col(Release.channel_id) == channel_id)
    if service is not None:
        clauses.append(col(Release.service) == service)
    return clauses


def _stale_cancelled(now: datetime) -> ColumnElement[bool]:
    return and_(
        col(Release.status) == ReleaseStatus.CANCELLED.value,
        col(Release.updated_at) < now - CANCELLED_KEPT,
    )


def _in_feed(token: CalendarToken, now: datetime, in_channel: bool) -> list[ColumnElement[bool]]:
    return [
        *_scope(token, in_channel),
        col(Release.target_at) >= now - PAST_KEPT,
        not_(_stale_cancelled(now)),
    ]


_FEED_ORDER = (col(Release.target_at), col(Release.id))
_APPROVER_ORDER = (col(Approver.release_id), col(Approver.position), col(Approver.id))


def feed_releases(
    session: Session, token: CalendarToken, now: datetime, *, in_channel: bool = False
) -> list[Release]:
    """The releases the token's feed shows, soonest first."""
    query = select(Release).where(*_in_feed(token, now, in_channel)).order_by(*_FEED_ORDER)
    return list(session.exec(query))


def feed_approvers(
    session: Session, token: CalendarToken, now: datetime, *, in_channel: bool = False
) -> dict[int, list[Approver]]:
    """Every feed release's approvers, in order, from one query (no per-release queries)."""
    rows = session.exec(
        select(Approver)
        .join(Release, col(Release.id) == col(Approver.release_id))
        .where(*_in_feed(token, now, in_channel))
        .order_by(*_APPROVER_ORDER)
    )
    return _by_release(rows)


def releases_between(
    session: Session,
    token: CalendarToken,
    now: datetime,
    start: datetime,
    end: datetime,
    *,
    in_channel: bool = False,
) -> tuple[list[Release], dict[int, list[Approver]]]:
    """The feed's releases starting in [start, end), soonest first, and their approvers
    (two queries): what the calendar page shows of one month."""
    window = [
        *_in_feed(token, now, in_channel),
        col(Release.target_at) >= start,
        col(Release.target_at) < end,
    ]
    releases = list(session.exec(select(Release).where(*window).order_by(*_FEED_ORDER)))
    approvers = session.exec(
        select(Approver)
        .join(Release, col(Release.id) == col(Approver.release_id))
        .where(*window)
        .order_by(*_APPROVER_ORDER)
    )
    return releases, _by_release(approvers)


# The same reads as plain rows (attributes named like the model's), for serving the feed:
# at 10,000 releases, building ORM instances (and collecting them afterwards) costs about
# as much as everything else together, and the feed only reads the values. First what
# names each release's current state (its kept event may do), then the whole rows of
# those whose event must be built again.

_KEY_COLUMNS = (col(Release.id), col(Release.uid), col(Release.revision), col(Release.updated_at))
# Ids per IN (...) list: well under any database's limit on bound parameters.
_IDS_PER_QUERY = 500


def feed_release_keys(
    session: Session, token: CalendarToken, now: datetime, *, in_channel: bool = False
) -> list[Row[Any]]:
    """Id, uid, revision and updated_at of each release the token's feed shows, soonest
    first."""
    query = sql_select(*_KEY_COLUMNS).where(*_in_feed(token, now, in_channel))
    return list(session.execute(query.order_by(*_FEED_ORDER)).all())


def feed_release_rows(
    session: Session,
    token: CalendarToken,
    now: datetime,
    ids: Sequence[int],
    *,
    in_channel: bool = False,
) -> dict[int, Row[Any]]:
    """Those of `ids` (from `feed_release_keys`) the token's feed shows, as whole rows."""
    table = Release.__table__  # type: ignore[attr-defined]
    rows: dict[int, Row[Any]] = {}
    for chunk in _chunks(ids):
        query = sql_select(table).where(
            *_in_feed(token, now, in_channel), col(Release.id).in_(chunk)
        )
        rows.update((row.id, row) for row in session.execute(query))
    return rows


def feed_approver_rows(
    session: Session,
    token: CalendarToken,
    now: datetime,
    ids: Sequence[int],
    *,
    in_channel: bool = False,
) -> dict[int, list[Row[Any]]]:
    """The approvers of those of `ids` the token's feed shows, in order, as rows."""
    table = Approver.__table__  # type: ignore[attr-defined]
    rows: list[Row[Any]] = []
    for chunk in _chunks(ids):
        query = (
            sql_select(table)
            .join(Release, col(Release.id) == col(Approver.release_id))
            .where(*_in_feed(token, now, in_channel), col(Approver.release_id).in_(chunk))
            .order_by(*_APPROVER_ORDER)
        )
        rows.extend(session.execute(query))
    return _by_release(rows)


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), _IDS_PER_QUERY):
        yield ids[start : start + _IDS_PER_QUERY]


class _HasReleaseId(Protocol):
    @property
    def release_id(self) -> int: ...


_A = TypeVar("_A", bound=_HasReleaseId)


def _by_release(approvers: Iterable[_A]) -> dict[int, list[_A]]:
    by_release: dict[int, list[_A]] = defaultdict(list)
    for approver in approvers:
        by_release[approver.release_id].append(approver)
    return dict(by_release)


@dataclass(frozen=True)
class Fingerprint:
    """What the feed's validators are made of; equal fingerprints mean equal feeds."""

    count: int
    last_updated: datetime | None
    max_id: int | None
    sequence_total: int
    # Sum of the rows' revisions: moves with every committed change to a shown release.
    revision_total: int
    # The latest moment a release aged out of the feed (None: none has yet).
    last_dropped: datetime | None
    # The next moment one will, if nothing else changes (None: none is due to).
    next_drop: datetime | None = None

    def etag_basis(self) -> str:
        parts: list[Any] = [
            self.count,
            self.last_updated and self.last_updated.isoformat(),
            self.max_id,
            self.sequence_total,
            self.revision_total,
            self.last_dropped and self.last_dropped.isoformat(),
        ]
        return "|".join(str(p) for p in parts)

    def last_modified(self, fallback: datetime, now: datetime) -> datetime:
        """When the feed last changed: an edit, or a release leaving it; never after now."""
        moments = [m for m in (self.last_updated, self.last_dropped) if m is not None]
        return min(max(moments, default=fallback), now)


def feed_fingerprint(
    session: Session, token: CalendarToken, now: datetime, *, in_channel: bool = False
) -> Fingerprint:
    """The feed's fingerprint in ONE query, so an unchanged feed is never built.

    An edit moves max(updated_at); a new release moves max(id) and the count; a release
    ageing out lowers the count and moves `last_dropped`. One pass over the releases in
    the time window feeds every aggregate (the CASEs split feed rows from cancellations
    that have aged out); the subquery finds, by index, the last release that got too old.
    """
    past_limit = now - PAST_KEPT
    stale = _stale_cancelled(now)
    shown = not_(stale)
    shown_cancelled = and_(shown, col(Release.status) == ReleaseStatus.CANCELLED.value)
    dropped_by_age = (
        sql_select(func.max(Release.target_at))
        .where(*_scope(token, in_channel), col(Release.target_at) < past_limit)
        .scalar_subquery()
    )
    row = session.execute(
        sql_select(
            func.count(case((shown, 1))),
            func.max(case((shown, col(Release.updated_at)))),
            func.max(case((shown, col(Release.id)))),
            func.coalesce(func.sum(case((shown, col(Release.sequence)))), 0),
            func.coalesce(func.sum(case((shown, col(Release.revision)))), 0),
            func.max(case((stale, col(Release.updated_at)))),
            dropped_by_age,
            func.min(case((shown, col(Release.target_at)))),
            func.min(case((shown_cancelled, col(Release.updated_at)))),
        ).where(*_scope(token, in_channel), col(Release.target_at) >= past_limit)
    ).one()
    (
        count,
        last_updated,
        max_id,
        sequence_total,
        revision_total,
        cancelled,
        by_age,
        oldest,
        first_cancel,
    ) = row
    return Fingerprint(
        count=int(count),
        last_updated=last_updated,
        max_id=max_id,
        sequence_total=int(sequence_total),
        revision_total=int(revision_total),
        last_dropped=_latest(
            by_age and by_age + PAST_KEPT, cancelled and cancelled + CANCELLED_KEPT
        ),
        next_drop=_earliest(
            oldest and oldest + PAST_KEPT, first_cancel and first_cancel + CANCELLED_KEPT
        ),
    )


def _latest(*moments: datetime | None) -> datetime | None:
    return max((m for m in moments if m is not None), default=None)


def _earliest(*moments: datetime | None) -> datetime | None:
    return min((m for m in moments if m is not None), default=None)


def change_marker(session: Session, team_id: str) -> int | None:
    """The workspace's latest audit event, found by index: every change to a release
    writes one in the change's own transaction, so a new marker means a possible change."""
    return session.exec(select(func.max(AuditEvent.id)).where(AuditEvent.team_id == team_id)).one()


def shown_only_to_members(session: Session, token: CalendarToken, now: datetime) -> bool:
    """Whether the token's channel feed holds private releases its person sees only by being
    in the channel: only then is their membership worth asking Slack about."""
    if token.channel_id is None or token.shared:
        return False
    query = select(Release.id).where(
        *_in_feed(token, now, in_channel=True), not_(shown_to(Reader.person(token.user_id)))
    )
    return session.exec(query.limit(1)).first() is not None


def has_releases(
    session: Session,
    team_id: str,
    user_id: str,
    *,
    service: str | None = None,
    channel_id: str | None = None,
    in_channel: bool = False,
) -> bool:
    """Whether the person's feed with this filter has ever had a release (to warn about a
    typo'd service): a release hidden from them counts as none."""
    reader = _reader(user_id, channel_id, in_channel)
    clauses = _filter(team_id, reader, channel_id=channel_id, service=service)
    return session.exec(select(Release.id).where(*clauses).limit(1)).first() is not None


def has_public_releases(
    session: Session, team_id: str, *, channel_id: str | None, service: str | None
) -> bool:
    """Whether a shared link with this scope would ever have shown a release."""
    clauses = _filter(team_id, PUBLIC_READER, channel_id=channel_id, service=service)
    return session.exec(select(Release.id).where(*clauses).limit(1)).first() is not None


def feed_freezes(session: Session, token: CalendarToken) -> list[Freeze]:
    """The freezes a token's feed shows: workspace-wide ones in every feed, a service's in
    that service's feed and in the unfiltered one."""
    query = select(Freeze).where(Freeze.team_id == token.team_id)
    if token.channel_id is not None:
        query = query.where(col(Freeze.service).is_(None))
    elif token.service is not None:
        query = query.where(
            or_(col(Freeze.service).is_(None), col(Freeze.service) == token.service)
        )
    return list(session.exec(query.order_by(col(Freeze.id))))


def freezes_basis(freezes: Iterable[Freeze]) -> str:
    """What the feed's ETag takes of its freezes (added and removed, never edited)."""
    return ",".join(f.uid for f in freezes)


def calendar_name(token: CalendarToken) -> str:
    if token.shared_name is not None:
        return f"Releases: {token.shared_name}"
    if token.service is not None:
        return f"Releases: {token.service}"
    if token.channel_id is not None:
        return f"Releases: channel {token.channel_id}"
    return "Releases"


# --- shared links -----------------------------------------------------------------------
# A workspace's named links for people outside Slack (release managers create them; the
# handlers check who is one). Creating, revoking and (at most every SHARED_USE_EVERY per
# link) using one are audited.

SHARED_USE_EVERY = timedelta(hours=1)
MAX_SHARED_LINKS = 100
_NAME_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def clean_shared_name(name: str) -> str:
    """The name as it will be kept: spaces collapsed; refused if empty, too long, or
    holding control characters."""
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > SHARED_NAME_LIMIT or _NAME_CONTROL.search(cleaned):
        raise InvalidInput(Code.SHARED_NAME_INVALID, limit=SHARED_NAME_LIMIT)
    return cleaned


def _shared_key(name: str) -> str:
    return name.casefold()[:SHARED_NAME_LIMIT]


def shared_links(session: Session, team_id: str) -> list[CalendarToken]:
    """The workspace's live shared links, by name."""
    rows = session.exec(
        select(CalendarToken).where(
            CalendarToken.team_id == team_id,
            col(CalendarToken.shared_key).is_not(None),
            col(CalendarToken.revoked_at).is_(None),
        )
    )
    return sorted(rows, key=lambda t: (t.shared_key or "", t.id or 0))


def _scope_snapshot(token: CalendarToken) -> dict[str, Any]:
    return {
        "name": token.shared_name,
        "channel_id": token.channel_id,
        "service": token.service,
    }


def issue_shared(
    session: Session,
    team_id: str,
    user_id: str,
    name: str,
    *,
    channel_id: str | None = None,
    service: str | None = None,
    now: datetime | None = None,
) -> tuple[CalendarToken, str]:
    """A new shared link (the row, and its secret, returned once); audited."""
    now = now or utcnow()
    name = clean_shared_name(name)
    key = _shared_key(name)
    live = shared_links(session, team_id)
    if any(t.shared_key == key for t in live):
        raise Conflict(Code.SHARED_LINK_EXISTS, name=name)
    if len(live) >= MAX_SHARED_LINKS:
        raise InvalidInput(Code.TOO_MANY_SHARED_LINKS, limit=MAX_SHARED_LINKS)
    raw = bearer_secrets.new_secret()
    token = CalendarToken(
        team_id=team_id,
        user_id=user_id,
        token_hash=bearer_secrets.hash_secret(raw),
        channel_id=channel_id,
        service=service,
        created_at=now,
        shared_name=name,
        shared_key=key,
    )
    bearer_secrets.add_named(session, token, Conflict(Code.SHARED_LINK_EXISTS, name=name))
    audit.record(
        session,
        team_id=team_id,
        release_id=None,
        actor_id=user_id,
        action="calendar.shared_link_created",
        after=_scope_snapshot(token),
        at=now,
    )
    session.flush()
    return token, raw


def revoke_shared(
    session: Session, team_id: str, user_id: str, name: str, *, now: datetime | None = None
) -> CalendarToken:
    """Stop the shared link of that name (any letter case); audited."""
    now = now or utcnow()
    key = _shared_key(" ".join(name.split()))
    token = bearer_secrets.lock_live(
        session,
        CalendarToken,
        col(CalendarToken.team_id) == team_id,
        col(CalendarToken.shared_key) == key,
    )
    if token is None:
        raise NotFound(Code.NO_SHARED_LINK, name=name)
    token.revoked_at = now
    token.shared_key = None  # the name is free again
    session.add(token)
    audit.record(
        session,
        team_id=team_id,
        release_id=None,
        actor_id=user_id,
        action="calendar.shared_link_revoked",
        before=_scope_snapshot(token),
        at=now,
    )
    session.flush()
    return token


def shared_use_due(token: CalendarToken, now: datetime) -> bool:
    """Whether a use of this shared link is to be recorded (cheap: no query)."""
    return token.shared and bearer_secrets.use_due(token.last_used_at, now, SHARED_USE_EVERY)


def record_shared_use(session: Session, token_id: int, now: datetime, via: str) -> bool:
    """Record a use (last_used_at, and an audit event) unless one was recorded less than
    SHARED_USE_EVERY ago, by any process (`bearer_secrets.mark_used` decides). `via`:
    "feed" or "page"."""
    if not bearer_secrets.mark_used(session, CalendarToken, token_id, now, SHARED_USE_EVERY):
        return False
    token = session.get(CalendarToken, token_id)
    assert token is not None
    audit.record(
        session,
        team_id=token.team_id,
        release_id=None,
        actor_id=token.user_id,
        action="calendar.shared_link_used",
        after={**_scope_snapshot(token), "via": via},
        at=now,
    )
    return True
