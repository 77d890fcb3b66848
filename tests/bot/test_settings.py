"""Start-up refuses missing or malformed settings with one line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings, parse_offsets
from tests.support.cli import Releasebot

ROOT = Path(__file__).resolve().parents[2]


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "RELEASEBOT_", "GITHUB_"))
    }
    clean.pop("DATABASE_URL", None)
    clean.pop("PORT", None)
    clean["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**clean, **env},
        cwd=tmp_path,  # no .env here
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({}, "SLACK_BOT_TOKEN is not set"),
        ({"SLACK_BOT_TOKEN": "not-a-token"}, "SLACK_BOT_TOKEN must be a bot token"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET is not set"),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "PORT": "eighty"},
            "PORT",
        ),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "DATABASE_URL": "mysql://x"},
            "DATABASE_URL must be sqlite",
        ),
        (
            {
                "SLACK_BOT_TOKEN": "xoxb-1",
                "SLACK_SIGNING_SECRET": "s",
                "RELEASEBOT_REMINDER_OFFSETS": "24h,soon",
            },
            "RELEASEBOT_REMINDER_OFFSETS 'soon' is not an offset",
        ),
        (
            {
                "SLACK_BOT_TOKEN": "xoxb-1",
                "SLACK_SIGNING_SECRET": "s",
                "RELEASEBOT_ANNOUNCE_CHANNEL": "#releases",
            },
            "RELEASEBOT_ANNOUNCE_CHANNEL must be a channel id",
        ),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "GITHUB_APP_ID": "12"},
            "GITHUB_APP_PRIVATE_KEY_FILE or GITHUB_APP_PRIVATE_KEY is not set",
        ),
        (
            {
                "SLACK_BOT_TOKEN": "xoxb-1",
                "SLACK_SIGNING_SECRET": "s",
                "GITHUB_APP_ID": "12",
                "GITHUB_APP_PRIVATE_KEY_FILE": "missing.pem",
            },
            "GITHUB_WEBHOOK_SECRET is not set",
        ),
        (
            {
                "SLACK_BOT_TOKEN": "xoxb-1",
                "SLACK_SIGNING_SECRET": "s",
                "GITHUB_APP_ID": "12",
                "GITHUB_APP_PRIVATE_KEY_FILE": "missing.pem",
                "GITHUB_WEBHOOK_SECRET": "w",
            },
            "GITHUB_APP_PRIVATE_KEY_FILE can't be read",
        ),
        (
            {
                "SLACK_BOT_TOKEN": "xoxb-1",
                "SLACK_SIGNING_SECRET": "s",
                "GITHUB_APP_ID": "my-app",
            },
            "GITHUB_APP_ID must be the app's numeric App ID",
        ),
        (
            {
                "SLACK_BOT_TOKEN": "xoxb-1",
                "SLACK_SIGNING_SECRET": "s",
                "GITHUB_APP_ID": "12",
                "GITHUB_APP_PRIVATE_KEY": "not a key",
                "GITHUB_WEBHOOK_SECRET": "w",
            },
            "must hold the app's private key as PEM",
        ),
    ],
)
def test_bad_settings_stop_start_up_with_one_line(
    releasebot: Releasebot, env: dict[str, str], names: str
) -> None:
    result = releasebot("serve", **env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert names in lines[0]
    assert "Traceback" not in result.stderr


def test_socket_mode_needs_an_app_token(tmp_path: Path) -> None:
    # The console script itself, in a process of its own: its exit status is main's.
    result = run_cli(tmp_path, "serve", "--socket", SLACK_BOT_TOKEN="xoxb-1")
    assert result.returncode == 2
    assert "SLACK_APP_TOKEN is not set" in result.stderr


def test_db_upgrade_creates_the_schema(releasebot: Releasebot, tmp_path: Path) -> None:
    result = releasebot("db", "upgrade", SLACK_BOT_TOKEN="xoxb-1", DATABASE_URL="sqlite:///x.db")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "x.db").exists()
    current = releasebot("db", "current", SLACK_BOT_TOKEN="xoxb-1", DATABASE_URL="sqlite:///x.db")
    assert current.stdout.strip() not in ("", "empty")


def test_defaults_and_offsets() -> None:
    settings = load_settings(SLACK_BOT_TOKEN="xoxb-1")
    assert settings.database_url == "sqlite:///releasebot.db"
    assert settings.port == 3000
    assert [o.total_seconds() for o in settings.reminder_offsets] == [86400, 3600]
    assert [o.total_seconds() / 60 for o in parse_offsets("15m, 1d,1h,15m")] == [1440, 60, 15]
    with pytest.raises(SettingsError, match="RELEASEBOT_CHECKLIST"):
        load_settings(SLACK_BOT_TOKEN="xoxb-1", RELEASEBOT_CHECKLIST=" ; ")


def test_settings_are_parsed_once_into_the_types_the_code_uses() -> None:
    settings = load_settings(
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_API_URL="http://127.0.0.1:9/api",
        RELEASEBOT_PUBLIC_URL="https://bot.example.com/",
        RELEASEBOT_REMINDER_OFFSETS="2h, 1d",
        RELEASEBOT_CHECKLIST="Notes; Rollback plan ;",
    )
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"
    assert settings.public_url == "https://bot.example.com"
    assert settings.reminder_offsets == (timedelta(days=1), timedelta(hours=2))
    assert settings.checklist == ("Notes", "Rollback plan")
    with pytest.raises(SettingsError, match="SLACK_HOOKS_URL"):
        load_settings(SLACK_BOT_TOKEN="xoxb-1", SLACK_HOOKS_URL="hooks.slack.com")


def test_the_api_rate_per_token_is_a_setting() -> None:
    assert load_settings(SLACK_BOT_TOKEN="xoxb-1").api_rate_per_minute == 60
    raised = load_settings(SLACK_BOT_TOKEN="xoxb-1", RELEASEBOT_API_RATE_PER_MINUTE="600")
    assert raised.api_rate_per_minute == 600
    with pytest.raises(SettingsError, match="RELEASEBOT_API_RATE_PER_MINUTE"):
        load_settings(SLACK_BOT_TOKEN="xoxb-1", RELEASEBOT_API_RATE_PER_MINUTE="0")
