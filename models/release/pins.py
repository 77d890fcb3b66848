"""What was approved under a name: a version's commit, digest, sign-offs and production
time, and which release an artifact digest belongs to. Visibility as for every read
(`visibility.shown_to`: an API token reads public releases only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func
from sqlmodel import Session, col, select

from models.errors import Code, InvalidInput, NotFound
from models.fields import FIELD_DIGEST
from models.release.production import ProductionRecord
from models.release.proposing import clean_digest, clean_service, clean_version
from models.release.queries import approvers_of
from models.release.records import Approver, Release, ReleaseStatus, SignOffState
from models.release.visibility import Reader, shown_to

MAX_MATCHES = 5


@dataclass(frozen=True)
class Approved:
    """A release with what it was approved as: who signed off (approved sign-offs only)
    and when it first reached production (None: not yet, or never)."""

    release: Release
    sign_offs: list[Approver]
    in_production_at: datetime | None


def _first_production(session: Session, release_id: int) -> datetime | None:
    return session.exec(
        select(func.min(ProductionRecord.released_at)).where(
            ProductionRecord.release_id == release_id
        )
    ).one()


def _approved(session: Session, release: Release) -> Approved:
    assert release.id is not None
    signed = [a for a in approvers_of(session, release.id) if a.sign_off == SignOffState.APPROVED]
    return Approved(release, signed, _first_production(session, release.id))


def _most_telling_first() -> tuple[ColumnElement[Any], ...]:
    """Releases that reached production, then those not cancelled, then cancelled ones;
    newest first within each."""
    went_out = (
        select(ProductionRecord.id).where(col(ProductionRecord.release_id) == col(Release.id))
    ).exists()
    return (
        case((went_out, 0), (col(Release.status) != ReleaseStatus.CANCELLED.value, 1), else_=2),
        col(Release.created_at).desc(),
        col(Release.id).desc(),
    )


def version(session: Session, team_id: str, service: str, version: str, reader: Reader) -> Approved:
    """What was released under `service@version`: the release that took it to production,
    else the one of that name not cancelled, else the last cancelled one."""
    service, version = clean_service(service), clean_version(version)
    found = session.exec(
        select(Release)
        .where(
            Release.team_id == team_id,
            Release.service == service,
            Release.version == version,
            shown_to(reader),
        )
        .order_by(*_most_telling_first())
        .limit(1)
    ).first()
    if found is None:
        raise NotFound(Code.NO_RELEASE, ref=f"{service}@{version}")
    return _approved(session, found)


def by_digest(
    session: Session, team_id: str, service: str, digest: str, reader: Reader
) -> list[Approved]:
    """The releases of `service` approved as this artifact (most telling first: released,
    then open, then cancelled), at most MAX_MATCHES; empty when none is."""
    service = clean_service(service)
    cleaned = clean_digest(digest)
    if cleaned is None:
        raise InvalidInput(Code.DIGEST_INVALID, field=FIELD_DIGEST, value=digest)
    rows = session.exec(
        select(Release)
        .where(
            Release.team_id == team_id,
            Release.service == service,
            Release.digest == cleaned,
            shown_to(reader),
        )
        .order_by(*_most_telling_first())
        .limit(MAX_MATCHES)
    )
    return [_approved(session, release) for release in rows]
