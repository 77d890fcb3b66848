"""release digest: the artifact a release was approved as

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 23:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN: a batch copy of `release` on SQLite would cascade-delete its
    # approvers (see 0014).
    op.add_column(
        "release", sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=71), nullable=True)
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE release DROP COLUMN digest")
    else:
        op.drop_column("release", "digest")
