"""Settings from environment variables (and an optional `.env` file).

A missing or malformed setting ends start-up with one line naming the variable
(see `load_settings`), never a traceback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import (
    BeforeValidator,
    Field,
    HttpUrl,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from models import durations
from models.release.default_checklist import DEFAULT_CHECKLIST, parse_checklist_setting


def parse_offsets(text: str) -> tuple[timedelta, ...]:
    """`24h,1h,15m` -> (24h, 1h, 15m), largest first, duplicates dropped."""
    offsets: set[timedelta] = set()
    for part in text.split(","):
        offset = durations.parse(part, units="dhm", zero=False)
        if offset is None:
            raise ValueError(
                f"{part.strip()!r} is not an offset; use a list like 24h,1h,15m (units d, h, m)"
            )
        offsets.add(offset)
    return tuple(sorted(offsets, reverse=True))


def _slack_ids_value(value: object) -> object:
    """`U123, S456` -> ("U123", "S456"): people (U…/W…) and user groups (S…)."""
    if not isinstance(value, str):
        return value
    ids = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    for slack_id in ids:
        if not re.match(r"^[UWS][A-Z0-9_]+$", slack_id):
            raise ValueError(
                f"{slack_id!r} is not a user (U…) or user group (S…) id; list ids, "
                "comma-separated (a person's profile → ⋮ → Copy member ID)"
            )
    return ids


def _offsets_value(value: object) -> object:
    return parse_offsets(value) if isinstance(value, str) else value


def _checklist_value(value: object) -> object:
    return parse_checklist_setting(value) if isinstance(value, str) else value


_HTTP_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)


def _base_url(value: object) -> str:
    """An http(s) URL that paths are appended to: ends with a slash."""
    url = str(_HTTP_URL.validate_python(value))
    return url if url.endswith("/") else url + "/"


def _site_url(value: object) -> str:
    """An http(s) URL that `/path`s are appended to: no trailing slash."""
    return str(_HTTP_URL.validate_python(value)).rstrip("/")


# Each setting is parsed once, when it is loaded, into the type the code uses.
Offsets = Annotated[tuple[timedelta, ...], NoDecode, BeforeValidator(_offsets_value)]
Checklist = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_checklist_value)]
SlackIds = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_slack_ids_value)]
BaseUrl = Annotated[str, BeforeValidator(_base_url)]
SiteUrl = Annotated[str, BeforeValidator(_site_url)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, validate_default=True
    )

    slack_bot_token: str = Field(alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_api_url: BaseUrl = Field(default="https://slack.com/api/", alias="SLACK_API_URL")
    slack_hooks_url: BaseUrl = Field(default="https://hooks.slack.com/", alias="SLACK_HOOKS_URL")
    database_url: str = Field(default="sqlite:///releasebot.db", alias="DATABASE_URL")
    port: int = Field(default=3000, alias="PORT", ge=1, le=65535)
    public_url: SiteUrl = Field(default="http://localhost:3000", alias="RELEASEBOT_PUBLIC_URL")
    announce_channel: str | None = Field(default=None, alias="RELEASEBOT_ANNOUNCE_CHANNEL")
    reminder_offsets: Offsets = Field(
        default=(timedelta(hours=24), timedelta(hours=1)), alias="RELEASEBOT_REMINDER_OFFSETS"
    )
    api_rate_per_minute: int = Field(
        default=60, alias="RELEASEBOT_API_RATE_PER_MINUTE", ge=1, le=1_000_000
    )
    release_managers: SlackIds = Field(default=(), alias="RELEASEBOT_RELEASE_MANAGERS")
    checklist: Checklist = Field(default=DEFAULT_CHECKLIST, alias="RELEASEBOT_CHECKLIST")
    escalation_channel: str | None = Field(default=None, alias="RELEASEBOT_ESCALATION_CHANNEL")
    # Webhooks may also use http and private or loopback addresses (local receivers, tests).
    webhook_allow_private: bool = Field(default=False, alias="RELEASEBOT_WEBHOOK_ALLOW_PRIVATE")
    # The GitHub App (deployment protection rule, deployment statuses): off unless set.
    github_app_id: str | None = Field(default=None, alias="GITHUB_APP_ID")
    github_app_private_key_file: Path | None = Field(
        default=None, alias="GITHUB_APP_PRIVATE_KEY_FILE"
    )
    github_app_private_key: str | None = Field(default=None, alias="GITHUB_APP_PRIVATE_KEY")
    github_webhook_secret: str | None = Field(default=None, alias="GITHUB_WEBHOOK_SECRET")
    github_api_url: SiteUrl = Field(default="https://api.github.com", alias="GITHUB_API_URL")

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: str) -> str:
        if not value.startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb- (OAuth & Permissions page)")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: str | None) -> str | None:
        if value and not value.startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp- (Basic Information)")
        return value or None

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return _check_database_url(value)

    @field_validator("github_app_id")
    @classmethod
    def _github_app_id(cls, value: str | None) -> str | None:
        if value and not value.strip().isdigit():
            raise ValueError("must be the app's numeric App ID (its settings page, About)")
        return value.strip() if value else None

    @field_validator("announce_channel", "escalation_channel")
    @classmethod
    def _announce_channel(cls, value: str | None) -> str | None:
        if value and not re.match(r"^[CG][A-Z0-9]+$", value):
            raise ValueError("must be a channel id such as C0123456789 (not a #name)")
        return value or None


def _check_database_url(value: str) -> str:
    if not re.match(r"^(sqlite|postgres(ql)?)(\+\w+)?://", value):
        raise ValueError("must be sqlite:///path.db or postgresql://user@host/db")
    return value


class SettingsError(Exception):
    """One line a person can act on, naming the variable."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first.get("loc") or ("?",)
        field = str(loc[0])
        info = Settings.model_fields.get(field)
        name = info.alias if info and info.alias else field
        if first.get("type") == "missing":
            raise SettingsError(
                f"{name} is not set; set it in the environment or in .env"
            ) from None
        message = str(first.get("msg", "is invalid")).removeprefix("Value error, ")
        raise SettingsError(f"{name} {message}") from None


@dataclass(frozen=True)
class GitHubAppSettings:
    app_id: str
    private_key: str  # PEM
    webhook_secret: str
    api_url: str  # no trailing slash


def github_app_settings(settings: Settings) -> GitHubAppSettings | None:
    """The GitHub App's settings; None when none is set (the GitHub part is off). Some
    set but not all, or a key that is no PEM, ends start-up naming what is missing."""
    key = settings.github_app_private_key
    key_file = settings.github_app_private_key_file
    given = {
        "GITHUB_APP_ID": bool(settings.github_app_id),
        "GITHUB_APP_PRIVATE_KEY_FILE or GITHUB_APP_PRIVATE_KEY": bool(key or key_file),
        "GITHUB_WEBHOOK_SECRET": bool(settings.github_webhook_secret),
    }
    if not any(given.values()):
        return None
    missing = [name for name, present in given.items() if not present]
    if missing:
        raise SettingsError(
            f"{missing[0]} is not set; the GitHub App needs GITHUB_APP_ID, its private key "
            "and GITHUB_WEBHOOK_SECRET (or set none of them)"
        )
    name = "GITHUB_APP_PRIVATE_KEY" if key else "GITHUB_APP_PRIVATE_KEY_FILE"
    if not key:
        assert key_file is not None
        try:
            key = key_file.read_text()
        except OSError as error:
            raise SettingsError(
                f"GITHUB_APP_PRIVATE_KEY_FILE can't be read: {error.strerror or error}"
            ) from None
    if "-----BEGIN" not in key or "PRIVATE KEY-----" not in key:
        raise SettingsError(
            f"{name} must hold the app's private key as PEM (the .pem file GitHub generated)"
        )
    assert settings.github_app_id and settings.github_webhook_secret
    return GitHubAppSettings(
        app_id=settings.github_app_id,
        private_key=key,
        webhook_secret=settings.github_webhook_secret,
        api_url=settings.github_api_url,
    )


def require_mode_settings(settings: Settings, *, socket_mode: bool) -> None:
    if socket_mode and not settings.slack_app_token:
        raise SettingsError(
            "SLACK_APP_TOKEN is not set; Socket Mode needs an app-level token (xapp-…) "
            "with the connections:write scope"
        )
    if not socket_mode and not settings.slack_signing_secret:
        raise SettingsError(
            "SLACK_SIGNING_SECRET is not set; HTTP mode needs the signing secret from the "
            "app's Basic Information page (or run with --socket)"
        )


class DatabaseSettings(BaseSettings):
    """Only the database (commands that need no Slack settings: `releasebot audit`)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field(default="sqlite:///releasebot.db", alias="DATABASE_URL")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return _check_database_url(value)


def load_database_url() -> str:
    try:
        return DatabaseSettings().database_url
    except ValidationError as exc:
        message = str(exc.errors()[0].get("msg", "is invalid")).removeprefix("Value error, ")
        raise SettingsError(f"DATABASE_URL {message}") from None
