"""Test databases: SQLite always, PostgreSQL when reachable (required when CI says so).

Each backend is migrated once per session; each test then starts from empty tables.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot import migrate
from models.db import Database, make_engine

POSTGRES_URL = os.environ.get(
    "RELEASEBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("RELEASEBOT_REQUIRE_POSTGRES") == "1"


def postgres_unavailable_reason() -> str | None:
    """None when PostgreSQL answers; else why, for the skip message."""
    try:
        engine = make_engine(POSTGRES_URL)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as error:
        return f"PostgreSQL at {POSTGRES_URL} is not reachable ({type(error).__name__})"


def schema_url(schema: str) -> str:
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"


def create_schema(schema: str) -> None:
    engine = make_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()


def drop_schema(schema: str) -> None:
    engine = make_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


class SqliteTemplate:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.template = directory / "template.db"
        engine = make_engine(f"sqlite:///{self.template}")
        migrate.upgrade(engine)
        engine.dispose()

    def fresh(self) -> str:
        path = self.directory / f"test-{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"


class PostgresSchema:
    """A migrated schema of its own; tables are emptied between tests."""

    def __init__(self) -> None:
        self.schema = f"rb_test_{uuid.uuid4().hex[:10]}"
        create_schema(self.schema)
        self.url = schema_url(self.schema)
        engine = make_engine(self.url)
        migrate.upgrade(engine)
        engine.dispose()

    def fresh(self) -> str:
        engine = create_engine(Database(self.url).url)
        with engine.begin() as connection:
            tables = connection.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = :schema "
                    "AND tablename != 'alembic_version'"
                ),
                {"schema": self.schema},
            ).scalars()
            names = ", ".join(f'"{self.schema}"."{t}"' for t in tables)
            if names:
                connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        engine.dispose()
        return self.url

    def close(self) -> None:
        drop_schema(self.schema)


def skip_or_fail_without_postgres() -> None:
    reason = postgres_unavailable_reason()
    if reason is None:
        return
    if REQUIRE_POSTGRES:
        pytest.fail(f"{reason}; RELEASEBOT_REQUIRE_POSTGRES=1 makes the PostgreSQL tests required")
    pytest.skip(f"{reason}; set RELEASEBOT_TEST_POSTGRES_URL to run the PostgreSQL tests")
