"""Every audit event, as rows for an export (the command line, the API, `/release audit`).

Rows are read in batches by id (keyset pagination: `id > last ORDER BY id LIMIT n`), each
batch in its own short read transaction, so an export of any size holds one batch in
memory and no transaction open while the rows are written out. The export stops at the
newest event there was when it started: events recorded meanwhile wait for the next one.
Audit events are never changed or deleted, so nothing is missed or repeated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Text, and_, cast, func, or_, select
from sqlmodel import col

from models import durations
from models.audit import AuditEvent
from models.columns import in_utc
from models.db import Database
from models.errors import Code, InvalidInput
from models.release.records import Release
from models.release.visibility import Reader, shown_to

BATCH = 2000  # events per read

# The fields of a row, in the order of the CSV's columns.
FIELDS = (
    "id",
    "time",
    "workspace",
    "actor",
    "action",
    "release",
    "before",
    "after",
    "reason",
    "source",
)


@dataclass(frozen=True)
class ExportQuery:
    """Which events: `team_id` None for every workspace (the command line only)."""

    team_id: str | None = None
    since: datetime | None = None  # from this moment on (included)
    until: datetime | None = None  # up to this moment (excluded)
    service: str | None = None  # only events about this service's releases
    # An API token limited to services: only events about their releases.
    services: tuple[str, ...] | None = None
    # Events about releases this reader may not see are left out (an API token's:
    # `PUBLIC_READER`); None: every release (managers, the command line).
    reader: Reader | None = None

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise InvalidInput(
                Code.AUDIT_RANGE_EMPTY, field="until", since=self.since, until=self.until
            )


class ExportRow(NamedTuple):
    """One event as exported (a tuple: an export makes one for every event)."""

    id: int
    at: datetime  # UTC
    team_id: str
    actor: str  # a Slack user id, or "system" / "cli"
    action: str
    release: str | None  # service@version; None for events about no release
    # The values before and after as the database holds them: JSON text, None for none
    # (SQL NULL and JSON null alike).
    # (Kept as text: an export writes JSON anyway, and parsing each one costs more than
    # everything else a row needs.)
    before_json: str | None
    after_json: str | None
    reason: str
    source: str  # "slack", "api:<token>", "scheduler", "cli"; "" when not recorded

    @property
    def time(self) -> str:
        """ISO 8601, UTC: 2026-11-30T14:05:09.123456Z."""
        return self.at.astimezone(UTC).isoformat().replace("+00:00", "Z")

    @property
    def before(self) -> Any:
        return None if self.before_json is None else json.loads(self.before_json)

    @property
    def after(self) -> Any:
        return None if self.after_json is None else json.loads(self.after_json)


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_moment(text: str, *, now: datetime) -> datetime:
    """`2026-11-01` (00:00 UTC that day), an ISO 8601 time (`2026-11-01T09:00Z`,
    `…+01:00`; without an offset, UTC), or how far back from `now`: `30d`, `12h`."""
    value = text.strip()
    ago = durations.parse(value, units="dh", digits=5)
    if ago is not None:
        return now - ago
    try:
        if _DATE.match(value):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise InvalidInput(Code.AUDIT_DATE_INVALID, value=text[:100]) from None
    if "T" not in value.upper() and " " not in value:
        raise InvalidInput(Code.AUDIT_DATE_INVALID, value=text[:100])
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    utc = in_utc(moment)
    if utc is None:
        raise InvalidInput(Code.DATE_OUT_OF_RANGE, value=text[:100])
    return utc


def _conditions(query: ExportQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if query.team_id is not None:
        where.append(col(AuditEvent.team_id) == query.team_id)
    if query.since is not None:
        where.append(col(AuditEvent.at) >= query.since)
    if query.until is not None:
        where.append(col(AuditEvent.at) < query.until)
    if query.service is not None:
        where.append(col(Release.service) == query.service)
    if query.services is not None:
        where.append(col(Release.service).in_(query.services))
    if query.reader is not None:
        where.append(or_(col(AuditEvent.release_id).is_(None), shown_to(query.reader)))
    return where


def rows(db: Database, query: ExportQuery, *, batch: int = BATCH) -> Iterator[ExportRow]:
    """The events `query` asks for, oldest recorded first."""
    with db.read_session() as session:
        high = session.execute(select(func.max(AuditEvent.id))).scalar()
    if high is None:
        return
    events = AuditEvent.__table__.c  # type: ignore[attr-defined]
    releases = Release.__table__.c  # type: ignore[attr-defined]
    statement = (
        select(
            events.id,
            events.at,
            events.team_id,
            events.actor_id,
            events.action,
            cast(events.before, Text).label("before_json"),
            cast(events.after, Text).label("after_json"),
            events.detail,
            events.source,
            releases.service,
            releases.version,
        )
        .select_from(
            AuditEvent.__table__.outerjoin(  # type: ignore[attr-defined]
                Release.__table__,  # type: ignore[attr-defined]
                events.release_id == releases.id,
            )
        )
        .where(and_(*_conditions(query), events.id <= high))
        .order_by(events.id)
        .limit(batch)
    )
    last = 0
    while True:
        with db.read_session() as session:
            chunk = session.execute(statement.where(events.id > last)).all()
        # Unpacked by position: the cheapest way through 100,000 rows.
        for (
            event_id,
            at,
            team_id,
            actor,
            action,
            before,
            after,
            reason,
            source,
            service,
            version,
        ) in chunk:
            yield ExportRow(
                event_id,
                at,
                team_id,
                actor,
                action,
                None if service is None else f"{service}@{version}",
                None if before is None or before == "null" else before,
                None if after is None or after == "null" else after,
                reason,
                source,
            )
        if len(chunk) < batch:
            return
        last = chunk[-1][0]
        del chunk  # before the next batch is read: one batch in memory at a time
