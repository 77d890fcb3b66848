"""What the HTTP API reads and answers, as typed models (its OpenAPI document is made
from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from handlers.rendering.stats_messages import DEFINITIONS
from models.api.api_reads import Shipped
from models.audit import AuditEvent
from models.columns import in_utc
from models.release.queries import ReleaseView
from models.release.records import Approver, ApproverKind, Release, ReleaseStatus, SignOffState
from models.release.service_records import PastRelease
from models.release.statistics import Spread, Statistics

SlackTarget = Annotated[str, StringConstraints(pattern=r"^[UWS][A-Z0-9_]{1,31}$")]
ChannelId = Annotated[str, StringConstraints(pattern=r"^[CGD][A-Z0-9_]{1,31}$")]


class ApiError(BaseModel):
    """Every refusal: a stable code, and what went wrong in words."""

    error: str = Field(description="a stable code, e.g. token_scope, duplicate, when_past")
    message: str = Field(description="what went wrong, in words")
    field: str | None = Field(default=None, description="the input it is about, if one")


class Stage(BaseModel):
    current_percentage: int | None = Field(
        description="the percentage reached so far; null before the rollout starts or "
        "for a big-bang release"
    )
    stages: list[int] = Field(description="a phased rollout's percentages; [] for big-bang")


class SignOff(BaseModel):
    who: str = Field(description="the approver: a Slack user (U…) or user group (S…) id")
    kind: ApproverKind
    state: SignOffState
    signed_by: str | None = Field(description="who signed (for a group: which member)")
    at: datetime | None = Field(description="when it was signed, ISO 8601 UTC")

    @classmethod
    def of(cls, approver: Approver) -> SignOff:
        return cls(
            who=approver.slack_id,
            kind=ApproverKind(approver.kind),
            state=approver.sign_off,
            signed_by=approver.signed_by,
            at=approver.signed_at,
        )


class Checklist(BaseModel):
    done: int
    total: int


class HistoryEvent(BaseModel):
    at: datetime
    actor: str = Field(description="a Slack user id, or cli")
    action: str
    detail: str


class ReleaseOut(BaseModel):
    ref: str = Field(description="service@version")
    id: str = Field(description="the release's uid: random, never reused")
    service: str
    version: str
    status: ReleaseStatus
    status_label: str
    stage: Stage
    target_at: datetime = Field(description="when it is planned, ISO 8601 UTC")
    owner: str = Field(description="the Slack user who owns it")
    channel: str
    url: str | None = Field(description="the permalink of its card in Slack, once posted")
    pipeline_url: str | None
    commit_sha: str | None
    digest: str | None = Field(description="the artifact it was approved as, sha256:…")
    notes: str
    sign_offs: list[SignOff]
    checklist: Checklist
    history: list[HistoryEvent]

    @classmethod
    def of(cls, view: ReleaseView, events: list[AuditEvent]) -> ReleaseOut:
        release = view.release
        assert release.id is not None
        return cls(
            ref=release.ref,
            id=release.uid,
            service=release.service,
            version=release.version,
            status=release.state,
            status_label=release.state.label,
            stage=stage_of(release),
            target_at=release.target_at,
            owner=release.owner_id,
            channel=release.channel_id,
            url=release.permalink,
            pipeline_url=release.pipeline_url,
            commit_sha=release.commit_sha,
            digest=release.digest,
            notes=release.notes,
            sign_offs=[SignOff.of(a) for a in view.approvers],
            checklist=Checklist(
                done=sum(1 for item in view.checklist if item.checked), total=len(view.checklist)
            ),
            history=[
                HistoryEvent(at=e.at, actor=e.actor_id, action=e.action, detail=e.detail)
                for e in events
            ],
        )


def stage_of(release: Release) -> Stage:
    return Stage(current_percentage=release.current_percentage, stages=list(release.stages))


class ReleaseBrief(BaseModel):
    ref: str
    id: str
    version: str
    status: ReleaseStatus
    stage: Stage
    target_at: datetime
    url: str | None

    @classmethod
    def of(cls, release: Release) -> ReleaseBrief:
        return cls(
            ref=release.ref,
            id=release.uid,
            version=release.version,
            status=release.state,
            stage=stage_of(release),
            target_at=release.target_at,
            url=release.permalink,
        )


class Released(BaseModel):
    version: str
    ref: str
    id: str = Field(description="the uid of the release that took it to production")
    released_at: datetime

    @classmethod
    def of(cls, shipped: Shipped) -> Released:
        return cls(
            version=shipped.record.version,
            ref=shipped.release.ref,
            id=shipped.release.uid,
            released_at=shipped.record.released_at,
        )


class ServiceOut(BaseModel):
    service: str
    in_production: Released | None = Field(
        description="the version in production and when it got there; null if none yet"
    )
    in_flight: list[ReleaseBrief] = Field(
        description="releases given the go and not finished (rolling out, paused)"
    )
    released: list[Released] = Field(description="the last versions released, newest first")


class HistoryRelease(BaseModel):
    """A release that came to an outcome."""

    ref: str
    id: str = Field(description="the release's uid")
    version: str
    status: ReleaseStatus = Field(description="released, rolled_back, no_go or cancelled")
    at: datetime = Field(description="when it came to that outcome, ISO 8601 UTC")
    target_at: datetime = Field(description="when it was planned, ISO 8601 UTC")
    owner: str
    commit_sha: str | None
    digest: str | None = Field(description="the artifact it was approved as, sha256:…")
    sign_offs: list[SignOff]
    url: str | None = Field(description="the permalink of its card (its thread) in Slack")

    @classmethod
    def of(cls, outcome: PastRelease) -> HistoryRelease:
        release = outcome.release
        return cls(
            ref=release.ref,
            id=release.uid,
            version=release.version,
            status=release.state,
            at=outcome.at,
            target_at=release.target_at,
            owner=release.owner_id,
            commit_sha=release.commit_sha,
            digest=release.digest,
            sign_offs=[SignOff.of(a) for a in outcome.approvers],
            url=release.permalink,
        )


class ServiceHistoryOut(BaseModel):
    service: str
    in_production: Released | None = Field(
        description="the version in production and when it got there; null if none yet"
    )
    in_flight: list[ReleaseBrief] = Field(
        description="releases given the go and not finished (the first 10)"
    )
    releases: list[HistoryRelease] = Field(
        description="releases that came to an outcome, newest proposed first"
    )
    next: str | None = Field(
        description="pass as `before` for the next (older) page; null on the last page"
    )


def _in_utc(value: datetime) -> datetime:
    utc = in_utc(value)
    if utc is None:
        raise ValueError("out of range: a time must fall within the years 1 to 9999, in UTC")
    return utc


# A time a pipeline sends: ISO 8601 with an offset, read as UTC (422 when UTC can't hold it).
Moment = Annotated[AwareDatetime, AfterValidator(_in_utc)]


class ProposeIn(BaseModel):
    """A release proposed by a pipeline: as `/release propose`, owned by the token's owner."""

    model_config = ConfigDict(extra="forbid")

    service: str = Field(max_length=200, examples=["payments"])
    version: str = Field(max_length=200, examples=["2.4.0"])
    target_at: Moment | None = Field(
        default=None, description="when, ISO 8601 with an offset; default: an hour from now"
    )
    approvers: list[SlackTarget] = Field(
        default_factory=list,
        max_length=50,
        description="Slack user (U…) or user group (S…) ids who sign off",
    )
    channel: ChannelId = Field(description="the Slack channel id where its card goes")
    notes: str = Field(default="", max_length=4000)
    commit_sha: str | None = Field(default=None, max_length=100)
    digest: str | None = Field(
        default=None,
        max_length=200,
        examples=["sha256:" + "0" * 64],
        description="the artifact to deploy (a container image's digest, say): the gate "
        "and the deployment are checked against it; changing it clears the sign-offs",
    )
    committed_at: Moment | None = Field(
        default=None,
        description="when the commit was made, ISO 8601 with an offset: the start of the "
        "commit-to-released lead time",
    )
    pipeline_url: str | None = Field(default=None, max_length=1000)
    fix: bool = Field(default=False, description="the release fixes an earlier one")
    fixes: str | None = Field(
        default=None,
        max_length=200,
        examples=["payments@2.3.0"],
        description="the release it fixes (service@version, or a version of the same "
        "service); implies fix",
    )


class ProposeOut(BaseModel):
    ref: str
    id: str = Field(description="the release's uid")
    status: ReleaseStatus
    url: str | None = Field(description="the permalink of its card, when Slack has it")
    warnings: list[str] = Field(
        default_factory=list,
        description="its window's conflicts in the calendar (other releases, release "
        "hours): warnings, the release is proposed all the same",
    )


class GateReason(BaseModel):
    code: str = Field(
        description="NO_RELEASE, NOT_APPROVED, CHECKLIST_OPEN, NOT_GO, FREEZE_ACTIVE, PAUSED, "
        "NO_GO, CANCELLED, ROLLED_BACK, ALREADY_RELEASED, DIGEST_MISMATCH or COMMIT_MISMATCH"
    )
    message: str


class GateOut(BaseModel):
    decision: Literal["allow", "deny", "pending"] = Field(
        description="allow: deploy now; deny: never (stop the pipeline); pending: not yet"
    )
    reasons: list[GateReason] = Field(description="why not (empty when allowed)")
    release: ReleaseOut | None = Field(description="the release, as GET /releases answers it")


class DeploymentIn(BaseModel):
    """What the pipeline reports about its deployment of a release."""

    model_config = ConfigDict(extra="forbid")

    state: Literal["started", "succeeded", "failed"]
    stage: int | None = Field(
        default=None, ge=1, le=100, description="the percentage this deployment is for"
    )
    environment: str = Field(default="production", max_length=100)
    url: str | None = Field(default=None, max_length=1000, description="the job's link")
    description: str = Field(default="", max_length=500)


class DeploymentOut(BaseModel):
    ref: str
    id: str = Field(description="the release's uid")
    state: Literal["started", "succeeded", "failed"] = Field(description="as reported")
    status: ReleaseStatus = Field(description="the release's status after the report")
    stage: Stage


class AuditRecord(BaseModel):
    """One audit event, as a line of `GET /audit?format=jsonl` (and a CSV row: the same
    fields as columns, before/after as JSON text)."""

    id: int = Field(description="the event's id: events are exported in this order")
    time: str = Field(description="when it happened, ISO 8601 in UTC (…Z)")
    workspace: str = Field(description="the Slack workspace (team) id, T…")
    actor: str = Field(description="who did it: a Slack user id, or system or cli")
    action: str = Field(description="what was done, e.g. proposed, approved, policy_set")
    release: str | None = Field(description="service@version; null for events about no release")
    before: dict[str, Any] | None = Field(description="the values before, where it changed any")
    after: dict[str, Any] | None = Field(description="the values after, where it changed any")
    reason: str = Field(description="the reason or detail given ('' for none)")
    source: str = Field(
        description="where it came from: slack, api:<token name>, scheduler, cli; '' for "
        "events recorded before sources were kept"
    )


# --- statistics (GET /stats) -------------------------------------------------------------


class Durations(BaseModel):
    count: int = Field(description="how many were measured")
    median_seconds: float | None
    p90_seconds: float | None
    definition: str

    @classmethod
    def of(cls, spread: Spread, key: str) -> Durations:
        return cls(
            count=spread.count,
            median_seconds=_seconds(spread.median),
            p90_seconds=_seconds(spread.p90),
            definition=DEFINITIONS[key],
        )


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class OutcomeCounts(BaseModel):
    released: int
    rolled_back: int
    no_go: int
    cancelled: int


class DeploymentFrequency(BaseModel):
    per_week: float
    released: int
    definition: str


class ChangeFailureRate(BaseModel):
    rate: float | None = Field(description="failed / deployments, 0 to 1; null: none deployed")
    failed: int
    deployments: int = Field(description="released or rolled back")
    definition: str


class TimeToRestore(Durations):
    unrestored: int = Field(description="rollbacks with no successful release since")


class SlowestApprover(BaseModel):
    slack_id: str
    kind: ApproverKind
    handle: str = Field(description="a user group's handle (empty for a person)")
    count: int
    median_seconds: float | None


class SignOffWait(Durations):
    slowest_approver: SlowestApprover | None


class OnTime(BaseModel):
    rate: float | None = Field(description="on time / released, 0 to 1; null: none released")
    on_time: int
    released: int
    definition: str


class FreezeOverrides(BaseModel):
    count: int
    definition: str


class WeekOut(BaseModel):
    start: datetime = Field(description="Monday 00:00 UTC")
    released: int
    rolled_back: int
    no_go: int
    cancelled: int
    failed: int
    change_failure_rate: float | None


class StatsOut(BaseModel):
    """Release statistics over the last `days` days, of public releases only."""

    service: str | None = Field(description="null: every service the token may see")
    days: int
    since: datetime
    until: datetime
    outcomes: OutcomeCounts
    deployment_frequency: DeploymentFrequency
    lead_time: Durations = Field(description="proposal to released")
    commit_lead_time: Durations = Field(description="commit to released")
    change_failure_rate: ChangeFailureRate
    time_to_restore: TimeToRestore
    sign_off_wait: SignOffWait
    on_time: OnTime
    freeze_overrides: FreezeOverrides
    weeks: list[WeekOut] = Field(description="releases per calendar week, oldest first")

    @classmethod
    def of(cls, stats: Statistics, days: int) -> StatsOut:
        slowest = stats.slowest_approver
        return cls(
            service=stats.scope.service,
            days=days,
            since=stats.scope.since,
            until=stats.scope.until,
            outcomes=OutcomeCounts(
                released=stats.released,
                rolled_back=stats.rolled_back,
                no_go=stats.no_go,
                cancelled=stats.cancelled,
            ),
            deployment_frequency=DeploymentFrequency(
                per_week=round(stats.per_week, 3),
                released=stats.released,
                definition=DEFINITIONS["deployment_frequency"],
            ),
            lead_time=Durations.of(stats.lead_time, "lead_time"),
            commit_lead_time=Durations.of(stats.commit_lead_time, "commit_lead_time"),
            change_failure_rate=ChangeFailureRate(
                rate=stats.change_failure_rate,
                failed=stats.failed,
                deployments=stats.deployments,
                definition=DEFINITIONS["change_failure_rate"],
            ),
            time_to_restore=TimeToRestore(
                **Durations.of(stats.restore, "time_to_restore").model_dump(),
                unrestored=stats.unrestored,
            ),
            sign_off_wait=SignOffWait(
                **Durations.of(stats.sign_off_wait, "sign_off_wait").model_dump(),
                slowest_approver=SlowestApprover(
                    slack_id=slowest.slack_id,
                    kind=ApproverKind(slowest.kind),
                    handle=slowest.handle,
                    count=slowest.wait.count,
                    median_seconds=_seconds(slowest.wait.median),
                )
                if slowest
                else None,
            ),
            on_time=OnTime(
                rate=stats.on_time_rate,
                on_time=stats.on_time,
                released=stats.released,
                definition=DEFINITIONS["on_time"],
            ),
            freeze_overrides=FreezeOverrides(
                count=stats.freeze_overrides, definition=DEFINITIONS["freeze_overrides"]
            ),
            weeks=[
                WeekOut(
                    start=w.start,
                    released=w.released,
                    rolled_back=w.rolled_back,
                    no_go=w.no_go,
                    cancelled=w.cancelled,
                    failed=w.failed,
                    change_failure_rate=w.change_failure_rate,
                )
                for w in stats.weeks
            ],
        )
