"""Sign-offs, go/no-go and the rollout: every change locks the release row, checks the
state machine, writes an audit event, and commits with the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models import audit, freezes
from models.audit import AuditEvent
from models.columns import utcnow
from models.errors import Code, Conflict, InvalidInput, NotAllowed
from models.release import outcomes, quorum, rules, signers
from models.release.default_checklist import MAX_ITEM_LENGTH
from models.release.production import ProductionRecord
from models.release.proposing import (
    ApproverSpec,
    check_not_duplicate,
    clean_commit,
    clean_digest,
    clean_notes,
    clean_reason,
    clean_target,
    clean_version,
    snapshot,
    with_required,
)
from models.release.queries import (
    Actor,
    approvers_of,
    checklist_of,
    get,
    get_for_update,
    lock,
    require_owner,
)
from models.release.records import (
    Approver,
    ApproverKind,
    ChecklistItem,
    Release,
    ReleaseStatus,
    SignOffState,
)
from models.release.rules import Activity

MAX_CHECKLIST = 30
SYSTEM = "system"  # the actor of what the bot does on its own


def _record(
    session: Session, release: Release, actor_id: str, action: str, now: datetime, **kw: object
) -> None:
    audit.record(
        session,
        team_id=release.team_id,
        release_id=release.id,
        actor_id=actor_id,
        action=action,
        at=now,
        **kw,  # type: ignore[arg-type]
    )


def _move(release: Release, target: ReleaseStatus, now: datetime) -> None:
    release.status = target.value
    release.updated_at = now


def _barred(release: Release) -> str:
    """Who may give none of its sign-offs: the owner, unless its policy lets them."""
    return "" if release.owner_can_approve else release.owner_id


def _needed(release: Release, approvers: Sequence[Approver]) -> int:
    """How many sign-offs its quorum rule asks of these approvers."""
    return quorum.of(release.quorum).needed(len(approvers))


def quorum_met(release: Release, approvers: Sequence[Approver]) -> bool:
    """Enough sign-offs are in for its quorum rule (all of them, or N of them)."""
    return quorum.of(release.quorum).met(approvers)


def _signable_rows(
    release: Release, approvers: list[Approver], actor_id: str, actor_groups: set[str]
) -> list[Approver]:
    """The sign-offs this person may give: their own, and their groups' (never the owner's,
    unless the release's policy lets the owner sign)."""
    if not approvers:
        raise NotAllowed(Code.NO_SIGN_OFF_NEEDED, ref=release.ref)
    if actor_id == release.owner_id and not release.owner_can_approve:
        raise NotAllowed(Code.OWN_RELEASE, ref=release.ref, approvers=_specs(approvers))
    rows = [
        a
        for a in approvers
        if (not a.is_group and a.slack_id == actor_id)
        or (a.is_group and a.slack_id in actor_groups)
    ]
    if not rows:
        raise NotAllowed(Code.NOT_APPROVER, ref=release.ref, approvers=_specs(approvers))
    return rows


def _groups_of(actor_id: str, members: signers.Members) -> set[str]:
    return {group for group, people in members.items() if actor_id in people}


def _signed_by(approvers: list[Approver], actor_id: str) -> list[Approver]:
    """The sign-offs this person gave (one; more only in rows from before four eyes)."""
    return [a for a in approvers if a.sign_off == SignOffState.APPROVED and a.signed_by == actor_id]


@dataclass(frozen=True)
class SignOffResult:
    release: Release
    counted: bool  # False: this person's sign-off was already in (a double click, a retry)
    quorum_reached: bool


def approve(
    session: Session,
    actor: Actor,
    release_id: int,
    members: signers.Members,
    *,
    now: datetime | None = None,
) -> SignOffResult:
    """One click gives one sign-off (four eyes): see `signers.row_to_sign` for which.
    `members` holds the members of each of the release's approver groups."""
    now = now or utcnow()
    # The lock makes a double click or a racing retry wait, then find its sign-off in.
    release = get_for_update(session, actor, release_id)
    rules.check(release, Activity.SIGN)
    approvers = approvers_of(session, release_id)
    rows = _signable_rows(release, approvers, actor.user_id, _groups_of(actor.user_id, members))
    if _signed_by(approvers, actor.user_id):
        return SignOffResult(release, counted=False, quorum_reached=False)
    row = signers.row_to_sign(
        approvers, actor.user_id, members, _barred(release), _needed(release, approvers)
    )
    if row is None:
        raise NotAllowed(Code.SIGNED_BY_OTHERS, ref=release.ref, approvers=_specs(rows))
    row.state = SignOffState.APPROVED.value
    row.signed_by = actor.user_id
    row.signed_at = now
    row.reason = ""
    session.add(row)
    _record(session, release, actor.user_id, "approved", now, after={"approver": row.slack_id})
    release.updated_at = now
    # The quorum rule the release was proposed under: all sign-offs, or N of them.
    reached = quorum_met(release, approvers) and rules.allows(Activity.APPROVE, release.state)
    if reached:
        _move(release, rules.check(release, Activity.APPROVE), now)
        _record(session, release, SYSTEM, "quorum_reached", now, after=snapshot(release))
    session.add(release)
    session.flush()
    return SignOffResult(release, counted=True, quorum_reached=reached)


def check_may_sign(
    session: Session, actor: Actor, release_id: int, members: signers.Members
) -> Release:
    """Refuse early (before asking for a reason) when the person may not sign."""
    release = get(session, actor, release_id)
    rules.check(release, Activity.REQUEST_CHANGES)
    approvers = approvers_of(session, release_id)
    _signable_rows(release, approvers, actor.user_id, _groups_of(actor.user_id, members))
    return release


def _check_editable(release: Release, actor: Actor) -> None:
    require_owner(release, actor, Activity.EDIT)
    rules.check(release, Activity.EDIT)


def check_may_edit(session: Session, actor: Actor, release_id: int) -> Release:
    """Refuse early (before opening the edit form) when the person may not change it."""
    release = get(session, actor, release_id)
    _check_editable(release, actor)
    return release


def check_may_decide(
    session: Session, actor: Actor, release_id: int, action: Activity | str
) -> Release:
    """Refuse early (before asking for a reason) when the person may not do `action`."""
    release = get(session, actor, release_id)
    require_owner(release, actor, Activity(action))
    rules.check(release, Activity(action))
    return release


def request_changes(
    session: Session,
    actor: Actor,
    release_id: int,
    members: signers.Members,
    reason: str,
    *,
    now: datetime | None = None,
) -> Release:
    """A person's objection stands in one sign-off, like their approval: the one they gave;
    else the one their Approve would give; else (others signed everything they could) the
    first of theirs, which then needs signing again after the update."""
    now = now or utcnow()
    reason = clean_reason(reason, required=True)
    release = get_for_update(session, actor, release_id)
    target = rules.check(release, Activity.REQUEST_CHANGES)
    approvers = approvers_of(session, release_id)
    mine = _signable_rows(release, approvers, actor.user_id, _groups_of(actor.user_id, members))
    next_row = signers.row_to_sign(
        approvers, actor.user_id, members, _barred(release), _needed(release, approvers)
    )
    rows = _signed_by(approvers, actor.user_id) or [next_row or mine[0]]
    before = snapshot(release)
    for row in rows:
        row.state = SignOffState.REJECTED.value
        row.signed_by = actor.user_id
        row.signed_at = now
        row.reason = reason
        session.add(row)
    _move(release, target, now)
    release.status_reason = reason
    release.status_by = actor.user_id
    session.add(release)
    _record(
        session,
        release,
        actor.user_id,
        "changes_requested",
        now,
        before=before,
        after=snapshot(release),
        detail=reason,
    )
    session.flush()
    return release


def withdraw(
    session: Session, actor: Actor, release_id: int, *, now: datetime | None = None
) -> Release:
    """Take back the sign-off this person gave (whatever groups they are in now)."""
    now = now or utcnow()
    release = get_for_update(session, actor, release_id)
    rules.check(release, Activity.WITHDRAW)
    approvers = approvers_of(session, release_id)
    if not approvers:
        raise NotAllowed(Code.NO_SIGN_OFF_NEEDED, ref=release.ref)
    mine = _signed_by(approvers, actor.user_id)
    if not mine:
        raise InvalidInput(Code.NOTHING_TO_WITHDRAW, ref=release.ref)
    for row in mine:
        row.state = SignOffState.PENDING.value
        row.signed_by = None
        row.signed_at = None
        session.add(row)
    before = snapshot(release)
    if release.state == ReleaseStatus.APPROVED and not quorum_met(release, approvers):
        _move(release, rules.check(release, Activity.REOPEN), now)
    release.updated_at = now
    session.add(release)
    _record(
        session,
        release,
        actor.user_id,
        "approval_withdrawn",
        now,
        before=before,
        after=snapshot(release),
    )
    session.flush()
    return release


@dataclass(frozen=True)
class UpdateResult:
    release: Release
    version_changed: bool
    time_changed: bool
    notes_changed: bool
    reopened: bool  # asked for sign-off again (after changes requested, a no-go, a new version)
    previous_target_at: datetime
    added: tuple[ApproverSpec, ...] = ()  # approvers who joined (their sign-off pending)
    removed: tuple[ApproverSpec, ...] = ()  # approvers who left (their sign-off with them)
    quorum_reached: bool = False  # the approvers left are all signed: it is approved now
    digest_changed: bool = False
    commit_changed: bool = False

    @property
    def build_changed(self) -> bool:
        """What the sign-offs were given for changed: every one of them starts again."""
        return self.version_changed or self.digest_changed or self.commit_changed


def _spec(approver: Approver) -> ApproverSpec:
    return ApproverSpec(approver.slack_id, ApproverKind(approver.kind), approver.handle)


def _specs(approvers: Iterable[Approver]) -> tuple[ApproverSpec, ...]:
    """Approvers as plain values: an error's data outlives the session that loaded them."""
    return tuple(_spec(a) for a in approvers)


def _replace_approvers(
    session: Session, release: Release, current: list[Approver], wanted: list[ApproverSpec]
) -> list[Approver]:
    """The approvers become `wanted`, in its order: those who stay keep their sign-off,
    those who leave take theirs with them, newcomers start pending."""
    assert release.id is not None
    staying = {a.slack_id: a for a in current}
    keep = {spec.slack_id for spec in wanted}
    for approver in current:
        if approver.slack_id not in keep:
            session.delete(approver)
    rows = []
    for position, spec in enumerate(wanted):
        row = staying.get(spec.slack_id) or Approver(
            release_id=release.id, kind=spec.kind.value, slack_id=spec.slack_id, handle=spec.handle
        )
        row.position = position
        session.add(row)
        rows.append(row)
    return rows


def update(
    session: Session,
    actor: Actor,
    release_id: int,
    *,
    version: str | None = None,
    target_at: datetime | None = None,
    notes: str | None = None,
    approvers: Sequence[ApproverSpec] | None = None,
    expected_sequence: int | None = None,
    digest: str | None = None,
    commit_sha: str | None = None,
    now: datetime | None = None,
) -> UpdateResult:
    """Change what the owner may change before go. New `approvers` are checked here only
    for what needs no Slack (not the owner, at most 20): handlers check the rest first
    (they exist; enough different people besides the owner, `signers.check_quorum`).
    Approvers the release's policy named stay, whatever `approvers` says. With
    `expected_sequence` (a move offered when the release was at that sequence), refused
    once it has moved since: a second click of one offer moves it once. `digest` and
    `commit_sha`: None keeps them, "" removes them."""
    now = now or utcnow()
    release = get_for_update(session, actor, release_id)
    _check_editable(release, actor)
    if expected_sequence is not None and release.sequence != expected_sequence:
        raise Conflict(Code.MOVED_ALREADY, ref=release.ref)
    before = snapshot(release)
    previous_target_at = release.target_at
    version_changed = version is not None and clean_version(version) != release.version
    time_changed = target_at is not None and target_at != release.target_at
    notes_changed = notes is not None and clean_notes(notes) != release.notes
    new_digest = clean_digest(digest) if digest is not None else release.digest
    new_commit = clean_commit(commit_sha) if commit_sha is not None else release.commit_sha
    digest_changed = new_digest != release.digest
    commit_changed = new_commit != release.commit_sha
    # The version, the artifact and the commit name the build the sign-offs were given for.
    build_changed = version_changed or digest_changed or commit_changed
    current = approvers_of(session, release_id)
    wanted = (
        None
        if approvers is None
        else with_required(
            [_spec(a) for a in current if a.required],
            approvers,
            release.owner_id,
            owner_may_sign=release.owner_can_approve,
        )
    )
    approvers_changed = wanted is not None and {a.slack_id for a in wanted} != {
        a.slack_id for a in current
    }
    if not (build_changed or time_changed or notes_changed or approvers_changed):
        raise InvalidInput(Code.NOTHING_CHANGED, ref=release.ref)
    rows = current
    added: tuple[ApproverSpec, ...] = ()
    removed: tuple[ApproverSpec, ...] = ()
    if approvers_changed:
        assert wanted is not None
        had, keep = {a.slack_id for a in current}, {spec.slack_id for spec in wanted}
        added = tuple(spec for spec in wanted if spec.slack_id not in had)
        removed = tuple(_spec(a) for a in current if a.slack_id not in keep)
        before["approvers"] = [a.slack_id for a in current]
        rows = _replace_approvers(session, release, current, wanted)
    if version_changed:
        assert version is not None
        new_version = clean_version(version)
        check_not_duplicate(session, actor.team_id, release.service, new_version, actor.reader)
        release.version = new_version
    release.digest, release.commit_sha = new_digest, new_commit
    if build_changed:
        # They signed off a different build: every sign-off starts again.
        for approver in rows:
            approver.state = SignOffState.PENDING.value
            approver.signed_by = None
            approver.signed_at = None
            approver.reason = ""
            session.add(approver)
    if time_changed:
        assert target_at is not None
        release.target_at = clean_target(target_at, now)
        release.sequence += 1
    if notes_changed:
        assert notes is not None
        release.notes = clean_notes(notes)
    reopened = False
    if rules.allows(Activity.ASK_AGAIN, release.state) or (
        build_changed and release.state == ReleaseStatus.APPROVED and rows
    ):
        for approver in rows:
            if approver.sign_off == SignOffState.REJECTED:
                approver.state = SignOffState.PENDING.value
                approver.signed_by = None
                approver.signed_at = None
                session.add(approver)
        release.status = rules.check(release, Activity.REOPEN).value
        if quorum_met(release, rows):
            release.status = rules.check(release, Activity.APPROVE).value
        release.status_reason = ""
        release.status_by = None
        reopened = True
    quorum_reached = False
    if approvers_changed and not reopened:
        # A newcomer's sign-off is still to come; a leaver's may have been the last missing.
        all_in = quorum_met(release, rows)
        if release.state == ReleaseStatus.APPROVED and not all_in:
            release.status = rules.check(release, Activity.REOPEN).value
        elif rules.allows(Activity.APPROVE, release.state) and all_in:
            release.status = rules.check(release, Activity.APPROVE).value
            quorum_reached = True
    release.updated_at = now
    session.add(release)
    after = snapshot(release)
    if approvers_changed:
        after["approvers"] = [a.slack_id for a in rows]
    _record(session, release, actor.user_id, "updated", now, before=before, after=after)
    if quorum_reached:
        _record(session, release, SYSTEM, "quorum_reached", now, after=snapshot(release))
    ref = release.ref
    try:
        session.flush()
    except IntegrityError:  # the unique index saw a racing proposal of the same version
        raise Conflict(Code.PROPOSED_JUST_NOW, ref=ref) from None
    return UpdateResult(
        release,
        version_changed,
        time_changed,
        notes_changed,
        reopened,
        previous_target_at,
        added,
        removed,
        quorum_reached,
        digest_changed,
        commit_changed,
    )


# --- checklist --------------------------------------------------------------------------


def _may_edit_checklist(
    release: Release, approvers: list[Approver], actor_id: str, actor_groups: set[str]
) -> None:
    """Owner and approvers (a group's members too) keep the checklist: adding and ticking
    alike, so nobody else's name ends up on a tick."""
    if actor_id == release.owner_id or any(
        a.slack_id in actor_groups if a.is_group else a.slack_id == actor_id for a in approvers
    ):
        return
    raise NotAllowed(Code.NOT_CHECKLIST_KEEPER, ref=release.ref, owner_id=release.owner_id)


def set_checklist_item(
    session: Session,
    actor: Actor,
    release_id: int,
    position: int,
    checked: bool,
    actor_groups: set[str],
    *,
    now: datetime | None = None,
) -> ChecklistItem | None:
    """Tick or untick one item; None when it already was (a repeated click)."""
    now = now or utcnow()
    release = get_for_update(session, actor, release_id)
    _may_edit_checklist(release, approvers_of(session, release_id), actor.user_id, actor_groups)
    rules.check(release, Activity.TICK)
    items = {item.position: item for item in checklist_of(session, release_id)}
    item = items.get(position)
    if item is None:
        raise InvalidInput(Code.NO_SUCH_ITEM)
    if item.checked == checked:
        return None
    item.checked_by = actor.user_id if checked else None
    item.checked_at = now if checked else None
    session.add(item)
    release.updated_at = now
    session.add(release)
    _record(
        session,
        release,
        actor.user_id,
        "checklist_ticked" if checked else "checklist_unticked",
        now,
        detail=item.text,
    )
    session.flush()
    return item


def add_checklist_item(
    session: Session,
    actor: Actor,
    release_id: int,
    text: str,
    actor_groups: set[str],
    *,
    now: datetime | None = None,
) -> ChecklistItem:
    now = now or utcnow()
    release = get_for_update(session, actor, release_id)
    _may_edit_checklist(release, approvers_of(session, release_id), actor.user_id, actor_groups)
    rules.check(release, Activity.ADD_ITEM)
    text = text.strip()
    if not text or len(text) > MAX_ITEM_LENGTH:
        raise InvalidInput(Code.ITEM_LENGTH, limit=MAX_ITEM_LENGTH)
    items = checklist_of(session, release_id)
    if len(items) >= MAX_CHECKLIST:
        raise InvalidInput(Code.CHECKLIST_FULL, limit=MAX_CHECKLIST)
    if any(i.text.casefold() == text.casefold() for i in items):
        raise InvalidInput(Code.ITEM_EXISTS, text=text)
    item = ChecklistItem(
        release_id=release_id, position=max((i.position for i in items), default=-1) + 1, text=text
    )
    session.add(item)
    release.updated_at = now
    session.add(release)
    _record(session, release, actor.user_id, "checklist_added", now, detail=text)
    session.flush()
    return item


# --- decision and rollout ---------------------------------------------------------------


@dataclass(frozen=True)
class SignOffsNeeded:
    """A quorum of N still short: `count` more sign-offs, from any of `of`."""

    count: int
    of: tuple[ApproverSpec, ...]


# What a release still needs before go: a sign-off (from this approver), some of the open
# sign-offs (a quorum of N), or an item ticked (the item's text).
Missing = ApproverSpec | SignOffsNeeded | str


def missing_for_go(session: Session, release: Release) -> list[Missing]:
    assert release.id is not None
    return missing_for_go_many(session, [release.id])[release.id]


def missing_for_go_many(session: Session, release_ids: list[int]) -> dict[int, list[Missing]]:
    """What each release still needs before go: sign-offs, then unticked items (2 queries)."""
    missing: dict[int, list[Missing]] = {release_id: [] for release_id in release_ids}
    rules_of = {
        row[0]: quorum.of(row[1])
        for row in session.exec(
            select(Release.id, Release.quorum).where(col(Release.id).in_(release_ids))
        )
    }
    by_release: dict[int, list[Approver]] = {release_id: [] for release_id in release_ids}
    for approver in session.exec(
        select(Approver)
        .where(col(Approver.release_id).in_(release_ids))
        .order_by(col(Approver.position), col(Approver.id))
    ):
        by_release[approver.release_id].append(approver)
    for release_id, approvers in by_release.items():
        rule = rules_of.get(release_id) or quorum.Quorum()
        pending = [a for a in approvers if a.sign_off != SignOffState.APPROVED]
        short = rule.missing(approvers)
        if short and short < len(pending):
            missing[release_id].append(SignOffsNeeded(short, _specs(pending)))
        elif short:
            missing[release_id].extend(_spec(a) for a in pending)
    unticked = session.exec(
        select(ChecklistItem)
        .where(
            col(ChecklistItem.release_id).in_(release_ids),
            col(ChecklistItem.checked_at).is_(None),
        )
        .order_by(col(ChecklistItem.position))
    )
    for item in unticked:
        missing[item.release_id].append(item.text)
    return missing


# --- freezes and the moves toward production -------------------------------------------


def _check_move(
    session: Session, release: Release, activity: Activity, now: datetime
) -> ReleaseStatus:
    """The one check every move passes: the state machine, then, for a move toward
    production, the freezes. Returns the state the move leads to."""
    target = rules.check(release, activity)
    if activity in rules.TOWARD_PRODUCTION:
        _check_not_frozen(session, release, activity, now)
    return target


def _check_not_frozen(
    session: Session, release: Release, activity: Activity, now: datetime
) -> None:
    """Refuse `activity` while a freeze covering the release's service is in force, unless a
    release manager overrode that freeze for this release."""
    assert release.id is not None
    holding = freezes.holding(session, release.team_id, release.id, release.service, now)
    if holding:
        span = max(holding, key=lambda s: s.ends_at)  # the one that holds it longest
        raise NotAllowed(
            Code.FROZEN,
            ref=release.ref,
            release_uid=release.uid,
            action=activity,
            freeze=span.freeze.name,
            freeze_uid=span.freeze.uid,
            service=span.freeze.service,
            ends_at=span.ends_at,
        )


@dataclass(frozen=True)
class Overridden:
    release: Release
    overrides: list[freezes.FreezeOverride]  # those made (none when nothing held it)
    step_due: bool  # the step asked with the override is still to be taken


def _step_passed(release: Release, step: Activity) -> bool:
    """The release is past `step` (or never takes it): the go of a release that is go
    already, the advance of a big-bang release in flight."""
    in_flight = rules.allows(Activity.IN_FLIGHT, release.state)
    return in_flight and (
        step == Activity.GO or (step == Activity.ADVANCE and not release.is_phased)
    )


def override_freezes(
    session: Session,
    actor: Actor,
    release_id: int,
    reason: str,
    step: Activity,
    *,
    now: datetime | None = None,
) -> Overridden:
    """A release manager lets this release through the freezes in force that hold it (each
    for its current occurrence), for whatever move it makes next; audited. Asked with the
    `step` that was refused, which the caller then takes, unless the release is past it
    (`_step_passed`): then the override stands alone, and must override something."""
    now = now or utcnow()
    if not actor.manager:
        raise NotAllowed(Code.NOT_MANAGER, what="override a freeze")
    reason = clean_reason(reason, required=True)
    release = get_for_update(session, actor, release_id)
    assert release.id is not None
    rules.check(release, Activity.OVERRIDE_FREEZE)
    holding = freezes.holding(session, release.team_id, release.id, release.service, now)
    step_due = not _step_passed(release, step)
    if not holding and not step_due:
        raise InvalidInput(Code.NOTHING_FROZEN, ref=release.ref)
    made = [
        freezes.record_override(
            session, release.team_id, release.id, span, actor.user_id, reason, now
        )
        for span in holding
    ]
    if made:
        release.updated_at = now  # the card and the feed show it
        session.add(release)
    session.flush()
    return Overridden(release, made, step_due)


def go(session: Session, actor: Actor, release_id: int, *, now: datetime | None = None) -> Release:
    now = now or utcnow()
    release = get_for_update(session, actor, release_id)
    require_owner(release, actor, Activity.GO)
    if rules.allows(Activity.SIGN, release.state):  # sign-offs may still come: say which
        missing = missing_for_go(session, release)
        if missing:
            raise NotAllowed(Code.MISSING_FOR_GO, ref=release.ref, missing=tuple(missing))
    target = _check_move(session, release, Activity.GO, now)
    before = snapshot(release)
    _move(release, target, now)
    _record(session, release, actor.user_id, "go", now, before=before, after=snapshot(release))
    if release.is_phased:
        release.stage_index = 0
        _move(release, _check_move(session, release, Activity.START_ROLLOUT, now), now)
        _record(
            session,
            release,
            actor.user_id,
            "rollout_started",
            now,
            detail=f"{release.stages[0]}%",
            after=snapshot(release),
        )
    session.add(release)
    session.flush()
    return release


def advance(
    session: Session,
    actor: Actor,
    release_id: int,
    *,
    to_percentage: int | None = None,
    now: datetime | None = None,
) -> Release:
    """Move a phased rollout one stage on. A button names the stage it leads to, so a
    second click on the same button can't skip a stage."""
    now = now or utcnow()
    release = get_for_update(session, actor, release_id)
    require_owner(release, actor, Activity.ADVANCE)
    if not release.is_phased:
        raise InvalidInput(Code.BIG_BANG, ref=release.ref)
    current = release.current_percentage
    if to_percentage is not None and current is not None and current >= to_percentage:
        raise InvalidInput(Code.ALREADY_AT, ref=release.ref, percentage=current)
    target = _check_move(session, release, Activity.ADVANCE, now)
    assert release.stage_index is not None
    before = snapshot(release)
    _move(release, target, now)
    release.stage_index += 1
    _record(
        session,
        release,
        actor.user_id,
        "advanced",
        now,
        detail=f"{release.stages[release.stage_index]}%",
        before=before,
        after=snapshot(release),
    )
    if release.stage_index == len(release.stages) - 1:
        _release(session, release, actor.user_id, now)
    session.add(release)
    session.flush()
    return release


def _release(session: Session, release: Release, actor_id: str, now: datetime) -> None:
    target = _check_move(session, release, Activity.MARK_RELEASED, now)
    before = snapshot(release)
    _move(release, target, now)
    if release.is_phased:
        release.stage_index = len(release.stages) - 1
    session.add(
        ProductionRecord(
            team_id=release.team_id,
            service=release.service,
            version=release.version,
            release_id=release.id or 0,
            released_by=actor_id,
            released_at=now,
        )
    )
    _record(session, release, actor_id, "released", now, before=before, after=snapshot(release))


def mark_released(
    session: Session, actor: Actor, release_id: int, *, now: datetime | None = None
) -> Release:
    now = now or utcnow()
    release = get_for_update(session, actor, release_id)
    require_owner(release, actor, Activity.MARK_RELEASED)
    _release(session, release, actor.user_id, now)
    session.add(release)
    session.flush()
    return release


def _owner_transition(
    session: Session,
    actor: Actor,
    release_id: int,
    action: Activity,
    event: str,
    now: datetime | None,
    reason: str | None = None,
) -> Release:
    """An owner's decision that moves the release along one edge of the state machine;
    a `reason` (required when not None) is kept on the release and in the audit trail."""
    now = now or utcnow()
    if reason is not None:
        reason = clean_reason(reason, required=action != Activity.CANCEL)
    release = get_for_update(session, actor, release_id)
    require_owner(release, actor, action)
    _transition(session, release, action, event, now, actor.user_id, reason, actor.user_id)
    return release


def _transition(
    session: Session,
    release: Release,
    action: Activity,
    event: str,
    now: datetime,
    actor_id: str,
    reason: str | None,
    decided_by: str | None,
) -> None:
    """One edge of the state machine for a locked release, with its audit event; a
    `reason` is kept on the release as `decided_by`'s (None: nobody's, the bot's own)."""
    target = _check_move(session, release, action, now)
    before = snapshot(release)
    _move(release, target, now)
    if reason is not None:
        release.status_reason = reason
        release.status_by = decided_by
    if target == ReleaseStatus.CANCELLED:
        release.sequence += 1  # calendars must see the cancellation as a new revision
    session.add(release)
    _record(
        session,
        release,
        actor_id,
        event,
        now,
        before=before,
        after=snapshot(release),
        detail=reason or "",
    )
    session.flush()


def no_go(
    session: Session,
    actor: Actor,
    release_id: int,
    reason: str,
    *,
    now: datetime | None = None,
) -> Release:
    return _owner_transition(session, actor, release_id, Activity.NO_GO, "no_go", now, reason)


def roll_back(
    session: Session,
    actor: Actor,
    release_id: int,
    reason: str,
    *,
    now: datetime | None = None,
) -> Release:
    return _owner_transition(
        session, actor, release_id, Activity.ROLL_BACK, "rolled_back", now, reason
    )


def cancel(
    session: Session,
    actor: Actor,
    release_id: int,
    reason: str = "",
    *,
    now: datetime | None = None,
) -> Release:
    return _owner_transition(session, actor, release_id, Activity.CANCEL, "cancelled", now, reason)


def withdraw_unseen(session: Session, release_id: int, code: str, now: datetime) -> bool:
    """Slack refused a release's card for good: a release nobody can see must not linger.

    Untouched since it was proposed, it goes as if never made (so the proposer can try
    again elsewhere); otherwise it is cancelled on the record, if it still may be (a
    release already decided, rolling out or finished stays as it is). True when cancelled.
    """
    release = lock(session, release_id)
    if release is None or release.message_ts or not rules.allows(Activity.CANCEL, release.state):
        return False
    events = session.exec(select(AuditEvent.action).where(AuditEvent.release_id == release_id))
    if set(events) <= {"proposed"}:
        _unmake(session, release)
        return False
    reason = f"its card could not be posted ({code})"
    _transition(session, release, Activity.CANCEL, "cancelled", now, SYSTEM, reason, None)
    return True


def _unmake(session: Session, release: Release) -> None:
    """A release as if never proposed: gone with its audit trail."""
    session.execute(sa.delete(AuditEvent).where(col(AuditEvent.release_id) == release.id))
    # A fix proposed meanwhile may name it: it then names nothing (a Core update: its
    # outcome rows, if it has any, are worked out again at the commit).
    naming = session.exec(select(Release.id).where(Release.fixes_release_id == release.id)).all()
    session.execute(
        sa.update(Release)
        .where(col(Release.fixes_release_id) == release.id)
        .values(fixes_release_id=None)
    )
    outcomes.touch(session, [i for i in naming if i is not None])
    session.delete(release)


def pause(
    session: Session, actor: Actor, release_id: int, *, now: datetime | None = None
) -> Release:
    return _owner_transition(session, actor, release_id, Activity.PAUSE, "paused", now)


def resume(
    session: Session, actor: Actor, release_id: int, *, now: datetime | None = None
) -> Release:
    return _owner_transition(session, actor, release_id, Activity.RESUME, "resumed", now)
