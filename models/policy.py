"""Release policy, per channel and per service: who approves, how many must, what the
checklist holds, where a release is announced and escalated, when it is reminded, how long
its window lasts.

A value set for a service applies wherever the service is proposed, and wins over the
channel's; a channel's wins over the settings (the defaults). Each (team, scope, target,
key) is one row, written with an upsert under a row lock, so two managers changing one key
at once leave one value and both changes in the audit trail. A release copies the policy
in force when it is proposed (models/release/proposing.py): changing a policy never
rewrites a release already proposed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, Session, SQLModel, col, select

from models import audit, durations
from models.audit import AuditEvent
from models.columns import UTCDateTime, utcnow
from models.errors import Code, InvalidInput
from models.fields import policy_field
from models.release.default_checklist import MAX_ITEM_LENGTH, MAX_ITEMS
from models.release.digest_schedule import BadSchedule, DigestSchedule
from models.release.proposing import MAX_APPROVERS, SERVICE_PATTERN, ApproverSpec, Proposal
from models.release.quorum import Quorum, QuorumKind
from models.release.records import ApproverKind
from models.release.release_hours import BadHours, ReleaseHours

MIN_WINDOW = 15
MAX_WINDOW = 24 * 60
MAX_REMINDERS = 5
MAX_REMINDER_AHEAD = timedelta(days=14)
MAX_CONCURRENT = 100
MAX_DEPENDENCIES = 20
HISTORY_LIMIT = 30


class Key(StrEnum):
    APPROVERS = "approvers"
    QUORUM = "quorum"
    OWNER_CAN_APPROVE = "owner-can-approve"
    CHECKLIST = "checklist"
    ANNOUNCE = "announce"
    ESCALATION = "escalation"
    REMINDERS = "reminders"
    WINDOW = "window"
    # The calendar's: read when a window is checked (models/release/conflicts.py), not
    # copied into a release.
    RELEASE_HOURS = "release-hours"
    MAX_CONCURRENT = "max-concurrent"
    DEPENDS_ON = "depends-on"
    # Where and when the week ahead is posted (models/release/weekly_digest.py).
    WEEKLY_DIGEST = "digest"

    @property
    def field(self) -> str:
        """The policy form's input for this key (models/fields.py)."""
        return policy_field(self.value)


class Scope(StrEnum):
    CHANNEL = "channel"  # target: a channel id
    SERVICE = "service"  # target: a service name


class Source(StrEnum):
    """Where a value in force comes from."""

    SERVICE = "service"
    CHANNEL = "channel"
    DEFAULT = "default"  # the bot's settings, or the built-in default


def key_of(text: str) -> Key:
    try:
        return Key(text.strip().lower())
    except ValueError:
        raise InvalidInput(Code.POLICY_UNKNOWN_KEY, key=text) from None


# What a key holds once read: approvers, a quorum, a flag, checklist items, a channel id,
# reminder offsets, window minutes, release hours, or service names.
Value = (
    tuple[ApproverSpec, ...]
    | Quorum
    | bool
    | tuple[str, ...]
    | str
    | tuple[timedelta, ...]
    | int
    | ReleaseHours
    | DigestSchedule
)


@dataclass(frozen=True)
class Policy:
    approvers: tuple[ApproverSpec, ...] = ()
    quorum: Quorum = field(default_factory=Quorum)
    owner_can_approve: bool = False
    checklist: tuple[str, ...] = ()
    announce: str | None = None  # None: the release's own channel
    escalation: str | None = None  # None: nowhere set
    reminders: tuple[timedelta, ...] = ()
    window_minutes: int = 60
    release_hours: ReleaseHours | None = None  # None: any time
    max_concurrent: int | None = None  # None: unlimited
    depends_on: tuple[str, ...] = ()
    weekly_digest: DigestSchedule | None = None  # None: no digest

    def get(self, key: Key) -> Value | None:
        return getattr(self, _ATTRIBUTES[key])  # type: ignore[no-any-return]


_ATTRIBUTES = {
    Key.APPROVERS: "approvers",
    Key.QUORUM: "quorum",
    Key.OWNER_CAN_APPROVE: "owner_can_approve",
    Key.CHECKLIST: "checklist",
    Key.ANNOUNCE: "announce",
    Key.ESCALATION: "escalation",
    Key.REMINDERS: "reminders",
    Key.WINDOW: "window_minutes",
    Key.RELEASE_HOURS: "release_hours",
    Key.MAX_CONCURRENT: "max_concurrent",
    Key.DEPENDS_ON: "depends_on",
    Key.WEEKLY_DIGEST: "weekly_digest",
}


@dataclass(frozen=True)
class Effective:
    """The policy in force for a channel (and a service), and where each value comes from."""

    policy: Policy
    sources: Mapping[Key, Source]
    channel_id: str
    service: str | None = None


class PolicySetting(SQLModel, table=True):
    """One value set for a channel or a service; its absence means "inherited"."""

    __tablename__ = "policy_setting"
    __table_args__ = (
        UniqueConstraint("team_id", "scope", "target", "key", name="uq_policy_setting"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    scope: str = Field(max_length=16)
    target: str = Field(max_length=64)
    key: str = Field(max_length=32)
    value: Any = Field(sa_column=Column(JSON, nullable=False))
    updated_by: str = Field(max_length=32)
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


# --- values: cleaned from what was typed, stored as JSON ------------------------------


def _duration(key: Key, text: str) -> timedelta:
    duration = durations.parse(text, units="dhm", digits=4, zero=False)
    if duration is None:
        raise InvalidInput(Code.POLICY_BAD_VALUE, field=key.field, key=key, value=text)
    return duration


def clean_quorum(text: str) -> Quorum:
    try:
        return Quorum.parse(text)
    except InvalidInput:
        raise InvalidInput(
            Code.POLICY_BAD_VALUE, field=Key.QUORUM.field, key=Key.QUORUM, value=text
        ) from None


def clean_flag(text: str) -> bool:
    value = text.strip().lower()
    if value in ("yes", "true", "on"):
        return True
    if value in ("no", "false", "off"):
        return False
    raise InvalidInput(
        Code.POLICY_BAD_VALUE,
        field=Key.OWNER_CAN_APPROVE.field,
        key=Key.OWNER_CAN_APPROVE,
        value=text,
    )


def clean_checklist(text: str) -> tuple[str, ...]:
    """Items separated by `;`, with RELEASEBOT_CHECKLIST's limits."""
    key = Key.CHECKLIST
    items = tuple(dict.fromkeys(item.strip() for item in text.split(";") if item.strip()))
    if not items:
        raise InvalidInput(Code.POLICY_CHECKLIST_EMPTY, field=key.field, key=key)
    if len(items) > MAX_ITEMS or any(len(item) > MAX_ITEM_LENGTH for item in items):
        raise InvalidInput(Code.POLICY_BAD_VALUE, field=key.field, key=key, value=text)
    return items


def clean_reminders(text: str) -> tuple[timedelta, ...]:
    """`24h,1h` -> (24h, 1h): largest first, each at most two weeks ahead."""
    key = Key.REMINDERS
    offsets = {_duration(key, part) for part in text.split(",")}
    if len(offsets) > MAX_REMINDERS or max(offsets) > MAX_REMINDER_AHEAD:
        raise InvalidInput(Code.POLICY_BAD_VALUE, field=key.field, key=key, value=text)
    return tuple(sorted(offsets, reverse=True))


def clean_window(text: str) -> int:
    """`90m`, `2h` -> minutes, 15 minutes to 24 hours."""
    key = Key.WINDOW
    minutes = int(_duration(key, text).total_seconds() // 60)
    if not MIN_WINDOW <= minutes <= MAX_WINDOW:
        raise InvalidInput(Code.POLICY_BAD_VALUE, field=key.field, key=key, value=text)
    return minutes


def clean_release_hours(text: str) -> ReleaseHours:
    """`mon-fri 09:00-16:00 Europe/Berlin`: days, hours of one day, an IANA zone."""
    try:
        return ReleaseHours.parse(text)
    except BadHours:
        key = Key.RELEASE_HOURS
        raise InvalidInput(Code.POLICY_BAD_VALUE, field=key.field, key=key, value=text) from None


def clean_max_concurrent(text: str) -> int:
    key = Key.MAX_CONCURRENT
    value = text.strip()
    if not value.isdigit() or not 1 <= int(value) <= MAX_CONCURRENT:
        raise InvalidInput(Code.POLICY_BAD_VALUE, field=key.field, key=key, value=text)
    return int(value)


def clean_depends_on(text: str) -> tuple[str, ...]:
    """`payments, search` -> service names (a service's own name is no dependency)."""
    key = Key.DEPENDS_ON
    names = tuple(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    if (
        not names
        or len(names) > MAX_DEPENDENCIES
        or not all(SERVICE_PATTERN.match(n) for n in names)
    ):
        raise InvalidInput(Code.POLICY_BAD_VALUE, field=key.field, key=key, value=text)
    return names


def clean_weekly_digest(channel_id: str | None, when: str, typed: str) -> DigestSchedule:
    """`#eng-announce mon 09:00 Europe/Berlin`: a channel, a weekday, a time, a zone."""
    key = Key.WEEKLY_DIGEST
    try:
        if not channel_id:
            raise BadSchedule(typed)
        return DigestSchedule.parse(channel_id, when)
    except BadSchedule:
        raise InvalidInput(Code.POLICY_BAD_VALUE, field=key.field, key=key, value=typed) from None


def clean_approvers(approvers: Sequence[ApproverSpec], typed: str = "") -> tuple[ApproverSpec, ...]:
    key = Key.APPROVERS
    unique = tuple({a.slack_id: a for a in approvers}.values())
    if not unique or len(unique) > MAX_APPROVERS:
        raise InvalidInput(Code.POLICY_BAD_VALUE, field=key.field, key=key, value=typed)
    return unique


def clean_channel(key: Key, channel_id: str | None, typed: str = "") -> str:
    """A channel picked or mentioned (its id), else refused naming the key."""
    if not channel_id:
        raise InvalidInput(Code.POLICY_BAD_VALUE, field=key.field, key=key, value=typed)
    return channel_id


def check_channel(key: Key, channel_id: str, bot_is_member: bool) -> str:
    """A channel for `announce` or `escalation`: the bot must be in it to post there."""
    if not bot_is_member:
        raise InvalidInput(
            Code.POLICY_CHANNEL_NOT_JOINED, field=key.field, key=key, channel=channel_id
        )
    return channel_id


def _encode(key: Key, value: Value) -> Any:
    if key == Key.APPROVERS:
        assert isinstance(value, tuple)
        return [
            {"id": a.slack_id, "kind": a.kind.value, "handle": a.handle}
            for a in value
            if isinstance(a, ApproverSpec)
        ]
    if isinstance(value, (Quorum, ReleaseHours, DigestSchedule)):
        return value.text
    if key == Key.REMINDERS:
        assert isinstance(value, tuple)
        return [int(o.total_seconds() // 60) for o in value if isinstance(o, timedelta)]
    if isinstance(value, tuple):
        return list(value)
    return value


def _decode(key: Key, stored: Any) -> Value:
    if key == Key.APPROVERS:
        return tuple(
            ApproverSpec(str(a["id"]), ApproverKind(a["kind"]), str(a.get("handle") or ""))
            for a in stored
        )
    if key == Key.QUORUM:
        return Quorum.parse(str(stored))
    if key == Key.REMINDERS:
        return tuple(timedelta(minutes=int(m)) for m in stored)
    if key in (Key.CHECKLIST, Key.DEPENDS_ON):
        return tuple(str(item) for item in stored)
    if key == Key.RELEASE_HOURS:
        return ReleaseHours.parse(str(stored))
    if key == Key.WEEKLY_DIGEST:
        return DigestSchedule.read(str(stored))
    if key == Key.OWNER_CAN_APPROVE:
        return bool(stored)
    if key in (Key.WINDOW, Key.MAX_CONCURRENT):
        return int(stored)
    return str(stored)


def describe(key: Key, value: Value | None) -> Any:
    """A value as the audit trail keeps it (plain JSON; None: not set)."""
    return None if value is None else _encode(key, value)


def read_value(key: Key, stored: Any) -> Value | None:
    """A value as the audit trail kept it (None: not set)."""
    return None if stored is None else _decode(key, stored)


# --- what is in force ------------------------------------------------------------------


def settings_of(session: Session, team_id: str, scope: Scope, target: str) -> dict[Key, Value]:
    """What is set for one channel or one service."""
    rows = session.exec(
        select(PolicySetting).where(
            PolicySetting.team_id == team_id,
            PolicySetting.scope == scope.value,
            PolicySetting.target == target,
        )
    )
    found: dict[Key, Value] = {}
    for row in rows:
        try:
            key = Key(row.key)
        except ValueError:
            continue  # a key from a newer version of the bot
        found[key] = _decode(key, row.value)
    return found


def effective(
    session: Session, team_id: str, channel_id: str, service: str | None, defaults: Policy
) -> Effective:
    """The policy for a release of `service` proposed in `channel_id` (service, then
    channel, then `defaults`, key by key)."""
    by_channel = settings_of(session, team_id, Scope.CHANNEL, channel_id)
    by_service = settings_of(session, team_id, Scope.SERVICE, service) if service else {}
    values: dict[str, Any] = {}
    sources: dict[Key, Source] = {}
    for key in Key:
        if key in by_service:
            values[_ATTRIBUTES[key]], sources[key] = by_service[key], Source.SERVICE
        elif key in by_channel:
            values[_ATTRIBUTES[key]], sources[key] = by_channel[key], Source.CHANNEL
        else:
            sources[key] = Source.DEFAULT
    return Effective(replace(defaults, **values), sources, channel_id, service)


def apply_to(proposal: Proposal, policy: Policy) -> Proposal:
    """The proposal under `policy`: its approvers join the policy's (never replace them),
    and the release keeps the quorum rule, checklist, window, reminders and channels."""
    return replace(
        proposal,
        required_approvers=policy.approvers,
        quorum=policy.quorum.text,
        owner_can_approve=policy.owner_can_approve,
        checklist=policy.checklist,
        window_minutes=policy.window_minutes,
        reminders=policy.reminders,
        announce_to=policy.announce,
        escalation_channel=policy.escalation,
    )


# --- changing it ------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    scope: Scope
    target: str
    key: Key
    before: Value | None
    after: Value | None


def _check_quorum_fits(
    session: Session,
    team_id: str,
    scope: Scope,
    target: str,
    key: Key,
    value: Value | None,
    channel_id: str,
    defaults: Policy,
) -> None:
    """A quorum of N needs at least N approvers in the policy it ends up in (where the
    change is made: this channel, or this channel with this service)."""
    if key not in (Key.QUORUM, Key.APPROVERS):
        return
    by_channel = settings_of(session, team_id, Scope.CHANNEL, channel_id)
    by_service = (
        settings_of(session, team_id, Scope.SERVICE, target) if scope == Scope.SERVICE else {}
    )
    changed = by_service if scope == Scope.SERVICE else by_channel
    if value is None:
        changed.pop(key, None)
    else:
        changed[key] = value
    quorum = by_service.get(Key.QUORUM, by_channel.get(Key.QUORUM, defaults.quorum))
    approvers = by_service.get(Key.APPROVERS, by_channel.get(Key.APPROVERS, defaults.approvers))
    assert isinstance(quorum, Quorum) and isinstance(approvers, tuple)
    if quorum.kind == QuorumKind.COUNT and quorum.count > len(approvers):
        raise InvalidInput(
            Code.POLICY_QUORUM_TOO_LARGE,
            field=Key.QUORUM.field if key == Key.QUORUM else Key.APPROVERS.field,
            key=key,
            count=quorum.count,
            approvers=len(approvers),
        )


def _locked(
    session: Session, team_id: str, scope: Scope, target: str, key: Key
) -> PolicySetting | None:
    return session.exec(
        select(PolicySetting)
        .where(
            PolicySetting.team_id == team_id,
            PolicySetting.scope == scope.value,
            PolicySetting.target == target,
            PolicySetting.key == key.value,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def change(
    session: Session,
    team_id: str,
    actor_id: str,
    scope: Scope,
    target: str,
    key: Key,
    value: Value | None,
    *,
    channel_id: str,
    defaults: Policy,
    now: datetime | None = None,
) -> Change:
    """Set (or, with None, unset) one key for a channel or a service, audited. Concurrent
    changes of one key queue on its row: each sees the value the one before left."""
    now = now or utcnow()
    _check_quorum_fits(session, team_id, scope, target, key, value, channel_id, defaults)
    before: Value | None = None
    if value is None:
        row = _locked(session, team_id, scope, target, key)
        if row is None:
            raise InvalidInput(Code.POLICY_NOT_SET, key=key, scope=scope, target=target)
        before = _decode(key, row.value)
        session.delete(row)
    else:
        stored = _encode(key, value)
        values = {
            "team_id": team_id,
            "scope": scope.value,
            "target": target,
            "key": key.value,
            "value": stored,
            "updated_by": actor_id,
            "updated_at": now,
        }
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        # Inserted, or there already (a racing insert is waited for, then found).
        inserted = session.execute(
            dialect.insert(PolicySetting)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["team_id", "scope", "target", "key"])
            .returning(col(PolicySetting.id))
        ).first()
        if inserted is None:
            row = _locked(session, team_id, scope, target, key)
            assert row is not None
            if row.value == stored:
                raise InvalidInput(
                    Code.POLICY_UNCHANGED, field=key.field, key=key, scope=scope, target=target
                )
            before = _decode(key, row.value)
            row.value = stored
            row.updated_by = actor_id
            row.updated_at = now
            session.add(row)
    place = {"scope": scope.value, "target": target, "key": key.value}
    audit.record(
        session,
        team_id=team_id,
        release_id=None,
        actor_id=actor_id,
        action="policy_set" if value is not None else "policy_unset",
        before=place | {"value": describe(key, before)},
        after=place | {"value": describe(key, value)},
        at=now,
    )
    session.flush()
    return Change(scope, target, key, before, value)


@dataclass(frozen=True)
class HistoryEntry:
    event: AuditEvent
    change: Change


def history(
    session: Session, team_id: str, channel_id: str, *, limit: int = HISTORY_LIMIT
) -> list[HistoryEntry]:
    """Changes to this channel's policy and to every service's, oldest first (the latest
    `limit`)."""
    events = session.exec(
        select(AuditEvent)
        .where(
            AuditEvent.team_id == team_id,
            col(AuditEvent.release_id).is_(None),
            col(AuditEvent.action).in_(("policy_set", "policy_unset")),
        )
        .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
        .limit(limit * 20)
    )
    entries: list[HistoryEntry] = []
    for event in events:
        place = event.after or event.before or {}
        try:
            scope, key = Scope(place["scope"]), Key(place["key"])
        except (KeyError, ValueError):
            continue
        target = str(place.get("target", ""))
        if scope == Scope.CHANNEL and target != channel_id:
            continue
        before = read_value(key, (event.before or {}).get("value"))
        after = read_value(key, (event.after or {}).get("value"))
        entries.append(HistoryEntry(event, Change(scope, target, key, before, after)))
        if len(entries) >= limit:
            break
    return list(reversed(entries))
