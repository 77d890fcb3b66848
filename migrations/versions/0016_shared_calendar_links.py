"""shared calendar links: a name, its live key and the last use on calendar_token

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 14:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.columns

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calendar_token", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("shared_name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True)
        )
        batch_op.add_column(
            sa.Column("shared_key", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True)
        )
        batch_op.add_column(
            sa.Column("last_used_at", models.columns.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_unique_constraint("uq_calendar_token_shared_key", ["team_id", "shared_key"])


def downgrade() -> None:
    with op.batch_alter_table("calendar_token", schema=None) as batch_op:
        batch_op.drop_constraint("uq_calendar_token_shared_key", type_="unique")
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("shared_key")
        batch_op.drop_column("shared_name")
