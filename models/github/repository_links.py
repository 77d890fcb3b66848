"""Which service a GitHub repository's deployments are, per environment.

A release manager links `owner/repo` to a service for one or more environment names
(`production` unless named). One repository and environment belong to one service (in one
workspace): a deployment there is a release of that service. A repository may be linked
to several services, one per environment. The link keeps who made it and where: a release
GitHub makes releasebot propose is theirs, in that channel.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, col, select

from models import audit, roles
from models.columns import UTCDateTime, utcnow
from models.errors import Code, Conflict, InvalidInput, NotFound
from models.release.proposing import clean_service
from models.release.queries import Actor

DEFAULT_ENVIRONMENT = "production"
# GitHub's own limits: owner 39 characters, repository 100, environment 255.
REPOSITORY_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38})/[a-z0-9._-]{1,100}$")
ENVIRONMENT_PATTERN = re.compile(r"^[^\s,]{1,255}$")
MAX_ENVIRONMENTS = 10


class RepositoryLink(SQLModel, table=True):
    __tablename__ = "github_link"
    __table_args__ = (
        UniqueConstraint("repository", "environment", name="uq_github_link_repository_env"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    repository: str = Field(max_length=140)  # owner/repo, lower case (GitHub ignores case)
    environment: str = Field(max_length=255)  # as GitHub names it (case kept)
    service: str = Field(max_length=64)
    channel_id: str = Field(max_length=32)  # where releases it proposes are posted
    created_by: str = Field(max_length=32)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


def clean_repository(repository: str) -> str:
    value = repository.strip().lower().removesuffix(".git")
    if not REPOSITORY_PATTERN.match(value):
        raise InvalidInput(Code.GITHUB_REPOSITORY_INVALID, value=repository.strip()[:140])
    return value


def clean_environments(environments: Sequence[str]) -> list[str]:
    names = list(dict.fromkeys(e.strip() for e in environments if e.strip()))
    if not names:
        return [DEFAULT_ENVIRONMENT]
    for name in names:
        if not ENVIRONMENT_PATTERN.match(name):
            raise InvalidInput(Code.GITHUB_ENVIRONMENT_INVALID, value=name[:80])
    if len(names) > MAX_ENVIRONMENTS:
        raise InvalidInput(Code.GITHUB_ENVIRONMENT_INVALID, value=", ".join(names)[:80])
    return names


def link(
    session: Session,
    actor: Actor,
    repository: str,
    service: str,
    environments: Sequence[str],
    now: datetime,
) -> list[RepositoryLink]:
    """The links made by a release manager in `actor.channel_id` (an environment already
    linked to this service is left as it is), each audited; refused when one of the
    environments belongs to another service."""
    roles.require(actor, "link a GitHub repository")
    team_id, channel_id = actor.team_id, actor.channel_id or ""
    repository = clean_repository(repository)
    service = clean_service(service)
    made: list[RepositoryLink] = []
    for environment in clean_environments(environments):
        existing = find(session, repository, environment)
        if existing is not None:
            if existing.team_id == team_id and existing.service == service:
                continue
            # Another workspace's link is not described.
            theirs = existing.service if existing.team_id == team_id else None
            raise Conflict(
                Code.GITHUB_ENVIRONMENT_TAKEN,
                repository=repository,
                environment=environment,
                service=theirs,
            )
        row = RepositoryLink(
            team_id=team_id,
            repository=repository,
            environment=environment,
            service=service,
            channel_id=channel_id,
            created_by=actor.user_id,
            created_at=now,
        )
        session.add(row)
        made.append(row)
        _audit(session, actor, "github_linked", now, after={**_shown(row), "channel": channel_id})
    session.flush()
    return made


def find(session: Session, repository: str, environment: str) -> RepositoryLink | None:
    """The link a deployment of `repository` to `environment` falls under (any workspace)."""
    return session.exec(
        select(RepositoryLink).where(
            RepositoryLink.repository == repository.lower(),
            RepositoryLink.environment == environment,
        )
    ).first()


def of_team(session: Session, team_id: str) -> list[RepositoryLink]:
    return list(
        session.exec(
            select(RepositoryLink)
            .where(RepositoryLink.team_id == team_id)
            .order_by(
                col(RepositoryLink.repository),
                col(RepositoryLink.service),
                col(RepositoryLink.environment),
            )
        )
    )


def unlink(
    session: Session, actor: Actor, repository: str, service: str | None, now: datetime
) -> list[RepositoryLink]:
    """The links a release manager removed: the repository's, or only those to `service`;
    each audited."""
    roles.require(actor, "unlink a GitHub repository")
    repository = clean_repository(repository)
    query = select(RepositoryLink).where(
        RepositoryLink.team_id == actor.team_id, RepositoryLink.repository == repository
    )
    if service is not None:
        query = query.where(RepositoryLink.service == clean_service(service))
    removed = list(session.exec(query))
    if not removed:
        raise NotFound(Code.GITHUB_NOT_LINKED, repository=repository, service=service)
    for row in removed:
        _audit(session, actor, "github_unlinked", now, before=_shown(row))
        session.delete(row)
    session.flush()
    return removed


def _shown(row: RepositoryLink) -> dict[str, object]:
    return {"repository": row.repository, "service": row.service, "environment": row.environment}


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    now: datetime,
    *,
    before: dict[str, object] | None = None,
    after: dict[str, object] | None = None,
) -> None:
    audit.record(
        session,
        team_id=actor.team_id,
        release_id=None,
        actor_id=actor.user_id,
        action=action,
        before=before,
        after=after,
        at=now,
    )
