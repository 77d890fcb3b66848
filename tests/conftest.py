"""Fixtures: a database per backend, a fake Slack, and the real bot behind real HTTP.

Tests that take a database run on SQLite; those marked ``both_databases`` (what differs on
PostgreSQL: row locks, concurrency, SQL dialect, partial indexes) run on PostgreSQL too, and
``--all-databases`` (or ``RELEASEBOT_ALL_DATABASES=1``) runs every one on both.

``--travel-to=<ISO datetime with zone>`` runs the suite with the clock moved there (and
ticking): what a test asserts must hold whatever day it runs. CI runs the ``clock`` tests
so on weekends, on the nights clocks change and over the new year."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import time_machine

from bot.sandbox.slack_standin import FakeSlack
from tests.support.databases import PostgresSchema, SqliteTemplate, skip_or_fail_without_postgres
from tests.support.harness import Harness
from tests.support.server import SERVERS

BACKENDS = ["sqlite", "postgresql"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--all-databases",
        action="store_true",
        default=os.environ.get("RELEASEBOT_ALL_DATABASES") == "1",
        help="run every test that takes a database on PostgreSQL too, not only those "
        "marked both_databases (also RELEASEBOT_ALL_DATABASES=1)",
    )
    parser.addoption(
        "--travel-to",
        metavar="ISO_DATETIME",
        type=travel_destination,
        default=None,
        help="run with the clock travelled to this moment, ticking on from there "
        "(e.g. 2026-03-29T01:30+00:00; the zone is required)",
    )


def travel_destination(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise pytest.UsageError(f"--travel-to {text}: give the zone too (Z or +01:00)")
    return when


_travel: list[time_machine.travel] = []


def pytest_configure(config: pytest.Config) -> None:
    # From the start, so module-level dates computed at import travel too.
    destination = config.getoption("--travel-to")
    if destination is not None:
        travel = time_machine.travel(destination, tick=True)
        travel.start()
        _travel.append(travel)


def pytest_unconfigure(config: pytest.Config) -> None:
    while _travel:
        _travel.pop().stop()


def pytest_report_header(config: pytest.Config) -> str | None:
    destination = config.getoption("--travel-to")
    return None if destination is None else f"clock travelled to {destination.isoformat()}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_url" not in metafunc.fixturenames:
        return
    marked = metafunc.definition.get_closest_marker("both_databases") is not None
    on_both = marked or metafunc.config.getoption("--all-databases")
    metafunc.parametrize("database_url", BACKENDS if on_both else BACKENDS[:1], indirect=True)


@pytest.fixture(scope="session", autouse=True)
def _loopback_servers() -> Iterator[None]:
    """The harnesses' uvicorn servers, started as needed and stopped with the session."""
    yield
    SERVERS.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    return SqliteTemplate(Path(tmp_path_factory.mktemp("sqlite")))


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[PostgresSchema]:
    skip_or_fail_without_postgres()
    schema = PostgresSchema()
    yield schema
    schema.close()


@pytest.fixture
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


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """One headless Chromium for the session's browser tests (skips where none is installed)."""
    from tests.support.browser import launched_chromium, skip_or_fail_without_chromium

    with launched_chromium(skip_or_fail_without_chromium()) as browser:
        yield browser


@pytest.fixture
def browser_page(chromium: object, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh page in its own context; the test fails on any JavaScript error it raised.

    Parametrize indirectly with a time zone (``timezone_id``) to see it as a reader there."""
    from tests.support.browser import ConsoleErrors

    timezone_id = getattr(request, "param", None) or "UTC"
    context = chromium.new_context(  # type: ignore[attr-defined]
        timezone_id=timezone_id, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    errors = ConsoleErrors()
    errors.watch(page)
    yield page
    context.close()
    assert errors.errors == [], f"JavaScript errors on the page: {errors.errors}"
