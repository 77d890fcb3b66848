"""audit events say where they came from (source)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 14:20:00

Events recorded before this revision get the source their own row proves, and ""
(not recorded) otherwise:
- `gate_checked`: "api:<token>" (the token's name is in the event);
- `deployment_*` and `proposed` via a token: "api:<token>" (named in `via`);
- anything done by the command line (actor "cli"): "cli".
Everything else may have come from Slack or, for steps a deployment report moved, from the
API: the row can't say which, so it stays "".
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_VIA = re.compile(r'API token "([^"]*)"')

_events = sa.table(
    "audit_event",
    sa.column("id", sa.Integer()),
    sa.column("actor_id", sa.String()),
    sa.column("action", sa.String()),
    sa.column("after", sa.JSON()),
    sa.column("detail", sa.String()),
    sa.column("source", sa.String()),
)


def _derived(action: str, actor_id: str, after: object, detail: str) -> str:
    if actor_id == "cli":
        return "cli"
    fields = after if isinstance(after, dict) else {}
    if action == "gate_checked" and isinstance(fields.get("token"), str):
        return f"api:{fields['token']}"[:80]
    via = fields.get("via") if action.startswith("deployment_") else detail
    match = _VIA.search(via) if isinstance(via, str) else None
    return f"api:{match.group(1)}"[:80] if match else ""


def upgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "source",
                sqlmodel.sql.sqltypes.AutoString(length=80),
                server_default="",
                nullable=False,
            )
        )
    connection = op.get_bind()
    candidates = connection.execute(
        sa.select(
            _events.c.id, _events.c.actor_id, _events.c.action, _events.c.after, _events.c.detail
        ).where(
            sa.or_(
                _events.c.actor_id == "cli",
                _events.c.action == "gate_checked",
                _events.c.action.like("deployment_%"),
                sa.and_(_events.c.action == "proposed", _events.c.detail.like("%API token%")),
            )
        )
    ).all()
    for event_id, actor_id, action, after, detail in candidates:
        source = _derived(action, actor_id, after, detail or "")
        if source:
            connection.execute(
                sa.update(_events).where(_events.c.id == event_id).values(source=source)
            )


def downgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_column("source")
