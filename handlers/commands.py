"""`/release …`: the slash command surface."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from handlers import directory, ids, parsing
from handlers.deps import Deps
from handlers.errors import in_background
from handlers.proposing import create_release
from handlers.publishing import thread_reply, update_card
from handlers.rendering import messages, modals
from handlers.rendering.common import user
from handlers.text import escape
from models import audit, releases
from models.releases import Proposal


def register(app: App, deps: Deps) -> None:
    @app.command(ids.COMMAND)
    def release_command(
        ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        command = parsing.parse(body.get("text") or "")
        team_id = str(body["team_id"])

        def later(work: Any) -> None:
            ack()
            deps.work.submit(in_background(work, body, client, respond))

        match command:
            case parsing.Help():
                ack(
                    response_type="ephemeral",
                    blocks=messages.to_dicts(messages.help_blocks()),
                    text="How to use /release",
                )
            case parsing.ListReleases():
                with deps.db.session() as session:
                    upcoming = releases.upcoming(session, team_id)
                    blocks = messages.list_blocks(upcoming, deps.clock())
                ack(
                    response_type="ephemeral",
                    blocks=messages.to_dicts(blocks),
                    text="Upcoming releases",
                )
            case parsing.RefCommand(name="status", ref=ref):
                with deps.db.session() as session:
                    release = releases.find(session, team_id, ref)
                    assert release.id is not None
                    view = releases.load_view(session, release)
                    events = audit.history(session, release.id)
                    blocks = messages.status_blocks(view, events)
                ack(
                    response_type="ephemeral",
                    blocks=messages.to_dicts(blocks),
                    text=messages.card_text(view),
                )
            case parsing.ProposeForm():
                later(lambda: open_propose_modal(deps, client, body))
            case parsing.Propose():
                later(lambda: propose_from_text(deps, client, body, respond, command))
            case parsing.RefCommand(name="cancel", ref=ref, text=reason):
                later(lambda: cancel(deps, client, body, respond, ref, reason))
            case _:
                raise parsing.unknown_subcommand(str(body.get("text") or ""))


def open_propose_modal(deps: Deps, client: WebClient, body: dict[str, Any]) -> None:
    # Default: tomorrow, on the hour.
    default = (deps.clock() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    client.views_open(
        trigger_id=body["trigger_id"],
        view=modals.propose_modal(str(body["channel_id"]), default),
    )


def propose_from_text(
    deps: Deps,
    client: WebClient,
    body: dict[str, Any],
    respond: Respond,
    command: parsing.Propose,
) -> None:
    user_id = str(body["user_id"])
    tz = directory.user_timezone(client, user_id) if command.when.local else None
    proposal = Proposal(
        team_id=str(body["team_id"]),
        owner_id=user_id,
        channel_id=str(body["channel_id"]),
        service=command.service,
        version=command.version,
        target_at=command.when.resolve(tz),
        approvers=directory.check_approvers(client, command.approvers),
        stages=command.stages,
        notes=command.notes,
        checklist=deps.config.checklist,
        request_key=f"command:{body.get('trigger_id')}",
    )
    create_release(deps, client, proposal)


def cancel(
    deps: Deps, client: WebClient, body: dict[str, Any], respond: Respond, ref: str, reason: str
) -> None:
    team_id, user_id = str(body["team_id"]), str(body["user_id"])
    with deps.db.session() as session:
        release = releases.find(session, team_id, ref)
        assert release.id is not None
        releases.cancel(session, team_id, release.id, user_id, reason, now=deps.clock())
        view = releases.load_view(session, release)
    deps.release_changed(release.id)
    update_card(client, view)
    why = f": {escape(reason)}" if reason else ""
    thread_reply(client, release, f":x: Cancelled by {user(user_id)}{why}")
    respond(
        response_type="ephemeral",
        replace_original=False,
        text=f"{escape(release.ref)} is cancelled.",
    )
