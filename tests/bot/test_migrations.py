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


def _releases_from_before_policies_keep_theirs(url: str) -> None:
    """Migration 0009: releases proposed before policies upgrade intact, with quorum `all`,
    the owner not signing, their own window, and the settings' reminders and channels."""
    from sqlalchemy import text

    engine = make_engine(url)
    try:
        migrate.upgrade(engine, "0008")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO release (uid, team_id, service, version, target_at, "
                    "window_minutes, channel_id, private, owner_id, status, rollout_stages, "
                    "notes, status_reason, sequence, revision, created_at, updated_at) VALUES "
                    "('uid-before-0009', 'T1', 'payments', '1.0', '2030-01-01 10:00:00+00', "
                    "90, 'C1', false, 'U_OWNER', 'proposed', '', '', '', 0, 0, "
                    "'2029-12-01 10:00:00+00', '2029-12-01 10:00:00+00')"
                )
            )
            release_id = connection.execute(text("SELECT id FROM release")).scalar_one()
            connection.execute(
                text(
                    "INSERT INTO approver (release_id, position, kind, slack_id, handle, state,"
                    " reason) VALUES (:id, 0, 'user', 'U_QA', '', 'pending', '')"
                ),
                {"id": release_id},
            )
        migrate.upgrade(engine)
        with engine.connect() as connection:
            row = connection.execute(
                text(
                    "SELECT service, version, status, window_minutes, quorum, owner_can_approve,"
                    " reminder_minutes, announce_to, escalation_channel FROM release"
                )
            ).one()
            approver = connection.execute(text("SELECT slack_id, required FROM approver")).one()
            settings = connection.execute(text("SELECT count(*) FROM policy_setting")).scalar()
        assert tuple(row) == ("payments", "1.0", "proposed", 90, "all", False, None, None, None)
        assert tuple(approver) == ("U_QA", False)
        assert settings == 0
        migrate.downgrade(engine, "0008")  # and back, with the release still there
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM release")).scalar() == 1
    finally:
        engine.dispose()


def test_sqlite_releases_from_before_policies_keep_theirs(tmp_path: Path) -> None:
    _releases_from_before_policies_keep_theirs(f"sqlite:///{tmp_path / 'old.db'}")


def test_postgresql_releases_from_before_policies_keep_theirs() -> None:
    skip_or_fail_without_postgres()
    schema = f"rb_policy_{uuid.uuid4().hex[:8]}"
    create_schema(schema)
    try:
        _releases_from_before_policies_keep_theirs(schema_url(schema))
    finally:
        drop_schema(schema)


def _finished_releases_get_their_outcome_rows(url: str) -> None:
    """Migration 0018 works out the outcome rows of releases finished before it."""
    from sqlalchemy import text

    engine = make_engine(url)
    # As each database keeps times: SQLite as UTC text without a zone.
    zone = "" if engine.dialect.name == "sqlite" else "+00"
    try:
        migrate.upgrade(engine, "0017")
        with engine.begin() as connection:
            for uid, version, status in (("u1", "1.0", "released"), ("u2", "1.1", "approved")):
                connection.execute(
                    text(
                        "INSERT INTO release (uid, team_id, service, version, target_at, "
                        "window_minutes, channel_id, private, owner_id, status, "
                        "rollout_stages, notes, status_reason, sequence, revision, created_at,"
                        " updated_at) VALUES (:uid, 'T1', 'payments', :version, :target, 60, "
                        "'C1', false, 'U_OWNER', :status, '', '', '', 0, 0, :created, :target)"
                    ),
                    {
                        "uid": uid,
                        "version": version,
                        "status": status,
                        "target": f"2026-11-02 12:00:00{zone}",
                        "created": f"2026-11-02 09:00:00{zone}",
                    },
                )
            released = connection.execute(text("SELECT id FROM release WHERE uid = 'u1'")).one()
            connection.execute(
                text(
                    "INSERT INTO production_record (team_id, service, version, release_id, "
                    "released_by, released_at) VALUES ('T1', 'payments', '1.0', :id, "
                    "'U_OWNER', :at)"
                ),
                {"id": released.id, "at": f"2026-11-02 11:00:00{zone}"},
            )
        migrate.upgrade(engine)
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT release_id, outcome, lead_s, on_time FROM release_outcome")
            ).all()
        assert [(r.release_id, r.outcome, round(r.lead_s), bool(r.on_time)) for r in rows] == [
            (released.id, "released", 7200, True)
        ]
    finally:
        engine.dispose()


def test_sqlite_finished_releases_get_their_outcome_rows(tmp_path: Path) -> None:
    _finished_releases_get_their_outcome_rows(f"sqlite:///{tmp_path / 'old.db'}")


def test_postgresql_finished_releases_get_their_outcome_rows() -> None:
    skip_or_fail_without_postgres()
    schema = f"rb_outcome_{uuid.uuid4().hex[:8]}"
    create_schema(schema)
    try:
        _finished_releases_get_their_outcome_rows(schema_url(schema))
    finally:
        drop_schema(schema)
