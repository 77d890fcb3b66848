"""`/release …`: the slash command surface."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from handlers.deps import Deps
from handlers.flows import (
    audit_files,
    freeze_admin,
    github_links,
    manager_role,
    personal_calendars,
    policy_changes,
    shared_calendars,
    slot_offers,
    stats_report,
    steps,
    token_admin,
    webhook_admin,
    weekly_digests,
)
from handlers.flows.new_release import conflicts_for, create_release
from handlers.rendering import (
    audit_messages,
    channel_messages,
    conflict_notes,
    freeze_messages,
    github_messages,
    modals,
    role_messages,
    shared_calendar_messages,
    slot_messages,
    token_messages,
    webhook_messages,
    weekly_digest_messages,
)
from handlers.rendering.freeze_notes import name as freeze_name
from handlers.slack import history_listeners, policy_listeners, verify_command
from handlers.slack.context import actor_of, deps_of
from handlers.slack.error_replies import in_background, tell_privately
from handlers.slack_kit import directory, ids, parsing
from handlers.slack_kit.mrkdwn import escape
from models import audit
from models.github import repository_links
from models.release import conflicts, production, queries
from models.release.proposing import Proposal
from models.release.queries import Actor
from models.release.visibility import Reader

# `/release <name> <ref>` commands that need nothing else: name -> operation.
STEP_COMMANDS: dict[str, Callable[[Deps, WebClient, Actor, int], None]] = {
    "go": steps.go,
    "advance": steps.advance,
    "done": steps.mark_released,
    "pause": steps.pause,
    "resume": steps.resume,
    "withdraw": steps.withdraw,
}

# `/release <name> <ref> <reason>` commands: name -> operation taking the reason.
REASON_COMMANDS: dict[str, Callable[[Deps, WebClient, Actor, int, str], None]] = {
    "cancel": steps.cancel,
    "nogo": steps.no_go,
    "rollback": steps.roll_back,
}


def register(app: App) -> None:
    @app.command(ids.COMMAND)
    def release_command(
        ack: Ack, context: BoltContext, body: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        command = parsing.parse(body.get("text") or "")
        deps, actor = deps_of(context), actor_of(context)
        team_id = actor.team_id
        reader = actor.reader

        def later(work: Callable[[], object]) -> None:
            ack()
            deps.work.submit(in_background(work, body, client, respond))

        def on_release(ref: str, work: Callable[[int], None]) -> None:
            later(lambda: work(_release_id(deps, team_id, ref, reader)))

        match command:
            case parsing.Help():
                ack(
                    response_type="ephemeral",
                    blocks=channel_messages.to_dicts(channel_messages.help_blocks()),
                    text="How to use /release",
                )
            case parsing.ListReleases():
                later(lambda: respond(**list_reply(deps, team_id, reader)))
            case parsing.History():
                later(lambda: respond(**history_listeners.reply_to(deps, actor, command)))
            case parsing.Verify():
                later(lambda: respond(**verify_command.reply_to(deps, actor, command)))
            case parsing.RefCommand(name="status", ref=ref):
                later(lambda: respond(**status_reply(deps, client, team_id, ref, reader)))
            case parsing.ProposeForm():
                later(lambda: open_propose_modal(deps, client, body))
            case parsing.Propose():
                later(lambda: propose_from_text(deps, client, body, command, respond))
            case parsing.Override(name=name, ref=ref, reason=reason):
                overridden = steps.OVERRIDABLE[name]
                on_release(ref, lambda rid: overridden(deps, client, actor, rid, override=reason))
            case parsing.FreezeList():
                later(lambda: respond(**freezes_reply(deps, team_id)))
            case parsing.FreezeAdd():

                def add_freeze() -> None:
                    freeze = freeze_admin.add(deps, client, actor, command)
                    note = f":snowflake: Freeze {freeze_name(freeze.name)} added."
                    respond(**freezes_reply(deps, team_id, note))

                later(add_freeze)
            case parsing.FreezeRemove(name=name):

                def remove_freeze() -> None:
                    freeze = freeze_admin.remove(deps, client, actor, name)
                    note = f":heavy_minus_sign: Freeze {freeze_name(freeze.name)} removed."
                    respond(**freezes_reply(deps, team_id, note))

                later(remove_freeze)
            case parsing.RefCommand(name=name, ref=ref) if name in STEP_COMMANDS:
                operation = STEP_COMMANDS[name]
                on_release(ref, lambda rid: operation(deps, client, actor, rid))
            case parsing.RefCommand(name=name, ref=ref, text=reason) if name in REASON_COMMANDS:
                reason_operation = REASON_COMMANDS[name]

                def with_reason(rid: int) -> None:
                    reason_operation(deps, client, actor, rid, reason)
                    confirm_privately(respond, name, ref)

                on_release(ref, with_reason)
            case parsing.Update():
                later(lambda: update_from_text(deps, client, actor, reader, command, body, respond))
            case parsing.ChecklistAdd(ref=ref, item=item):
                on_release(ref, lambda rid: steps.add_item(deps, client, actor, rid, item))
            case parsing.Calendar():
                # Writes a token (and for a channel, asks Slack who is in it): after the
                # ack, so the ack never waits behind another writer.
                later(
                    lambda: respond(
                        **personal_calendars.calendar_reply(
                            deps, client, team_id, actor.user_id, command
                        )
                    )
                )
            case parsing.SharedCalendar():
                # Asks Slack whether the person is a release manager, then writes: later.
                later(lambda: respond(**shared_calendar_reply(deps, client, actor, command)))
            case parsing.Managers(verb="list"):
                later(lambda: respond(**managers_reply(deps, team_id)))
            case parsing.Managers(verb=verb, people=people):

                def change() -> None:
                    changed, unchanged = manager_role.change_managers(
                        deps, client, actor, verb, people
                    )
                    note = role_messages.managers_changed(verb, changed, unchanged)
                    respond(**managers_reply(deps, team_id, note))

                later(change)
            case parsing.PolicyCommand():
                later(lambda: policy_listeners.run_command(deps, client, actor, command, respond))
            case parsing.Token():
                # Asks Slack whether the person is a release manager, then writes: later.
                later(lambda: respond(**token_reply(deps, client, actor, command)))
            case parsing.Stats(service=service, days=days):
                # Aggregates over the period, then a chart: after the ack, in the background.
                later(lambda: stats_report.post_stats(deps, client, actor, service, days, respond))
            case parsing.WebhookCommand():
                # Asks Slack whether the person is a release manager, resolves the URL's
                # host, then writes: later.
                later(lambda: respond(**webhook_reply(deps, client, actor, command)))
            case parsing.GitHubCommand():
                # Asks Slack whether the person is a release manager, then writes: later.
                later(lambda: respond(**github_reply(deps, client, actor, command)))
            case parsing.AuditExport(service=service, since=since):
                # Asks Slack whether the person is a release manager, reads every event
                # and uploads a file: later.
                later(lambda: respond(**audit_reply(deps, client, actor, service, since)))
            case parsing.WeeklyDigest():
                later(lambda: respond(**weekly_digest_reply(deps, client, actor)))
            case parsing.FreeSlots():
                later(lambda: respond(**free_slots_reply(deps, client, actor, command)))
            case _:
                raise parsing.unknown_subcommand(str(body.get("text") or ""))


def free_slots_reply(
    deps: Deps, client: WebClient, actor: Actor, command: parsing.FreeSlots
) -> dict[str, Any]:
    """`/release slot`: the next free windows, for the person alone, in their time zone."""
    after = None
    if command.after is not None:
        tz = directory.user_timezone(client, actor.user_id) if command.after.needs_zone else None
        after = command.after.resolve(tz, now=deps.clock())
    length, starts = slot_offers.free_slots_for(
        deps, actor, command.service, command.length_minutes, after
    )
    blocks = slot_messages.free_slots_blocks(command.service, length, starts)
    return channel_messages.private_answer(blocks, f"Free windows for {command.service}")


def weekly_digest_reply(deps: Deps, client: WebClient, actor: Actor) -> dict[str, Any]:
    """`/release digest`: the week ahead, for the person alone, now."""
    week, tz = weekly_digests.private_digest(deps, client, actor)
    blocks = weekly_digest_messages.digest_blocks(week, tz)
    return channel_messages.private_answer(blocks, weekly_digest_messages.digest_text(week))


def managers_reply(deps: Deps, team_id: str, note: str | None = None) -> dict[str, Any]:
    listed = manager_role.manager_list(deps, team_id)
    blocks = role_messages.managers_blocks(listed.configured, listed.added, note)
    return channel_messages.private_answer(blocks, "Release managers")


def freezes_reply(deps: Deps, team_id: str, note: str | None = None) -> dict[str, Any]:
    spans = freeze_admin.listed(deps, team_id)
    blocks = freeze_messages.freeze_list_blocks(spans, deps.clock(), note)
    return channel_messages.private_answer(blocks, "Freezes")


def shared_calendar_reply(
    deps: Deps, client: WebClient, actor: Actor, command: parsing.SharedCalendar
) -> dict[str, Any]:
    """The answer to `/release calendar share | shared | unshare`, for the person alone (a
    new link is in it)."""
    if command.verb == "share":
        token, raw, empty = shared_calendars.share(
            deps,
            client,
            actor,
            command.name,
            channel_id=command.channel_id,
            service=command.service,
        )
        webcal, https = personal_calendars.feed_urls(deps.config.public_url, raw)
        page = personal_calendars.page_url(deps.config.public_url, raw)
        blocks = shared_calendar_messages.created_blocks(token, webcal, https, page, empty)
        text = "Shared calendar link created"
    elif command.verb == "unshare":
        revoked = shared_calendars.unshare(deps, client, actor, command.name)
        blocks = channel_messages.notice_blocks(shared_calendar_messages.revoked_text(revoked))
        text = "Shared calendar link revoked"
    else:
        blocks = shared_calendar_messages.list_blocks(shared_calendars.shared(deps, client, actor))
        text = "Shared calendar links"
    return channel_messages.private_answer(blocks, text)


def token_reply(
    deps: Deps, client: WebClient, actor: Actor, command: parsing.Token
) -> dict[str, Any]:
    """The answer to `/release token …`, for the person alone (a new token is in it)."""
    if command.verb == "create":
        token, raw = token_admin.create_token(deps, client, actor, command.name, command.services)
        api_url = deps.config.public_url.rstrip("/") + "/api/v1"
        blocks = token_messages.created_blocks(token, raw, api_url)
        text = f"API token {token.name} created"
    elif command.verb == "revoke":
        revoked = token_admin.revoke_token(deps, client, actor, command.name)
        blocks = channel_messages.notice_blocks(token_messages.revoked_text(revoked))
        text = f"API token {revoked.name} revoked"
    else:
        blocks = token_messages.list_blocks(token_admin.list_tokens(deps, client, actor))
        text = "API tokens"
    return channel_messages.private_answer(blocks, text)


def webhook_reply(
    deps: Deps, client: WebClient, actor: Actor, command: parsing.WebhookCommand
) -> dict[str, Any]:
    """The answer to `/release webhook …`, for the person alone (a new secret is in it)."""
    if command.verb == "add":
        webhook = webhook_admin.add(deps, client, actor, command.url, command.events)
        blocks = webhook_messages.added_blocks(webhook)
        text = "Webhook added"
    elif command.verb == "remove":
        removed = webhook_admin.remove(deps, client, actor, command.url)
        blocks = channel_messages.notice_blocks(webhook_messages.removed_text(removed))
        text = "Webhook removed"
    elif command.verb == "deliveries":
        webhook, rows = webhook_admin.deliveries(deps, client, actor, command.url)
        blocks = webhook_messages.deliveries_blocks(webhook, rows)
        text = "Webhook deliveries"
    else:
        blocks = webhook_messages.list_blocks(webhook_admin.listed(deps, client, actor))
        text = "Webhooks"
    return channel_messages.private_answer(blocks, text)


def github_reply(
    deps: Deps, client: WebClient, actor: Actor, command: parsing.GitHubCommand
) -> dict[str, Any]:
    """The answer to `/release github …`, for the person alone."""
    note = None
    if command.verb == "link":
        assert command.service is not None
        made = github_links.link(
            deps, client, actor, command.repository, command.service, command.environments
        )
        repository = repository_links.clean_repository(command.repository)
        note = github_messages.linked_text(made, repository, command.service)
    elif command.verb == "unlink":
        removed = github_links.unlink(deps, client, actor, command.repository, command.service)
        note = github_messages.unlinked_text(removed)
    blocks = github_messages.links_blocks(github_links.listed(deps, client, actor), note)
    return channel_messages.private_answer(blocks, "GitHub repositories")


def audit_reply(
    deps: Deps, client: WebClient, actor: Actor, service: str | None, since: str | None
) -> dict[str, Any]:
    """`/release audit`: the CSV goes to the person's DM; this says so, to them alone."""
    sent = audit_files.send_to_manager(
        deps, client, actor, service, since, audit_messages.file_comment
    )
    notice = channel_messages.notice_blocks(audit_messages.sent_text(sent.count))
    return channel_messages.private_answer(notice, "Audit export sent")


# Answers that read the database are sent after the ack, through the response_url: the ack
# then never waits for the database, however busy it is.


# More than anyone pages through; enough to say how many there are.
LIST_FETCH = 1000


def list_reply(deps: Deps, team_id: str, reader: Reader, offset: int = 0) -> dict[str, Any]:
    """A page of upcoming releases from `offset` (the "Show more" button asks for the next)."""
    with deps.db.read_session() as session:
        upcoming = queries.upcoming(session, team_id, reader, limit=LIST_FETCH)
        page = upcoming[offset : offset + channel_messages.LIST_PAGE]
        clashing = conflicts.conflicting(session, team_id, page)
        blocks = channel_messages.list_blocks(upcoming, deps.clock(), offset, clashing)
    return channel_messages.private_answer(blocks, "Upcoming releases")


def status_reply(
    deps: Deps, client: WebClient, team_id: str, ref: str, reader: Reader
) -> dict[str, Any]:
    with deps.db.read_session() as session:
        release = queries.find(session, team_id, ref, reader)
        assert release.id is not None
        view = queries.load_view(session, release)
        events = audit.history(session, release.id)
        in_production = production.current_version(session, team_id, release.service)
        calendar = conflicts.find(session, release, reader)
    # Slack is asked after the snapshot: no transaction waits on it.
    blocks = channel_messages.status_blocks(
        view, events, in_production, directory.unsignable(client, view), calendar
    )
    return {
        "response_type": "ephemeral",
        "blocks": channel_messages.to_dicts(blocks),
        "text": channel_messages.card_text(view),
    }


def _release_id(deps: Deps, team_id: str, ref: str, reader: Reader) -> int:
    with deps.db.read_session() as session:
        release_id = queries.find(session, team_id, ref, reader).id
    assert release_id is not None
    return release_id


def confirm_privately(respond: Respond, name: str, ref: str) -> None:
    done = {"cancel": "is cancelled", "nogo": "is a no-go", "rollback": "is rolled back"}[name]
    respond(response_type="ephemeral", replace_original=False, text=f"{escape(ref)} {done}.")


def open_propose_modal(deps: Deps, client: WebClient, body: dict[str, Any]) -> None:
    # Default: tomorrow, on the hour.
    default = (deps.clock() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    client.views_open(
        trigger_id=body["trigger_id"],
        view=modals.propose_modal(str(body["channel_id"]), default),
    )


def propose_from_text(
    deps: Deps, client: WebClient, body: dict[str, Any], command: parsing.Propose, respond: Respond
) -> None:
    user_id = str(body["user_id"])
    tz = directory.user_timezone(client, user_id) if command.when.needs_zone else None
    proposal = Proposal(
        team_id=str(body["team_id"]),
        owner_id=user_id,
        channel_id=str(body["channel_id"]),
        service=command.service,
        version=command.version,
        target_at=command.when.resolve(tz, now=deps.clock()),
        approvers=directory.check_approvers(client, command.approvers),
        stages=command.stages,
        notes=command.notes,
        fix=command.fix,
        fixes=command.fixes,
        request_key=f"command:{body.get('trigger_id')}",
    )
    # Under the policy where it is proposed, as every surface's proposal is.
    release_id = create_release(deps, client, proposal)
    if release_id is not None:
        proposer = Actor(proposal.team_id, user_id, proposal.channel_id)
        if warning := conflict_notes.warning(conflicts_for(deps, release_id, proposer.reader)):
            warn_privately(deps, proposer, release_id, warning, body, client, respond)


def update_from_text(
    deps: Deps,
    client: WebClient,
    actor: Actor,
    reader: Reader,
    command: parsing.Update,
    body: dict[str, Any],
    respond: Respond,
) -> None:
    release_id = _release_id(deps, actor.team_id, command.ref, reader)
    target_at = None
    if command.when is not None:
        tz = directory.user_timezone(client, actor.user_id) if command.when.needs_zone else None
        target_at = command.when.resolve(tz, now=deps.clock())
    approvers = None
    if command.approvers is not None:
        # Refuse someone who may not change it before asking Slack about anyone.
        shown = steps.check_may_edit(deps, actor, release_id)
        named = directory.check_approvers(client, command.approvers)
        # The policy's approvers stay; the release's quorum rule decides who must sign.
        approvers = policy_changes.edited_approvers(client, shown, named)
    moved = steps.update(
        deps,
        client,
        actor,
        release_id,
        version=command.version,
        target_at=target_at,
        notes=command.notes,
        approvers=approvers,
        digest=command.digest,
        commit_sha=command.commit,
    )
    if warning := conflict_notes.warning(moved):
        warn_privately(deps, actor, release_id, warning, body, client, respond)


def warn_privately(
    deps: Deps,
    actor: Actor,
    release_id: int,
    warning: str,
    body: dict[str, Any],
    client: WebClient,
    respond: Respond | None,
) -> None:
    """A conflict warning, to the person alone; to the owner with the Move button."""
    offer = slot_offers.offer_for(deps, release_id, actor)
    blocks = slot_messages.warning_blocks(warning, offer)
    tell_privately(warning, body, client, respond, blocks=blocks)
