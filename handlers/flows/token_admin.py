"""API tokens from Slack: release managers create, list and revoke them (each audited);
and who a token acts as at each use, with its person's rights as they are then."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk import WebClient

from handlers.deps import Deps
from handlers.flows.manager_role import is_release_manager, require_manager
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


def acting_for(deps: Deps, client: WebClient, token: ApiToken, use: api_tokens.Use) -> Actor:
    """Who `token` acts as for `use`: its person, asked now whether they are a release
    manager; refused when the use needs one and they are not."""
    manager = is_release_manager(deps, client, token.team_id, token.owner_id)
    return api_tokens.acting_for(token, use, manager=manager)


def list_tokens(deps: Deps, client: WebClient, actor: Actor) -> list[api_tokens.ListedToken]:
    require_manager(deps, client, actor, "see the API tokens")
    with deps.db.read_session() as session:
        tokens = api_tokens.live_tokens(session, actor.team_id)
    managers = {
        person: is_release_manager(deps, client, actor.team_id, person)
        for person in {t.owner_id for t in tokens}
    }
    return [api_tokens.ListedToken.of(t, manager=managers[t.owner_id]) for t in tokens]


def revoke_token(deps: Deps, client: WebClient, actor: Actor, name: str) -> ApiToken:
    require_manager(deps, client, actor, "revoke API tokens")
    with deps.db.session() as session:
        return api_tokens.revoke(
            session, actor.team_id, name, actor_id=actor.user_id, now=deps.clock()
        )
