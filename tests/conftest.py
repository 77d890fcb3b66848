"""Fixtures: a database per backend, a fake Slack, and the real bot behind real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import PostgresSchema, SqliteTemplate, skip_or_fail_without_postgres
from tests.support.fake_slack import FakeSlack
from tests.support.harness import Harness

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    return SqliteTemplate(Path(tmp_path_factory.mktemp("sqlite")))


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[PostgresSchema]:
    skip_or_fail_without_postgres()
    schema = PostgresSchema()
    yield schema
    schema.close()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        template: SqliteTemplate = request.getfixturevalue("sqlite_template")
        return template.fresh()
    schema: PostgresSchema = request.getfixturevalue("postgres_schema")
    return schema.fresh()


@pytest.fixture
def postgres_url(postgres_schema: PostgresSchema) -> str:
    return postgres_schema.fresh()


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    slack = FakeSlack()
    slack.start()
    yield slack
    slack.stop()


@pytest.fixture
def harness(database_url: str, fake_slack: FakeSlack) -> Iterator[Harness]:
    with Harness(database_url, fake_slack) as running:
        yield running
