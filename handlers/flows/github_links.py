"""Linking GitHub repositories to services (release managers only; audited). A link made
in a channel has the releases GitHub makes releasebot propose posted there, owned by the
release manager who made it."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk import WebClient

from handlers.deps import Deps
from handlers.flows.manager_role import require_manager
from handlers.rendering.refusals import Refused
from handlers.slack import directory
from models import audit
from models.github import repository_links
from models.github.repository_links import RepositoryLink
from models.release.queries import Actor


def link(
    deps: Deps,
    client: WebClient,
    actor: Actor,
    repository: str,
    service: str,
    environments: Sequence[str],
) -> list[RepositoryLink]:
    actor = require_manager(deps, client, actor, "link a GitHub repository")
    # GitHub is outside Slack, where nobody's membership can be checked (as for API
    # tokens): the releases it proposes and asks about are public ones.
    if not actor.channel_id or directory.channel_is_private(client, actor.channel_id):
        raise Refused(
            "Link a repository from a public channel: the one its releases should be posted "
            "in (GitHub sees only public releases)."
        )
    now = deps.clock()
    with deps.db.session() as session:
        made = repository_links.link(
            session,
            team_id=actor.team_id,
            repository=repository,
            service=service,
            environments=environments,
            channel_id=actor.channel_id,
            created_by=actor.user_id,
            now=now,
        )
        for row in made:
            audit.record(
                session,
                team_id=actor.team_id,
                release_id=None,
                actor_id=actor.user_id,
                action="github_linked",
                after={
                    "repository": row.repository,
                    "service": row.service,
                    "environment": row.environment,
                    "channel": row.channel_id,
                },
                at=now,
            )
    return made


def unlink(
    deps: Deps, client: WebClient, actor: Actor, repository: str, service: str | None
) -> list[RepositoryLink]:
    actor = require_manager(deps, client, actor, "unlink a GitHub repository")
    now = deps.clock()
    with deps.db.session() as session:
        removed = repository_links.unlink(session, actor.team_id, repository, service)
        for row in removed:
            audit.record(
                session,
                team_id=actor.team_id,
                release_id=None,
                actor_id=actor.user_id,
                action="github_unlinked",
                before={
                    "repository": row.repository,
                    "service": row.service,
                    "environment": row.environment,
                },
                at=now,
            )
    return removed


def listed(deps: Deps, client: WebClient, actor: Actor) -> list[RepositoryLink]:
    require_manager(deps, client, actor, "see the GitHub links")
    with deps.db.read_session() as session:
        return repository_links.of_team(session, actor.team_id)
