"""statistics: covering indexes for outcome times and sign-offs

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 15:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_production_release_at", "production_record", ["release_id", "released_at"])
    op.create_index(
        "ix_audit_event_release_action_at", "audit_event", ["release_id", "action", "at"]
    )
    op.create_index(
        "ix_approver_release_signed",
        "approver",
        ["release_id", "state", "signed_at", "kind", "slack_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_approver_release_signed", table_name="approver")
    op.drop_index("ix_audit_event_release_action_at", table_name="audit_event")
    op.drop_index("ix_production_release_at", table_name="production_record")
