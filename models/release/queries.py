"""Finding and listing releases (what a reader may see of them: `visibility`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from models import freezes
from models.errors import Code, NotAllowed, NotFound
from models.freezes import FreezeOverride, Span
from models.release import rules
from models.release.records import (
    Approver,
    ApproverKind,
    ChecklistItem,
    Release,
    ReleaseStatus,
    SignOffState,
)
from models.release.rules import Activity
from models.release.visibility import Reader, may_see, shown_to


@dataclass(frozen=True)
class Actor:
    """Who acts, in which workspace, and from which channel (where a private release's own
    channel shows it to its members)."""

    team_id: str
    user_id: str
    channel_id: str | None = None
    # A release manager acts on any release as its owner would (handlers ask who is one).
    manager: bool = False

    @property
    def reader(self) -> Reader:
        return Reader.person(self.user_id, self.channel_id)


def _checked(session: Session, release: Release | None, actor: Actor) -> Release:
    # Another workspace's release and a hidden private one read exactly like a missing one.
    if (
        release is None
        or release.team_id != actor.team_id
        or not may_see(session, release, actor.reader)
    ):
        raise NotFound(Code.RELEASE_GONE)
    return release


def get(session: Session, actor: Actor, release_id: int) -> Release:
    return _checked(session, session.get(Release, release_id), actor)


def get_for_update(session: Session, actor: Actor, release_id: int) -> Release:
    """The release, locked until the transaction ends, so concurrent changes queue up."""
    return _checked(session, lock(session, release_id), actor)


def lock(session: Session, release_id: int) -> Release | None:
    """The release as stored, locked until the transaction ends (whoever may see it)."""
    return session.exec(
        select(Release)
        .where(Release.id == release_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def id_by_uid(session: Session, actor: Actor, uid: str) -> int:
    """The release a button, form or block names, if this person may see it."""
    release = session.exec(select(Release).where(Release.uid == uid)).first()
    release_id = _checked(session, release, actor).id
    assert release_id is not None
    return release_id


def by_name(session: Session, team_id: str, service: str, version: str, reader: Reader) -> Release:
    """`service@version` among the releases the reader may see: the live one if a cancelled
    one had the same name, else the newest cancelled one. The one lookup by name every
    surface uses (a ref typed in Slack, an API path, the gate, `fixes`): a release the
    reader may not see is not found, exactly as if it did not exist."""
    service, version = service.strip().lower(), version.strip()
    candidates = list(
        session.exec(
            select(Release)
            .where(
                Release.team_id == team_id,
                Release.service == service,
                Release.version == version,
                shown_to(reader),
            )
            .order_by(col(Release.created_at).desc(), col(Release.id).desc())
        )
    )
    live = [r for r in candidates if r.status != ReleaseStatus.CANCELLED]
    if live or candidates:
        return (live or candidates)[0]
    raise NotFound(Code.NO_RELEASE, ref=f"{service}@{version}")


def find(session: Session, team_id: str, ref: str, reader: Reader) -> Release:
    """Look a release up by `service@version` (see `by_name`), or by service alone when
    the reader may see one open release of it."""
    service, _, version = ref.strip().partition("@")
    if version.strip():
        return by_name(session, team_id, service, version, reader)
    service = service.strip().lower()
    query = select(Release).where(
        Release.team_id == team_id, Release.service == service, shown_to(reader)
    )
    open_releases = [r for r in session.exec(query) if not r.state.is_finished]
    if len(open_releases) == 1:
        return open_releases[0]
    if not open_releases:
        raise NotFound(Code.NO_OPEN_RELEASE, service=service)
    refs = tuple(sorted(r.ref for r in open_releases))
    raise NotFound(Code.SEVERAL_OPEN, service=service, refs=refs)


def open_releases(team_id: str) -> SelectOfScalar[Release]:
    """The workspace's releases that are not finished, soonest first."""
    return (
        select(Release)
        .where(Release.team_id == team_id, col(Release.status).in_(rules.states(Activity.OPEN)))
        .order_by(col(Release.target_at), col(Release.id))
    )


def upcoming(session: Session, team_id: str, reader: Reader, *, limit: int = 50) -> list[Release]:
    """Releases not finished yet that the reader may see, soonest first."""
    return list(session.exec(open_releases(team_id).where(shown_to(reader)).limit(limit)))


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


def require_owner(release: Release, actor: Actor, action: Activity) -> None:
    if actor.user_id == release.owner_id or (actor.manager and action in rules.MANAGERS_MAY):
        return
    raise NotAllowed(Code.NOT_OWNER, ref=release.ref, owner_id=release.owner_id, action=action)


@dataclass
class ReleaseView:
    """A release with what renders it: approvers, checklist, and the freezes its window
    falls in (with the overrides managers granted it)."""

    release: Release
    approvers: list[Approver] = field(default_factory=list)
    checklist: list[ChecklistItem] = field(default_factory=list)
    freezes: list[Span] = field(default_factory=list)
    overrides: list[FreezeOverride] = field(default_factory=list)

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
        freezes=freezes.overlapping(
            session,
            release.team_id,
            release.service,
            release.target_at,
            release.target_at + release.window,
        ),
        overrides=freezes.overrides_of(session, release.id),
    )


def pending_group_ids(session: Session, team_id: str) -> set[str]:
    """User groups whose sign-off some open release still waits for."""
    rows = session.exec(
        select(Approver.slack_id)
        .join(Release, col(Release.id) == col(Approver.release_id))
        .where(
            Release.team_id == team_id,
            col(Release.status).in_(rules.states(Activity.AWAIT_SIGN_OFF)),
            Approver.kind == ApproverKind.USERGROUP.value,
            Approver.state != SignOffState.APPROVED.value,
        )
        .distinct()
    )
    return set(rows)


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
                col(Release.status).in_(rules.states(Activity.AWAIT_SIGN_OFF)),
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
