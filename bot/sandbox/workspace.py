"""`releasebot sandbox`: the real bot, a Slack stand-in, and a demo workspace to drive them.

Everything a person does on the sandbox's page reaches the bot as Slack would send it: a
signed HTTP request to ``/slack/events`` (slash commands, block_actions, view_submission,
view_closed, app_home_opened). The bot's Web API calls go to the Slack stand-in
(`FakeSlack`), which keeps what each person would see. No Slack account, token or network.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import uvicorn
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from bot.app import Releasebot, create_releasebot
from bot.sandbox.slack_requests import (
    SignedSlackClient,
    build_view_state,
    element_action,
    find_elements,
)
from bot.sandbox.slack_standin import Call, FakeSlack
from bot.settings import Settings, parse_offsets

TEAM = "T0SANDBOX"


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    real_name: str
    tz: str
    role: str


# Four people on four continents; Dora is a release manager; Ben and Chie are @qa.
PEOPLE = (
    Person("U0ADA", "ada", "Ada Okafor", "Africa/Lagos", "developer"),
    Person("U0BEN", "ben", "Ben Carter", "America/Chicago", "QA"),
    Person("U0CHIE", "chie", "Chie Tanaka", "Asia/Tokyo", "QA"),
    Person("U0DORA", "dora", "Dora Müller", "Europe/Berlin", "release manager"),
)
QA_GROUP = ("S0QA", "qa", ("U0BEN", "U0CHIE"))
RELEASES = "C0RELEASES"
ANNOUNCEMENTS = "C0ANNOUNCE"
PRIVATE = "G0LAUNCH"
CHANNELS = (
    (RELEASES, "releases", False, ("U0ADA", "U0BEN", "U0CHIE", "U0DORA")),
    (ANNOUNCEMENTS, "announcements", False, ("U0ADA", "U0BEN", "U0CHIE", "U0DORA")),
    (PRIVATE, "launch-team", True, ("U0ADA", "U0CHIE", "U0DORA")),
)
BOT_USER = "U0RELEASEBOT"
REMINDER_OFFSETS = "24h,1h,5m"


class SandboxError(Exception):
    """Something the page asked for that a person could not do in Slack (400)."""


def demo_slack() -> FakeSlack:
    slack = FakeSlack(
        token="xoxb-sandbox-" + secrets.token_hex(8),
        team_id=TEAM,
        team_domain="sandbox",
        bot_user_id=BOT_USER,
        default_directory=False,
    )
    for person in PEOPLE:
        slack.add_user(person.id, person.name, real_name=person.real_name, tz=person.tz)
    slack.add_user(BOT_USER, "releasebot", real_name="releasebot", is_bot=True)
    group_id, handle, group_members = QA_GROUP
    slack.add_usergroup(group_id, handle, group_members)
    for channel_id, name, private, members in CHANNELS:
        slack.add_channel(channel_id, name, is_private=private)
        slack.set_channel_members(channel_id, [*members, BOT_USER])
    return slack


class _OwnSettings(Settings):
    """Settings from the arguments alone: the environment and .env (a real workspace's
    token, channels, checklist…) don't leak into the sandbox."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def sandbox_settings(slack: FakeSlack, db_path: Path, url: str) -> Settings:
    return _OwnSettings(
        SLACK_BOT_TOKEN=slack.token,
        SLACK_SIGNING_SECRET=secrets.token_hex(32),
        SLACK_API_URL=slack.api_url,
        SLACK_HOOKS_URL=slack.base_url + "/response/",
        DATABASE_URL=f"sqlite:///{db_path}",
        RELEASEBOT_PUBLIC_URL=url.rstrip("/"),
        RELEASEBOT_ANNOUNCE_CHANNEL=ANNOUNCEMENTS,
        RELEASEBOT_RELEASE_MANAGERS=("U0DORA",),
        # A release proposed a few minutes ahead is reminded of before your eyes.
        RELEASEBOT_REMINDER_OFFSETS=parse_offsets(REMINDER_OFFSETS),
    )


class _Client(SignedSlackClient):
    """Names channels as the workspace does (#releases, not c0releases)."""

    names: dict[str, str]

    def channel_name(self, channel_id: str) -> str:  # type: ignore[override]
        return self.names.get(channel_id) or SignedSlackClient.channel_name(channel_id)


class Sandbox:
    """The bot with its database, scheduler and web app, the Slack stand-in, and the
    sandbox page's ASGI app, served on one loopback port."""

    def __init__(self, *, port: int = 3000, db: Path | None = None, host: str = "127.0.0.1"):
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if db is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="releasebot-sandbox-")
            db = Path(self._tmp.name) / "releasebot.db"
        self.db_path = db
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(128)  # early: a browser that connects before uvicorn runs waits
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://{host}:{self.port}/"
        self.slack = demo_slack()
        self.bot: Releasebot | None = None
        self.signer: _Client | None = None
        self.app: Any = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one person's action at a time, as they'd click

    # ---- lifecycle -------------------------------------------------------------------------

    def start_bot(self) -> None:
        from bot import migrate
        from bot.sandbox.page import create_sandbox_app
        from bot.web import create_web_app
        from handlers.slack_kit import times

        self.slack.start()
        settings = sandbox_settings(self.slack, self.db_path, self.url)
        self.bot = create_releasebot(settings)
        migrate.upgrade(self.bot.db.engine)
        self.bot.scheduler.start()
        times.warm_up()
        web = create_web_app(self.bot.bolt, self.bot.db, deps=self.bot.deps)
        secret = settings.slack_signing_secret or ""
        self.signer = _Client(self.url, secret, team_id=TEAM, fake=self.slack)
        self.signer.bot_user_id = BOT_USER
        self.signer.team_domain = "sandbox"
        self.signer.names = {c[0]: c[1] for c in CHANNELS}
        self.app = create_sandbox_app(self, web)

    def server(self) -> uvicorn.Server:
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        closing = self.app.state.closing

        class Server(uvicorn.Server):
            """Ends the pages' event streams as it starts to stop, so they don't hold it up."""

            def handle_exit(self, sig: int, frame: FrameType | None) -> None:
                closing.set()
                super().handle_exit(sig, frame)

        self._server = Server(config)
        return self._server

    def start(self) -> Sandbox:
        """In a background thread (tests)."""
        self.start_bot()
        server = self.server()
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self.app is not None:
            self.app.state.closing.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.close()

    def close(self) -> None:
        if self.signer is not None:
            self.signer.close()
        if self.bot is not None:
            self.bot.close()
            self.bot = None
        self.slack.stop()
        with contextlib.suppress(OSError):
            self.sock.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def on_change(self, listener: Callable[[Call], None]) -> None:
        self.slack.add_listener(listener)

    # ---- what a person sees ---------------------------------------------------------------

    def person(self, user_id: str) -> Person:
        for person in PEOPLE:
            if person.id == user_id:
                return person
        raise SandboxError(f"no such person: {user_id!r}")

    def visible_channels(self, user_id: str) -> list[dict[str, Any]]:
        found = [
            {"id": c["id"], "name": c["name"], "kind": "private" if c["is_private"] else "public"}
            for c in self.slack.channel_directory()
            if not c["is_private"] or user_id in c["members"]
        ]
        found.append({"id": "D" + user_id, "name": "releasebot", "kind": "dm"})
        return found

    def state(self, user_id: str) -> dict[str, Any]:
        self.person(user_id)
        channels = self.visible_channels(user_id)
        conversations = {}
        for channel in channels:
            conversations[channel["id"]] = {
                "messages": self.slack.messages(channel["id"]),
                "ephemerals": [
                    e["message"] for e in self.slack.ephemerals(channel["id"], user=user_id)
                ],
            }
        refusals = [
            {
                "method": c.method,
                "error": c.error,
                "detail": list(c.detail),
                "channel": self._channel_of(c),
                "user": c.args.get("user") or c.args.get("user_id"),
            }
            for c in self.slack.calls()
            if c.refused
        ]
        return {
            "me": user_id,
            "team": TEAM,
            # Permalinks the stand-in hands out: the page opens them in place.
            "archives": f"https://{self.slack.team_domain}.slack.com/archives/",
            "bot": BOT_USER,
            "people": [
                {
                    "id": p["id"],
                    "name": p["name"],
                    "real_name": p["real_name"],
                    "tz": p["tz"],
                    "is_bot": p["is_bot"],
                    "role": next((x.role for x in PEOPLE if x.id == p["id"]), "bot"),
                }
                for p in self.slack.people()
            ],
            "groups": [
                {"id": g["id"], "handle": g["handle"], "users": g["users"]}
                for g in self.slack.usergroups()
            ],
            "channels": channels,
            "conversations": conversations,
            "home": self.slack.published_home(user_id),
            "modals": self.slack.modal_stack(user_id),
            "refusals": refusals,
        }

    def _channel_of(self, call: Call) -> str | None:
        channel = call.args.get("channel") or call.args.get("channel_id")
        if isinstance(channel, str) and channel[:1] in ("U", "W"):
            return "D" + channel
        return channel if isinstance(channel, str) else None

    # ---- what a person does ---------------------------------------------------------------

    def _ready(self) -> _Client:
        if self.signer is None or self.bot is None:
            raise RuntimeError("the sandbox is not started")
        return self.signer

    def _settle(self) -> None:
        """Until the bot's work after its ack is done, so the page shows the outcome."""
        if self.bot is not None:
            self.bot.work.wait_idle(timeout=10)

    def _check_answer(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code != 200:
            raise SandboxError(f"the bot answered HTTP {response.status_code}: {response.text}")
        if not response.content:
            return {}
        try:
            body = json.loads(response.content)
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def command(self, user_id: str, channel_id: str, text: str) -> None:
        """`user_id` typed `text` in `channel_id`: ``/release …`` goes to the bot, anything
        else is a message the others see."""
        signed = self._ready()
        self.person(user_id)
        if channel_id not in {c["id"] for c in self.visible_channels(user_id)}:
            raise SandboxError("you are not in that channel")
        text = text.strip()
        if not text.startswith("/"):  # a message to the others in the channel
            self.slack.post_as_person(user_id, channel_id, text)
            return
        command, _, rest = text.partition(" ")
        if command != "/release":
            raise SandboxError(f"{command} is no command here; releasebot's is /release")
        with self._lock:
            response = signed.command(
                rest.strip(),
                user_id=user_id,
                channel_id=channel_id,
                channel_name=signed.channel_name(channel_id),
                trigger_id=self.slack.issue_trigger(user_id),
            )
            body = self._check_answer(response)
            if body.get("text") or body.get("blocks"):
                self.slack.reply_to_command(channel_id, user_id, body)
            self._settle()

    def act_on_message(
        self,
        user_id: str,
        channel_id: str,
        ts: str,
        block_id: str,
        action_id: str,
        value: Any = None,
    ) -> None:
        """`user_id` used an element of a message they see (a click, a tick, a pick)."""
        signed = self._ready()
        self.person(user_id)
        found = self.slack.find_message(channel_id, ts, user_id=user_id)
        if found is None:
            raise SandboxError("that message is gone")
        message, ephemeral = found
        block, element = self._element(message.get("blocks"), block_id, action_id)
        action, entry = self._action(block, element, value)
        state = {str(block.get("block_id")): {str(action_id): entry}} if entry else {}
        container = signed.message_container(message, channel_id, ephemeral)
        with self._lock:
            response = signed.block_actions(
                user_id=user_id,
                action=action,
                container=container,
                message=None if ephemeral else message,
                channel_id=channel_id,
                state_values=state,
                trigger_id=self.slack.issue_trigger(user_id),
            )
            self._check_answer(response)
            self._settle()

    def act_on_view(
        self,
        user_id: str,
        view_id: str,
        block_id: str,
        action_id: str,
        value: Any = None,
        values: dict[str, Any] | None = None,
    ) -> None:
        """`user_id` used an element of their modal or Home tab; `values`: the modal's
        inputs as they are now, by block_id."""
        signed = self._ready()
        view = self._view(user_id, view_id)
        block, element = self._element(view.get("blocks"), block_id, action_id)
        action, _ = self._action(block, element, value)
        state = self._view_state(view, values or {}, check_required=False)
        with self._lock:
            response = signed.block_actions(
                user_id=user_id,
                action=action,
                container={"type": "view", "view_id": view_id},
                view=view,
                state_values=state,
                trigger_id=self.slack.issue_trigger(user_id),
            )
            self._check_answer(response)
            self._settle()

    def submit(self, user_id: str, view_id: str, values: dict[str, Any]) -> dict[str, str]:
        """`user_id` pressed the modal's submit button; returns the errors to show under
        its inputs (by block_id), or {} when the modal was taken."""
        signed = self._ready()
        view = self._view(user_id, view_id)
        if view.get("type") != "modal" or not view.get("submit"):
            raise SandboxError("this view has no submit button")
        with self._lock:
            try:
                response = signed.view_submission(
                    view,
                    user_id=user_id,
                    values=values,
                    trigger_id=self.slack.issue_trigger(user_id),
                )
            except AssertionError as error:  # what Slack's client would not let through
                raise SandboxError(str(error)) from None
            body = self._check_answer(response)
            errors = self.slack.apply_submission_response(user_id, view_id, body)
            self._settle()
        return errors

    def close_modal(self, user_id: str, view_id: str, values: dict[str, Any]) -> None:
        signed = self._ready()
        view = self._view(user_id, view_id)
        with self._lock:
            if view.get("notify_on_close"):
                try:
                    response = signed.view_closed(view, user_id=user_id, values=values)
                except AssertionError as error:
                    raise SandboxError(str(error)) from None
                self._check_answer(response)
            self.slack.close_modal(user_id, view_id)
            self._settle()

    def open_home(self, user_id: str) -> None:
        """`user_id` opened the bot's Home tab."""
        signed = self._ready()
        self.person(user_id)
        with self._lock:
            self._check_answer(
                signed.app_home_opened(user_id, view=self.slack.published_home(user_id))
            )
            self._settle()

    # ---- helpers ---------------------------------------------------------------------------

    def _view(self, user_id: str, view_id: str) -> dict[str, Any]:
        self.person(user_id)
        for view in self.slack.modal_stack(user_id):
            if view["id"] == view_id:
                return view
        home = self.slack.published_home(user_id)
        if home is not None and home["id"] == view_id:
            return home
        raise SandboxError("that view is closed")

    @staticmethod
    def _element(
        blocks: Any, block_id: str, action_id: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        for block, element in find_elements(blocks):
            if block.get("block_id") == block_id and element.get("action_id") == action_id:
                return block, element
        raise SandboxError("no such element in what you see")

    @staticmethod
    def _action(
        block: dict[str, Any], element: dict[str, Any], value: Any
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        try:
            return element_action(block, element, value)
        except AssertionError as error:  # what no person could pick in Slack
            raise SandboxError(str(error)) from None

    @staticmethod
    def _view_state(
        view: dict[str, Any], values: dict[str, Any], *, check_required: bool
    ) -> dict[str, Any]:
        try:
            return build_view_state(view, values, check_required=check_required)
        except AssertionError as error:  # what Slack's client would not let through
            raise SandboxError(str(error)) from None
