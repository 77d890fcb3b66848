"""Every action id and callback id the app uses, in one place: each name is its value
without the `release_` prefix; forms (modal callback ids) end in `_FORM`."""

from __future__ import annotations

from typing import Final

from models import fields

COMMAND: Final = "/release"

# Modals (callback ids)
PROPOSE_FORM: Final = "release_propose_form"
REQUEST_CHANGES_FORM: Final = "release_request_changes_form"
NO_GO_FORM: Final = "release_no_go_form"
ROLL_BACK_FORM: Final = "release_roll_back_form"
EDIT_FORM: Final = "release_edit_form"
OVERRIDE_FREEZE_FORM: Final = "release_override_freeze_form"
POLICY_FORM: Final = "release_policy_form"

# Inputs of the propose/edit modals (block id == action id). Named in models/fields.py,
# where a domain error names the input it is about.
FIELD_SERVICE: Final = fields.FIELD_SERVICE
FIELD_VERSION: Final = fields.FIELD_VERSION
FIELD_WHEN: Final = fields.FIELD_WHEN
FIELD_APPROVERS: Final = fields.FIELD_APPROVERS
FIELD_GROUPS: Final = fields.FIELD_GROUPS
FIELD_ROLLOUT: Final = fields.FIELD_ROLLOUT
FIELD_NOTES: Final = fields.FIELD_NOTES
FIELD_DIGEST: Final = fields.FIELD_DIGEST
FIELD_FIXES: Final = fields.FIELD_FIXES
FIELD_REASON: Final = fields.FIELD_REASON
# The policy form: one input per policy key (models.policy.Key.field), plus the groups.
FIELD_POLICY_GROUPS: Final = "policy_approver_groups"

# Buttons and other interactive elements
APPROVE: Final = "release_approve"
REQUEST_CHANGES: Final = "release_request_changes"
WITHDRAW: Final = "release_withdraw"
CHECKLIST: Final = "release_checklist"
GO: Final = "release_go"
NO_GO: Final = "release_no_go"
MARK_RELEASED: Final = "release_mark_released"
ADVANCE: Final = "release_advance"
PAUSE: Final = "release_pause"
RESUME: Final = "release_resume"
ROLL_BACK: Final = "release_roll_back"
EDIT: Final = "release_edit"
LIST_MORE: Final = "release_list_more"
HISTORY_MORE: Final = "release_history_more"
OVERRIDE_FREEZE: Final = "release_override_freeze"
POLICY_EDIT: Final = "release_policy_edit"
