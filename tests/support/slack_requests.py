"""Moved to ``bot.sandbox.slack_requests`` (the sandbox signs its requests with it too); this
name stays so tests written against it keep importing."""

from bot.sandbox.slack_requests import *  # noqa: F403
from bot.sandbox.slack_requests import SignedSlackClient, build_view_state, find_elements, sign

__all__ = ["SignedSlackClient", "build_view_state", "find_elements", "sign"]
