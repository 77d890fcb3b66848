"""Migration 0019: webhook URLs in older audit events lose their query strings."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bot import migrate
from models.db import make_engine
from tests.support.databases import (
    create_schema,
    drop_schema,
    schema_url,
    skip_or_fail_without_postgres,
)

SECRET_URL = "https://hooks.example.com/in?token=s3cr3t"
SHOWN = "https://hooks.example.com/in?…"

# (action, before, after) as recorded before 0019 -> (before, after) after the upgrade.
BEFORE_0019: list[tuple[str, Any, Any, Any, Any]] = [
    (
        "webhook_added",
        None,
        {"url": SECRET_URL, "events": ["release.go"]},
        None,
        {"url": SHOWN, "events": ["release.go"]},
    ),
    (
        "webhook_removed",
        {"url": SECRET_URL, "events": []},
        None,
        {"url": SHOWN, "events": []},
        None,
    ),
    (
        "webhook_added",
        None,
        {"url": "https://plain.example.com:8443/hook", "events": []},
        None,
        {"url": "https://plain.example.com:8443/hook", "events": []},
    ),
    # Other events keep whatever they hold, even a field named url.
    ("policy_set", None, {"url": SECRET_URL}, None, {"url": SECRET_URL}),
]


def _older_webhook_events_are_redacted(url: str) -> None:
    engine = make_engine(url)
    try:
        migrate.upgrade(engine, "0018")
        with engine.begin() as connection:
            for action, before, after, _before, _after in BEFORE_0019:
                connection.execute(
                    text(
                        "INSERT INTO audit_event (team_id, actor_id, action, at, before, after, "
                        "detail, source) VALUES ('T1', 'U_PM', :action, "
                        "'2026-11-01 10:00:00+00', :before, :after, '', 'slack')"
                    ),
                    {
                        "action": action,
                        "before": None if before is None else json.dumps(before),
                        "after": None if after is None else json.dumps(after),
                    },
                )
        migrate.upgrade(engine)
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT before, after FROM audit_event ORDER BY id")
            ).all()
        loaded = [tuple(json.loads(v) if isinstance(v, str) else v for v in row) for row in rows]
        assert loaded == [(before, after) for *_, before, after in BEFORE_0019]
        migrate.downgrade(engine, "0018")  # and back, still redacted
        with engine.connect() as connection:
            count = connection.execute(text("SELECT count(*) FROM audit_event")).scalar()
        assert count == len(BEFORE_0019)
    finally:
        engine.dispose()


def test_sqlite_older_webhook_events_are_redacted(tmp_path: Path) -> None:
    _older_webhook_events_are_redacted(f"sqlite:///{tmp_path / 'old.db'}")


def test_postgresql_older_webhook_events_are_redacted() -> None:
    skip_or_fail_without_postgres()
    schema = f"rb_hooks_{uuid.uuid4().hex[:8]}"
    create_schema(schema)
    try:
        _older_webhook_events_are_redacted(schema_url(schema))
    finally:
        drop_schema(schema)
