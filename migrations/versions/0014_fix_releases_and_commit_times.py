"""fix releases (is_fix, fixes_release_id), commit times; indexes for statistics

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 14:10:48.671394
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.columns

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("production_record", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_production_record_release_id"), ["release_id"], unique=False
        )

    with op.batch_alter_table("release", schema=None) as batch_op:
        batch_op.create_index("ix_release_team_updated", ["team_id", "updated_at"], unique=False)
        batch_op.add_column(
            sa.Column("committed_at", models.columns.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("is_fix", sa.Boolean(), server_default="0", nullable=False))
    # The foreign key comes with the column, in one ALTER TABLE … ADD COLUMN … REFERENCES on
    # SQLite: a separate constraint would make batch mode copy the table, and dropping the
    # old copy (foreign keys on) would delete every release's approvers by cascade.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE release ADD COLUMN fixes_release_id INTEGER "
            "CONSTRAINT fk_release_fixes_release_id REFERENCES release (id)"
        )
    else:
        op.add_column("release", sa.Column("fixes_release_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_release_fixes_release_id",
            "release",
            "release",
            ["fixes_release_id"],
            ["id"],
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite drops a column with its column-level foreign key, without copying the table.
        op.execute("ALTER TABLE release DROP COLUMN fixes_release_id")
    else:
        op.drop_constraint("fk_release_fixes_release_id", "release", type_="foreignkey")
        op.drop_column("release", "fixes_release_id")
    with op.batch_alter_table("release", schema=None) as batch_op:
        batch_op.drop_index("ix_release_team_updated")
        batch_op.drop_column("is_fix")
        batch_op.drop_column("committed_at")

    with op.batch_alter_table("production_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_production_record_release_id"))
