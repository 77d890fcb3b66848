"""Every action id and callback id the app uses, in one place."""

from __future__ import annotations

from typing import Final

COMMAND: Final = "/release"

# Modals (callback ids)
PROPOSE_MODAL: Final = "release_propose"
REJECT_MODAL: Final = "release_reject"
NO_GO_MODAL: Final = "release_no_go"
ROLLBACK_MODAL: Final = "release_rollback"
EDIT_MODAL: Final = "release_edit"

# Inputs of the propose/edit modals (block id == action id)
FIELD_SERVICE: Final = "service"
FIELD_VERSION: Final = "version"
FIELD_WHEN: Final = "when"
FIELD_APPROVERS: Final = "approvers"
FIELD_GROUPS: Final = "approver_groups"
FIELD_ROLLOUT: Final = "rollout"
FIELD_NOTES: Final = "notes"
FIELD_REASON: Final = "reason"

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
