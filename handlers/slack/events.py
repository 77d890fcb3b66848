"""Events API: the App Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from handlers.delivery.home_publisher import publish_home
from handlers.slack.context import actor_of, deps_of


def register(app: App) -> None:
    @app.event("app_home_opened")
    def home_opened(
        ack: Ack, context: BoltContext, event: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        if event.get("tab", "home") != "home":
            return  # the Messages tab needs nothing from us
        deps, actor = deps_of(context), actor_of(context)
        team_id, user_id = actor.team_id, actor.user_id
        deps.work.submit(lambda: publish_home(deps, client, team_id, user_id))
