"""The GitHub App's fixtures: a fake GitHub, the bot set up as the app, deliveries."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import time_machine

from bot.sandbox.slack_standin import FakeSlack
from tests.support.fake_github import (
    APP_ID,
    PRIVATE_KEY,
    WEBHOOK_SECRET,
    FakeGitHub,
    deliver,
    protection_rule,
)
from tests.support.harness import Harness

MANAGER = "U_PM"
SHA = "3f786850e387550fdab836ed7e6dc881de23001b"


# A Wednesday morning with no clock change near: GitHub's tokens and JWTs live on the real
# clock (time.time), the bot's steps on the harness's; both are moved here together.
MOMENT = datetime(2027, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def fixed_moment() -> Iterator[datetime]:
    """Real time travelled to MOMENT (ticking: servers and threads keep their pace)."""
    with time_machine.travel(MOMENT, tick=True):
        yield MOMENT


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub().start()
    yield fake
    fake.stop()


def app_settings(github: FakeGitHub) -> dict[str, Any]:
    return {
        "GITHUB_APP_ID": APP_ID,
        "GITHUB_APP_PRIVATE_KEY": PRIVATE_KEY,
        "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "GITHUB_API_URL": github.url,
        "RELEASEBOT_RELEASE_MANAGERS": MANAGER,
    }


def github_bot(database_url: str, slack: FakeSlack, github: FakeGitHub) -> Harness:
    return Harness(database_url, slack, **app_settings(github))


@pytest.fixture
def harness(database_url: str, fake_slack: FakeSlack, github: FakeGitHub) -> Iterator[Harness]:
    with github_bot(database_url, fake_slack, github) as running:
        yield running


def eventually(condition: Callable[[], object], timeout: float = 15, what: str = "") -> None:
    """Until `condition` holds, for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what or condition}")
        time.sleep(0.02)


def settled(harness: Harness) -> None:
    """Every waiting deployment looked at again, and what that owed GitHub sent."""
    github = harness.bot.github
    assert github is not None
    assert github.wait_idle()
    github.rule.settle_all()
    github.callbacks.deliver_due()
    assert github.wait_idle()


def link(harness: Harness, text: str = "acme/payments payments") -> str:
    return harness.private_reply(harness.command(f"github link {text}", user_id=MANAGER))


def ask(harness: Harness, github: FakeGitHub, **kwargs: Any) -> httpx.Response:
    kwargs.setdefault("sha", SHA)
    delivery_id = kwargs.pop("delivery_id", None)
    response = deliver(
        harness.server.url,
        "deployment_protection_rule",
        protection_rule(github, **kwargs),
        delivery_id=delivery_id,
    )
    return response
