"""`/release history [<service>] [n]` and its More button: a service's record, privately."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from handlers.deps import Deps
from handlers.flows.service_history import service_history, services_with_releases
from handlers.rendering.channel_messages import private_answer
from handlers.rendering.history_messages import history_blocks, services_blocks
from handlers.slack.context import actor_of, deps_of
from handlers.slack.error_replies import in_background
from handlers.slack_kit import ids, parsing
from handlers.slack_kit.payloads import HistoryPage
from models.release.queries import Actor


def history_reply(
    deps: Deps,
    actor: Actor,
    service: str | None,
    count: int = 10,
    *,
    before: str | None = None,
    offset: int = 0,
) -> dict[str, Any]:
    """One service's history from `before` (None: the newest), or without a service, the
    services with releases from `offset`; what the person may see from where they ask."""
    if service is None:
        listed = services_with_releases(deps, actor.team_id, actor.reader, offset=offset)
        blocks = services_blocks(listed, offset)
        text = "Services with releases"
    else:
        history = service_history(
            deps, actor.team_id, service, actor.reader, count=count, before=before
        )
        blocks = history_blocks(history, count, first_page=before is None)
        text = f"History of {history.service}"
    return private_answer(blocks, text)


def reply_to(deps: Deps, actor: Actor, command: parsing.History) -> dict[str, Any]:
    return history_reply(deps, actor, command.service, command.count)


def register(app: App) -> None:
    @app.action(ids.HISTORY_MORE)
    def history_more_clicked(
        ack: Ack, context: BoltContext, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        deps, actor = deps_of(context), actor_of(context)

        def next_page() -> None:
            page = HistoryPage.parse((body.get("actions") or [{}])[0].get("value"))
            respond(
                **history_reply(
                    deps,
                    actor,
                    page.service,
                    page.count,
                    before=page.before,
                    offset=page.offset,
                )
            )

        deps.work.submit(in_background(next_page, body, client, respond))
