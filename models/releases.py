"""Proposing, finding, listing, changing and cancelling releases."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from models import audit, states
from models.errors import Conflict, InvalidInput, NotAllowed, NotFound, quoted
from models.release import (
    Approver,
    ApproverKind,
    ChecklistItem,
    Release,
    ReleaseStatus,
    SignOffState,
)
from models.types import utcnow

SERVICE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
MAX_APPROVERS = 20
MAX_NOTES = 2000
MAX_REASON = 500
MAX_AHEAD = timedelta(days=366 * 2)


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
    }


# --- validation -------------------------------------------------------------------------


def clean_service(service: str) -> str:
    service = service.strip().lower()
    if not SERVICE_PATTERN.match(service):
        raise InvalidInput(
            f"{quoted(service)} is not a service name: use up to 64 letters, digits, "
            "dots, dashes or underscores, e.g. payments-api.",
            field="service",
        )
    return service


def clean_version(version: str) -> str:
    version = version.strip()
    if not VERSION_PATTERN.match(version):
        raise InvalidInput(
            f"{quoted(version)} is not a version: use up to 64 letters, digits, "
            "and . _ + - (e.g. 2.4.0 or 2026.11.26-rc1).",
            field="version",
        )
    return version


def clean_target(target_at: datetime, now: datetime) -> datetime:
    if target_at.tzinfo is None:
        raise InvalidInput("The release time needs a time zone.", field="when")
    if target_at <= now:
        raise InvalidInput("The release time is in the past: pick a time ahead.", field="when")
    if target_at - now > MAX_AHEAD:
        raise InvalidInput("The release time is more than two years ahead.", field="when")
    return target_at


def clean_stages(stages: Sequence[int]) -> str:
    if not stages:
        return ""
    values = list(stages)
    if any(not 0 < p <= 100 for p in values):
        raise InvalidInput("Rollout percentages must be between 1 and 100.", field="rollout")
    if values != sorted(set(values)):
        raise InvalidInput(
            "Rollout percentages must go up, each once (e.g. 10,50,100).", field="rollout"
        )
    if values[-1] != 100:
        values.append(100)
    if len(values) > 10:
        raise InvalidInput("A phased rollout has at most 10 stages.", field="rollout")
    return ",".join(str(p) for p in values)


def clean_notes(notes: str) -> str:
    notes = notes.strip()
    if len(notes) > MAX_NOTES:
        raise InvalidInput(
            f"The notes are {len(notes)} characters long; keep them under {MAX_NOTES} "
            "(link to a document for more).",
            field="notes",
        )
    return notes


def clean_reason(reason: str, *, required: bool = False) -> str:
    reason = reason.strip()
    if required and not reason:
        raise InvalidInput("Give a reason, so the team knows why.", field="reason")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"Keep the reason under {MAX_REASON} characters.", field="reason")
    return reason


def clean_approvers(approvers: Sequence[ApproverSpec], owner_id: str) -> list[ApproverSpec]:
    unique: dict[str, ApproverSpec] = {}
    for spec in approvers:
        if spec.kind == ApproverKind.USER and spec.slack_id == owner_id:
            raise InvalidInput(
                "You can't approve your own release: name someone else as approver.",
                field="approvers",
            )
        unique.setdefault(spec.slack_id, spec)
    if len(unique) > MAX_APPROVERS:
        raise InvalidInput(f"Name at most {MAX_APPROVERS} approvers.", field="approvers")
    return list(unique.values())


# --- queries ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """Who is looking, and from which channel: decides whether private releases show."""

    user_id: str
    channel_id: str | None = None


def visible_to(viewer: Viewer) -> ColumnElement[bool]:
    """Public releases; private ones only to their owner and approvers, or in their channel."""
    approves = (
        select(Approver.id)
        .where(col(Approver.release_id) == col(Release.id), Approver.slack_id == viewer.user_id)
        .correlate_except(Approver)  # also inside queries that select approvers themselves
        .exists()
    )
    return or_(
        col(Release.private).is_(False),
        col(Release.owner_id) == viewer.user_id,
        col(Release.channel_id) == (viewer.channel_id or ""),
        approves,
    )


@dataclass(frozen=True)
class Actor:
    """Who acts, in which workspace, and from which channel (where a private release's own
    channel shows it to its members)."""

    team_id: str
    user_id: str
    channel_id: str | None = None

    @property
    def viewer(self) -> Viewer:
        return Viewer(self.user_id, self.channel_id)


def may_see(session: Session, release: Release, viewer: Viewer) -> bool:
    """The visibility rule of `visible_to`, for one release already loaded."""
    if not release.private or viewer.user_id == release.owner_id:
        return True
    if viewer.channel_id and viewer.channel_id == release.channel_id:
        return True
    return (
        session.exec(
            select(Approver.id).where(
                Approver.release_id == release.id, Approver.slack_id == viewer.user_id
            )
        ).first()
        is not None
    )


def _checked(session: Session, release: Release | None, actor: Actor) -> Release:
    # Another workspace's release and a hidden private one read exactly like a missing one.
    if (
        release is None
        or release.team_id != actor.team_id
        or not may_see(session, release, actor.viewer)
    ):
        raise NotFound("That release no longer exists.")
    return release


def get(session: Session, actor: Actor, release_id: int) -> Release:
    return _checked(session, session.get(Release, release_id), actor)


def get_for_update(session: Session, actor: Actor, release_id: int) -> Release:
    """The release, locked until the transaction ends, so concurrent changes queue up."""
    release = session.exec(
        select(Release)
        .where(Release.id == release_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    return _checked(session, release, actor)


def id_by_uid(session: Session, actor: Actor, uid: str) -> int:
    """The release a button, form or block names, if this person may see it."""
    release = session.exec(select(Release).where(Release.uid == uid)).first()
    release_id = _checked(session, release, actor).id
    assert release_id is not None
    return release_id


def find(session: Session, team_id: str, ref: str, viewer: Viewer) -> Release:
    """Look a release up by `service@version`, or by service alone when one is open.

    A private release the viewer may not see is not found, as if it did not exist.
    """
    ref = ref.strip()
    service, _, version = ref.partition("@")
    service = service.strip().lower()
    query = select(Release).where(
        Release.team_id == team_id, Release.service == service, visible_to(viewer)
    )
    if version:
        candidates = list(
            session.exec(
                query.where(Release.version == version.strip()).order_by(
                    col(Release.created_at).desc()
                )
            )
        )
        active = [r for r in candidates if r.status != ReleaseStatus.CANCELLED]
        if active:
            return active[0]
        if candidates:
            return candidates[0]
        raise NotFound(
            f"No release {quoted(ref)} in this workspace. `/release list` shows what is planned."
        )
    open_releases = [r for r in session.exec(query) if not r.state.is_finished]
    if len(open_releases) == 1:
        return open_releases[0]
    if not open_releases:
        raise NotFound(
            f"No open release of {quoted(service) if service else 'that service'}. "
            "Name it as service@version, e.g. payments@2.4.0."
        )
    refs = ", ".join(sorted(r.ref for r in open_releases))
    raise NotFound(f"{service} has several open releases ({refs}): name one as service@version.")


def open_releases(team_id: str) -> SelectOfScalar[Release]:
    """The workspace's releases that are not finished, soonest first."""
    finished = [s.value for s in ReleaseStatus if s.is_finished]
    return (
        select(Release)
        .where(Release.team_id == team_id, col(Release.status).not_in(finished))
        .order_by(col(Release.target_at), col(Release.id))
    )


def upcoming(session: Session, team_id: str, viewer: Viewer, *, limit: int = 50) -> list[Release]:
    """Releases not finished yet that the viewer may see, soonest first."""
    return list(session.exec(open_releases(team_id).where(visible_to(viewer)).limit(limit)))


def approvers_of(session: Session, release_id: int) -> list[Approver]:
    return list(
        session.exec(
            select(Approver)
            .where(Approver.release_id == release_id)
            .order_by(col(Approver.position), col(Approver.id))
        )
    )


def checklist_of(session: Session, release_id: int) -> list[ChecklistItem]:
    return list(
        session.exec(
            select(ChecklistItem)
            .where(ChecklistItem.release_id == release_id)
            .order_by(col(ChecklistItem.position))
        )
    )


def by_request_key(session: Session, request_key: str) -> Release | None:
    return session.exec(select(Release).where(Release.request_key == request_key)).first()


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
    where = f" <{existing.permalink}|(see it here)>" if existing.permalink else ""
    return Conflict(
        f"{existing.ref} already exists ({existing.state.label.lower()}){where}. "
        "Use a new version, or `/release cancel` the old one first."
    )


def check_not_duplicate(
    session: Session, team_id: str, service: str, version: str, viewer: Viewer
) -> None:
    existing = _existing_active(session, team_id, service, version)
    if existing is None:
        return
    if not may_see(session, existing, viewer):
        # Still no duplicate, but a hidden release is not described, not even its state.
        raise Conflict(f"{service}@{version} can't be used: pick a new version.")
    raise duplicate_error(existing)


# --- changes ----------------------------------------------------------------------------


def propose(session: Session, proposal: Proposal, *, now: datetime | None = None) -> Release:
    """Create a release with its approvers and checklist; the caller's transaction commits."""
    now = now or utcnow()
    service = clean_service(proposal.service)
    version = clean_version(proposal.version)
    target_at = clean_target(proposal.target_at, now)
    stages = clean_stages(proposal.stages)
    notes = clean_notes(proposal.notes)
    approvers = clean_approvers(proposal.approvers, proposal.owner_id)
    if not 15 <= proposal.window_minutes <= 24 * 60:
        raise InvalidInput("The release window must be between 15 minutes and 24 hours.")
    check_not_duplicate(
        session, proposal.team_id, service, version, Viewer(proposal.owner_id, proposal.channel_id)
    )

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
        status=(ReleaseStatus.PROPOSED if approvers else ReleaseStatus.APPROVED).value,
        created_at=now,
        updated_at=now,
    )
    session.add(release)
    try:
        session.flush()
    except IntegrityError:
        # Lost a race with an identical proposal, or a retried request.
        raise Conflict(f"{service}@{version} was proposed a moment ago.") from None
    assert release.id is not None
    for position, spec in enumerate(approvers):
        session.add(
            Approver(
                release_id=release.id,
                position=position,
                kind=spec.kind.value,
                slack_id=spec.slack_id,
                handle=spec.handle,
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
        after=snapshot(release) | {"approvers": [a.slack_id for a in approvers]},
        at=now,
    )
    session.flush()
    return release


def require_owner(release: Release, actor_id: str, action: str) -> None:
    if actor_id != release.owner_id:
        raise NotAllowed(
            f"Only <@{release.owner_id}>, who owns it, can {states.phrase(action, release)}."
        )


def attach_card(session: Session, release: Release, message_ts: str, permalink: str | None) -> None:
    release.message_ts = message_ts
    release.permalink = permalink
    session.add(release)
    session.flush()


@dataclass
class ReleaseView:
    """A release with what renders it: approvers and checklist."""

    release: Release
    approvers: list[Approver] = field(default_factory=list)
    checklist: list[ChecklistItem] = field(default_factory=list)

    @property
    def pending_approvers(self) -> list[Approver]:
        return [a for a in self.approvers if a.sign_off != SignOffState.APPROVED]

    @property
    def open_items(self) -> list[ChecklistItem]:
        return [item for item in self.checklist if not item.checked]


def load_view(session: Session, release: Release) -> ReleaseView:
    assert release.id is not None
    return ReleaseView(
        release=release,
        approvers=approvers_of(session, release.id),
        checklist=checklist_of(session, release.id),
    )


def pending_group_ids(session: Session, team_id: str) -> set[str]:
    """User groups whose sign-off some open release still waits for."""
    rows = session.exec(
        select(Approver.slack_id)
        .join(Release, col(Release.id) == col(Approver.release_id))
        .where(
            Release.team_id == team_id,
            col(Release.status).in_(SIGNABLE_STATES),
            Approver.kind == ApproverKind.USERGROUP.value,
            Approver.state != SignOffState.APPROVED.value,
        )
        .distinct()
    )
    return set(rows)


SIGNABLE_STATES = [
    ReleaseStatus.PROPOSED.value,
    ReleaseStatus.CHANGES_REQUESTED.value,
    ReleaseStatus.APPROVED.value,
]


def awaiting_sign_off(
    session: Session, team_id: str, user_id: str, group_ids: set[str]
) -> list[Release]:
    """Open releases where the person (or a group of theirs) has not approved yet, and the
    person has given no sign-off (each gives one: four eyes)."""
    signers = [user_id, *group_ids]
    signed = aliased(Approver)
    has_signed = (
        select(signed.id)
        .where(
            signed.release_id == Release.id,
            signed.signed_by == user_id,
            signed.state == SignOffState.APPROVED.value,
        )
        .exists()
    )
    return list(
        session.exec(
            select(Release)
            .join(Approver, col(Approver.release_id) == col(Release.id))
            .where(
                Release.team_id == team_id,
                col(Release.status).in_(SIGNABLE_STATES),
                col(Approver.slack_id).in_(signers),
                Approver.state != SignOffState.APPROVED.value,
                Release.owner_id != user_id,
                ~has_signed,
            )
            .distinct()
            .order_by(col(Release.target_at))
            .limit(20)
        )
    )


def owned_open(session: Session, team_id: str, user_id: str) -> list[Release]:
    return list(session.exec(open_releases(team_id).where(Release.owner_id == user_id).limit(20)))
