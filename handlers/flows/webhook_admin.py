"""Adding, removing and listing webhooks, and their recent deliveries (release managers
only; adding and removing are audited)."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk import WebClient

from handlers.delivery import webhook_urls
from handlers.deps import Deps
from handlers.flows.manager_role import require_manager
from handlers.slack_kit.mrkdwn import escape, truncate
from handlers.slack_kit.refused import Refused
from models import audit, webhooks
from models.release.queries import Actor
from models.webhooks import EVENTS, MAX_WEBHOOKS, Webhook, WebhookDelivery


def add(deps: Deps, client: WebClient, actor: Actor, url: str, events: Sequence[str]) -> Webhook:
    """A new webhook; its secret is in the row returned (shown once, by the caller)."""
    actor = require_manager(deps, client, actor, "add a webhook")
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise Refused(
            f"I don't know the event {truncate(escape(unknown[0]), 60)}. The events are: "
            + ", ".join(f"`{e}`" for e in EVENTS)
            + " (name none to get them all)."
        )
    try:
        webhook_urls.check(url, allow_private=deps.config.webhook_allow_private)
    except webhook_urls.UnsafeUrl as exc:
        raise Refused(escape(str(exc))) from None
    with deps.db.session() as session:
        if len(webhooks.of_team(session, actor.team_id)) >= MAX_WEBHOOKS:
            raise Refused(f"This workspace has {MAX_WEBHOOKS} webhooks; remove one first.")
        webhook = webhooks.add(session, actor.team_id, url, events, actor.user_id, now=deps.clock())
        if webhook is None:
            raise Refused(
                f"There is a webhook at {escape(webhooks.shown_url(url))} already; remove it "
                "first to change it."
            )
        audit.record(
            session,
            team_id=actor.team_id,
            release_id=None,
            actor_id=actor.user_id,
            action="webhook_added",
            after={"url": webhook.shown_url, "events": list(webhook.events)},
            at=deps.clock(),
        )
    return webhook


def remove(deps: Deps, client: WebClient, actor: Actor, url: str) -> Webhook:
    actor = require_manager(deps, client, actor, "remove a webhook")
    with deps.db.session() as session:
        webhook = _find(session, actor.team_id, url)
        webhooks.remove(session, webhook)
        audit.record(
            session,
            team_id=actor.team_id,
            release_id=None,
            actor_id=actor.user_id,
            action="webhook_removed",
            before={"url": webhook.shown_url, "events": list(webhook.events)},
            at=deps.clock(),
        )
    return webhook


def listed(deps: Deps, client: WebClient, actor: Actor) -> list[Webhook]:
    actor = require_manager(deps, client, actor, "see the webhooks")
    with deps.db.read_session() as session:
        return webhooks.of_team(session, actor.team_id)


def deliveries(
    deps: Deps, client: WebClient, actor: Actor, url: str
) -> tuple[Webhook, list[WebhookDelivery]]:
    actor = require_manager(deps, client, actor, "see a webhook's deliveries")
    with deps.db.read_session() as session:
        webhook = _find(session, actor.team_id, url)
        assert webhook.id is not None
        return webhook, webhooks.recent(session, webhook.id)


def _find(session: webhooks.Session, team_id: str, url: str) -> Webhook:
    found = webhooks.matching(session, team_id, url)
    shown = truncate(escape(url), 200)  # as the person typed it
    if not found:
        raise Refused(f"There is no webhook at {shown}. `/release webhook list` shows them.")
    if len(found) > 1:
        raise Refused(
            f"There are {len(found)} webhooks at {shown}, with different queries: give the "
            "whole URL of the one you mean."
        )
    return found[0]
