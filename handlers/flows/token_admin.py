"""API tokens from Slack: release managers create, list and revoke them (each audited)."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk import WebClient

from handlers.deps import Deps
from handlers.flows.manager_role import require_manager
from models.api import api_tokens
from models.api.api_tokens import ApiToken
from models.release.queries import Actor


def create_token(
    deps: Deps, client: WebClient, actor: Actor, name: str, services: Sequence[str]
) -> tuple[ApiToken, str]:
    """The new token and its secret (shown once): it acts for the person who created it."""
    require_manager(deps, client, actor, "create API tokens")
    with deps.db.session() as session:
        return api_tokens.issue(
            session,
            actor.team_id,
            name,
            owner_id=actor.user_id,
            created_by=actor.user_id,
            services=services,
            now=deps.clock(),
        )


def list_tokens(deps: Deps, client: WebClient, actor: Actor) -> list[ApiToken]:
    require_manager(deps, client, actor, "see the API tokens")
    with deps.db.read_session() as session:
        return api_tokens.live_tokens(session, actor.team_id)


def revoke_token(deps: Deps, client: WebClient, actor: Actor, name: str) -> ApiToken:
    require_manager(deps, client, actor, "revoke API tokens")
    with deps.db.session() as session:
        return api_tokens.revoke(
            session, actor.team_id, name, actor_id=actor.user_id, now=deps.clock()
        )
