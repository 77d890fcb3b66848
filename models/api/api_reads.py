"""What the HTTP API reads: a workspace's releases that are not private.

A token is nobody in Slack: no channel shows it anything and it approves nothing, so it
sees only releases everyone in the workspace may see (`visibility.PUBLIC_READER`; one
release is found by name with `queries.by_name`). A private release reads exactly like a
missing one, and a private release that reached production is not counted as the
service's version there either (that would say it exists).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from models.release import rules
from models.release.production import ProductionRecord
from models.release.records import Release
from models.release.rules import Activity
from models.release.visibility import PUBLIC_READER, shown_to

MAX_HISTORY = 50


@dataclass(frozen=True)
class Shipped:
    """A version that reached production: when, and the release that took it there."""

    record: ProductionRecord
    release: Release


@dataclass(frozen=True)
class ServiceSummary:
    service: str
    in_production: Shipped | None
    in_flight: list[Release]
    released: list[Shipped]


def service_summary(session: Session, team_id: str, service: str, *, limit: int) -> ServiceSummary:
    """The version in production, the releases in flight and the last `limit` versions
    that reached production, newest first; public releases only."""
    service = service.strip().lower()
    rows = list(
        session.exec(
            select(ProductionRecord, Release)
            .join(Release, col(Release.id) == col(ProductionRecord.release_id))
            .where(
                ProductionRecord.team_id == team_id,
                ProductionRecord.service == service,
                shown_to(PUBLIC_READER),
            )
            .order_by(col(ProductionRecord.released_at).desc(), col(ProductionRecord.id).desc())
            .limit(min(limit, MAX_HISTORY))
        )
    )
    in_flight = list(
        session.exec(
            select(Release)
            .where(
                Release.team_id == team_id,
                Release.service == service,
                shown_to(PUBLIC_READER),
                col(Release.status).in_(rules.states(Activity.IN_FLIGHT)),
            )
            .order_by(col(Release.target_at), col(Release.id))
        )
    )
    released = [Shipped(record, release) for record, release in rows]
    return ServiceSummary(
        service=service,
        in_production=released[0] if released else None,
        in_flight=in_flight,
        released=released,
    )
