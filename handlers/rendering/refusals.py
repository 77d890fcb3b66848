"""Every refusal in words: a domain error's code and data become what the person reads.

models/ raises errors with a `Code` and plain data; here they get their words, mentions
(`<@…>`, `<!subteam^…>`), links and escaping, as mrkdwn. Whatever a person typed is
escaped (and quoted where it is shown as typed), so it can never ping or become markup.
Refusals that handlers find themselves (a command they can't parse, a stale button) are
`Refused`, worded where they are found.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from handlers.rendering.parts import slack_date, spec_label
from handlers.slack_kit.mrkdwn import escape
from handlers.slack_kit.payloads import OverrideStep
from handlers.slack_kit.refused import Refused
from models.errors import Code, DomainError
from models.policy import Key, Scope
from models.release.lifecycle import Missing, SignOffsNeeded
from models.release.proposing import ApproverSpec
from models.release.records import ApproverKind, ReleaseStatus
from models.release.rules import Activity, allows

S = ReleaseStatus


def text_for(error: DomainError) -> str:
    """The refusal in words (mrkdwn)."""
    if isinstance(error, Refused):
        return error.message
    return WORDINGS[Code(error.code)](error.data)


def quoted(text: str, limit: int = 80) -> str:
    """What a person typed, shown as typed: quoted, cut, and escaped."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"“{escape(text)}”"


def missing_label(missing: Missing) -> str:
    """One thing a release still needs before go."""
    if isinstance(missing, ApproverSpec):
        return f"sign-off from {spec_label(missing)}"
    if isinstance(missing, SignOffsNeeded):
        more = "1 more sign-off" if missing.count == 1 else f"{missing.count} more sign-offs"
        return f"{more}, from any of {signers_label(missing.of)}"
    return quoted(missing, 150)


def signers_label(approvers: Iterable[ApproverSpec]) -> str:
    return ", ".join(spec_label(a) for a in approvers) or "nobody"


# What doing each activity to a release is called, with {ref} where the release goes.
_PHRASES = {
    Activity.APPROVE: "approve {ref}",
    Activity.SIGN: "approve {ref}",
    Activity.REQUEST_CHANGES: "request changes to {ref}",
    Activity.REOPEN: "reopen {ref}",
    Activity.GO: "give the go for {ref}",
    Activity.NO_GO: "call no-go on {ref}",
    Activity.START_ROLLOUT: "start the rollout of {ref}",
    Activity.ADVANCE: "advance {ref}",
    Activity.PAUSE: "pause {ref}",
    Activity.RESUME: "resume {ref}",
    Activity.MARK_RELEASED: "mark {ref} as released",
    Activity.ROLL_BACK: "roll back {ref}",
    Activity.CANCEL: "cancel {ref}",
    Activity.EDIT: "change {ref}",
    Activity.WITHDRAW: "withdraw your sign-off on {ref}",
    Activity.TICK: "tick items of the checklist of {ref}",
    Activity.ADD_ITEM: "add to the checklist of {ref}",
    Activity.OVERRIDE_FREEZE: "override a freeze for {ref}",
    Activity.REPORT_DEPLOYMENT: "report a deployment of {ref}",
}

# Where a release is, said after "it": "it is already released".
_DESCRIPTIONS = {
    S.PROPOSED: "is still waiting for sign-offs",
    S.CHANGES_REQUESTED: "has changes requested",
    S.APPROVED: "is approved and waiting for a go/no-go",
    S.GO: "has the go and is being rolled out",
    S.ROLLING_OUT: "is rolling out",
    S.PAUSED: "has its rollout paused",
    S.RELEASED: "is already released",
    S.NO_GO: "was called no-go",
    S.ROLLED_BACK: "was rolled back",
    S.CANCELLED: "is cancelled",
}


def phrase(action: Activity, ref: str) -> str:
    """`action` done to a release, in words: "roll back payments@2.4.0"."""
    return _PHRASES[action].format(ref=escape(ref))


def describe(state: ReleaseStatus) -> str:
    return _DESCRIPTIONS[state]


def _ref(data: Mapping[str, Any]) -> str:
    return escape(str(data["ref"]))


def _bad_state(data: Mapping[str, Any]) -> str:
    ref, action, state = _ref(data), Activity(data["action"]), ReleaseStatus(data["state"])
    if action == Activity.SIGN and state == S.CHANGES_REQUESTED:
        return (
            f"Changes were requested on {ref}; sign off once <@{data['owner_id']}> has updated it."
        )
    if action == Activity.EDIT:
        return f"{ref} can't be changed now: it is {state.label.lower()}."
    if action == Activity.WITHDRAW:
        return f"Sign-offs on {ref} can only be withdrawn before the go decision."
    if action in (Activity.TICK, Activity.ADD_ITEM):
        return f"The checklist of {ref} is closed: it {describe(state)}."
    if action == Activity.MARK_RELEASED and state == S.PAUSED:
        return f"The rollout of {ref} is paused: resume it first."
    hint = ""
    if action == Activity.CANCEL and allows(Activity.IN_FLIGHT, state):
        hint = " Roll it back instead if it must be stopped."
    elif action == Activity.GO and allows(Activity.AWAIT_SIGN_OFF, state):
        hint = " Every sign-off must be in first."
    return f"Can't {phrase(action, str(data['ref']))}: it {describe(state)}.{hint}"


def _not_approver(data: Mapping[str, Any]) -> str:
    approvers: tuple[ApproverSpec, ...] = data["approvers"]
    groups = any(a.kind == ApproverKind.USERGROUP for a in approvers)
    return f"Only {signers_label(approvers)} can sign off {_ref(data)}" + (
        " (any one member signs for a group)." if groups else "."
    )


def _quorum(data: Mapping[str, Any]) -> str:
    approvers: tuple[ApproverSpec, ...] = data["approvers"]
    names = signers_label(approvers)
    needed = int(data.get("needed", len(approvers)))
    if needed < len(approvers):
        return (
            f"This release could never be approved: {needed} of {names} must sign, each a "
            f"different person besides the owner, and only {len(data['people'])} can."
        )
    if len(approvers) == 1:
        problem = f"nobody but the owner could sign for {names}"
    else:
        problem = (
            f"{names} need {len(approvers)} different people besides the owner, "
            f"and only {len(data['people'])} can sign for them"
        )
    return f"This release could never be approved: {problem}."


def _github_environment_taken(d: Mapping[str, Any]) -> str:
    where = f"{quoted(str(d['repository']))} ({quoted(str(d['environment']))})"
    if d["service"] is None:
        return f"{where} is linked in another workspace; unlink it there first."
    return (
        f"{where} is linked to {quoted(str(d['service']))} already: "
        f"`/release github unlink {escape(str(d['repository']))} {escape(str(d['service']))}` "
        "first."
    )


def _duplicate(data: Mapping[str, Any]) -> str:
    permalink = data.get("permalink")
    where = f" <{permalink}|(see it here)>" if permalink else ""
    state = ReleaseStatus(data["state"])
    return (
        f"{_ref(data)} already exists ({state.label.lower()}){where}. "
        "Use a new version, or `/release cancel` the old one first."
    )


def _no_open_release(data: Mapping[str, Any]) -> str:
    service = str(data["service"])
    return (
        f"No open release of {quoted(service) if service else 'that service'}. "
        "Name it as service@version, e.g. payments@2.4.0."
    )


def _several_open(data: Mapping[str, Any]) -> str:
    refs = ", ".join(escape(str(r)) for r in data["refs"])
    service = escape(str(data["service"]))
    return f"{service} has several open releases ({refs}): name one as service@version."


def _missing_for_go(data: Mapping[str, Any]) -> str:
    return f"{_ref(data)} can't go yet. Still missing:\n" + "\n".join(
        f"• {missing_label(m)}" for m in data["missing"]
    )


# The commands that take `override: <reason>` (and the Override freeze button's steps).


def override_command(action: Activity) -> OverrideStep:
    """The command that overrides a freeze holding `action`, then takes the step."""
    if action == Activity.ADVANCE:
        return "advance"
    if action == Activity.MARK_RELEASED:
        return "done"
    return "go"  # the go, and the rollout's start that comes with it


def _frozen(data: Mapping[str, Any]) -> str:
    service = data.get("service")
    scope = "the whole workspace" if service is None else f"`{escape(str(service))}`"
    action = Activity(data["action"])
    return (
        f":snowflake: Can't {phrase(action, str(data['ref']))}: the freeze "
        f"{quoted(str(data['freeze']))} on {scope} is in force until "
        f"{slack_date(data['ends_at'])}. A release manager can override it for this release "
        f"(`/release {override_command(action)} {_ref(data)} override: &lt;reason&gt;`)."
    )


def _stage_unknown(data: Mapping[str, Any]) -> str:
    stages: tuple[int, ...] = data["stages"]
    if not stages:
        return (
            f"{_ref(data)} is a big-bang release: report it without a stage (or at 100%), "
            f"not at {data['stage']}%."
        )
    listed = ", ".join(f"{stage}%" for stage in stages)
    return f"{_ref(data)} rolls out at {listed}: {data['stage']}% is not one of its stages."


# What each policy key accepts, said when a value is refused (and in the policy's help).
POLICY_ACCEPTS: dict[Key, str] = {
    Key.APPROVERS: "@people and @user groups (up to 20)",
    Key.QUORUM: "`all`, a number N (any N of the approvers, a group counting once) "
    "or `each-group` (one per group, plus every person)",
    Key.OWNER_CAN_APPROVE: "`yes` or `no`",
    Key.CHECKLIST: "items separated by `;` (1 to 10 items, each up to 150 characters)",
    Key.ANNOUNCE: "a #channel I am in",
    Key.ESCALATION: "a #channel I am in",
    Key.REMINDERS: "offsets before the release such as `24h,1h` (units d, h, m; up to 5, "
    "at most 14 days ahead)",
    Key.WINDOW: "a duration from `15m` to `24h`, such as `90m` or `2h`",
    Key.RELEASE_HOURS: "days, hours of one day and a time zone, such as "
    "`mon-fri 09:00-16:00 Europe/Berlin` (days `mon`…`sun`, ranges and commas, or `daily`)",
    Key.MAX_CONCURRENT: "a number from 1 to 100",
    Key.DEPENDS_ON: "service names separated by commas, such as `payments,search`",
    Key.WEEKLY_DIGEST: "a #channel I am in, a weekday, a time and a time zone, such as "
    "`#eng-announce mon 09:00 Europe/Berlin`",
}


def policy_place(scope: str, target: str) -> str:
    """Where a policy value is set: "this channel's" is said by callers that know."""
    if Scope(scope) == Scope.SERVICE:
        return f"service {escape(target)}"
    return f"<#{target}>"


def _policy_key(data: Mapping[str, Any]) -> Key:
    return Key(data["key"])


def _policy_bad_value(data: Mapping[str, Any]) -> str:
    key = _policy_key(data)
    typed = str(data.get("value") or "")
    what = f"{quoted(typed)} is not" if typed else "That is not"
    return f"{what} a value for `{key}`: it accepts {POLICY_ACCEPTS[key]}."


Wording = Callable[[Mapping[str, Any]], str]

WORDINGS: dict[Code, Wording] = {
    Code.RELEASE_GONE: lambda d: "That release no longer exists.",
    Code.NO_RELEASE: lambda d: (
        f"No release {quoted(str(d['ref']))} in this workspace. "
        "`/release list` shows what is planned."
    ),
    Code.NO_OPEN_RELEASE: _no_open_release,
    Code.SEVERAL_OPEN: _several_open,
    Code.NOT_OWNER: lambda d: (
        f"Only <@{d['owner_id']}>, who owns it, can {phrase(Activity(d['action']), d['ref'])}."
    ),
    Code.NOT_MANAGER: lambda d: (
        f"Only release managers can {d['what']}. `/release managers` lists them."
    ),
    Code.NOT_A_MANAGER: lambda d: (
        f"<@{d['manager']}> is not a release manager added with `/release managers add` "
        "(managers from the bot's settings and workspace admins stay managers)."
    ),
    Code.NO_SIGN_OFF_NEEDED: lambda d: f"{_ref(d)} needs no sign-off.",
    Code.OWN_RELEASE: lambda d: (
        f"You own {_ref(d)}, so you can't sign it off: that is for {signers_label(d['approvers'])}."
    ),
    Code.NOT_APPROVER: _not_approver,
    Code.SIGNED_BY_OTHERS: lambda d: (
        f"Every sign-off you could give on {_ref(d)} is in already, from others "
        f"({signers_label(d['approvers'])}); each comes from a different person."
    ),
    Code.NOT_CHECKLIST_KEEPER: lambda d: (
        f"Only <@{d['owner_id']}> and the approvers of {_ref(d)} can change its checklist."
    ),
    Code.MISSING_FOR_GO: _missing_for_go,
    Code.BAD_STATE: _bad_state,
    Code.SERVICE_INVALID: lambda d: (
        f"{quoted(str(d['value']))} is not a service name: use up to 64 letters, digits, "
        "dots, dashes or underscores, e.g. payments-api."
    ),
    Code.VERSION_INVALID: lambda d: (
        f"{quoted(str(d['value']))} is not a version: use up to 64 letters, digits, "
        "and . _ + - (e.g. 2.4.0 or 2026.11.26-rc1)."
    ),
    Code.WHEN_NO_ZONE: lambda d: "The release time needs a time zone.",
    Code.WHEN_PAST: lambda d: "The release time is in the past: pick a time ahead.",
    Code.WHEN_TOO_FAR: lambda d: "The release time is more than two years ahead.",
    Code.STAGES_RANGE: lambda d: "Rollout percentages must be between 1 and 100.",
    Code.STAGES_ORDER: lambda d: "Rollout percentages must go up, each once (e.g. 10,50,100).",
    Code.STAGES_TOO_MANY: lambda d: f"A phased rollout has at most {d['limit']} stages.",
    Code.NOTES_TOO_LONG: lambda d: (
        f"The notes are {d['length']} characters long; keep them under {d['limit']} "
        "(link to a document for more)."
    ),
    Code.REASON_MISSING: lambda d: "Give a reason, so the team knows why.",
    Code.REASON_TOO_LONG: lambda d: f"Keep the reason under {d['limit']} characters.",
    Code.OWN_APPROVAL: lambda d: (
        "You can't approve your own release: name someone else as approver."
    ),
    Code.TOO_MANY_APPROVERS: lambda d: f"Name at most {d['limit']} approvers.",
    Code.QUORUM_UNREACHABLE: _quorum,
    Code.WINDOW_RANGE: lambda d: "The release window must be between 15 minutes and 24 hours.",
    Code.NOTHING_TO_WITHDRAW: lambda d: f"You have no sign-off on {_ref(d)} to withdraw.",
    Code.NOTHING_CHANGED: lambda d: f"That is what {_ref(d)} already says: nothing changed.",
    Code.NO_SUCH_ITEM: lambda d: "That checklist item no longer exists.",
    Code.ITEM_LENGTH: lambda d: f"A checklist item needs 1 to {d['limit']} characters.",
    Code.CHECKLIST_FULL: lambda d: f"A checklist holds at most {d['limit']} items.",
    Code.ITEM_EXISTS: lambda d: f"The checklist already has {quoted(str(d['text']), 150)}.",
    Code.BIG_BANG: lambda d: (
        f"{_ref(d)} is a big-bang release: mark it released with `/release done`."
    ),
    Code.ALREADY_AT: lambda d: f"{_ref(d)} is already at {d['percentage']}%.",
    Code.TOO_MANY_LINKS: lambda d: (
        f"You already have {d['limit']} calendar links. "
        "`/release calendar revoke` stops them all; then ask for the ones you need."
    ),
    Code.SHARED_NAME_INVALID: lambda d: (
        f"Give the shared link a name of 1 to {d['limit']} characters, in quotes, without "
        'line breaks: `/release calendar share "Support team"`.'
    ),
    Code.SHARED_LINK_EXISTS: lambda d: (
        f"A shared calendar link named {quoted(str(d['name']))} exists already: pick "
        "another name, or `/release calendar unshare` it first."
    ),
    Code.NO_SHARED_LINK: lambda d: (
        f"No shared calendar link is named {quoted(str(d['name']))}. "
        "`/release calendar shared` lists them."
    ),
    Code.TOO_MANY_SHARED_LINKS: lambda d: (
        f"This workspace has {d['limit']} shared calendar links already: "
        "`/release calendar unshare` one nobody uses."
    ),
    Code.FREEZE_NAME_INVALID: lambda d: (
        f"Give the freeze a name of 1 to {d['limit']} characters, in quotes: "
        '`/release freeze add "Black Friday" …`.'
    ),
    Code.FREEZE_ZONE_UNKNOWN: lambda d: (
        f"I don't know the time zone {quoted(str(d['zone']), 64)}: use an IANA name such as "
        "`Europe/Berlin` or `America/New_York`."
    ),
    Code.FREEZE_RANGE: lambda d: (
        f"A freeze must end after it starts, and last at most {d['days']} days."
    ),
    Code.FREEZE_PAST: lambda d: "That freeze would be over already: pick an end ahead.",
    Code.NO_SUCH_FREEZE: lambda d: (
        f"No freeze named {quoted(str(d['name']))}. `/release freeze list` shows them."
    ),
    Code.HISTORY_CURSOR: lambda d: (
        f"The history of {quoted(str(d['service']))} has changed since that page: "
        "ask for it again with `/release history`."
    ),
    Code.FROZEN: _frozen,
    Code.NOTHING_FROZEN: lambda d: f"No freeze holds {_ref(d)} now: there is nothing to override.",
    Code.FREEZE_EXISTS: lambda d: (
        f"A freeze named {quoted(str(d['name']))} exists already: remove it first, "
        "or pick another name."
    ),
    Code.POLICY_UNKNOWN_KEY: lambda d: (
        f"There is no policy key {quoted(str(d['key']), 40)}. The keys are "
        + ", ".join(f"`{k}`" for k in Key)
        + "."
    ),
    Code.POLICY_BAD_VALUE: _policy_bad_value,
    Code.POLICY_QUORUM_TOO_LARGE: lambda d: (
        f"`{_policy_key(d)}`: a quorum of {d['count']} needs at least {d['count']} approvers, "
        f"and the policy would list {d['approvers']}. `quorum` accepts "
        f"{POLICY_ACCEPTS[Key.QUORUM]}, up to the number of approvers."
    ),
    Code.POLICY_CHANNEL_NOT_JOINED: lambda d: (
        f"`{_policy_key(d)}`: I am not in <#{d['channel']}>, so I could not post there. "
        f"Invite me with `/invite @releasebot` first; it accepts {POLICY_ACCEPTS[Key.ANNOUNCE]}."
    ),
    Code.POLICY_CHECKLIST_EMPTY: lambda d: (
        f"`{_policy_key(d)}` needs at least one item: it accepts {POLICY_ACCEPTS[Key.CHECKLIST]}."
    ),
    Code.POLICY_NOT_SET: lambda d: (
        f"`{_policy_key(d)}` is not set for {policy_place(d['scope'], d['target'])}: "
        "it is inherited already."
    ),
    Code.POLICY_UNCHANGED: lambda d: (
        f"`{_policy_key(d)}` for {policy_place(d['scope'], d['target'])} is set to that already."
    ),
    Code.POLICY_ONLY_OWNER: lambda d: (
        f"The policy for {policy_place(d['scope'], d['target'])} names only you as approver, "
        "and you can't sign your own release (`owner-can-approve` is no), so it would need "
        "no sign-off: name another approver, or ask a release manager to change the policy "
        "(`/release policy`)."
    ),
    Code.DUPLICATE: _duplicate,
    Code.VERSION_TAKEN: lambda d: f"{_ref(d)} can't be used: pick a new version.",
    Code.PROPOSED_JUST_NOW: lambda d: f"{_ref(d)} was proposed a moment ago.",
    Code.SLOT_TAKEN: lambda d: (
        f"That window is no longer free for {_ref(d)}: `/release slot` finds the next ones."
    ),
    Code.MOVED_ALREADY: lambda d: (
        f"{_ref(d)} was moved since that button was shown: nothing changed. "
        f"`/release status {_ref(d)}` shows its time."
    ),
    Code.PIPELINE_URL_INVALID: lambda d: (
        f"{quoted(str(d['value']))} is not a pipeline link: give an http(s) URL of up to "
        "500 characters."
    ),
    Code.DEPLOYMENT_STAGE_UNKNOWN: _stage_unknown,
    Code.URL_INVALID: lambda d: (
        f"{quoted(str(d['value']))} is not a link: give an http(s) URL of up to 1000 characters."
    ),
    Code.COMMIT_INVALID: lambda d: (
        f"{quoted(str(d['value']))} is not a commit: give its hash, 7 to 40 hexadecimal digits."
    ),
    Code.DIGEST_INVALID: lambda d: (
        f"{quoted(str(d['value']))} is not an artifact digest: give `sha256:` and 64 "
        "hexadecimal digits, e.g. a container image's digest."
    ),
    Code.COMMIT_TIME_FUTURE: lambda d: (
        f"The commit time {quoted(str(d['value']))} is in the future: give when the commit "
        "was made, ISO 8601 with an offset."
    ),
    Code.FIXES_INVALID: lambda d: (
        f"{quoted(str(d['value']))} is not a release: name the one it fixes as "
        "service@version, or by its version."
    ),
    Code.FIXES_UNKNOWN: lambda d: (
        f"No release {quoted(str(d['ref']))} to fix: name one `/release status` shows you."
    ),
    Code.FIXES_OTHER_SERVICE: lambda d: (
        f"A release of {quoted(str(d['service']))} can't fix {quoted(str(d['ref']))}: a fix "
        "fixes a release of its own service."
    ),
    Code.TOKEN_NAME_INVALID: lambda d: (
        f"{quoted(str(d['value']))} can't name a token: use up to 40 lowercase letters, "
        "digits, dots, dashes or underscores, e.g. ci-deploy."
    ),
    Code.TOKEN_NAME_TAKEN: lambda d: (
        f"A token named {quoted(str(d['name']))} exists already: pick another name, or "
        "`/release token revoke` it first."
    ),
    Code.NO_SUCH_TOKEN: lambda d: (
        f"No live token is named {quoted(str(d['name']))}. `/release token list` shows them."
    ),
    Code.TOO_MANY_TOKENS: lambda d: (
        f"This workspace has {d['limit']} live tokens already: revoke one you no longer use."
    ),
    Code.TOKEN_SERVICES: lambda d: f"Limit a token to at most {d['limit']} services.",
    Code.TOKEN_SCOPE: lambda d: (
        f"This token may not act on {quoted(str(d['service']))}: it is limited to other services."
    ),
    Code.TOKEN_NOT_MANAGER: lambda d: (
        f"This token acts for <@{d['person']}>, who is not a release manager now: only "
        f"release managers can {d['what']}."
    ),
    Code.GITHUB_REPOSITORY_INVALID: lambda d: (
        f"{quoted(str(d['value']))} is not a GitHub repository: write it as owner/repo, "
        "e.g. acme/payments."
    ),
    Code.GITHUB_ENVIRONMENT_INVALID: lambda d: (
        f"{quoted(str(d['value']))} can't name environments: name up to 10, each without "
        "spaces or commas, e.g. `environment production staging`."
    ),
    Code.GITHUB_ENVIRONMENT_TAKEN: _github_environment_taken,
    Code.GITHUB_NOT_LINKED: lambda d: (
        f"{quoted(str(d['repository']))} is not linked"
        + (f" to {quoted(str(d['service']))}" if d["service"] else "")
        + ". `/release github links` shows the links."
    ),
    Code.AUDIT_DATE_INVALID: lambda d: (
        f"{quoted(str(d['value']))} is not a date: write 2026-11-01, an ISO 8601 time "
        "such as 2026-11-01T09:00Z, or how far back, such as 30d or 12h."
    ),
    Code.DATE_OUT_OF_RANGE: lambda d: (
        f"{quoted(str(d['value']))} is out of range: a date must fall within the years 1 to "
        "9999, in UTC."
    ),
    Code.AUDIT_RANGE_EMPTY: lambda d: (
        "Nothing can be exported: the start is not before the end "
        f"({d['since']:%Y-%m-%d %H:%M} to {d['until']:%Y-%m-%d %H:%M} UTC)."
    ),
}
