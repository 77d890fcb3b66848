"""Hand-built release histories, written straight into the database (fast, and exact)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, col

from models.release import outcomes
from models.release.production import ProductionRecord
from models.release.records import Approver, ApproverKind, Release, ReleaseStatus, SignOffState
from tests.support.harness import CHANNEL, OWNER, TEAM

NOW = datetime.now(UTC).replace(microsecond=0)


def add_release(
    session: Session, service: str, version: str, status: ReleaseStatus, **kw: Any
) -> Release:
    """A release proposed at `proposed` that came to `status` at `finished` (its last
    change); each `signed` approver signed that long after the proposal (None: pending)."""
    return add_releases(session, [(service, version, status, kw)])[0]


def add_releases(
    session: Session, rows: Sequence[tuple[str, str, ReleaseStatus, dict[str, Any]]]
) -> list[Release]:
    """Many releases at once, one batch of inserts per table: (service, version, status,
    the keywords of `_release`)."""
    built = [_release(service, version, status, **kw) for service, version, status, kw in rows]
    values = [
        release.model_dump(exclude={"id", "revision"}) | {"revision": 0}
        for release, _signed in built
    ]
    inserted = session.execute(
        insert(Release).returning(col(Release.id), col(Release.uid)), values
    ).all()
    ids = {uid: release_id for release_id, uid in inserted}
    approvers: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    for release, signed in built:
        release.id = ids[release.uid]
        proposed = release.created_at
        for position, (who, after) in enumerate(signed):
            group = who.startswith("S")
            approvers.append(
                {
                    "release_id": release.id,
                    "position": position,
                    "kind": (ApproverKind.USERGROUP if group else ApproverKind.USER).value,
                    "slack_id": who,
                    "handle": "",
                    "state": (
                        SignOffState.PENDING if after is None else SignOffState.APPROVED
                    ).value,
                    "signed_by": None if after is None else ("U_MEMBER" if group else who),
                    "signed_at": None if after is None else proposed + after,
                    "reason": "",
                    "required": False,
                }
            )
        if release.status == ReleaseStatus.RELEASED.value:
            records.append(
                {
                    "team_id": release.team_id,
                    "service": release.service,
                    "version": release.version,
                    "release_id": release.id,
                    "released_by": release.owner_id,
                    "released_at": release.updated_at,
                }
            )
    if approvers:
        session.execute(insert(Approver), approvers)
    if records:
        session.execute(insert(ProductionRecord), records)
    outcomes.touch(session, ids.values())  # Core inserts: their outcome rows at the commit
    return [release for release, _signed in built]


def _release(
    service: str,
    version: str,
    status: ReleaseStatus,
    *,
    proposed: datetime,
    finished: datetime | None = None,
    channel: str = CHANNEL,
    private: bool = False,
    owner: str = OWNER,
    signed: Sequence[tuple[str, timedelta | None]] = (("U_QA", timedelta(hours=1)),),
    permalink: str | None = None,
    team: str = TEAM,
) -> tuple[Release, Sequence[tuple[str, timedelta | None]]]:
    release = Release(
        team_id=team,
        service=service,
        version=version,
        status=status.value,
        target_at=proposed + timedelta(days=1),
        channel_id=channel,
        private=private,
        owner_id=owner,
        created_at=proposed,
        updated_at=finished or proposed,
        permalink=permalink,
    )
    return release, signed
