"""The HTTP API's fixtures: the bot with a release manager, tokens, an API client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from bot.sandbox.slack_standin import FakeSlack
from models.api import api_tokens
from tests.support.harness import OWNER, TEAM, Harness, ahead, iso

MANAGER = "U_PM"


@pytest.fixture
def harness(database_url: str, fake_slack: FakeSlack) -> Iterator[Harness]:
    with Harness(database_url, fake_slack, RELEASEBOT_RELEASE_MANAGERS=MANAGER) as running:
        yield running


def make_token(
    harness: Harness,
    name: str = "ci",
    services: tuple[str, ...] = (),
    *,
    owner: str = OWNER,
    team: str = TEAM,
) -> str:
    with harness.session() as session:
        _token, raw = api_tokens.issue(
            session, team, name, owner_id=owner, created_by=MANAGER, services=services
        )
    return raw


def api(harness: Harness, raw: str | None = None, *, server_url: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {raw}"} if raw else {}
    return httpx.Client(
        base_url=(server_url or harness.server.url) + "/api/v1", headers=headers, timeout=20
    )


def propose(harness: Harness, ref: str, extra: str = "", **kwargs: object) -> None:
    service, version = ref.split("@")
    harness.command(f"propose {service} {version} {iso(ahead())} {extra}".strip(), **kwargs)  # type: ignore[arg-type]
