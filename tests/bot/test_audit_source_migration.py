"""Migration 0015: audit events gain a source; older ones get the one their row proves."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from sqlalchemy import text

from bot import migrate
from models.db import make_engine
from tests.support.databases import (
    create_schema,
    drop_schema,
    schema_url,
    skip_or_fail_without_postgres,
)

# (actor, action, after, detail) -> the source the upgrade gives it.
BEFORE_0015 = [
    ("U_PM", "gate_checked", {"ref": "payments@1.0", "token": "ci"}, "allow", "api:ci"),
    ("U_PM", "deployment_succeeded", {"via": 'API token "deploy"'}, "100%", "api:deploy"),
    ("U_PM", "proposed", {"service": "payments"}, 'via API token "ci-2"', "api:ci-2"),
    ("cli", "api_token_created", {"name": "ci"}, "", "cli"),
    # Slack or the API (a deployment report's step): the row can't tell, so not recorded.
    ("U_OWNER", "proposed", {"service": "payments"}, "", ""),
    ("U_OWNER", "approved", None, "", ""),
    ("U_PM", "policy_set", {"value": "2h"}, "", ""),
]


def _older_events_get_the_source_they_prove(url: str) -> None:
    engine = make_engine(url)
    try:
        migrate.upgrade(engine, "0013")
        with engine.begin() as connection:
            for actor, action, after, detail, _source in BEFORE_0015:
                connection.execute(
                    text(
                        "INSERT INTO audit_event (team_id, actor_id, action, at, after, detail)"
                        " VALUES ('T1', :actor, :action, '2026-11-01 10:00:00+00', :after, "
                        ":detail)"
                    ),
                    {
                        "actor": actor,
                        "action": action,
                        "after": None if after is None else json.dumps(after),
                        "detail": detail,
                    },
                )
        migrate.upgrade(engine)
        with engine.connect() as connection:
            sources = connection.execute(
                text("SELECT source FROM audit_event ORDER BY id")
            ).scalars()
            assert list(sources) == [row[-1] for row in BEFORE_0015]
        migrate.downgrade(engine, "0013")  # and back, with the events still there
        with engine.connect() as connection:
            count = connection.execute(text("SELECT count(*) FROM audit_event")).scalar()
            assert count == len(BEFORE_0015)
    finally:
        engine.dispose()


def test_sqlite_older_events_get_the_source_they_prove(tmp_path: Path) -> None:
    _older_events_get_the_source_they_prove(f"sqlite:///{tmp_path / 'old.db'}")


def test_postgresql_older_events_get_the_source_they_prove() -> None:
    skip_or_fail_without_postgres()
    schema = f"rb_audit_{uuid.uuid4().hex[:8]}"
    create_schema(schema)
    try:
        _older_events_get_the_source_they_prove(schema_url(schema))
    finally:
        drop_schema(schema)
