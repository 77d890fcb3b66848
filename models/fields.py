"""The names of the inputs a person fills in, shared by the domain and the forms.

A domain error that points at one input names it with one of these (`DomainError.field`);
the propose and edit forms use the same names as their block and action ids, so an
error shows next to the input it is about without strings matched by hand.
"""

from __future__ import annotations

from typing import Final

FIELD_SERVICE: Final = "service"
FIELD_VERSION: Final = "version"
FIELD_WHEN: Final = "when"
FIELD_APPROVERS: Final = "approvers"
FIELD_GROUPS: Final = "approver_groups"
FIELD_ROLLOUT: Final = "rollout"
FIELD_NOTES: Final = "notes"
FIELD_REASON: Final = "reason"


def policy_field(key: str) -> str:
    """The policy form's input for a key: `owner-can-approve` -> policy_owner_can_approve."""
    return "policy_" + key.replace("-", "_")


FIELD_PIPELINE_URL: Final = "pipeline_url"
FIELD_COMMIT: Final = "commit_sha"
FIELD_DIGEST: Final = "digest"
FIELD_COMMITTED_AT: Final = "committed_at"
FIELD_FIXES: Final = "fixes"
FIELD_TOKEN_NAME: Final = "token_name"
FIELD_STAGE: Final = "stage"
FIELD_URL: Final = "url"
