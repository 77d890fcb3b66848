"""The deploy gate: may a pipeline deploy `service@version` now?

`allow` only while the release is go or rolling out, not paused, and held by no freeze in
force (or a release manager overrode each one for this release). `deny` once it can never
be allowed (no-go, cancelled, rolled back, released). `pending` while it may still become
allowed. A release the token can't see (private, or not proposed yet) reads as
NO_RELEASE: `deny`, or `pending` when the pipeline is willing to wait for it. A pipeline
that names the artifact digest or the commit it deploys is denied when the release holds
another (DIGEST_MISMATCH, COMMIT_MISMATCH): what deploys is what was signed off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session

from models.errors import NotFound
from models.freezes import holding
from models.release.proposing import clean_commit, clean_digest, same_commit
from models.release.queries import by_name, checklist_of
from models.release.records import Release, ReleaseStatus
from models.release.visibility import PUBLIC_READER

S = ReleaseStatus


class Decision(StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    PENDING = "pending"


class Reason(StrEnum):
    NO_RELEASE = "NO_RELEASE"
    NOT_APPROVED = "NOT_APPROVED"
    CHECKLIST_OPEN = "CHECKLIST_OPEN"
    NOT_GO = "NOT_GO"
    FREEZE_ACTIVE = "FREEZE_ACTIVE"
    PAUSED = "PAUSED"
    NO_GO = "NO_GO"
    CANCELLED = "CANCELLED"
    ROLLED_BACK = "ROLLED_BACK"
    ALREADY_RELEASED = "ALREADY_RELEASED"
    COMMIT_MISMATCH = "COMMIT_MISMATCH"
    DIGEST_MISMATCH = "DIGEST_MISMATCH"


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reasons: list[tuple[Reason, str]] = field(default_factory=list)
    release: Release | None = None

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(code.value for code, _ in self.reasons)


_FINAL = {
    S.NO_GO: (Reason.NO_GO, "The owner decided no-go."),
    S.CANCELLED: (Reason.CANCELLED, "The release was cancelled."),
    S.ROLLED_BACK: (Reason.ROLLED_BACK, "The release was rolled back."),
    S.RELEASED: (Reason.ALREADY_RELEASED, "The release is released already."),
}


def evaluate(
    session: Session,
    team_id: str,
    service: str,
    version: str,
    now: datetime,
    *,
    waiting: bool = False,
    digest: str | None = None,
    commit: str | None = None,
) -> Verdict:
    """The gate's answer now. `waiting`: the pipeline will wait, so a release not
    proposed yet is `pending` rather than `deny`. `digest` and `commit`: what the pipeline
    deploys (refused as InvalidInput when malformed)."""
    digest, commit = clean_digest(digest), clean_commit(commit)
    try:
        release = by_name(session, team_id, service, version, PUBLIC_READER)
    except NotFound:
        ref = f"{service.strip().lower()}@{version.strip()}"
        reason = (Reason.NO_RELEASE, f"There is no release {ref} (or it is not public).")
        return Verdict(Decision.PENDING if waiting else Decision.DENY, [reason])
    return judge(session, release, now, digest=digest, commit=commit)


def mismatches(
    release: Release, *, digest: str | None, commit: str | None
) -> list[tuple[Reason, str]]:
    """What is deployed differs from what the release holds (each checked only when the
    release holds one): both values named."""
    reasons: list[tuple[Reason, str]] = []
    if digest and release.digest and digest != release.digest:
        reasons.append(
            (
                Reason.DIGEST_MISMATCH,
                f"The artifact is {digest}, but {release.ref} was approved as {release.digest}.",
            )
        )
    if commit and release.commit_sha and not same_commit(commit, release.commit_sha):
        reasons.append(
            (
                Reason.COMMIT_MISMATCH,
                f"The deployment is of commit {commit}, but {release.ref} is commit "
                f"{release.commit_sha}.",
            )
        )
    return reasons


def judge(
    session: Session,
    release: Release,
    now: datetime,
    *,
    digest: str | None = None,
    commit: str | None = None,
) -> Verdict:
    """The gate's answer now about a release found already (`digest` and `commit` clean)."""
    if wrong := mismatches(release, digest=digest, commit=commit):
        return Verdict(Decision.DENY, wrong, release)
    state = release.state
    if state in _FINAL:
        return Verdict(Decision.DENY, [_FINAL[state]], release)
    assert release.id is not None
    reasons: list[tuple[Reason, str]] = []
    if state in (S.PROPOSED, S.CHANGES_REQUESTED):
        reasons.append((Reason.NOT_APPROVED, "The sign-offs it needs are not all in."))
    if state in (S.PROPOSED, S.CHANGES_REQUESTED, S.APPROVED):
        items = checklist_of(session, release.id)
        open_items = sum(1 for item in items if not item.checked)
        if open_items:
            reasons.append(
                (Reason.CHECKLIST_OPEN, f"{open_items} of {len(items)} checklist items open.")
            )
        reasons.append((Reason.NOT_GO, "The owner has not given the go."))
    if state == S.PAUSED:
        reasons.append((Reason.PAUSED, "The rollout is paused."))
    for span in holding(session, release.team_id, release.id, release.service, now):
        reasons.append(
            (
                Reason.FREEZE_ACTIVE,
                f'Freeze "{span.freeze.name}" is in force until '
                f"{span.ends_at.isoformat().replace('+00:00', 'Z')}.",
            )
        )
    if reasons:
        return Verdict(Decision.PENDING, reasons, release)
    return Verdict(Decision.ALLOW, [], release)
