"""What handlers need from the composition root, passed to every `register`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlmodel import Session

from models.columns import utcnow
from models.db import Database
from models.outbox import MessageKind
from models.release.records import Release
from models.reminders import planning

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HandlerConfig:
    public_url: str = "http://localhost:3000"
    # Where Slack's response_urls live: a form's stored response_url is used only there.
    slack_hooks_url: str = "https://hooks.slack.com/"
    announce_channel: str | None = None
    checklist: tuple[str, ...] = ()
    reminder_offsets: tuple[timedelta, ...] = ()
    # Release managers from start-up: user (U…) and user-group (S…) ids.
    release_managers: tuple[str, ...] = ()
    # Where freeze overrides are posted (read through flows.escalation.channel_for).
    escalation_channel: str | None = None
    # RELEASEBOT_WEBHOOK_ALLOW_PRIVATE: webhooks may use http and private addresses.
    webhook_allow_private: bool = False


@dataclass(frozen=True)
class Failure:
    """A message that did not go out: which, why, and whether it will be tried again."""

    kind: MessageKind
    error: str
    permanent: bool
    exception: Exception


class Messages(Protocol):
    """Sends what the outbox says releases owe Slack (delivery.outbox_sender)."""

    def flush(self, release_id: int) -> list[Failure]: ...

    def deliver_due(self) -> int: ...


class Work(Protocol):
    """Runs work after the ack (the composition root provides it: bot.background)."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]: ...

    def submit_once(self, key: Hashable, fn: Callable[..., Any], *args: Any) -> None: ...


@dataclass
class Deps:
    db: Database
    # Sends what the outbox says releases owe Slack (after each change, and on retries).
    messages: Messages
    work: Work
    config: HandlerConfig = field(default_factory=HandlerConfig)
    clock: Callable[[], datetime] = utcnow
    # Called with a release id after every committed change (the scheduler listens).
    on_release_changed: list[Callable[[int], None]] = field(default_factory=list)

    def plan_reminders(self, session: Session, release: Release) -> None:
        """Keep the release's reminder rows in step with it, in the same transaction."""
        # The offsets of the policy it was proposed under; the settings' for older releases.
        offsets = release.reminder_offsets
        if offsets is None:
            offsets = self.config.reminder_offsets
        planning.plan(session, release, offsets, self.clock())

    def release_changed(self, release_id: int | None) -> None:
        if release_id is None:
            return
        for listener in self.on_release_changed:
            try:
                listener(release_id)
            except Exception:
                logger.exception("release-change listener failed for release %s", release_id)
