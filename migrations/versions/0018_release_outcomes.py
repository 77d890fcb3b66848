"""release outcomes: each finished release's outcome and durations, for statistics

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 17:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.columns

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCOPE = ["ended_at", "service", "private", "channel_id"]


def upgrade() -> None:
    op.create_table(
        "release_outcome",
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("ended_at", models.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("week", sa.Integer(), nullable=False),
        sa.Column("lead_s", sa.Float(), nullable=True),
        sa.Column("commit_lead_s", sa.Float(), nullable=True),
        sa.Column("sign_off_s", sa.Float(), nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=False),
        sa.Column("is_fix", sa.Boolean(), nullable=False),
        sa.Column("fixes_release_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["release_id"], ["release.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("release_id"),
    )
    op.create_index(
        "ix_outcome_week",
        "release_outcome",
        [
            "team_id",
            "week",
            "outcome",
            "ended_at",
            "on_time",
            "service",
            "private",
            "channel_id",
            "lead_s",
            "commit_lead_s",
            "sign_off_s",
        ],
    )
    op.create_index("ix_outcome_lead", "release_outcome", ["team_id", "lead_s", *SCOPE])
    op.create_index(
        "ix_outcome_commit_lead", "release_outcome", ["team_id", "commit_lead_s", *SCOPE]
    )
    op.create_index("ix_outcome_sign_off", "release_outcome", ["team_id", "sign_off_s", *SCOPE])
    op.create_index(
        "ix_outcome_service",
        "release_outcome",
        ["team_id", "service", "outcome", "ended_at", "release_id"],
    )
    op.create_index(
        "ix_outcome_fix",
        "release_outcome",
        [
            "team_id",
            "is_fix",
            "outcome",
            "ended_at",
            "service",
            "private",
            "channel_id",
            "fixes_release_id",
            "release_id",
        ],
    )
    op.create_index(
        "ix_outcome_fixes_release",
        "release_outcome",
        [
            "fixes_release_id",
            "team_id",
            "is_fix",
            "outcome",
            "ended_at",
            "service",
            "private",
            "channel_id",
        ],
    )
    op.create_table(
        "release_outcome_sign_off",
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("ended_at", models.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("approver", sa.String(length=64), nullable=False),
        sa.Column("wait_s", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["release_id"], ["release_outcome.release_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("release_id", "position"),
    )
    op.create_index(
        "ix_outcome_sign_off_approver",
        "release_outcome_sign_off",
        ["team_id", "approver", "wait_s", *SCOPE],
    )
    # Existing releases' rows, worked out as every commit will from now on. (The model's
    # own statement: on a fresh database there is nothing to work out.)
    from models.release.outcomes import rebuild

    rebuild(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_outcome_sign_off_approver", table_name="release_outcome_sign_off")
    op.drop_table("release_outcome_sign_off")
    for name in (
        "ix_outcome_fixes_release",
        "ix_outcome_fix",
        "ix_outcome_service",
        "ix_outcome_sign_off",
        "ix_outcome_commit_lead",
        "ix_outcome_lead",
        "ix_outcome_week",
    ):
        op.drop_index(name, table_name="release_outcome")
    op.drop_table("release_outcome")
