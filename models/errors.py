"""Domain errors: each carries a message a person can act on."""

from __future__ import annotations


class DomainError(Exception):
    """Something the person asked for cannot be done; `message` says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    pass


class NotAllowed(DomainError):
    """The person may not do this (not the owner, not an approver, ...)."""


class InvalidTransition(DomainError):
    """The release is not in a state where this action makes sense."""


class Conflict(DomainError):
    """Another release or request already holds what was asked for."""


class InvalidInput(DomainError):
    """A value the person typed or picked is not acceptable.

    `field` names the input (for inline modal errors) when there is one.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def quoted(text: str, limit: int = 80) -> str:
    """User text inside a message: quoted, cut, and with & < > escaped so that it is shown
    literally wherever the message is displayed (it can never become markup or a ping)."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"“{escaped}”"
