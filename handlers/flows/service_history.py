"""Reading a service's history, for `/release history` and the HTTP API alike.

The caller says who reads (`visibility.Reader`): a person in Slack, or `PUBLIC_READER`
for an API token.
"""

from __future__ import annotations

from handlers.deps import Deps
from models.release import proposing, service_records
from models.release.service_records import History, Services
from models.release.visibility import Reader


def service_history(
    deps: Deps,
    team_id: str,
    service: str,
    reader: Reader,
    *,
    count: int = service_records.DEFAULT_HISTORY,
    before: str | None = None,
) -> History:
    """A page of the service's releases (a name that is no service's is refused)."""
    service = proposing.clean_service(service)
    with deps.db.read_session() as session:
        return service_records.history(
            session, team_id, service, reader, limit=count, before=before
        )


def services_with_releases(
    deps: Deps, team_id: str, reader: Reader, *, offset: int = 0, limit: int = 30
) -> Services:
    with deps.db.read_session() as session:
        return service_records.services(session, team_id, reader, offset=offset, limit=limit)
