"""Release histories written straight into the database, as the lifecycle leaves them,
for tests and benchmarks of what is computed over many releases."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlmodel import Session

from models.audit import AuditEvent
from models.freezes import FreezeOverride
from models.release.production import ProductionRecord
from models.release.records import Approver, Release, ReleaseStatus


class History:
    """Writes releases as the lifecycle leaves them: a production record for a released
    one, an audit event for the others' outcome."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def release(
        self,
        ref: str,
        *,
        proposed: datetime,
        outcome: ReleaseStatus,
        ended: datetime | Sequence[datetime],
        target: datetime | None = None,
        window: int = 60,
        channel: str = "C1",
        private: bool = False,
        is_fix: bool = False,
        fixes: Release | None = None,
        committed: datetime | None = None,
        sign_offs: Sequence[tuple[str, str, float | None]] = (),
        team: str = "T1",
    ) -> Release:
        service, _, version = ref.partition("@")
        ends = [ended] if isinstance(ended, datetime) else list(ended)
        release = Release(
            team_id=team,
            service=service,
            version=version,
            target_at=target or proposed + timedelta(days=1),
            window_minutes=window,
            channel_id=channel,
            private=private,
            owner_id="U_OWNER",
            status=outcome.value,
            is_fix=is_fix or fixes is not None,
            fixes_release_id=fixes.id if fixes else None,
            committed_at=committed,
            created_at=proposed,
            updated_at=ends[-1],
        )
        self.session.add(release)
        self.session.flush()
        assert release.id is not None
        for position, (slack_id, handle, hours) in enumerate(sign_offs):
            self.session.add(
                Approver(
                    release_id=release.id,
                    position=position,
                    kind="usergroup" if slack_id.startswith("S") else "user",
                    slack_id=slack_id,
                    handle=handle,
                    state="pending" if hours is None else "approved",
                    signed_by=None if hours is None else "U_SIGNER",
                    signed_at=None if hours is None else proposed + timedelta(hours=hours),
                )
            )
        for end in ends:
            if outcome == ReleaseStatus.RELEASED:
                self.session.add(
                    ProductionRecord(
                        team_id=team,
                        service=service,
                        version=version,
                        release_id=release.id,
                        released_by="U_OWNER",
                        released_at=end,
                    )
                )
            self.session.add(
                AuditEvent(
                    team_id=team,
                    release_id=release.id,
                    actor_id="U_OWNER",
                    action=outcome.value,
                    at=end,
                )
            )
        self.session.flush()
        return release

    def override(self, release: Release, when: datetime) -> None:
        assert release.id is not None
        self.session.add(
            FreezeOverride(
                release_id=release.id,
                freeze_uid="f1",
                freeze_name="Black Friday",
                occurrence_start=when - timedelta(hours=1),
                occurrence_end=when + timedelta(hours=1),
                by="U_PM",
                reason="hotfix",
                at=when,
            )
        )
        self.session.flush()
