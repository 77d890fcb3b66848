"""manifest.yml is a valid Slack app manifest that asks for what the code uses, no more."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.support.harness import Harness

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = yaml.safe_load((ROOT / "manifest.yml").read_text())
SCHEMA = json.loads((Path(__file__).parent / "data" / "slack-app-manifest.schema.json").read_text())

# The bot scope each Web API method needs (None: no scope). A method the code calls that is
# missing here fails the test, so the manifest cannot silently fall behind the code.
SCOPE_OF_METHOD: dict[str, str | tuple[str, ...] | None] = {
    # Public channels need the first, private ones the second.
    "conversations_info": ("channels:read", "groups:read"),
    # Also im:read / mpim:read for DMs, which `/release calendar #channel` can't name.
    "conversations_members": ("channels:read", "groups:read"),
    "chat_postMessage": "chat:write",
    "chat_postEphemeral": "chat:write",
    "chat_update": "chat:write",
    "chat_delete": "chat:write",
    "chat_getPermalink": None,
    "users_info": "users:read",
    "usergroups_list": "usergroups:read",
    "usergroups_users_list": "usergroups:read",
    "views_open": None,
    "views_push": None,
    "views_update": None,
    "views_publish": None,
    "auth_test": None,
    "conversations_open": "im:write",
    # files.uploadV2: getUploadURLExternal + completeUploadExternal (audit CSV, stats chart).
    "files_upload_v2": "files:write",
    # Finding a post whose answer was lost, by its metadata: channels, private channels,
    # DMs and group DMs each need their own history scope.
    "conversations_history": ("channels:history", "groups:history", "im:history", "mpim:history"),
    "conversations_replies": ("channels:history", "groups:history", "im:history", "mpim:history"),
}


def methods_called_by_the_code() -> set[str]:
    called: set[str] = set()
    for package in ("bot", "handlers", "scheduler", "models"):
        for path in (ROOT / package).rglob("*.py"):
            called |= set(re.findall(r"\bclient\.(\w+)\(", path.read_text()))
    return called


def test_manifest_matches_slacks_schema() -> None:
    jsonschema.validate(MANIFEST, SCHEMA)


def test_scopes_are_exactly_those_the_code_needs() -> None:
    called = methods_called_by_the_code()
    unknown = called - set(SCOPE_OF_METHOD)
    assert not unknown, f"add the scopes of {unknown} to SCOPE_OF_METHOD"
    needed: set[str] = set()
    for method in called:
        scopes = SCOPE_OF_METHOD[method]
        needed |= set(scopes) if isinstance(scopes, tuple) else {scopes} if scopes else set()
    if MANIFEST["features"].get("slash_commands"):
        needed.add("commands")
    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == needed


def test_requests_go_to_the_one_endpoint_and_commands_are_escaped() -> None:
    settings = MANIFEST["settings"]
    urls = [
        settings["interactivity"]["request_url"],
        settings["event_subscriptions"]["request_url"],
    ]
    urls += [c["url"] for c in MANIFEST["features"]["slash_commands"]]
    assert all(url.endswith("/slack/events") for url in urls)
    assert all(c["should_escape"] is True for c in MANIFEST["features"]["slash_commands"])
    assert settings["socket_mode_enabled"] is False
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True


COMMANDS: list[dict[str, Any]] = MANIFEST["features"]["slash_commands"]


@pytest.mark.parametrize("command", [c["command"] for c in COMMANDS])
def test_every_command_in_the_manifest_has_a_handler(harness: Harness, command: str) -> None:
    response = harness.client.command("help", command=command)
    assert response.status_code == 200
    assert response.json()["response_type"] == "ephemeral"


@pytest.mark.parametrize("event", MANIFEST["settings"]["event_subscriptions"]["bot_events"])
def test_every_event_in_the_manifest_has_a_handler(harness: Harness, event: str) -> None:
    # An event nobody listens to is acked (200) but has no effect; a handled one has one.
    response = harness.client.event({"type": event, "user": "U_QA", "tab": "home", "channel": "D1"})
    harness.wait()
    assert response.status_code == 200
    assert harness.slack.calls() != [], "the event was accepted but the bot did nothing"
