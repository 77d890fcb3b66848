"""Model unit tests: a migrated database, no app, no Slack."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from models.db import Database
from models.release.records import Release, ReleaseStatus
from tests.support.databases import SqliteTemplate

NewRelease = Callable[..., Release]


@pytest.fixture
def db(sqlite_template: SqliteTemplate) -> Iterator[Database]:
    """A migrated SQLite database of the test's own (a copy of the session's template).

    SQLite only, to stay fast: these tests pin the modules' decisions; PostgreSQL's
    concurrency is exercised end to end (tests/scheduler, tests/handlers)."""
    database = Database(sqlite_template.fresh())
    yield database
    database.dispose()


@pytest.fixture
def new_release(db: Database) -> NewRelease:
    """Writes a release row (committed) and returns it."""
    count = 0

    def make(
        target_at: datetime = datetime(2027, 6, 1, 12, 0, tzinfo=UTC),
        status: ReleaseStatus = ReleaseStatus.PROPOSED,
    ) -> Release:
        nonlocal count
        count += 1
        with db.session() as session:
            release = Release(
                team_id="T1",
                service=f"svc{count}",
                version="1.0.0",
                channel_id="C1",
                owner_id="U_OWNER",
                target_at=target_at,
                status=status.value,
            )
            session.add(release)
            session.flush()
            session.refresh(release)
        return release

    return make
