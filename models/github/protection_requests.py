"""GitHub's deployment protection rule: the deployments waiting on a release's gate, and
the answers and status reports owed to GitHub.

A request is answered once: the answer is written by a conditional UPDATE of the request
from `waiting` (in the transaction that owes the callback), so however many processes and
restarts look at it, one of them writes it. The callbacks are an outbox of their own: a
sender claims each with a conditional UPDATE and retries what fails for a while.

While a request waits, a status report (a comment without a state) is owed at most once
per change of the reasons it waits for, and at most MAX_REPORTS per request (GitHub's
limit); every comment fits GitHub's 1,024 characters.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, Text, update
from sqlalchemy.engine import CursorResult
from sqlmodel import Field, Session, SQLModel, col, select

from models import audit
from models.api.gate import Reason, Verdict, judge
from models.columns import UTCDateTime, utcnow
from models.durable_queue import HOURLY_FOR_A_DAY, Queue
from models.release.records import Release, ReleaseStatus
from models.release.visibility import PUBLIC_READER, shown_to

MAX_REPORTS = 10
MAX_COMMENT = 1024
# GitHub stops waiting for a protection rule's answer after 30 days.
GITHUB_GIVES_UP = timedelta(days=30)


class RequestState(StrEnum):
    WAITING = "waiting"
    ANSWERED = "answered"
    DROPPED = "dropped"  # GitHub gave up waiting


class Answer(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


class DeploymentRequest(SQLModel, table=True):
    __tablename__ = "github_deployment_request"
    __table_args__ = (Index("ix_github_deployment_request_state", "state", "release_id"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    # None: no release could be proposed for it (it was rejected at once, saying why).
    release_id: int | None = Field(
        default=None, foreign_key="release.id", index=True, ondelete="CASCADE"
    )
    repository: str = Field(max_length=140)
    environment: str = Field(max_length=255)
    deployment_id: int = Field(sa_column=Column(BigInteger(), nullable=False, index=True))
    installation_id: int = Field(sa_column=Column(BigInteger(), nullable=False))
    sha: str = Field(default="", max_length=40)
    callback_url: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(default=RequestState.WAITING.value, max_length=16)
    answer: str = Field(default="", max_length=16)
    # A digest of the reasons the last status report gave, and how many went.
    reasons_key: str = Field(default="", max_length=64)
    reports: int = Field(default=0)
    requested_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    answered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class CallbackKind(StrEnum):
    ANSWER = "answer"
    STATUS = "status"


class CallbackStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by one process
    SENT = "sent"
    FAILED = "failed"  # refused for good (a 4xx), or tried for a day


class Callback(SQLModel, table=True):
    __tablename__ = "github_callback"
    __table_args__ = (Index("ix_github_callback_due", "status", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(
        foreign_key="github_deployment_request.id", index=True, ondelete="CASCADE"
    )
    kind: str = Field(max_length=16)
    body: str = Field(sa_column=Column(Text, nullable=False))  # the JSON GitHub gets
    status: str = Field(default=CallbackStatus.PENDING.value, max_length=16)
    attempts: int = Field(default=0)
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


# --- which release a deployment is ------------------------------------------------------

_TAG_PREFIX = "refs/tags/"
# A ref that reads as a version (v2.4.0, 2.4.0-rc.1): a tag, as far as a deployment says.
_VERSION_REF = re.compile(r"^v?\d+(\.\d+)*([-+][0-9A-Za-z.+-]+)?$")
SHORT_SHA = 12


def tag_of(ref: str) -> str | None:
    """The tag a deployment's ref names (`refs/tags/v2.4.0`, `v2.4.0`), if it names one."""
    ref = ref.strip()
    if ref.startswith(_TAG_PREFIX):
        return ref.removeprefix(_TAG_PREFIX) or None
    return ref if _VERSION_REF.match(ref) else None


def same_versions(tag: str) -> list[str]:
    """`v2.4.0` and `2.4.0` are one version."""
    bare = tag[1:] if tag[:1] in ("v", "V") and tag[1:2].isdigit() else tag
    return list(dict.fromkeys([tag, bare, f"v{bare}"]))


def proposed_version(ref: str, sha: str) -> str:
    """The version a release proposed for this deployment gets: its tag, else its commit."""
    return tag_of(ref) or sha[:SHORT_SHA]


def release_for(session: Session, team_id: str, service: str, sha: str, ref: str) -> Release | None:
    """The public release of `service` the deployment is: the one whose commit is the
    deployment's, else the one whose version is the tag its ref names. Newest first;
    cancelled ones never."""
    base = (
        select(Release)
        .where(
            Release.team_id == team_id,
            Release.service == service,
            shown_to(PUBLIC_READER),
            Release.status != ReleaseStatus.CANCELLED.value,
        )
        .order_by(col(Release.created_at).desc(), col(Release.id).desc())
    )
    sha = sha.strip().lower()
    if sha:
        # A release may hold an abbreviated commit (7 characters or more).
        prefixes = [sha[:n] for n in range(7, len(sha) + 1)]
        found = session.exec(base.where(col(Release.commit_sha).in_(prefixes))).first()
        if found is not None:
            return found
    tag = tag_of(ref)
    if tag is None:
        return None
    return session.exec(base.where(col(Release.version).in_(same_versions(tag)))).first()


# --- the requests -----------------------------------------------------------------------


def open_request(
    session: Session,
    *,
    team_id: str,
    release: Release | None,
    repository: str,
    environment: str,
    deployment_id: int,
    installation_id: int,
    sha: str,
    callback_url: str,
    now: datetime,
) -> DeploymentRequest:
    request = DeploymentRequest(
        team_id=team_id,
        release_id=release.id if release is not None else None,
        repository=repository,
        environment=environment,
        deployment_id=deployment_id,
        installation_id=installation_id,
        sha=sha.lower(),
        callback_url=callback_url,
        requested_at=now,
    )
    session.add(request)
    session.flush()
    audit.record(
        session,
        team_id=team_id,
        release_id=request.release_id,
        actor_id="github",
        action="github_deployment_requested",
        after={
            "repository": repository,
            "environment": environment,
            "deployment": deployment_id,
            "sha": request.sha,
        },
        detail=f"{repository} to {environment}",
        at=now,
    )
    return request


def find_request(
    session: Session, deployment_id: int, environment: str
) -> DeploymentRequest | None:
    """The request already kept for this deployment (a delivery handled again)."""
    return session.exec(
        select(DeploymentRequest).where(
            DeploymentRequest.deployment_id == deployment_id,
            DeploymentRequest.environment == environment,
        )
    ).first()


def waiting(session: Session, *, release_id: int | None = None, limit: int = 1000) -> list[int]:
    query = select(DeploymentRequest.id).where(
        DeploymentRequest.state == RequestState.WAITING.value
    )
    if release_id is not None:
        query = query.where(DeploymentRequest.release_id == release_id)
    rows = session.exec(query.order_by(col(DeploymentRequest.id)).limit(limit))
    return [i for i in rows if i is not None]


def verdict(
    session: Session, request: DeploymentRequest, release: Release, now: datetime
) -> Verdict:
    """The gate's decision about the deployment's commit (another commit than the
    release's is rejected)."""
    return judge(session, release, now, commit=request.sha or None)


def is_expired(request: DeploymentRequest, now: datetime) -> bool:
    return now - request.requested_at > GITHUB_GIVES_UP


def fit_comment(text: str) -> str:
    return text if len(text) <= MAX_COMMENT else text[: MAX_COMMENT - 1] + "…"


def reasons_key(v: Verdict) -> str:
    """What a status report is about: the reasons' codes, and which freezes hold it (so a
    checklist ticked item by item is one change, not one report per item)."""
    named = [(code.value, text if code == Reason.FREEZE_ACTIVE else "") for code, text in v.reasons]
    return hashlib.sha256(json.dumps(named).encode()).hexdigest()[:32]


def answer(
    session: Session,
    request: DeploymentRequest,
    state: Answer,
    comment: str,
    now: datetime,
) -> bool:
    """Answer GitHub, once: False when the request was answered (or dropped) already."""
    if not _leave_waiting(session, request, RequestState.ANSWERED, now, answer=state.value):
        return False
    body = {"environment_name": request.environment, "state": state.value}
    _owe(session, request, CallbackKind.ANSWER, body | {"comment": fit_comment(comment)}, now)
    audit.record(
        session,
        team_id=request.team_id,
        release_id=request.release_id,
        actor_id="github",
        action=f"github_deployment_{state.value}",
        after={
            "repository": request.repository,
            "environment": request.environment,
            "deployment": request.deployment_id,
        },
        detail=fit_comment(comment)[:500],
        at=now,
    )
    return True


def report_status(
    session: Session, request: DeploymentRequest, key: str, comment: str, now: datetime
) -> bool:
    """A status report for what the request waits for: False when the reasons are those
    reported last, the request waits no more, or MAX_REPORTS went already."""
    assert request.id is not None
    result = session.execute(
        update(DeploymentRequest)
        .where(
            col(DeploymentRequest.id) == request.id,
            col(DeploymentRequest.state) == RequestState.WAITING.value,
            col(DeploymentRequest.reasons_key) != key,
            col(DeploymentRequest.reports) < MAX_REPORTS,
        )
        .values(reasons_key=key, reports=DeploymentRequest.reports + 1)  # type: ignore[operator]
    )
    assert isinstance(result, CursorResult)
    if result.rowcount != 1:
        return False
    body = {"environment_name": request.environment, "comment": fit_comment(comment)}
    _owe(session, request, CallbackKind.STATUS, body, now)
    return True


def drop(session: Session, request: DeploymentRequest, now: datetime) -> bool:
    """GitHub stopped waiting: the request is dropped (False: answered or dropped already)."""
    if not _leave_waiting(session, request, RequestState.DROPPED, now):
        return False
    audit.record(
        session,
        team_id=request.team_id,
        release_id=request.release_id,
        actor_id="github",
        action="github_deployment_dropped",
        after={"repository": request.repository, "environment": request.environment},
        detail="GitHub stopped waiting after 30 days",
        at=now,
    )
    return True


def _leave_waiting(
    session: Session, request: DeploymentRequest, state: RequestState, now: datetime, **values: str
) -> bool:
    assert request.id is not None
    result = session.execute(
        update(DeploymentRequest)
        .where(
            col(DeploymentRequest.id) == request.id,
            col(DeploymentRequest.state) == RequestState.WAITING.value,
        )
        .values(state=state.value, answered_at=now, **values)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


def _owe(
    session: Session,
    request: DeploymentRequest,
    kind: CallbackKind,
    body: dict[str, str],
    now: datetime,
) -> None:
    assert request.id is not None
    session.add(
        Callback(
            request_id=request.id,
            kind=kind.value,
            body=json.dumps(body, separators=(",", ":")),
            due_at=now,
            created_at=now,
        )
    )
    session.flush()


# --- sending the callbacks --------------------------------------------------------------

# After a temporary failure: 2 s, 10 s, 1 min, 5 min, 30 min, then hourly, for a day.
CALLBACKS = Queue(Callback, backoff=HOURLY_FOR_A_DAY, stale_after=timedelta(minutes=2))


def due_callbacks(session: Session, now: datetime, *, limit: int = 200) -> list[tuple[int, int]]:
    """(callback id, request id) of what may be sent now, oldest first."""
    rows = session.exec(
        select(Callback.id, Callback.request_id)
        .where(Callback.status == CallbackStatus.PENDING.value, col(Callback.due_at) <= now)
        .order_by(col(Callback.id))
        .limit(limit)
    )
    return [(i, r) for i, r in rows if i is not None]
