"""Linking GitHub repositories to services (release managers only; audited). A link made
in a channel has the releases GitHub makes releasebot propose posted there, owned by the
release manager who made it."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk import WebClient

from handlers.deps import Deps
from handlers.flows.manager_role import require_manager
from handlers.slack_kit import directory
from handlers.slack_kit.refused import Refused
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
    with deps.db.session() as session:
        return repository_links.link(
            session, actor, repository, service, environments, deps.clock()
        )


def unlink(
    deps: Deps, client: WebClient, actor: Actor, repository: str, service: str | None
) -> list[RepositoryLink]:
    actor = require_manager(deps, client, actor, "unlink a GitHub repository")
    with deps.db.session() as session:
        return repository_links.unlink(session, actor, repository, service, deps.clock())


def listed(deps: Deps, client: WebClient, actor: Actor) -> list[RepositoryLink]:
    require_manager(deps, client, actor, "see the GitHub links")
    with deps.db.read_session() as session:
        return repository_links.of_team(session, actor.team_id)
