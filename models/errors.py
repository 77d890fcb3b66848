"""Domain errors: a code saying what cannot be done, and the data a message about it needs.

models/ words nothing for Slack: handlers/rendering/refusals.py turns each code into the
words, mentions, links and escaping a person reads. Every code the domain raises is listed
in `Code`, and every one of them has a wording there (a unit test checks both).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class Code(StrEnum):
    """Every reason the domain refuses something. The comment says what `data` holds."""

    # Finding a release
    RELEASE_GONE = "release_gone"  # (nothing): missing, another workspace's, or hidden
    NO_RELEASE = "no_release"  # ref: what was typed
    NO_OPEN_RELEASE = "no_open_release"  # service: what was typed ("" for nothing)
    SEVERAL_OPEN = "several_open"  # service, refs: the open releases it could mean

    # Who may act
    NOT_OWNER = "not_owner"  # ref, owner_id, action: the rules.Activity tried
    NOT_MANAGER = "not_manager"  # what: what only release managers may do
    NOT_A_MANAGER = "not_a_manager"  # manager: the id named, who is no manager added here
    NO_SIGN_OFF_NEEDED = "no_sign_off_needed"  # ref
    OWN_RELEASE = "own_release"  # ref, approvers: who signs instead (ApproverSpecs)
    NOT_APPROVER = "not_approver"  # ref, approvers: who may sign (ApproverSpecs)
    SIGNED_BY_OTHERS = "signed_by_others"  # ref, approvers: the person's, signed by others
    NOT_CHECKLIST_KEEPER = "not_checklist_keeper"  # ref, owner_id
    MISSING_FOR_GO = "missing_for_go"  # ref, missing: lifecycle.Missing, in order

    # The release's state
    BAD_STATE = "bad_state"  # ref, action: the rules.Activity tried, state, owner_id

    # What the person typed or picked
    SERVICE_INVALID = "service_invalid"  # value
    VERSION_INVALID = "version_invalid"  # value
    WHEN_NO_ZONE = "when_no_zone"
    WHEN_PAST = "when_past"
    WHEN_TOO_FAR = "when_too_far"
    STAGES_RANGE = "stages_range"
    STAGES_ORDER = "stages_order"
    STAGES_TOO_MANY = "stages_too_many"  # limit
    NOTES_TOO_LONG = "notes_too_long"  # length, limit
    REASON_MISSING = "reason_missing"
    REASON_TOO_LONG = "reason_too_long"  # limit
    OWN_APPROVAL = "own_approval"
    TOO_MANY_APPROVERS = "too_many_approvers"  # limit
    QUORUM_UNREACHABLE = "quorum_unreachable"  # approvers (ApproverSpecs), people
    WINDOW_RANGE = "window_range"
    NOTHING_TO_WITHDRAW = "nothing_to_withdraw"  # ref
    NOTHING_CHANGED = "nothing_changed"  # ref
    NO_SUCH_ITEM = "no_such_item"
    ITEM_LENGTH = "item_length"  # limit
    CHECKLIST_FULL = "checklist_full"  # limit
    ITEM_EXISTS = "item_exists"  # text: the item typed
    BIG_BANG = "big_bang"  # ref
    ALREADY_AT = "already_at"  # ref, percentage
    TOO_MANY_LINKS = "too_many_links"  # limit: calendar links one person may hold
    SHARED_NAME_INVALID = "shared_name_invalid"  # limit: longest name of a shared link
    SHARED_LINK_EXISTS = "shared_link_exists"  # name: a live shared link has it already
    NO_SHARED_LINK = "no_shared_link"  # name: what was typed; no live shared link has it
    TOO_MANY_SHARED_LINKS = "too_many_shared_links"  # limit: live shared links per workspace
    FREEZE_NAME_INVALID = "freeze_name_invalid"  # limit
    FREEZE_ZONE_UNKNOWN = "freeze_zone_unknown"  # zone: what was typed
    FREEZE_RANGE = "freeze_range"  # days: the longest a freeze may last
    FREEZE_PAST = "freeze_past"
    NO_SUCH_FREEZE = "no_such_freeze"  # name: what was typed
    HISTORY_CURSOR = "history_cursor"  # service: a page's cursor names no release listed

    # A freeze holds it
    FROZEN = "frozen"  # ref, release_uid, action (rules.Activity), freeze, freeze_uid,
    # service (the freeze's; None: the whole workspace), ends_at (UTC datetime);
    # surfaces may add overridable (bool): the person refused may override it, and move
    # (free_slots.MoveOffer or None): the next free window offered to its owner
    NOTHING_FROZEN = "nothing_frozen"  # ref: an override alone, and no freeze holds it

    # Policy (models/policy.py): `key` is the policy key it is about, as typed
    POLICY_UNKNOWN_KEY = "policy_unknown_key"  # key
    POLICY_BAD_VALUE = "policy_bad_value"  # key (a policy.Key), value: as typed
    POLICY_QUORUM_TOO_LARGE = "policy_quorum_too_large"  # key, count, approvers: how many
    POLICY_CHANNEL_NOT_JOINED = "policy_channel_not_joined"  # key, channel: the bot is not in it
    POLICY_CHECKLIST_EMPTY = "policy_checklist_empty"  # key
    POLICY_NOT_SET = "policy_not_set"  # key, scope, target: nothing set there to unset
    POLICY_UNCHANGED = "policy_unchanged"  # key, scope, target: set to that already
    # scope, target: the policy whose approvers are only the proposer, who may not sign
    POLICY_ONLY_OWNER = "policy_only_owner"

    # Another release holds it
    DUPLICATE = "duplicate"  # ref, state, permalink (None when the card is not posted)
    VERSION_TAKEN = "version_taken"  # ref: held by a release the person may not see
    PROPOSED_JUST_NOW = "proposed_just_now"  # ref: lost a race with the same proposal
    FREEZE_EXISTS = "freeze_exists"  # name
    # The calendar (models/release/free_slots.py)
    SLOT_TAKEN = "slot_taken"  # ref: the window offered is no longer free
    MOVED_ALREADY = "moved_already"  # ref: it was moved since the move was offered

    # Where a release was built (from CI, through the API)
    PIPELINE_URL_INVALID = "pipeline_url_invalid"  # value
    COMMIT_INVALID = "commit_invalid"  # value
    DIGEST_INVALID = "digest_invalid"  # value: not sha256: and 64 hexadecimal digits
    COMMIT_TIME_FUTURE = "commit_time_future"  # value: a commit time later than now

    # Deployment reports (models/release/deployments.py)
    DEPLOYMENT_STAGE_UNKNOWN = "deployment_stage_unknown"  # ref, stage, stages (() big-bang)
    URL_INVALID = "url_invalid"  # value: a report's link, not http(s)

    # What a fix names (`fixes <ref>`)
    FIXES_INVALID = "fixes_invalid"  # value: not service@version nor a version
    FIXES_UNKNOWN = "fixes_unknown"  # ref: no such release the proposer may see
    FIXES_OTHER_SERVICE = "fixes_other_service"  # ref, service: a fix fixes its own service

    # API tokens
    TOKEN_NAME_INVALID = "token_name_invalid"  # value
    TOKEN_NAME_TAKEN = "token_name_taken"  # name: a live token of the workspace has it
    NO_SUCH_TOKEN = "no_such_token"  # name: no live token of the workspace has it
    TOO_MANY_TOKENS = "too_many_tokens"  # limit: live tokens one workspace may hold
    TOKEN_SERVICES = "token_services"  # limit: services one token may be limited to
    TOKEN_SCOPE = "token_scope"  # service: a token limited to other services used on it
    TOKEN_NOT_MANAGER = "token_not_manager"  # person, what: the token's person is no manager now

    # GitHub repositories linked to services (models/github/repository_links.py)
    GITHUB_REPOSITORY_INVALID = "github_repository_invalid"  # value: as typed
    GITHUB_ENVIRONMENT_INVALID = "github_environment_invalid"  # value: as typed
    GITHUB_ENVIRONMENT_TAKEN = "github_environment_taken"  # repository, environment,
    # service (the other service of this workspace holding it; None: another workspace's)
    GITHUB_NOT_LINKED = "github_not_linked"  # repository, service (None: any)

    # Audit exports
    AUDIT_DATE_INVALID = "audit_date_invalid"  # value: as typed, for since or until
    AUDIT_RANGE_EMPTY = "audit_range_empty"  # since, until: UTC datetimes, since >= until
    DATE_OUT_OF_RANGE = "date_out_of_range"  # value: as typed; not in the years 1-9999 in UTC


class DomainError(Exception):
    """Something the person asked for cannot be done: `code` says why, `data` holds what
    a message about it needs (plain values, never Slack markup), `field` names the input
    it is about when there is one (a name from models/fields.py)."""

    def __init__(self, code: str, *, field: str | None = None, **data: object) -> None:
        super().__init__(code)
        self.code = code
        self.field = field
        self.data: Mapping[str, object] = MappingProxyType(data)

    def __str__(self) -> str:
        details = ", ".join(f"{key}={value!r}" for key, value in self.data.items())
        return f"{self.code} ({details})" if details else str(self.code)


class NotFound(DomainError):
    pass


class NotAllowed(DomainError):
    """The person may not do this (not the owner, not an approver, ...)."""


class InvalidTransition(DomainError):
    """The release is not in a state where this action makes sense."""


class Conflict(DomainError):
    """Another release or request already holds what was asked for."""


class InvalidInput(DomainError):
    """A value the person typed or picked is not acceptable (`field` names the input)."""
