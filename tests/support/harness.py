"""The bot as Slack sees it: signed HTTP requests in, Web API calls out to a fake Slack."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlmodel import Session

from bot.app import Releasebot, create_releasebot
from bot.sandbox.slack_requests import SignedSlackClient
from bot.sandbox.slack_standin import FakeSlack
from bot.settings import load_settings
from bot.web import create_web_app
from models.release.records import Release
from tests.support.server import SERVERS, PooledServer

SIGNING_SECRET = "test-signing-secret"
TEAM = "T0001"
OWNER = "U_OWNER"
CHANNEL = "C_RELEASES"


class Clock:
    """The bot's idea of now; real time unless a test pins it."""

    def __init__(self) -> None:
        self._pinned: datetime | None = None
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._pinned or datetime.now(UTC)

    def pin(self, when: datetime) -> None:
        with self._lock:
            self._pinned = when

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._pinned = (self._pinned or datetime.now(UTC)) + delta


class Harness:
    def __init__(self, database_url: str, slack: FakeSlack, **settings: Any) -> None:
        self.slack = slack
        self.clock = Clock()
        self.settings = load_settings(
            SLACK_BOT_TOKEN=slack.token,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=slack.api_url,
            SLACK_HOOKS_URL=slack.base_url + "/response/",
            DATABASE_URL=database_url,
            RELEASEBOT_PUBLIC_URL="https://releasebot.example.com",
            **settings,
        )
        self.bot: Releasebot = create_releasebot(self.settings)
        self.bot.deps.clock = self.clock
        self.app = create_web_app(
            self.bot.bolt,
            self.bot.db,
            clock=self.clock,
            deps=self.bot.deps,
            github=self.bot.github.events if self.bot.github else None,
        )
        self.server: PooledServer
        self.client: SignedSlackClient

    def __enter__(self) -> Harness:
        self.server = SERVERS.borrow(self.app)
        self.client = SignedSlackClient(
            self.server.url, SIGNING_SECRET, team_id=TEAM, fake=self.slack
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self.wait()
        self.client.close()
        self.server.give_back()
        self.bot.close()
        # Whatever a test did, Slack must never have refused the bot's Block Kit or message
        # (invalid_blocks, msg_blocks_too_long…), on any method or response_url.
        refused = [str(c) for c in self.slack.calls() if c.refused]
        assert not refused, "Slack refused: " + "\n".join(refused)

    # --- driving the bot ----------------------------------------------------------------

    def wait(self) -> None:
        """Until the work the bot does after its acks is done. The deadline only catches a
        hang: the first chart (matplotlib's import) took over 15 s on a loaded 2-core box."""
        assert self.bot.work.wait_idle(timeout=60), "background work did not finish"

    def command(
        self, text: str, *, user_id: str = OWNER, channel_id: str = CHANNEL, **kwargs: Any
    ) -> httpx.Response:
        kwargs.setdefault("response_url", self.slack.new_response_url())
        response = self.client.command(text, user_id=user_id, channel_id=channel_id, **kwargs)
        assert response.status_code == 200, response.text
        self.wait()
        return response

    def private_reply(self, response: httpx.Response) -> str:
        """What the person alone saw: the ack's text, else the last response_url post."""
        if response.content:
            body = response.json()
            assert body.get("response_type", "ephemeral") == "ephemeral", body
            return rendered_text(body)
        posts = self.slack.calls("response_url") + self.slack.calls("chat.postEphemeral")
        assert posts, "the bot answered nothing privately"
        return rendered_text(posts[-1].args)

    # --- looking at the outcome ---------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.bot.db.session() as session:
            yield session

    def releases(self) -> list[Release]:
        from sqlmodel import select

        with self.session() as session:
            return list(session.exec(select(Release).order_by(Release.id)))  # type: ignore[arg-type]

    def cards_posted(self) -> int:
        """Messages posted at the top of a channel (release cards, announcements)."""
        return sum(1 for c in self.slack.calls("chat.postMessage") if not c.args.get("thread_ts"))

    def release(self, ref: str) -> Release:
        service, _, version = ref.partition("@")
        matches = [r for r in self.releases() if (r.service, r.version) == (service, version)]
        assert matches, f"no release {ref}"
        return matches[-1]

    def click(
        self,
        message: dict[str, Any],
        action_id: str,
        *,
        user_id: str,
        channel_id: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Click the button a person sees in `message`, then let the bot finish."""
        channel = channel_id or message.get("channel") or CHANNEL
        response = self.client.click_button(
            message, channel, user_id=user_id, action_id=action_id, **kwargs
        )
        assert response.status_code == 200, response.text
        self.wait()
        return response

    def checklist(self, release: Release) -> dict[str, Any]:
        assert release.checklist_ts, f"{release.ref} has no checklist"
        return self.slack.message(release.channel_id, release.checklist_ts)

    def announcement(self, release: Release) -> dict[str, Any]:
        assert release.announcement_channel and release.announcement_ts, "not announced"
        return self.slack.message(release.announcement_channel, release.announcement_ts)

    def tick(
        self, release: Release, position: int, *, user_id: str = OWNER, checked: bool = True
    ) -> None:
        """Tick (or untick) one item as a person would, in the message as it is now."""
        message = self.checklist(release)
        # The checkbox group (ten items each) that holds this item.
        block, element = next(
            (b, e)
            for b in message["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
            if e["type"] == "checkboxes" and any(o["value"] == str(position) for o in e["options"])
        )
        ticked = {o["value"] for o in element.get("initial_options") or []}
        ticked = ticked | {str(position)} if checked else ticked - {str(position)}
        response = self.client.toggle_checkboxes(
            message,
            release.channel_id,
            user_id=user_id,
            action_id="release_checklist",
            block_id=block["block_id"],
            selected_values=sorted(ticked),
        )
        assert response.status_code == 200
        self.wait()

    def submit_modal(self, callback_id: str, *, user_id: str, **values: Any) -> httpx.Response:
        view = self.slack.last_view(callback_id)
        response = self.client.view_submission(view, user_id=user_id, values=values)
        assert response.status_code == 200
        self.wait()
        return response

    def thread(self, release: Release) -> list[str]:
        """The texts of the replies in the release's thread, oldest first."""
        return [
            rendered_text(m)
            for m in self.slack.messages(release.channel_id, thread_ts=release.message_ts)
            if m.get("ts") != release.message_ts
        ]

    def card(self, release: Release) -> dict[str, Any]:
        assert release.message_ts, f"{release.ref} has no card"
        return self.slack.message(release.channel_id, release.message_ts)


def rendered_text(payload: dict[str, Any]) -> str:
    """All the text a person would read in a message: its text and every block's text."""
    parts = [str(payload.get("text") or "")]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text"):
                parts.append(str(node.get("text", "")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    blocks = payload.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    walk(blocks or [])
    return "\n".join(p for p in parts if p)


def ahead(days: float = 2, hour: int = 14) -> datetime:
    """A time comfortably in the future, on the hour."""
    return (datetime.now(UTC) + timedelta(days=days)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%MZ")
