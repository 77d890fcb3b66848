"""Escalations: where a freeze override is told, beyond the release's own thread.

`channel_for` is the one place that decides where; for now the setting
RELEASEBOT_ESCALATION_CHANNEL (per-channel and per-service policy will answer here too).
Posted after the change is committed: the override stands whatever Slack says, and the
release's thread has it as well (owed through the outbox).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from slack_sdk import WebClient

from handlers.deps import Deps
from handlers.rendering.freeze_notes import escalation_text
from models.freezes import FreezeOverride
from models.release.records import Release

logger = logging.getLogger(__name__)


def channel_for(deps: Deps, release: Release) -> str | None:
    """The channel (C… id) that hears about escalations on this release, if any: the
    policy's it was proposed under, else RELEASEBOT_ESCALATION_CHANNEL."""
    return release.escalation_channel or deps.config.escalation_channel


def escalate_overrides(
    deps: Deps, client: WebClient, release: Release, overrides: Sequence[FreezeOverride]
) -> None:
    channel = channel_for(deps, release)
    if not overrides or channel is None:
        return
    for override in overrides:
        text = escalation_text(release.ref, release.permalink, override)
        try:
            client.chat_postMessage(channel=channel, text=text, unfurl_links=False)
        except Exception:
            # The override stands and is in the release's thread and audit trail.
            logger.exception("could not post the override of %s to %s", release.ref, channel)
