"""Alembic environment: runs against the connection `bot.migrate` hands over."""

from __future__ import annotations

import os

from alembic import context
from sqlmodel import SQLModel

import models.registry  # noqa: F401  (registers every table on SQLModel.metadata)
from models.db import make_engine

target_metadata = SQLModel.metadata
config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        url = config.get_main_option("sqlalchemy.url") or os.environ.get(
            "DATABASE_URL", "sqlite:///releasebot.db"
        )
        engine = make_engine(url)
        with engine.connect() as connection:
            _run(connection)
        engine.dispose()
    else:
        _run(connection)


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite can only ALTER tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `releasebot db upgrade`")
run_migrations_online()
