"""The HTTP API's fixtures: the bot with a release manager, tokens, an API client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from starlette.routing import Mount

from bot.sandbox.slack_standin import FakeSlack
from bot.web import BuiltOnFirstUse
from handlers.api import http_api
from handlers.api.gate_waits import GateWaits
from models.api import api_tokens
from tests.support.harness import OWNER, TEAM, Harness, ahead, iso
from tests.support.waiting import wait_until

MANAGER = "U_PM"
# One TLS context for every client (httpx would load the CA bundle for each one).
TLS = httpx.create_ssl_context()


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
        base_url=(server_url or harness.server.url) + "/api/v1",
        headers=headers,
        timeout=20,
        verify=TLS,
    )


def propose(harness: Harness, ref: str, extra: str = "", **kwargs: object) -> None:
    service, version = ref.split("@")
    harness.command(f"propose {service} {version} {iso(ahead())} {extra}".strip(), **kwargs)  # type: ignore[arg-type]


def wake_ups_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gate's periodic re-check (for other processes' changes) out of the way: what
    ends a long-poll within a test is then a wake-up, nothing else."""
    monkeypatch.setattr(http_api, "GATE_RECHECK", 3600.0)


def gate_waits(harness: Harness) -> GateWaits:
    [mounted] = [route.app for route in harness.app.routes if isinstance(route, Mount)]
    assert isinstance(mounted, BuiltOnFirstUse)
    waits: GateWaits = mounted.app.state.gate_waits
    return waits


def waiting_at_gate(harness: Harness, service: str, *, timeout: float = 10) -> None:
    """Until a request waits at the gate for `service` (its long-poll has begun)."""
    waits = gate_waits(harness)
    wait_until(
        lambda: waits.waiters(TEAM, service) == 1,
        timeout=timeout,
        what=f"a request waiting at the gate for {service}",
    )
