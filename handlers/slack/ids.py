"""Every action id and callback id the app uses, in one place."""

from __future__ import annotations

from typing import Final

from models import fields

COMMAND: Final = "/release"

# Modals (callback ids)
PROPOSE_MODAL: Final = "release_propose"
REJECT_MODAL: Final = "release_reject"
NO_GO_MODAL: Final = "release_no_go"
ROLLBACK_MODAL: Final = "release_rollback"
EDIT_MODAL: Final = "release_edit"

# Inputs of the propose/edit modals (block id == action id). Named in models/fields.py,
# where a domain error names the input it is about.
FIELD_SERVICE: Final = fields.FIELD_SERVICE
FIELD_VERSION: Final = fields.FIELD_VERSION
FIELD_WHEN: Final = fields.FIELD_WHEN
FIELD_APPROVERS: Final = fields.FIELD_APPROVERS
FIELD_GROUPS: Final = fields.FIELD_GROUPS
FIELD_ROLLOUT: Final = fields.FIELD_ROLLOUT
FIELD_NOTES: Final = fields.FIELD_NOTES
FIELD_REASON: Final = fields.FIELD_REASON

# Buttons and other interactive elements
APPROVE: Final = "release_approve"
REJECT: Final = "release_reject_open"
WITHDRAW: Final = "release_withdraw"
CHECKLIST: Final = "release_checklist"
GO: Final = "release_go"
NO_GO: Final = "release_no_go_open"
MARK_RELEASED: Final = "release_mark_released"
ADVANCE: Final = "release_advance"
PAUSE: Final = "release_pause"
RESUME: Final = "release_resume"
ROLLBACK: Final = "release_rollback_open"
EDIT: Final = "release_edit_open"
LIST_MORE: Final = "release_list_more"
