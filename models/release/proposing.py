"""Proposing a release: validating what was typed, refusing duplicates, writing it (under
the policy: models/proposals.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from models import audit
from models.columns import utcnow
from models.errors import Code, Conflict, InvalidInput, NotFound
from models.fields import (
    FIELD_APPROVERS,
    FIELD_COMMIT,
    FIELD_COMMITTED_AT,
    FIELD_DIGEST,
    FIELD_FIXES,
    FIELD_NOTES,
    FIELD_PIPELINE_URL,
    FIELD_REASON,
    FIELD_ROLLOUT,
    FIELD_SERVICE,
    FIELD_VERSION,
    FIELD_WHEN,
)
from models.release.queries import by_name
from models.release.records import (
    Approver,
    ApproverKind,
    ChecklistItem,
    Release,
    ReleaseStatus,
)
from models.release.visibility import Reader, may_see

SERVICE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
MAX_APPROVERS = 20
MAX_NOTES = 2000
MAX_REASON = 500
MAX_STAGES = 10
MAX_AHEAD = timedelta(days=366 * 2)
MAX_PIPELINE_URL = 500
# An http(s) URL without spaces or the characters that end a Slack link (< > |).
PIPELINE_URL_PATTERN = re.compile(r"^https?://[^\s<>|]+$", re.IGNORECASE)
COMMIT_PATTERN = re.compile(r"^[0-9a-f]{7,40}$")
DIGEST_PATTERN = re.compile(r"^sha256:[0-9a-f]{64}$")
# How far ahead of our clock a pipeline's commit time may be (its clock may be fast).
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class ApproverSpec:
    slack_id: str
    kind: ApproverKind = ApproverKind.USER
    handle: str = ""


@dataclass(frozen=True)
class Proposal:
    team_id: str
    owner_id: str
    channel_id: str
    service: str
    version: str
    target_at: datetime
    approvers: Sequence[ApproverSpec] = ()
    stages: Sequence[int] = ()
    notes: str = ""
    checklist: Sequence[str] = ()
    window_minutes: int = 60
    request_key: str | None = None
    private: bool = False
    # From the policy in force (models/proposals.py `under_policy`), kept on the release.
    required_approvers: Sequence[ApproverSpec] = ()  # join `approvers`, never removed
    quorum: str = "all"
    owner_can_approve: bool = False
    reminders: Sequence[timedelta] | None = None  # None: the settings'
    announce_to: str | None = None
    escalation_channel: str | None = None
    # Proposed by a pipeline (through the API): where it was built, and which commit.
    pipeline_url: str | None = None
    commit_sha: str | None = None
    committed_at: datetime | None = None
    digest: str | None = None  # the artifact built, `sha256:…`
    # A fix: a release of the same service released shortly before it counts as failed
    # (models/release/statistics.py); `fixes` names the one it fixes (`service@version`,
    # or a version of the same service), when the proposer knows.
    fix: bool = False
    fixes: str | None = None
    # Who looks up what it names by name (`fixes`, a duplicate): None for its owner in its
    # channel; a pipeline's API token reads public releases only (visibility.PUBLIC_READER).
    reader: Reader | None = None
    # How it was proposed, when not by a person in Slack (the audit event's detail).
    via: str = ""


def snapshot(release: Release) -> dict[str, Any]:
    """The fields an audit event records before and after a change."""
    return {
        "status": release.status,
        "service": release.service,
        "version": release.version,
        "target_at": release.target_at.isoformat(),
        "rollout_stages": release.rollout_stages,
        "stage_index": release.stage_index,
        "notes": release.notes,
        "commit_sha": release.commit_sha,
        "digest": release.digest,
    }


def clean_service(service: str) -> str:
    service = service.strip().lower()
    if not SERVICE_PATTERN.match(service):
        raise InvalidInput(Code.SERVICE_INVALID, field=FIELD_SERVICE, value=service)
    return service


def clean_version(version: str) -> str:
    version = version.strip()
    if not VERSION_PATTERN.match(version):
        raise InvalidInput(Code.VERSION_INVALID, field=FIELD_VERSION, value=version)
    return version


def clean_target(target_at: datetime, now: datetime) -> datetime:
    if target_at.tzinfo is None:
        raise InvalidInput(Code.WHEN_NO_ZONE, field=FIELD_WHEN)
    if target_at <= now:
        raise InvalidInput(Code.WHEN_PAST, field=FIELD_WHEN)
    if target_at - now > MAX_AHEAD:
        raise InvalidInput(Code.WHEN_TOO_FAR, field=FIELD_WHEN)
    return target_at


def clean_stages(stages: Sequence[int]) -> str:
    if not stages:
        return ""
    values = list(stages)
    if any(not 0 < p <= 100 for p in values):
        raise InvalidInput(Code.STAGES_RANGE, field=FIELD_ROLLOUT)
    if values != sorted(set(values)):
        raise InvalidInput(Code.STAGES_ORDER, field=FIELD_ROLLOUT)
    if values[-1] != 100:
        values.append(100)
    if len(values) > MAX_STAGES:
        raise InvalidInput(Code.STAGES_TOO_MANY, field=FIELD_ROLLOUT, limit=MAX_STAGES)
    return ",".join(str(p) for p in values)


def clean_notes(notes: str) -> str:
    notes = notes.strip()
    if len(notes) > MAX_NOTES:
        raise InvalidInput(
            Code.NOTES_TOO_LONG, field=FIELD_NOTES, length=len(notes), limit=MAX_NOTES
        )
    return notes


def clean_pipeline_url(url: str | None) -> str | None:
    if url is None or not url.strip():
        return None
    url = url.strip()
    if len(url) > MAX_PIPELINE_URL or not PIPELINE_URL_PATTERN.match(url):
        raise InvalidInput(Code.PIPELINE_URL_INVALID, field=FIELD_PIPELINE_URL, value=url)
    return url


def clean_commit(commit_sha: str | None) -> str | None:
    if commit_sha is None or not commit_sha.strip():
        return None
    commit_sha = commit_sha.strip().lower()
    if not COMMIT_PATTERN.match(commit_sha):
        raise InvalidInput(Code.COMMIT_INVALID, field=FIELD_COMMIT, value=commit_sha)
    return commit_sha


def clean_digest(digest: str | None) -> str | None:
    """`sha256:` and 64 hex digits (case ignored); None for none."""
    if digest is None or not digest.strip():
        return None
    digest = digest.strip().lower()
    if not DIGEST_PATTERN.match(digest):
        raise InvalidInput(Code.DIGEST_INVALID, field=FIELD_DIGEST, value=digest[:80])
    return digest


def same_commit(given: str, recorded: str) -> bool:
    """One commit, though either may be abbreviated (7 characters or more)."""
    given, recorded = given.strip().lower(), recorded.strip().lower()
    return given.startswith(recorded) or recorded.startswith(given)


def clean_committed_at(committed_at: datetime | None, now: datetime) -> datetime | None:
    if committed_at is None:
        return None
    if committed_at.tzinfo is None:
        raise InvalidInput(Code.WHEN_NO_ZONE, field=FIELD_COMMITTED_AT)
    if committed_at > now + CLOCK_SKEW:
        raise InvalidInput(
            Code.COMMIT_TIME_FUTURE, field=FIELD_COMMITTED_AT, value=committed_at.isoformat()
        )
    return committed_at


def fixed_release(
    session: Session, team_id: str, service: str, fixes: str, reader: Reader
) -> Release:
    """The release a fix of `service` names (`service@version`, or a version of the same
    service), if the reader of the proposal may see it."""
    fixes = fixes.strip()
    named_service, at, version = fixes.partition("@")
    if not at:
        named_service, version = service, fixes
    named_service = named_service.strip().lower()
    version = version.strip()
    if not SERVICE_PATTERN.match(named_service) or not VERSION_PATTERN.match(version):
        raise InvalidInput(Code.FIXES_INVALID, field=FIELD_FIXES, value=fixes[:130])
    ref = f"{named_service}@{version}"
    if named_service != service:
        raise InvalidInput(Code.FIXES_OTHER_SERVICE, field=FIELD_FIXES, ref=ref, service=service)
    try:
        fixed = by_name(session, team_id, named_service, version, reader)
    except NotFound:
        fixed = None
    # A hidden release is unknown, and so is a cancelled one: nothing went out to fix.
    if fixed is None or fixed.status == ReleaseStatus.CANCELLED:
        raise InvalidInput(Code.FIXES_UNKNOWN, field=FIELD_FIXES, ref=ref)
    return fixed


def clean_reason(reason: str, *, required: bool = False) -> str:
    reason = reason.strip()
    if required and not reason:
        raise InvalidInput(Code.REASON_MISSING, field=FIELD_REASON)
    if len(reason) > MAX_REASON:
        raise InvalidInput(Code.REASON_TOO_LONG, field=FIELD_REASON, limit=MAX_REASON)
    return reason


def clean_approvers(
    approvers: Sequence[ApproverSpec], owner_id: str, *, owner_may_sign: bool = False
) -> list[ApproverSpec]:
    unique: dict[str, ApproverSpec] = {}
    for spec in approvers:
        if not owner_may_sign and spec.kind == ApproverKind.USER and spec.slack_id == owner_id:
            raise InvalidInput(Code.OWN_APPROVAL, field=FIELD_APPROVERS)
        unique.setdefault(spec.slack_id, spec)
    if len(unique) > MAX_APPROVERS:
        raise InvalidInput(Code.TOO_MANY_APPROVERS, field=FIELD_APPROVERS, limit=MAX_APPROVERS)
    return list(unique.values())


def with_required(
    required: Sequence[ApproverSpec],
    approvers: Sequence[ApproverSpec],
    owner_id: str,
    *,
    owner_may_sign: bool = False,
) -> list[ApproverSpec]:
    """A release's approvers: the policy's (`required`) first, then those named for it.
    The owner, when they may not sign, is left out of the policy's (someone else signs)."""
    kept = [
        a
        for a in required
        if owner_may_sign or a.kind != ApproverKind.USER or a.slack_id != owner_id
    ]
    named = clean_approvers(approvers, owner_id, owner_may_sign=owner_may_sign)
    return clean_approvers([*kept, *named], owner_id, owner_may_sign=owner_may_sign)


def _existing_active(session: Session, team_id: str, service: str, version: str) -> Release | None:
    return session.exec(
        select(Release).where(
            Release.team_id == team_id,
            Release.service == service,
            Release.version == version,
            Release.status != ReleaseStatus.CANCELLED.value,
        )
    ).first()


def duplicate_error(existing: Release) -> Conflict:
    return Conflict(
        Code.DUPLICATE,
        field=FIELD_VERSION,
        ref=existing.ref,
        state=existing.state,
        permalink=existing.permalink,
    )


def check_not_duplicate(
    session: Session, team_id: str, service: str, version: str, reader: Reader
) -> None:
    existing = _existing_active(session, team_id, service, version)
    if existing is None:
        return
    if not may_see(session, existing, reader):
        # Still no duplicate, but a hidden release is not described, not even its state.
        raise Conflict(Code.VERSION_TAKEN, field=FIELD_VERSION, ref=f"{service}@{version}")
    raise duplicate_error(existing)


def write_release(session: Session, proposal: Proposal, *, now: datetime | None = None) -> Release:
    """Create a release with its approvers and checklist, as `proposal` says; the caller's
    transaction commits. Surfaces propose through models/proposals.py, which applies the
    policy first: this writes what it is given."""
    now = now or utcnow()
    service = clean_service(proposal.service)
    version = clean_version(proposal.version)
    target_at = clean_target(proposal.target_at, now)
    stages = clean_stages(proposal.stages)
    notes = clean_notes(proposal.notes)
    approvers = with_required(
        proposal.required_approvers,
        proposal.approvers,
        proposal.owner_id,
        owner_may_sign=proposal.owner_can_approve,
    )
    required = {a.slack_id for a in proposal.required_approvers}
    pipeline_url = clean_pipeline_url(proposal.pipeline_url)
    commit_sha = clean_commit(proposal.commit_sha)
    digest = clean_digest(proposal.digest)
    committed_at = clean_committed_at(proposal.committed_at, now)
    reader = proposal.reader or Reader.person(proposal.owner_id, proposal.channel_id)
    fixed = (
        fixed_release(session, proposal.team_id, service, proposal.fixes, reader)
        if proposal.fixes
        else None
    )
    if not 15 <= proposal.window_minutes <= 24 * 60:
        raise InvalidInput(Code.WINDOW_RANGE)
    check_not_duplicate(session, proposal.team_id, service, version, reader)

    release = Release(
        team_id=proposal.team_id,
        service=service,
        version=version,
        target_at=target_at,
        window_minutes=proposal.window_minutes,
        channel_id=proposal.channel_id,
        private=proposal.private,
        owner_id=proposal.owner_id,
        rollout_stages=stages,
        notes=notes,
        request_key=proposal.request_key,
        quorum=proposal.quorum,
        owner_can_approve=proposal.owner_can_approve,
        reminder_minutes=None
        if proposal.reminders is None
        else ",".join(str(int(o.total_seconds() // 60)) for o in proposal.reminders),
        announce_to=proposal.announce_to,
        escalation_channel=proposal.escalation_channel,
        pipeline_url=pipeline_url,
        commit_sha=commit_sha,
        committed_at=committed_at,
        digest=digest,
        is_fix=proposal.fix or fixed is not None,
        fixes_release_id=fixed.id if fixed else None,
        status=(ReleaseStatus.PROPOSED if approvers else ReleaseStatus.APPROVED).value,
        created_at=now,
        updated_at=now,
    )
    session.add(release)
    try:
        session.flush()
    except IntegrityError:
        # Lost a race with an identical proposal, or a retried request.
        raise Conflict(Code.PROPOSED_JUST_NOW, ref=f"{service}@{version}") from None
    assert release.id is not None
    for position, spec in enumerate(approvers):
        session.add(
            Approver(
                release_id=release.id,
                position=position,
                kind=spec.kind.value,
                slack_id=spec.slack_id,
                handle=spec.handle,
                required=spec.slack_id in required,
            )
        )
    for position, text in enumerate(proposal.checklist):
        session.add(ChecklistItem(release_id=release.id, position=position, text=text[:150]))
    audit.record(
        session,
        team_id=release.team_id,
        release_id=release.id,
        actor_id=proposal.owner_id,
        action="proposed",
        after=snapshot(release)
        | {
            "approvers": [a.slack_id for a in approvers],
            "policy": {
                "quorum": release.quorum,
                "owner_can_approve": release.owner_can_approve,
                "window_minutes": release.window_minutes,
                "reminders": release.reminder_minutes,
                "announce": release.announce_to,
                "escalation": release.escalation_channel,
            },
        }
        | ({"fix": True, "fixes": fixed.ref if fixed else None} if release.is_fix else {}),
        detail=proposal.via,
        at=now,
    )
    session.flush()
    return release
