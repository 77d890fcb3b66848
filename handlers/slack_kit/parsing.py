"""`/release …` text -> typed commands. Pure: no Slack calls, no database."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast, get_args

from handlers.slack_kit.mrkdwn import escape, from_slack, truncate, typed_length
from handlers.slack_kit.payloads import OverrideStep
from handlers.slack_kit.refused import Refused
from handlers.slack_kit.times import CLOCK_PATTERN, When, take_time
from models import durations, fields, policy
from models.errors import InvalidInput
from models.freezes import WEEKDAYS, WeeklySpan
from models.policy import Key, Value
from models.release import proposing, statistics
from models.release.default_checklist import MAX_ITEM_LENGTH
from models.release.proposing import ApproverSpec
from models.release.records import ApproverKind

MAX_COMMAND_TEXT = 3000

USAGE = {
    "propose": "`/release propose <service> <version> <when> [@approver …] [phased 10,50,100] "
    "[fix | fixes <service@version>] [notes: …]` — or just `/release propose` for a form",
    "list": "`/release list`",
    "status": "`/release status <service@version>`",
    "cancel": "`/release cancel <service@version> [reason]`",
    "update": "`/release update <service@version> [version=…] [when=…] [notes=…] "
    "[approvers=@a @b … | approvers=none] [digest=sha256:… | digest=none] "
    "[commit=… | commit=none]`",
    "go": "`/release go <service@version> [override: <reason>]` (release managers override a "
    "freeze)",
    "nogo": "`/release nogo <service@version> <reason>`",
    "advance": "`/release advance <service@version> [override: <reason>]`",
    "pause": "`/release pause <service@version>`",
    "resume": "`/release resume <service@version>`",
    "withdraw": "`/release withdraw <service@version>` (an approver takes back a sign-off)",
    "done": "`/release done <service@version> [override: <reason>]`",
    "rollback": "`/release rollback <service@version> <reason>`",
    "checklist": "`/release checklist <service@version> add <item>`",
    "calendar": "`/release calendar [#channel | <service> | revoke]` · "
    '`/release calendar share "<name>" [#channel | <service>]` · `/release calendar shared` · '
    '`/release calendar unshare "<name>"` (release managers share links for people outside '
    "Slack)",
    "managers": "`/release managers [add | remove @someone @group …]` (release managers change it)",
    "freeze": '`/release freeze list` · `/release freeze add "<name>" <from | now> to <until> '
    '[service <service>]` · `/release freeze add "<name>" every fri 16:00 to mon 08:00 '
    '[tz Europe/Berlin] [service <service>]` · `/release freeze remove "<name>"` '
    "(release managers add and remove)",
    "policy": "`/release policy [<service>] [set <key> <value> | unset <key>]` · "
    "`/release policy history` (release managers change it)",
    "token": "`/release token create <name> [service …]` · `/release token list` · "
    "`/release token revoke <name>` (release managers; API tokens for pipelines)",
    "webhook": "`/release webhook add <https-url> [event …]` · `/release webhook list` · "
    "`/release webhook remove <url>` · `/release webhook deliveries <url>` (release managers)",
    "github": "`/release github link <owner>/<repo> <service> [environment <name> …]` · "
    "`/release github links` · `/release github unlink <owner>/<repo> [<service>]` "
    "(release managers; deployments in those GitHub environments ask releasebot)",
    "history": "`/release history [<service>] [n]` (the last n releases, default 10, at most 50)",
    "verify": "`/release verify <service> <sha256:digest>` (which release an artifact was "
    "approved as)",
    "audit": "`/release audit [<service>] [<since>]` (release managers: the audit trail as a "
    "CSV file, by DM; since: 2026-11-01 or 30d)",
    "stats": "`/release stats [service] [30d | 90d | 365d]` (figures and a chart, in this channel)",
    "slot": "`/release slot <service> [<length> such as 90m or 2h] [after <when>]` (the next "
    "three free windows)",
    "digest": "`/release digest` (the week ahead, for you alone)",
    "help": "`/release help`",
}


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class ListReleases:
    pass


@dataclass(frozen=True)
class History:
    """`/release history [<service>] [n]`: one service's releases, or the services."""

    service: str | None = None
    count: int = 10


@dataclass(frozen=True)
class Verify:
    """`/release verify <service> <digest>`: which release an artifact digest belongs to."""

    service: str
    digest: str


@dataclass(frozen=True)
class ProposeForm:
    """`/release propose` alone: open the modal."""


@dataclass(frozen=True)
class Propose:
    service: str
    version: str
    when: When
    users: tuple[str, ...] = ()
    groups: tuple[ApproverSpec, ...] = ()
    stages: tuple[int, ...] = ()
    notes: str = ""
    # A fix (`fix`), naming what it fixes when it can (`fixes <service@version>` or
    # `fixes <version>` of the same service).
    fix: bool = False
    fixes: str | None = None

    @property
    def approvers(self) -> tuple[ApproverSpec, ...]:
        return tuple(ApproverSpec(u) for u in self.users) + self.groups


@dataclass(frozen=True)
class Stats:
    """`/release stats [service] [30d|90d|365d]`: figures and a chart, in the channel."""

    service: str | None = None
    days: int = statistics.DEFAULT_DAYS


@dataclass(frozen=True)
class FreeSlots:
    """`/release slot <service> [<length>] [after <when>]`: the next free windows."""

    service: str
    length_minutes: int | None = None  # None: the service's `window`
    after: When | None = None  # None: now


@dataclass(frozen=True)
class WeeklyDigest:
    """`/release digest`: the week ahead, privately, now."""


@dataclass(frozen=True)
class RefCommand:
    """A subcommand acting on one release, with optional free text (a reason, an item)."""

    name: str
    ref: str
    text: str = ""


@dataclass(frozen=True)
class Update:
    ref: str
    version: str | None = None
    when: When | None = None
    notes: str | None = None
    approvers: tuple[ApproverSpec, ...] | None = None  # None: unchanged; (): none at all
    digest: str | None = None  # None: unchanged; "": none
    commit: str | None = None  # None: unchanged; "": none


@dataclass(frozen=True)
class ChecklistAdd:
    ref: str
    item: str


@dataclass(frozen=True)
class Calendar:
    channel_id: str | None = None
    service: str | None = None
    revoke: bool = False


@dataclass(frozen=True)
class SharedCalendar:
    """`/release calendar share "<name>" [#channel | <service>]`, `… shared`, `… unshare
    "<name>"`: the workspace's named calendar links for people outside Slack."""

    verb: str  # share | shared | unshare
    name: str = ""
    channel_id: str | None = None
    service: str | None = None


@dataclass(frozen=True)
class Managers:
    """`/release managers [add|remove @someone @group …]`: list, or change, the managers."""

    verb: str = "list"  # list | add | remove
    people: tuple[ApproverSpec, ...] = ()


@dataclass(frozen=True)
class Override:
    """`/release go|advance|done <ref> override: <reason>`: a release manager overrides the
    freezes holding the release, then the step runs (unless the release is past it)."""

    name: OverrideStep
    ref: str
    reason: str


@dataclass(frozen=True)
class FreezeList:
    pass


@dataclass(frozen=True)
class FreezeAdd:
    """A one-off freeze (`start` None: from now) or a weekly one (`weekly`, read in `tz`,
    None: the person's own zone); `service` None: the whole workspace."""

    name: str
    start: When | None = None
    until: When | None = None
    weekly: WeeklySpan | None = None
    tz: str | None = None
    service: str | None = None


@dataclass(frozen=True)
class FreezeRemove:
    name: str


@dataclass(frozen=True)
class PolicyCommand:
    """`/release policy …`: show it (verb "show"), its history, or set/unset one key for
    this channel (service None) or for one service."""

    verb: str = "show"  # show | history | set | unset
    service: str | None = None
    key: str = ""
    value: str = ""  # as typed (mentions and channels still in Slack's markup)


@dataclass(frozen=True)
class Token:
    """`/release token create <name> [service …] | list | revoke <name>`: API tokens."""

    verb: str  # create | list | revoke
    name: str = ""
    services: tuple[str, ...] = ()


@dataclass(frozen=True)
class WebhookCommand:
    """`/release webhook add <url> [event …] | list | remove <url> | deliveries <url>`."""

    verb: str  # add | list | remove | deliveries
    url: str = ""
    events: tuple[str, ...] = ()


@dataclass(frozen=True)
class GitHubCommand:
    """`/release github link <owner>/<repo> <service> [environment <name> …] | links |
    unlink <owner>/<repo> [<service>]`."""

    verb: str  # link | links | unlink
    repository: str = ""
    service: str | None = None
    environments: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuditExport:
    """`/release audit [<service>] [<since>]`: the audit trail as a CSV file, by DM."""

    service: str | None = None
    since: str | None = None  # as typed: models.audit_export.parse_moment reads it


Command = (
    Help
    | ListReleases
    | History
    | Verify
    | ProposeForm
    | Propose
    | RefCommand
    | Update
    | ChecklistAdd
    | Calendar
    | SharedCalendar
    | Managers
    | Override
    | FreezeList
    | FreezeAdd
    | FreezeRemove
    | PolicyCommand
    | Token
    | WebhookCommand
    | GitHubCommand
    | AuditExport
    | Stats
    | FreeSlots
    | WeeklyDigest
)

_USER = re.compile(r"^<@([UW][A-Z0-9_]+)(?:\|[^>]*)?>$")
_GROUP = re.compile(r"^<!subteam\^([A-Z0-9_]+)(?:\|@?([^>]*))?>$")
_CHANNEL = re.compile(r"^<#([CG][A-Z0-9_]+)(?:\|[^>]*)?>$")
_PERCENTAGES = re.compile(r"^\d{1,3}%?(,\d{1,3}%?)*$")
_TOKEN = re.compile(r"<[^<>]*>|\S+")


def _usage_error(problem: str, subcommand: str) -> Refused:
    return Refused(f"{problem}\nUsage: {USAGE[subcommand]}")


def parse(text: str) -> Command:
    # Counted as typed: Slack's escaping makes each & < > four or five characters.
    typed = typed_length(text)
    if typed > MAX_COMMAND_TEXT:
        raise Refused(
            f"That command is {typed} characters long; write at most {MAX_COMMAND_TEXT} "
            "characters (put long notes in a document and link to it)."
        )
    text = text.strip()
    if not text:
        return Help()
    head, _, rest = text.partition(" ")
    sub = head.lower()
    rest = rest.strip()
    if sub in ("help", "-h", "--help", "?"):
        return Help()
    if sub == "list":
        return ListReleases()
    if sub == "history":
        return parse_history(rest)
    if sub == "verify":
        return parse_verify(rest)
    if sub == "propose":
        return parse_propose(rest)
    if sub in get_args(OverrideStep) and _OVERRIDE.search(rest):
        return parse_override(cast(OverrideStep, sub), rest)
    if sub == "freeze":
        return parse_freeze(rest)
    if sub in ("status", "go", "advance", "done", "pause", "resume", "withdraw"):
        return RefCommand(sub, _require_ref(rest, sub))
    if sub in ("cancel", "nogo", "no-go", "rollback"):
        name = {"no-go": "nogo"}.get(sub, sub)
        ref, _, reason = rest.partition(" ")
        ref = _require_ref(ref, name)
        reason = from_slack(reason, multiline=True)
        if name != "cancel" and not reason:
            raise _usage_error("Say why, so the team knows.", name)
        return RefCommand(name, ref, reason)
    if sub == "update":
        return parse_update(rest)
    if sub == "checklist":
        return parse_checklist(rest)
    if sub == "calendar":
        return parse_calendar(rest)
    if sub == "managers":
        return parse_managers(rest)
    if sub == "policy":
        return parse_policy(rest)
    if sub == "token":
        return parse_token(rest)
    if sub in ("webhook", "webhooks"):
        return parse_webhook(rest)
    if sub == "github":
        return parse_github(rest)
    if sub == "audit":
        return parse_audit(rest)
    if sub in ("stats", "statistics"):
        return parse_stats(rest)
    if sub == "slot":
        return parse_free_slots(rest)
    if sub == "digest" and not rest:
        return WeeklyDigest()
    raise unknown_subcommand(head)


HISTORY_MAX = 50


def parse_history(rest: str) -> History:
    words = rest.split()
    if not words:
        return History()
    if len(words) > 2:
        raise _usage_error("Name one service, and how many releases to show.", "history")
    count = 10
    if len(words) == 2:
        if not words[1].isascii() or not words[1].isdigit() or len(words[1]) > 4:
            raise _usage_error(
                f"{truncate(escape(from_slack(words[1])), 40)} is not a number.", "history"
            )
        count = int(words[1])
        if not 1 <= count <= HISTORY_MAX:
            raise _usage_error(f"Show between 1 and {HISTORY_MAX} releases.", "history")
    return History(from_slack(words[0]), count)


def parse_verify(rest: str) -> Verify:
    words = from_slack(rest).split()
    if len(words) != 2:
        raise _usage_error("Name one service and one artifact digest.", "verify")
    return Verify(service=words[0], digest=words[1])


def _require_ref(text: str, subcommand: str) -> str:
    ref = from_slack(text.strip())
    if not ref or " " in ref:
        raise _usage_error("Name one release as service@version.", subcommand)
    if len(ref) > 130:
        raise _usage_error("That is not a release name.", subcommand)
    return ref


def parse_when(tokens: list[str], subcommand: str) -> tuple[When, int]:
    """A time from the start of `tokens` (see times.take_time); returns it and how many
    tokens it used. A refusal ends with the subcommand's usage."""
    try:
        return take_time(tokens)
    except Refused as refused:
        raise _usage_error(refused.message, subcommand) from None


def parse_propose(rest: str) -> Command:
    if not rest:
        return ProposeForm()
    found = list(_TOKEN.finditer(rest))
    tokens, starts = [m.group() for m in found], [m.start() for m in found]
    if len(tokens) < 3:
        raise _usage_error("Name the service, the version and when.", "propose")
    service, version = from_slack(tokens[0]), from_slack(tokens[1])
    when, used = parse_when(tokens[2:], "propose")
    users: list[str] = []
    groups: list[ApproverSpec] = []
    stages: tuple[int, ...] = ()
    notes = ""
    fix = False
    fixes: str | None = None
    index = 2 + used
    while index < len(tokens):
        token, token_at = tokens[index], starts[index]
        lowered = token.lower()
        if user := _USER.match(token):
            users.append(user.group(1))
        elif group := _GROUP.match(token):
            handle = from_slack(group.group(2) or "")
            groups.append(ApproverSpec(group.group(1), ApproverKind.USERGROUP, handle))
        elif lowered in ("phased", "--phased"):
            if index + 1 >= len(tokens):
                raise _usage_error("Give the phases, e.g. `phased 10,50,100`.", "propose")
            stages = parse_percentages(tokens[index + 1])
            index += 1
        elif lowered in ("big-bang", "bigbang", "--big-bang"):
            stages = ()
        elif lowered in ("fix", "--fix"):
            fix = True
        elif lowered in ("fixes", "--fixes"):
            if index + 1 >= len(tokens):
                raise _usage_error(
                    "Name the release it fixes, e.g. `fixes payments@2.4.0`.", "propose"
                )
            fixes = parse_fixes_ref(tokens[index + 1])
            fix = True
            index += 1
        elif lowered.startswith("notes:") or lowered == "--":
            notes_text = rest[token_at + len(token) :]
            if lowered.startswith("notes:"):
                notes_text = token[len("notes:") :] + notes_text
            notes = from_slack(notes_text, multiline=True)
            break
        elif token.startswith("@"):
            raise Refused(
                f"{truncate(escape(from_slack(token)), 60)} is not someone I can find. "
                "Mention approvers with @ and pick them from Slack's list, so they arrive "
                "as real mentions."
            )
        else:
            raise _usage_error(
                f"I don't understand “{truncate(escape(from_slack(token)), 60)}” here. "
                "After the time come approvers (@mentions), `phased 10,50,100`, `fix` or "
                "`fixes <service@version>`, and `notes: …` last.",
                "propose",
            )
        index += 1
    return Propose(
        service=service,
        version=version,
        when=when,
        users=tuple(dict.fromkeys(users)),
        groups=tuple(groups),
        stages=stages,
        notes=notes,
        fix=fix,
        fixes=fixes,
    )


def parse_fixes_ref(token: str) -> str:
    """What `fixes` names: `service@version`, or a version of the same service."""
    ref = from_slack(token)
    service, at, version = ref.partition("@")
    if at:
        well_formed = bool(
            proposing.SERVICE_PATTERN.match(service.lower())
            and proposing.VERSION_PATTERN.match(version)
        )
    else:
        well_formed = bool(proposing.VERSION_PATTERN.match(ref))
    if not well_formed:
        raise _usage_error(
            f"“{truncate(escape(ref), 60)}” is not a release: after `fixes` name the one it "
            "fixes as service@version (or its version).",
            "propose",
        )
    return f"{service.lower()}@{version}" if at else ref


def parse_stats(rest: str) -> Stats:
    service: str | None = None
    days: int | None = None
    for word in from_slack(rest).split():
        period = durations.parse(word, units="d", bare="d", digits=4)
        if period is not None and days is None:
            days = period.days
            if days not in statistics.PERIODS:
                raise _usage_error(f"Statistics cover 30, 90 or 365 days, not {days}.", "stats")
        elif service is None and period is None and proposing.SERVICE_PATTERN.match(word.lower()):
            service = word.lower()
        else:
            raise _usage_error(
                f"I don't understand “{truncate(escape(word), 60)}” here: name one service "
                "and one period (30d, 90d or 365d).",
                "stats",
            )
    return Stats(service=service, days=days or statistics.DEFAULT_DAYS)


def parse_free_slots(rest: str) -> FreeSlots:
    tokens = _TOKEN.findall(rest)
    if not tokens or not proposing.SERVICE_PATTERN.match(from_slack(tokens[0]).lower()):
        raise _usage_error("Name the service.", "slot")
    service, index = from_slack(tokens[0]).lower(), 1
    length: int | None = None
    if index < len(tokens) and tokens[index].lower() != "after":
        try:
            length = policy.clean_window(from_slack(tokens[index]))
        except InvalidInput:
            raise _usage_error(
                f"{truncate(escape(from_slack(tokens[index])), 40)} is not a length: give "
                f"{policy.MIN_WINDOW}m to 24h, such as `90m` or `2h`.",
                "slot",
            ) from None
        index += 1
    after: When | None = None
    if index < len(tokens):
        if tokens[index].lower() != "after" or index + 1 == len(tokens):
            raise _usage_error("Say `after <when>` last, or nothing.", "slot")
        after, used = parse_when(tokens[index + 1 :], "slot")
        if index + 1 + used != len(tokens):
            raise _usage_error("Say `after <when>` last, or nothing.", "slot")
    return FreeSlots(service, length, after)


def parse_percentages(text: str) -> tuple[int, ...]:
    text = text.strip()
    if not _PERCENTAGES.match(text):
        raise Refused(
            f"“{truncate(escape(text), 40)}” is not a list of percentages; write e.g. 10,50,100.",
            field=fields.FIELD_ROLLOUT,
        )
    return tuple(int(p.rstrip("%")) for p in text.split(","))


# A key starts a word: "subversion=2" inside the notes changes no version.
_ASSIGNMENT = re.compile(r"\b(version|when|notes|approvers|digest|commit)=", re.IGNORECASE)


def parse_update(rest: str) -> Update:
    ref, _, assignments = rest.partition(" ")
    ref = _require_ref(ref, "update")
    matches = list(_ASSIGNMENT.finditer(assignments))
    if not matches or assignments[: matches[0].start()].strip():
        raise _usage_error("Say what changes, e.g. `when=2026-12-04T10:00Z`.", "update")
    values: dict[str, str] = {}
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(assignments)
        key = match.group(1).lower()
        if key in values:
            raise _usage_error(f"`{key}=` appears twice.", "update")
        values[key] = assignments[match.end() : end].strip()
    when = None
    if "when" in values:
        when, used = parse_when(values["when"].split(), "update")
        if used != len(values["when"].split()):
            raise _usage_error("Put only the time after `when=`.", "update")
    version = from_slack(values["version"]) if "version" in values else None
    if version is not None and (not version or " " in version):
        raise _usage_error("Put one version after `version=`.", "update")
    notes = from_slack(values["notes"], multiline=True) if "notes" in values else None
    approvers = parse_approvers(values["approvers"]) if "approvers" in values else None
    digest, commit = (_one_word_or_none(values, key) for key in ("digest", "commit"))
    return Update(
        ref=ref,
        version=version,
        when=when,
        notes=notes,
        approvers=approvers,
        digest=digest,
        commit=commit,
    )


def _one_word_or_none(values: dict[str, str], key: str) -> str | None:
    """`digest=` / `commit=` of an update: one value (checked by the domain), or `none`
    ("": removed); None when not given."""
    if key not in values:
        return None
    value = from_slack(values[key])
    if not value or " " in value:
        raise _usage_error(f"Put one value after `{key}=`, or write none.", "update")
    return "" if value.lower() == "none" else value


def parse_approvers(text: str) -> tuple[ApproverSpec, ...]:
    """`approvers=` of an update: the whole new list of @people and @groups, or `none`."""
    tokens = _TOKEN.findall(text)
    if [t.lower() for t in tokens] == ["none"]:
        return ()
    if not tokens:
        raise _usage_error("Mention the approvers after `approvers=`, or write none.", "update")
    specs = []
    for token in tokens:
        if spec := _mention(token):
            specs.append(spec)
        else:
            raise Refused(
                f"{truncate(escape(from_slack(token)), 60)} is not someone I can find. "
                "Mention approvers with @ and pick them from Slack's list, so they arrive "
                "as real mentions."
            )
    return tuple(specs)


def parse_checklist(rest: str) -> ChecklistAdd:
    ref, _, tail = rest.partition(" ")
    ref = _require_ref(ref, "checklist")
    verb, _, item = tail.strip().partition(" ")
    if verb.lower() != "add":
        raise _usage_error("Use `add` followed by the item's text.", "checklist")
    item = from_slack(item)
    if not item:
        raise _usage_error("Write the item's text after `add`.", "checklist")
    if len(item) > MAX_ITEM_LENGTH:
        raise Refused(
            f"A checklist item can have at most {MAX_ITEM_LENGTH} characters; that one has "
            f"{len(item)}. Keep it short and link to the details."
        )
    return ChecklistAdd(ref=ref, item=item)


def parse_managers(rest: str) -> Managers:
    verb, _, names = rest.strip().partition(" ")
    verb = verb.lower()
    if not verb:
        return Managers()
    if verb not in ("add", "remove"):
        raise _usage_error("Use `add` or `remove` followed by @people or @groups.", "managers")
    people: list[ApproverSpec] = []
    for token in _TOKEN.findall(names):
        if spec := _mention(token):
            people.append(spec)
        else:
            raise _usage_error(
                f"“{truncate(escape(from_slack(token)), 60)}” is not a person or a user group: "
                "pick them from Slack's list after @.",
                "managers",
            )
    if not people:
        raise _usage_error("Name the people or user groups, with @.", "managers")
    return Managers(verb, tuple(dict.fromkeys(people)))


def parse_policy(rest: str) -> PolicyCommand:
    head = rest.split(None, 1)
    if not head:
        return PolicyCommand()
    if [w.lower() for w in rest.split()] == ["history"]:
        return PolicyCommand("history")
    service: str | None = None
    if head[0].lower() not in ("set", "unset"):
        service = from_slack(head[0]).lower()
        rest = head[1] if len(head) > 1 else ""
        if not rest.strip():
            return PolicyCommand(service=service)
    words = rest.split(None, 2)
    verb = words[0].lower()
    if verb not in ("set", "unset") or len(words) < 2:
        raise _usage_error("Use `set <key> <value>` or `unset <key>`.", "policy")
    key = from_slack(words[1]).lower()
    value = words[2].strip() if len(words) > 2 else ""
    if verb == "set" and not value:
        raise _usage_error(f"Give a value after `set {escape(key)}`.", "policy")
    if verb == "unset" and value:
        raise _usage_error("`unset` takes only the key.", "policy")
    return PolicyCommand(verb, service, key, value)


def _mention(token: str) -> ApproverSpec | None:
    """A person or a user group as Slack sends a mention of them; None for anything else."""
    if user := _USER.match(token):
        return ApproverSpec(user.group(1))
    if group := _GROUP.match(token):
        handle = from_slack(group.group(2) or "")
        return ApproverSpec(group.group(1), ApproverKind.USERGROUP, handle)
    return None


def parse_mentions(text: str) -> tuple[ApproverSpec, ...]:
    """@people and @groups, as Slack sends them; anything else is refused."""
    specs = []
    for token in _TOKEN.findall(text):
        if spec := _mention(token):
            specs.append(spec)
        else:
            raise Refused(
                f"{truncate(escape(from_slack(token)), 60)} is not someone I can find. "
                "Mention people and user groups with @ and pick them from Slack's list."
            )
    return tuple(specs)


def parse_channel(text: str) -> str | None:
    """A #channel as Slack sends it (its id), or None."""
    channel = _CHANNEL.match(text.strip())
    return channel.group(1) if channel else None


def policy_value(key: Key, text: str) -> Value:
    """A policy value typed after `set <key>`, read and checked for what needs no Slack."""
    plain = from_slack(text)
    if key == Key.APPROVERS:
        return policy.clean_approvers(parse_mentions(text), plain)
    if key in (Key.ANNOUNCE, Key.ESCALATION):
        return policy.clean_channel(key, parse_channel(text), plain)
    if key == Key.WEEKLY_DIGEST:
        where, _, when = text.strip().partition(" ")
        return policy.clean_weekly_digest(parse_channel(where), from_slack(when), plain)
    cleaners: dict[Key, Callable[[str], Value]] = {
        Key.QUORUM: policy.clean_quorum,
        Key.OWNER_CAN_APPROVE: policy.clean_flag,
        Key.CHECKLIST: policy.clean_checklist,
        Key.REMINDERS: policy.clean_reminders,
        Key.WINDOW: policy.clean_window,
        Key.RELEASE_HOURS: policy.clean_release_hours,
        Key.MAX_CONCURRENT: policy.clean_max_concurrent,
        Key.DEPENDS_ON: policy.clean_depends_on,
    }
    return cleaners[key](plain)


def parse_token(rest: str) -> Token:
    words = from_slack(rest).split()
    verb = words[0].lower() if words else ""
    if verb == "list" and len(words) == 1:
        return Token("list")
    if verb == "create" and len(words) >= 2:
        return Token("create", words[1], tuple(w.lower() for w in words[2:]))
    if verb == "revoke" and len(words) == 2:
        return Token("revoke", words[1])
    raise _usage_error("Create, list or revoke a token.", "token")


def parse_webhook(rest: str) -> WebhookCommand:
    words = from_slack(rest).split()
    verb = words[0].lower() if words else "list"
    if verb == "list" and len(words) <= 1:
        return WebhookCommand("list")
    if verb == "add" and len(words) >= 2:
        events = tuple(dict.fromkeys(w.lower().rstrip(",") for w in words[2:]))
        return WebhookCommand("add", words[1], events)
    if verb in ("remove", "deliveries") and len(words) == 2:
        return WebhookCommand(verb, words[1])
    raise _usage_error("Add, list or remove a webhook, or see its deliveries.", "webhook")


def parse_github(rest: str) -> GitHubCommand:
    words = from_slack(rest).split()
    verb = words[0].lower() if words else "links"
    if verb in ("links", "list") and len(words) <= 1:
        return GitHubCommand("links")
    if verb == "link" and len(words) >= 3:
        environments: tuple[str, ...] = ()
        if len(words) > 3:
            if words[3].lower() not in ("environment", "environments", "env") or len(words) < 5:
                raise _usage_error("Name the environments after `environment`.", "github")
            environments = tuple(w.rstrip(",") for w in words[4:])
        return GitHubCommand("link", words[1], words[2].lower(), environments)
    if verb == "unlink" and len(words) in (2, 3):
        return GitHubCommand("unlink", words[1], words[2].lower() if len(words) == 3 else None)
    raise _usage_error("Link a repository to a service, list the links, or unlink one.", "github")


# A date (2026-11-01, or an ISO 8601 time); else how far back (30d, 12h) makes a start.
_DATE_START = re.compile(r"^\d{4}-\d{2}-\d{2}\S*$")


def parse_audit(rest: str) -> AuditExport:
    """`[<service>] [<since>]`: one word is the start when it reads as one (2026-11-01,
    30d), else the service."""
    words = from_slack(rest).split()
    if len(words) > 2:
        raise _usage_error("Name at most a service and a start.", "audit")
    if len(words) == 2:
        return AuditExport(words[0], words[1])
    if words and (_DATE_START.match(words[0]) or durations.parse(words[0], units="dh") is not None):
        return AuditExport(since=words[0])
    return AuditExport(words[0] if words else None)


def parse_calendar(rest: str) -> Calendar | SharedCalendar:
    rest = rest.strip()
    if not rest:
        return Calendar()
    if rest.lower() == "revoke":
        return Calendar(revoke=True)
    verb, _, tail = rest.partition(" ")
    if verb.lower() == "shared":
        if tail.strip():
            raise _usage_error("`/release calendar shared` takes nothing more.", "calendar")
        return SharedCalendar("shared")
    if verb.lower() in ("share", "unshare"):
        return _parse_share(verb.lower(), tail.strip())
    if channel := _CHANNEL.match(rest):
        return Calendar(channel_id=channel.group(1))
    service = from_slack(rest)
    if " " in service or not service:
        raise _usage_error("Filter by one #channel or one service.", "calendar")
    return Calendar(service=service.lower())


def _parse_share(verb: str, tail: str) -> SharedCalendar:
    # The name is matched in the text as Slack sent it, so a #channel after it stays a
    # mention; then it is read as the person typed it.
    quoted_name = _QUOTED.match(tail)
    name = from_slack(quoted_name.group(1)) if quoted_name else ""
    if not name:
        raise _usage_error('Name the shared link in quotes, e.g. `"Support team"`.', "calendar")
    after = quoted_name.group(2).strip() if quoted_name else ""
    if verb == "unshare":
        if after:
            raise _usage_error("Name only the shared link to revoke, in quotes.", "calendar")
        return SharedCalendar("unshare", name)
    if not after:
        return SharedCalendar("share", name)
    if channel := _CHANNEL.match(after):
        return SharedCalendar("share", name, channel_id=channel.group(1))
    service = from_slack(after)
    if " " in service or not service:
        raise _usage_error("Limit the shared link to one #channel or one service.", "calendar")
    return SharedCalendar("share", name, service=service.lower())


_OVERRIDE = re.compile(r"\boverride:", re.IGNORECASE)
_QUOTED = re.compile(r'^["“”„]([^"“”„]*)["“”„]\s*(.*)$', re.DOTALL)
_DAY_NAMES = {
    name: index
    for index, names in enumerate(
        (
            ("mon", "monday", "mo"),
            ("tue", "tues", "tuesday", "tu"),
            ("wed", "wednesday", "we"),
            ("thu", "thur", "thurs", "thursday", "th"),
            ("fri", "friday", "fr"),
            ("sat", "saturday", "sa"),
            ("sun", "sunday", "su"),
        )
    )
    for name in names
}
assert len(WEEKDAYS) == 7


def parse_override(name: OverrideStep, rest: str) -> Override:
    match = _OVERRIDE.search(rest)
    assert match is not None
    ref = _require_ref(rest[: match.start()], name)
    reason = from_slack(rest[match.end() :], multiline=True)
    if not reason:
        raise _usage_error("Say why the freeze is overridden, after `override:`.", name)
    return Override(name, ref, reason)


def parse_freeze(rest: str) -> FreezeList | FreezeAdd | FreezeRemove:
    verb, _, tail = rest.strip().partition(" ")
    verb = verb.lower()
    if verb in ("", "list"):
        if tail.strip():
            raise _usage_error("`/release freeze list` takes nothing more.", "freeze")
        return FreezeList()
    if verb not in ("add", "remove"):
        raise _usage_error("Use `list`, `add` or `remove`.", "freeze")
    quoted_name = _QUOTED.match(from_slack(tail.strip()))
    if not quoted_name or not quoted_name.group(1).strip():
        raise _usage_error('Name the freeze in quotes, e.g. `"Black Friday"`.', "freeze")
    name, after = quoted_name.group(1).strip(), quoted_name.group(2)
    if verb == "remove":
        if after.strip():
            raise _usage_error("Name only the freeze to remove, in quotes.", "freeze")
        return FreezeRemove(name)
    return _parse_freeze_add(name, after.split())


def _parse_freeze_add(name: str, tokens: list[str]) -> FreezeAdd:
    service: str | None = None
    lowered = [t.lower() for t in tokens]
    if "service" in lowered:
        at = lowered.index("service")
        if len(tokens) != at + 2:
            raise _usage_error("Put one service after `service`, last.", "freeze")
        service, tokens = tokens[at + 1].lower(), tokens[:at]
    if not tokens:
        raise _usage_error("Say when the freeze starts and ends.", "freeze")
    if tokens[0].lower() == "every":
        return _parse_weekly(name, tokens[1:], service)
    if tokens[0].lower() == "now":
        start, used = None, 1
    else:
        start, used = parse_when(tokens, "freeze")
    if len(tokens) <= used or tokens[used].lower() != "to":
        raise _usage_error("Put `to` between the start and the end.", "freeze")
    until, used_until = parse_when(tokens[used + 1 :], "freeze")
    if used + 1 + used_until != len(tokens):
        extra = " ".join(tokens[used + 1 + used_until :])
        raise _usage_error(
            f"I don't understand “{truncate(escape(extra), 60)}” after the end.", "freeze"
        )
    return FreezeAdd(name, start=start, until=until, service=service)


def _weekday_time(tokens: list[str]) -> tuple[int, int]:
    if (
        len(tokens) != 2
        or tokens[0].lower() not in _DAY_NAMES
        or not CLOCK_PATTERN.match(tokens[1])
    ):
        shown = truncate(escape(" ".join(tokens)), 40)
        raise _usage_error(
            f"“{shown}” is not a weekday and a time: write e.g. `fri 16:00`.", "freeze"
        )
    hours, minutes = (int(part) for part in tokens[1].split(":"))
    if hours > 23 or minutes > 59:
        raise _usage_error(f"{escape(tokens[1])} is not a time of day.", "freeze")
    return _DAY_NAMES[tokens[0].lower()], hours * 60 + minutes


def _parse_weekly(name: str, tokens: list[str], service: str | None) -> FreezeAdd:
    tz: str | None = None
    lowered = [t.lower() for t in tokens]
    if "tz" in lowered:
        at = lowered.index("tz")
        if len(tokens) != at + 2:
            raise _usage_error("Put one IANA zone after `tz`, e.g. `tz Europe/Berlin`.", "freeze")
        tz, tokens = tokens[at + 1], tokens[:at]
    if len(tokens) != 5 or tokens[2].lower() != "to":
        raise _usage_error("Write it as `every fri 16:00 to mon 08:00`.", "freeze")
    start_day, start_minute = _weekday_time(tokens[:2])
    end_day, end_minute = _weekday_time(tokens[3:])
    weekly = WeeklySpan(start_day, start_minute, end_day, end_minute)
    return FreezeAdd(name, weekly=weekly, tz=tz, service=service)


def unknown_subcommand(text: str) -> Refused:
    head = text.strip().partition(" ")[0]
    shown = truncate(escape(from_slack(head)), 40)
    return Refused(
        f"I don't know `/release {shown}`. These are the commands:\n"
        + "\n".join(f"• {usage}" for usage in USAGE.values())
    )
