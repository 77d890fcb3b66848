"""Reading a service's history, for `/release history` and the HTTP API alike.

The caller says what may be seen: `queries.visible_to(viewer)` for a person in Slack,
`service_records.public_only()` for an API token.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement

from handlers.deps import Deps
from models.release import proposing, service_records
from models.release.service_records import History, Services


def service_history(
    deps: Deps,
    team_id: str,
    service: str,
    visible: ColumnElement[bool],
    *,
    count: int = service_records.DEFAULT_HISTORY,
    before: str | None = None,
) -> History:
    """A page of the service's releases (a name that is no service's is refused)."""
    service = proposing.clean_service(service)
    with deps.db.read_session() as session:
        return service_records.history(
            session, team_id, service, visible, limit=count, before=before
        )


def services_with_releases(
    deps: Deps, team_id: str, visible: ColumnElement[bool], *, offset: int = 0, limit: int = 30
) -> Services:
    with deps.db.read_session() as session:
        return service_records.services(session, team_id, visible, offset=offset, limit=limit)
