"""One Bolt middleware puts who is acting and the handlers' dependencies on the context, so
no listener reads them out of a payload itself (as Netflix Dispatch's Slack plugin does)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext

from handlers.deps import Deps
from models.release.queries import Actor

_ACTOR = "releasebot_actor"
_DEPS = "releasebot_deps"


def register(app: App, deps: Deps) -> None:
    @app.middleware
    def actor_and_deps(
        context: BoltContext, body: dict[str, Any], next: Callable[[], None]
    ) -> None:
        context[_DEPS] = deps
        if context.team_id and context.user_id:
            # A click in a message names its channel under `container` when Bolt finds
            # none at the top (ephemeral messages).
            channel = context.channel_id or (body.get("container") or {}).get("channel_id")
            context[_ACTOR] = Actor(context.team_id, context.user_id, channel or None)
        next()


def actor_of(context: BoltContext) -> Actor:
    """Who sent this request: their workspace, id, and the channel they acted in."""
    actor: Actor = context[_ACTOR]
    return actor


def deps_of(context: BoltContext) -> Deps:
    found: Deps = context[_DEPS]
    return found
