"""github-app.json asks GitHub for the events the bot handles and the permissions its
calls need, and sends webhooks to the route that takes them."""

from __future__ import annotations

import json
from pathlib import Path

from handlers.github.github_events import HANDLED

ROOT = Path(__file__).resolve().parents[3]


def test_the_manifest_asks_for_what_the_code_uses() -> None:
    manifest = json.loads((ROOT / "github-app.json").read_text())
    assert manifest["name"] == "releasebot"
    assert manifest["hook_attributes"]["url"].endswith("/github/events")
    assert set(manifest["default_events"]) == HANDLED
    assert manifest["default_permissions"] == {
        "deployments": "write",  # answering protection rules, reading statuses
        "actions": "read",  # the workflow runs waiting on the rule
        "metadata": "read",
    }
