"""Release tables: a release, its approvers (sign-offs) and its checklist."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    event,
    text,
)
from sqlmodel import Field, SQLModel

from models.columns import UTCDateTime, utcnow


class ReleaseStatus(StrEnum):
    PROPOSED = "proposed"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    GO = "go"
    ROLLING_OUT = "rolling_out"
    PAUSED = "paused"
    RELEASED = "released"
    NO_GO = "no_go"
    ROLLED_BACK = "rolled_back"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def is_finished(self) -> bool:
        """Released, rolled back or cancelled: no longer open (models.release.rules)."""
        from models.release.rules import Activity, allows

        return not allows(Activity.OPEN, self)

    @property
    def is_in_flight(self) -> bool:
        """The go is given and it is not finished (models.release.rules)."""
        from models.release.rules import Activity, allows

        return allows(Activity.IN_FLIGHT, self)


_LABELS = {
    ReleaseStatus.PROPOSED: "Proposed",
    ReleaseStatus.CHANGES_REQUESTED: "Changes requested",
    ReleaseStatus.APPROVED: "Approved",
    ReleaseStatus.GO: "Go",
    ReleaseStatus.ROLLING_OUT: "Rolling out",
    ReleaseStatus.PAUSED: "Rollout paused",
    ReleaseStatus.RELEASED: "Released",
    ReleaseStatus.NO_GO: "No-go",
    ReleaseStatus.ROLLED_BACK: "Rolled back",
    ReleaseStatus.CANCELLED: "Cancelled",
}


def new_uid() -> str:
    """96 random bits, URL- and id-safe (letters, digits, - and _)."""
    return secrets.token_urlsafe(12)


class ApproverKind(StrEnum):
    USER = "user"
    USERGROUP = "usergroup"


class SignOffState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Release(SQLModel, table=True):
    __tablename__ = "release"
    __table_args__ = (
        # `<service>@<version>` names one release among those not cancelled.
        Index(
            "uq_release_ref_active",
            "team_id",
            "service",
            "version",
            unique=True,
            sqlite_where=text("status != 'cancelled'"),
            postgresql_where=text("status != 'cancelled'"),
        ),
        Index("ix_release_team_target", "team_id", "target_at"),
        # Statistics read the releases whose last change (their outcome) is recent.
        Index("ix_release_team_updated", "team_id", "updated_at"),
        UniqueConstraint("uid", name="uq_release_uid"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The name buttons, forms and feeds use: random and never reused, so a message left
    # behind by a release that is gone can never act on another (ids can be reused).
    uid: str = Field(default_factory=lambda: new_uid(), max_length=32)
    team_id: str = Field(max_length=32)
    service: str = Field(max_length=64)
    version: str = Field(max_length=64)
    target_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    window_minutes: int = Field(default=60)
    channel_id: str = Field(max_length=32)
    # Proposed in a private channel or a DM: shown only to the people involved and in its
    # own channel, never in workspace-wide lists or feeds.
    private: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    owner_id: str = Field(max_length=32)
    status: str = Field(default=ReleaseStatus.PROPOSED.value, max_length=32)
    # Empty for a big-bang rollout, else ascending percentages such as "10,50,100".
    rollout_stages: str = Field(default="", max_length=200)
    # Index into the stages reached so far (None until the rollout starts).
    stage_index: int | None = Field(default=None)
    notes: str = Field(default="", max_length=2000)
    # Why and by whom the release last reached a decisive state (cancel, reject, no-go...).
    status_reason: str = Field(default="", max_length=2000)
    status_by: str | None = Field(default=None, max_length=32)
    # The release card in the channel; its thread is the release's thread.
    message_ts: str | None = Field(default=None, max_length=32)
    permalink: str | None = Field(default=None, max_length=500)
    checklist_ts: str | None = Field(default=None, max_length=32)
    announcement_channel: str | None = Field(default=None, max_length=32)
    announcement_ts: str | None = Field(default=None, max_length=32)
    # The Slack request (trigger id) that created it: a retried request finds it again.
    request_key: str | None = Field(
        default=None, sa_column=Column(String(100), unique=True, nullable=True)
    )
    # The policy it was proposed under (models/policy.py), kept so that a policy change
    # never rewrites a release in flight: the quorum rule (models/release/quorum.py),
    # whether the owner may sign, reminder offsets in minutes ("1440,60"; None: the
    # settings', for releases from before policies), where it is announced (None: the
    # settings' channel, else its own) and where overrides and policy breaks go.
    quorum: str = Field(default="all", max_length=16, sa_column_kwargs={"server_default": "all"})
    owner_can_approve: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    reminder_minutes: str | None = Field(default=None, max_length=200)
    announce_to: str | None = Field(default=None, max_length=32)
    escalation_channel: str | None = Field(default=None, max_length=32)
    # Where it was built, when a pipeline proposed it (through the API): shown on the card.
    pipeline_url: str | None = Field(default=None, max_length=500)
    commit_sha: str | None = Field(default=None, max_length=40)
    # What was built, `sha256:` and 64 hex digits (a container image's digest, say): the
    # gate and the deployment check what deploys against it; changing it clears sign-offs.
    digest: str | None = Field(default=None, max_length=71)
    # When that commit was made, if the pipeline said: the start of "commit to released".
    committed_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    # A fix (`/release propose … fix`, or `fix: true` in the API): a release of the same
    # service released shortly before it counts as failed (models/release/statistics.py);
    # `fixes_release_id` names the release it fixes, when the proposer said which.
    is_fix: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    fixes_release_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("release.id"),
            nullable=True,
        ),
    )
    # Incremented whenever the scheduled time changes (iCalendar SEQUENCE).
    sequence: int = Field(default=0)
    # Incremented by the database on every update of the row (see below): a sum of these
    # changes with any committed change, whatever order concurrent changes commit in.
    revision: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )

    @property
    def ref(self) -> str:
        return f"{self.service}@{self.version}"

    @property
    def state(self) -> ReleaseStatus:
        return ReleaseStatus(self.status)

    @property
    def stages(self) -> tuple[int, ...]:
        return tuple(int(p) for p in self.rollout_stages.split(",") if p)

    @property
    def is_phased(self) -> bool:
        return bool(self.rollout_stages)

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)

    @property
    def reminder_offsets(self) -> tuple[timedelta, ...] | None:
        """The reminder offsets it was proposed with; None: the settings' (older releases)."""
        if self.reminder_minutes is None:
            return None
        return tuple(timedelta(minutes=int(m)) for m in self.reminder_minutes.split(",") if m)

    @property
    def current_percentage(self) -> int | None:
        if self.stage_index is None or not self.stages:
            return None
        return self.stages[self.stage_index]


class Approver(SQLModel, table=True):
    """One required sign-off: a person, or a user group any member of which may sign."""

    __tablename__ = "approver"
    __table_args__ = (
        UniqueConstraint("release_id", "slack_id", name="uq_approver_release_slack"),
        # Statistics: a release's approved sign-offs and their approvers, from the index alone.
        Index("ix_approver_release_signed", "release_id", "state", "signed_at", "kind", "slack_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="release.id", index=True, ondelete="CASCADE")
    position: int = Field(default=0)
    kind: str = Field(default=ApproverKind.USER.value, max_length=16)
    slack_id: str = Field(max_length=32)
    handle: str = Field(default="", max_length=100)
    state: str = Field(default=SignOffState.PENDING.value, max_length=16)
    signed_by: str | None = Field(default=None, max_length=32)
    signed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    reason: str = Field(default="", max_length=2000)
    # Named by the policy the release was proposed under: nobody removes it from the release.
    required: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})

    @property
    def is_group(self) -> bool:
        return self.kind == ApproverKind.USERGROUP.value

    @property
    def sign_off(self) -> SignOffState:
        return SignOffState(self.state)


class ChecklistItem(SQLModel, table=True):
    __tablename__ = "checklist_item"
    __table_args__ = (UniqueConstraint("release_id", "position", name="uq_checklist_position"),)

    id: int | None = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="release.id", index=True, ondelete="CASCADE")
    position: int
    text: str = Field(max_length=150)
    checked_by: str | None = Field(default=None, max_length=32)
    checked_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )

    @property
    def checked(self) -> bool:
        return self.checked_at is not None


@event.listens_for(Release, "before_update")
def _bump_revision(_mapper: object, _connection: object, release: Release) -> None:
    # SET revision = revision + 1, computed by the database: atomic even without a lock.
    release.revision = Release.revision + 1  # type: ignore[assignment]
