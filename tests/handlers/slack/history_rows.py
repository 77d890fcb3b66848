"""Hand-built release histories, written straight into the database (fast, and exact)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from models.release.production import ProductionRecord
from models.release.records import Approver, ApproverKind, Release, ReleaseStatus, SignOffState
from tests.support.harness import CHANNEL, OWNER, TEAM

NOW = datetime.now(UTC).replace(microsecond=0)


def add_release(
    session: Session,
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
) -> Release:
    """A release proposed at `proposed` that came to `status` at `finished` (its last
    change); each `signed` approver signed that long after the proposal (None: pending)."""
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
    session.add(release)
    session.flush()
    assert release.id is not None
    for position, (who, after) in enumerate(signed):
        group = who.startswith("S")
        session.add(
            Approver(
                release_id=release.id,
                position=position,
                kind=(ApproverKind.USERGROUP if group else ApproverKind.USER).value,
                slack_id=who,
                state=(SignOffState.PENDING if after is None else SignOffState.APPROVED).value,
                signed_by=None if after is None else ("U_MEMBER" if group else who),
                signed_at=None if after is None else proposed + after,
            )
        )
    if status == ReleaseStatus.RELEASED:
        session.add(
            ProductionRecord(
                team_id=team,
                service=service,
                version=version,
                release_id=release.id,
                released_by=owner,
                released_at=finished or proposed,
            )
        )
    return release
