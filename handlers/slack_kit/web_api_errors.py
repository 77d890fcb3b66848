"""Which Slack Web API errors no retry will fix: one list for every sender (the outbox,
reminders), so they can't drift apart."""

from __future__ import annotations

PERMANENT_ERRORS = frozenset(
    {
        # where it goes
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "account_inactive",
        "user_not_found",
        # the app's own standing
        "invalid_auth",
        "token_revoked",
        "missing_scope",
        "restricted_action",
        # what it says
        "msg_too_long",
        "msg_blocks_too_long",
        "invalid_blocks",
        "invalid_blocks_format",
        "no_text",
        # the message to change
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
    }
)


def is_permanent(code: str) -> bool:
    """Slack's error `code` will be the same on every try (anything else is retried)."""
    return code in PERMANENT_ERRORS
