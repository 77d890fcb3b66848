"""The GitHub App's parts, put together: its credentials, the webhook endpoint, the
protection rule, deployment statuses and the callbacks owed to GitHub."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from slack_sdk import WebClient

from handlers.deps import Deps
from handlers.github import deployment_statuses
from handlers.github.app_credentials import AppCredentials
from handlers.github.callback_sender import CallbackSender
from handlers.github.deployment_protection import ProtectionRule
from handlers.github.github_events import GitHubEvents

# How often waiting deployments are looked at again (changes other processes made, freezes
# that end), deliveries left over are handled, and callbacks retried.
RULE_SWEEP = timedelta(seconds=5)
DELIVERY_SWEEP = timedelta(seconds=10)
CALLBACK_SWEEP = timedelta(seconds=2)
HTTP_TIMEOUT = 10.0


class GitHubIntegration:
    def __init__(
        self,
        deps: Deps,
        client: WebClient,
        *,
        app_id: str,
        private_key: str,
        webhook_secret: str,
        api_url: str,
    ) -> None:
        self.http = httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False)
        self.credentials = AppCredentials(app_id, private_key, api_url, self.http)
        self.callbacks = CallbackSender(
            deps, self.credentials, self.http, clock=lambda: deps.clock()
        )
        self.rule = ProtectionRule(deps, client, self.callbacks, api_url)
        self.events = GitHubEvents(deps, webhook_secret, self._handle)
        self._deps = deps
        self._client = client

    def _handle(self, event: str, payload: dict[str, Any], delivery_id: str) -> None:
        if event == "deployment_protection_rule" and payload.get("action") == "requested":
            self.rule.requested(payload, delivery_id)
        elif event == "deployment_status":
            deployment_statuses.report(self._deps, self._client, payload)

    def release_changed(self, release_id: int) -> None:
        self.rule.release_changed(release_id)

    def wait_idle(self, timeout: float = 30) -> bool:
        return (
            self.events.wait_idle(timeout)
            and self.rule.wait_idle(timeout)
            and self.callbacks.wait_idle(timeout)
        )

    def close(self) -> None:
        self.events.close()
        self.rule.close()
        self.callbacks.close()
        self.http.close()
