"""Who is who in the workspace, asked of Slack: time zones, approvers, user groups."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from handlers.slack_kit.mrkdwn import escape
from handlers.slack_kit.refused import Refused
from models import fields
from models.release import signers
from models.release.proposing import ApproverSpec
from models.release.queries import ReleaseView
from models.release.records import ApproverKind, SignOffState
from models.release.rules import Activity, allows

logger = logging.getLogger(__name__)


def user_timezone(client: WebClient, user_id: str) -> str | None:
    """The person's Slack time zone (IANA name), or None when Slack won't say."""
    try:
        response = client.users_info(user=user_id)
    except SlackApiError:
        return None
    tz = (response.get("user") or {}).get("tz")
    return str(tz) if tz else None


def check_approvers(client: WebClient, specs: Sequence[ApproverSpec]) -> list[ApproverSpec]:
    """Refuse approvers who are unknown, deactivated or bots; groups that don't exist.

    Asked of Slack all at once: the propose form waits for this before its ack, so twenty
    approvers must cost one round trip, not twenty. The first problem in order is raised.
    """

    def check(spec: ApproverSpec) -> None:
        if spec.kind == ApproverKind.USER:
            _check_user(client, spec.slack_id)
        else:
            group_members(client, spec.slack_id, fresh=True)

    if specs:
        with ThreadPoolExecutor(max_workers=min(8, len(specs))) as pool:
            list(pool.map(check, specs))
    return list(specs)


def _check_user(client: WebClient, user_id: str) -> None:
    try:
        user = client.users_info(user=user_id).get("user") or {}
    except SlackApiError as exc:
        if exc.response.get("error") in ("user_not_found", "users_not_found"):
            raise Refused(
                f"I can't find <@{escape(user_id)}> in this workspace: pick approvers from "
                "Slack's list.",
                field=fields.FIELD_APPROVERS,
            ) from None
        raise
    if user.get("deleted"):
        raise Refused(
            f"<@{user_id}> is deactivated and can't sign off.", field=fields.FIELD_APPROVERS
        )
    if user.get("is_bot") or user.get("is_app_user"):
        raise Refused(f"<@{user_id}> is a bot and can't sign off.", field=fields.FIELD_APPROVERS)


def is_workspace_admin(client: WebClient, user_id: str) -> bool:
    """Workspace admins and owners are release managers too (Slack says who they are)."""
    try:
        user = client.users_info(user=user_id).get("user") or {}
    except SlackApiError:
        return False
    return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))


# usergroups.users.list is rate-limited to about 20 calls a minute, and every Home tab asks
# about every pending group: membership is remembered briefly, except where it decides
# whether someone may sign (`fresh`).
MEMBERSHIP_TTL = 60.0
_memberships: dict[tuple[str, str, str], tuple[float, frozenset[str]]] = {}
_memberships_lock = threading.Lock()


def group_members(client: WebClient, group_id: str, *, fresh: bool = False) -> frozenset[str]:
    key = (client.base_url, client.token or "", group_id)
    now = time.monotonic()
    if not fresh:
        with _memberships_lock:
            cached = _memberships.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
    members = _ask_members(client, group_id)
    with _memberships_lock:
        _memberships[key] = (now + MEMBERSHIP_TTL, members)
    return members


def _ask_members(client: WebClient, group_id: str) -> frozenset[str]:
    try:
        response = client.usergroups_users_list(usergroup=group_id)
    except SlackApiError as exc:
        if exc.response.get("error") in ("no_such_subteam", "subteam_not_found"):
            raise Refused(
                "I can't find that user group: pick one Slack suggests after @.",
                field=fields.FIELD_GROUPS,
            ) from None
        raise
    return frozenset(str(u) for u in response.get("users") or [])


def members_of(
    client: WebClient, group_ids: Iterable[str], *, fresh: bool = False
) -> dict[str, frozenset[str]]:
    """The members of each group, asked all at once (forms wait for this before their ack)."""
    unique = list(dict.fromkeys(group_ids))
    if not unique:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(unique))) as pool:
        found = list(pool.map(lambda group: group_members(client, group, fresh=fresh), unique))
    return dict(zip(unique, found, strict=True))


def check_quorum(
    client: WebClient,
    approvers: Sequence[ApproverSpec],
    owner_id: str,
    *,
    plain: bool = False,
    needed: int | None = None,
) -> dict[str, frozenset[str]]:
    """Refuse approvers who could never all sign (or, for a quorum of N, `needed` of them):
    each sign-off needs its own person, and the owner signs none unless the policy lets
    them (pass "" as `owner_id` then; `signers.check_quorum`). `plain` words it for a
    form, which shows no mentions. `approvers` must be cleaned (no duplicates) already.
    Returns the members of their groups, as asked."""
    groups = [a.slack_id for a in approvers if a.kind == ApproverKind.USERGROUP]
    members = members_of(client, groups)
    try:
        signers.check_quorum(approvers, members, owner_id, needed)
    except signers.QuorumUnreachable as error:
        on_group = any(a.kind == ApproverKind.USERGROUP for a in error.approvers)
        raise Refused(
            _quorum_text(client, error, members, owner_id, plain),
            field=fields.FIELD_GROUPS if on_group else fields.FIELD_APPROVERS,
        ) from None
    return members


def _quorum_text(
    client: WebClient,
    error: signers.QuorumUnreachable,
    members: dict[str, frozenset[str]],
    owner_id: str,
    plain: bool,
) -> str:
    def person(user_id: str) -> str:
        return _user_name(client, user_id) if plain else f"<@{user_id}>"

    def name(spec: ApproverSpec) -> str:
        if spec.kind == ApproverKind.USER:
            return person(spec.slack_id)
        if plain:
            return f"@{spec.handle}" if spec.handle else "a user group"
        return f"<!subteam^{spec.slack_id}>"

    if error.needed < len(error.approvers):  # a quorum of N
        return (
            f"{error.needed} of {_and([name(a) for a in error.approvers])} must sign, each a "
            f"different person besides the owner, but only {len(error.people)} can. Add "
            "people to the groups, name other approvers, or lower the quorum."
        )

    if len(error.approvers) == 1:  # a group nobody but the owner is in
        [group] = error.approvers
        if owner_id in members.get(group.slack_id, ()):
            problem = f"{name(group)}: its only member is you, and nobody signs off their own"
        else:
            problem = f"{name(group)} has no members, so nobody could sign for it on this"
        return f"{problem} release. Add people to the group, or name other approvers."
    people = sorted(error.people)
    who = _and([person(p) for p in people]) if len(people) <= 5 else f"{len(people)} people"
    not_you = any(
        owner_id in members.get(a.slack_id, ())
        for a in error.approvers
        if a.kind == ApproverKind.USERGROUP
    )
    return (
        f"{_and([name(a) for a in error.approvers])} need {len(error.approvers)} different "
        f"people to sign, one each, but only {who} can sign for them"
        + (" (you can't: nobody signs off their own release)" if not_you else "")
        + ". Add people to the group, or name other approvers."
    )


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _user_name(client: WebClient, user_id: str) -> str:
    """@name for plain text; asked only when a refusal names someone."""
    try:
        user = client.users_info(user=user_id).get("user") or {}
    except SlackApiError:
        return user_id
    return f"@{user.get('name') or user_id}"


def user_name(client: WebClient, user_id: str) -> str:
    """A person's name to show without mentioning them (a mention pings); their id when
    Slack won't say."""
    return _user_name(client, user_id).removeprefix("@")


def unsignable(client: WebClient, view: ReleaseView) -> list[signers.Unsignable]:
    """Open sign-offs nobody may give any more, for the card to say so. Membership as
    remembered briefly; a group Slack won't tell about is left out."""
    release = view.release
    if not allows(Activity.EDIT, release.state):  # nobody could change the approvers
        return []
    members = {}
    for approver in view.approvers:
        if approver.is_group and approver.sign_off != SignOffState.APPROVED:
            try:
                members[approver.slack_id] = group_members(client, approver.slack_id)
            except Exception:
                logger.warning("members of %s unknown", approver.slack_id)
    return signers.unsignable(view.approvers, members, release.owner_id)


def groups_of(
    client: WebClient, user_id: str, group_ids: Iterable[str], *, fresh: bool = False
) -> set[str]:
    """Which of `group_ids` the person belongs to."""
    return {g for g in group_ids if user_id in group_members(client, g, fresh=fresh)}


def find_groups_by_handle(client: WebClient, handles: Sequence[str]) -> list[ApproverSpec]:
    if not handles:
        return []
    response = client.usergroups_list()
    by_handle = {str(g.get("handle", "")).lower(): g for g in response.get("usergroups") or []}
    by_id = {str(g.get("id", "")): g for g in response.get("usergroups") or []}
    specs = []
    for handle in handles:
        # A group whose handle is unknown is shown on the edit form by its id.
        group = by_handle.get(handle.lower().lstrip("@")) or by_id.get(handle)
        if group is None:
            raise Refused(
                f"There is no user group @{escape(handle.lstrip('@'))} in this workspace.",
                field=fields.FIELD_GROUPS,
            )
        specs.append(ApproverSpec(str(group["id"]), ApproverKind.USERGROUP, str(group["handle"])))
    return specs


def channel_is_private(client: WebClient, channel_id: str) -> bool:
    """Private channels and DMs keep their releases out of workspace-wide views. When Slack
    won't say, the channel counts as private: hiding a release is the safe mistake."""
    if channel_id.startswith("D"):
        return True
    try:
        channel = client.conversations_info(channel=channel_id).get("channel") or {}
    except SlackApiError:
        return True
    return bool(channel.get("is_private") or channel.get("is_im") or channel.get("is_mpim"))


def bot_is_member(client: WebClient, channel_id: str) -> bool:
    """Whether the bot is in the channel (so it can post there); no when Slack won't say."""
    try:
        channel = client.conversations_info(channel=channel_id).get("channel") or {}
    except SlackApiError:
        return False
    return bool(channel.get("is_member"))


# conversations.members pages: Slack's largest; a channel too big for this many pages
# reads as "not a member" (the safe answer) rather than as an endless walk.
MEMBERS_PAGE = 1000
MAX_MEMBER_PAGES = 50


def is_channel_member(client: WebClient, channel_id: str, user_id: str) -> bool | None:
    """Whether Slack lists the person among the channel's members; None when Slack won't
    say (the bot is not in a private channel, an error, no answer), which callers treat as
    no: being in a channel is what shows its private releases."""
    cursor = ""
    for _ in range(MAX_MEMBER_PAGES):
        try:
            response = client.conversations_members(
                channel=channel_id, limit=MEMBERS_PAGE, cursor=cursor or None
            )
        except (SlackClientError, OSError) as exc:
            logger.info("could not list the members of %s: %s", channel_id, exc)
            return None
        if user_id in (response.get("members") or []):
            return True  # found: the remaining pages are not needed
        cursor = str((response.get("response_metadata") or {}).get("next_cursor") or "")
        if not cursor:
            return False
    return None


def display_name(client: WebClient, user_id: str) -> str | None:
    """How to name the person to readers outside Slack: their full name, else their
    display name, else their handle; None when Slack won't say."""
    try:
        user = client.users_info(user=user_id).get("user") or {}
    except (SlackClientError, OSError) as exc:
        logger.info("could not look up %s: %s", user_id, exc)
        return None
    profile = user.get("profile") or {}
    for name in (
        profile.get("real_name"),
        user.get("real_name"),
        profile.get("display_name"),
        user.get("name"),
    ):
        if name and str(name).strip():
            return str(name).strip()
    return None
