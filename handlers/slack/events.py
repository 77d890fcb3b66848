"""Events API: the App Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from handlers.delivery.home_publisher import publish_home
from handlers.deps import Deps


def register(app: App, deps: Deps) -> None:
    @app.event("app_home_opened")
    def home_opened(
        ack: Ack, body: dict[str, Any], event: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        if event.get("tab", "home") != "home":
            return  # the Messages tab needs nothing from us
        team_id = str(body.get("team_id") or "")
        user_id = str(event["user"])
        deps.work.submit(lambda: publish_home(deps, client, team_id, user_id))
