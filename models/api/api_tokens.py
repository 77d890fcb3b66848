"""API tokens: what a pipeline sends as `Authorization: Bearer rbk_…`.

A token is a bearer secret (`models.bearer_secrets`: only its hash is stored). Each acts
in its own workspace, on behalf of the person who created it (a release it proposes is
theirs), with that person's rights as they are at each use (not when it was made), and
only on its services when it names any.
Release managers create and revoke them; both are audited, and each token keeps when it
was last used (written at most once a minute, so reads stay reads).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Column, Index, text
from sqlmodel import Field, Session, SQLModel, col, select

from models import audit, bearer_secrets
from models.columns import UTCDateTime, utcnow
from models.errors import Code, Conflict, InvalidInput, NotAllowed, NotFound
from models.fields import FIELD_TOKEN_NAME
from models.release.proposing import clean_service
from models.release.queries import Actor

PREFIX = "rbk_"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
MAX_LIVE_TOKENS = 50
MAX_SERVICES = 20
# `last_used_at` moves at most this often: a token used every second writes once a minute.
LAST_USED_EVERY = timedelta(minutes=1)
# Who created a token from the command line (set-up scripts), in its audit events.
CLI_ACTOR = "cli"


class Use(StrEnum):
    """What a token is used for, where its person's rights decide."""

    EXPORT_AUDIT = "export the audit trail"
    # Reports of a release its person doesn't own: as the rollout buttons, a release
    # manager's (checked by `queries.require_owner` on the actor of each report).
    REPORT_FOR_OTHERS = "report deployments of releases others own"


# What a token does only while its person is a release manager, asked at each use.
MANAGER_USES = (Use.EXPORT_AUDIT, Use.REPORT_FOR_OTHERS)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"
    __table_args__ = (
        # A name names one live token of a workspace (a revoked one's name may be reused).
        Index(
            "uq_api_token_live_name",
            "team_id",
            "name",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    name: str = Field(max_length=40)
    token_hash: str = Field(max_length=64, unique=True)
    # The services it may act on, comma-separated; empty: all of the workspace's.
    services: str = Field(default="", max_length=1400)
    # The person it acts for: a release it proposes is theirs (owner), as if they had.
    owner_id: str = Field(max_length=32)
    # Who created it: a Slack user id, or "cli".
    created_by: str = Field(max_length=32)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    last_used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    revoked_by: str | None = Field(default=None, max_length=32)

    @property
    def scope(self) -> tuple[str, ...]:
        """Its services; () for all of them."""
        return tuple(s for s in self.services.split(",") if s)

    def may_act_on(self, service: str) -> bool:
        return not self.scope or service.strip().lower() in self.scope

    def require_scope(self, service: str) -> None:
        """Refused when the token is limited to other services."""
        if not self.may_act_on(service):
            raise NotAllowed(Code.TOKEN_SCOPE, service=service.strip().lower())


def acting_for(token: ApiToken, use: Use | None = None, *, manager: bool = False) -> Actor:
    """Who the token acts as: its person, in its workspace, a release manager if they are
    one now (`manager`, asked at this use). Refused for a `use` that needs a manager
    when they are not one."""
    if use is not None and use in MANAGER_USES and not manager:
        raise NotAllowed(Code.TOKEN_NOT_MANAGER, person=token.owner_id, what=use.value)
    return Actor(team_id=token.team_id, user_id=token.owner_id, manager=manager)


@dataclass(frozen=True)
class ListedToken:
    """A live token, and what it no longer does: its person is not a release manager now."""

    token: ApiToken
    lost: tuple[Use, ...] = ()

    @classmethod
    def of(cls, token: ApiToken, *, manager: bool) -> ListedToken:
        return cls(token, () if manager else MANAGER_USES)


def clean_name(name: str) -> str:
    name = name.strip().lower()
    if not NAME_PATTERN.match(name):
        raise InvalidInput(Code.TOKEN_NAME_INVALID, field=FIELD_TOKEN_NAME, value=name)
    return name


def clean_services(services: Sequence[str]) -> tuple[str, ...]:
    cleaned = tuple(dict.fromkeys(clean_service(s) for s in services))
    if len(cleaned) > MAX_SERVICES:
        raise InvalidInput(Code.TOKEN_SERVICES, limit=MAX_SERVICES)
    return cleaned


def live_tokens(session: Session, team_id: str) -> list[ApiToken]:
    return list(
        session.exec(
            select(ApiToken)
            .where(ApiToken.team_id == team_id, col(ApiToken.revoked_at).is_(None))
            .order_by(col(ApiToken.created_at), col(ApiToken.id))
        )
    )


def issue(
    session: Session,
    team_id: str,
    name: str,
    *,
    owner_id: str,
    created_by: str,
    services: Sequence[str] = (),
    now: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token and its secret, returned this once; only the hash is kept."""
    now = now or utcnow()
    name = clean_name(name)
    scope = clean_services(services)
    live = live_tokens(session, team_id)
    if any(t.name == name for t in live):
        raise Conflict(Code.TOKEN_NAME_TAKEN, field=FIELD_TOKEN_NAME, name=name)
    if len(live) >= MAX_LIVE_TOKENS:
        raise InvalidInput(Code.TOO_MANY_TOKENS, limit=MAX_LIVE_TOKENS)
    raw = bearer_secrets.new_secret(PREFIX)
    token = ApiToken(
        team_id=team_id,
        name=name,
        token_hash=bearer_secrets.hash_secret(raw),
        services=",".join(scope),
        owner_id=owner_id,
        created_by=created_by,
        created_at=now,
    )
    taken = Conflict(Code.TOKEN_NAME_TAKEN, field=FIELD_TOKEN_NAME, name=name)
    bearer_secrets.add_named(session, token, taken)
    audit.record(
        session,
        team_id=team_id,
        release_id=None,
        actor_id=created_by,
        action="api_token_created",
        after={"name": name, "services": list(scope), "owner": owner_id},
        at=now,
    )
    session.flush()
    return token, raw


def revoke(
    session: Session, team_id: str, name: str, *, actor_id: str, now: datetime | None = None
) -> ApiToken:
    """Stop the workspace's live token of that name at once."""
    now = now or utcnow()
    name = name.strip().lower()
    token = bearer_secrets.lock_live(
        session, ApiToken, col(ApiToken.team_id) == team_id, col(ApiToken.name) == name
    )
    if token is None:
        raise NotFound(Code.NO_SUCH_TOKEN, field=FIELD_TOKEN_NAME, name=name)
    token.revoked_at = now
    token.revoked_by = actor_id
    session.add(token)
    audit.record(
        session,
        team_id=team_id,
        release_id=None,
        actor_id=actor_id,
        action="api_token_revoked",
        before={"name": name, "services": list(token.scope), "owner": token.owner_id},
        at=now,
    )
    session.flush()
    return token


def resolve(session: Session, raw: str) -> ApiToken | None:
    """The live token `raw` is, or None (unknown, revoked or malformed alike)."""
    return bearer_secrets.find_live(session, ApiToken, raw, PREFIX)


def due_for_use_mark(token: ApiToken, now: datetime) -> bool:
    return bearer_secrets.use_due(token.last_used_at, now, LAST_USED_EVERY)


def mark_used(session: Session, token_id: int, now: datetime) -> None:
    """Record a use, unless one was recorded less than a minute ago (by any process)."""
    bearer_secrets.mark_used(session, ApiToken, token_id, now, LAST_USED_EVERY)
