"""`Refused`: input a handler found wrong and worded itself, where it found it."""

from __future__ import annotations

from models.errors import InvalidInput


class Refused(InvalidInput):
    """Input a handler found wrong and worded itself: `message` is mrkdwn, user text in
    it already escaped. `field` names the form input it is about, when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__("refused", field=field)
        self.message = message

    def __str__(self) -> str:
        return self.message
