"""release uid: a public, never reused name for buttons, forms and feeds

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 11:00:00
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("release", schema=None) as batch_op:
        batch_op.add_column(sa.Column("uid", sa.String(length=32), nullable=True))
    release = sa.table("release", sa.column("id", sa.Integer), sa.column("uid", sa.String))
    connection = op.get_bind()
    ids = connection.execute(sa.select(release.c.id)).scalars().all()
    for release_id in ids:
        connection.execute(
            release.update().where(release.c.id == release_id).values(uid=secrets.token_urlsafe(12))
        )
    with op.batch_alter_table("release", schema=None) as batch_op:
        batch_op.alter_column("uid", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint("uq_release_uid", ["uid"])


def downgrade() -> None:
    with op.batch_alter_table("release", schema=None) as batch_op:
        batch_op.drop_constraint("uq_release_uid", type_="unique")
        batch_op.drop_column("uid")
