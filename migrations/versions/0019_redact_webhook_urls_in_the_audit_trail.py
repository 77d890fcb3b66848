"""redact webhook URLs in the audit trail: scheme, host and path; a query becomes `?…`

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 16:30:00

`webhook_added` and `webhook_removed` events recorded the whole URL, query string included,
where receivers often take a secret; and every API token that may export the audit trail
could read it. From now on they record the URL as the list shows it (models.webhooks
.shown_url); this rewrites the older ones the same way. The downgrade leaves them redacted:
what was removed is not kept anywhere.
"""

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_events = sa.table(
    "audit_event",
    sa.column("id", sa.Integer()),
    sa.column("action", sa.String()),
    sa.column("before", sa.JSON()),
    sa.column("after", sa.JSON()),
)

# Which side of each event names the webhook.
_SIDES = {"webhook_added": "after", "webhook_removed": "before"}


def _shown(url: str) -> str:
    """As models.webhooks.shown_url was when this was written (kept here: a migration must
    do tomorrow what it did today)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(a URL that can't be read)"
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")


def _redacted(values: Any) -> Any:
    if not isinstance(values, dict) or not isinstance(values.get("url"), str):
        return None
    shown = _shown(values["url"])
    return None if shown == values["url"] else {**values, "url": shown}


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_events.c.id, _events.c.action, _events.c.before, _events.c.after).where(
            _events.c.action.in_(list(_SIDES))
        )
    ).all()
    for event_id, action, before, after in rows:
        side = _SIDES[action]
        redacted = _redacted(after if side == "after" else before)
        if redacted is not None:
            connection.execute(
                sa.update(_events).where(_events.c.id == event_id).values({side: redacted})
            )


def downgrade() -> None:
    pass
