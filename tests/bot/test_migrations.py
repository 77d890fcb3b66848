"""The schema comes from Alembic migrations, on both databases."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy import inspect
from sqlmodel import SQLModel

import models.registry  # noqa: F401
from bot import migrate
from models.db import make_engine
from tests.support.databases import (
    create_schema,
    drop_schema,
    schema_url,
    skip_or_fail_without_postgres,
)


def _check_empty_to_head_and_back(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert migrate.current_revision(connection) is None
        migrate.upgrade(engine)
        with engine.connect() as connection:
            assert migrate.current_revision(connection) == migrate.head_revision()
            tables = set(inspect(connection).get_table_names())
        assert set(SQLModel.metadata.tables) <= tables
        # Running again is a no-op, as at every start of `serve`.
        migrate.upgrade(engine)
        migrate.downgrade(engine, "base")
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(engine)
    finally:
        engine.dispose()


def test_sqlite_migrates_from_empty_to_head_and_back(tmp_path: Path) -> None:
    _check_empty_to_head_and_back(f"sqlite:///{tmp_path / 'fresh.db'}")


def test_postgresql_migrates_from_empty_to_head_and_back() -> None:
    skip_or_fail_without_postgres()
    schema = f"rb_migrate_{uuid.uuid4().hex[:8]}"
    create_schema(schema)
    try:
        _check_empty_to_head_and_back(schema_url(schema))
    finally:
        drop_schema(schema)


def test_models_and_migrations_agree(tmp_path: Path) -> None:
    """Autogenerate finds nothing to add: every model change comes with a migration."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = make_engine(f"sqlite:///{tmp_path / 'compare.db'}")
    migrate.upgrade(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert diff == []


def test_two_replicas_upgrading_at_once_take_turns() -> None:
    """Two `releasebot db upgrade` processes on one PostgreSQL database, started together."""
    skip_or_fail_without_postgres()
    schema = f"rb_race_{uuid.uuid4().hex[:8]}"
    create_schema(schema)
    url = schema_url(schema)
    env = {**os.environ, "DATABASE_URL": url, "SLACK_BOT_TOKEN": "xoxb-test"}
    try:
        replicas = [
            subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "db", "upgrade"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(3)
        ]
        outputs = [replica.communicate(timeout=60)[0] for replica in replicas]
        assert [replica.returncode for replica in replicas] == [0, 0, 0], outputs
        engine = make_engine(url)
        with engine.connect() as connection:
            assert migrate.current_revision(connection) == migrate.head_revision()
        engine.dispose()
    finally:
        drop_schema(schema)
