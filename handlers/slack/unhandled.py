"""Requests no listener matched: acknowledged quietly, logged once per kind.

Bolt answers them 404, which Slack shows the person as an error: for a button on a message
an older version posted, a form opened before a deploy, a command or event subscribed to in
the manifest but not handled here. There is nothing useful to tell the person, so the
request is acked (200, empty: for a view_submission that closes the modal) and logged.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from slack_bolt import BoltResponse

logger = logging.getLogger(__name__)


class UnhandledRequests:
    """Acks unmatched requests; warns once per distinct id for as long as the process runs."""

    def __init__(self, remember: int = 1024) -> None:
        self._remember = remember  # bounds memory; past it, repeats are logged again
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def acknowledge(self, body: dict[str, Any]) -> BoltResponse:
        what = describe(body)
        with self._lock:
            first = what not in self._seen
            if first and len(self._seen) < self._remember:
                self._seen.add(what)
        if first:
            # %r: the ids come from the request, so no newline of theirs reaches the log.
            logger.warning("nothing handles %r; acknowledged it", what[:300])
        return BoltResponse(status=200, body="")


def describe(body: dict[str, Any]) -> str:
    """`block_actions no_such_action`, `command /x`, `event x`...: what went unhandled."""
    if body.get("command"):
        return f"command {body['command']}"
    kind = str(body.get("type") or "request")
    if kind == "event_callback":
        event = _object(body.get("event"))
        return f"event {event.get('type')}" + (
            f" ({event['subtype']})" if event.get("subtype") else ""
        )
    if kind == "block_actions":
        actions = body.get("actions")
        first = _object(actions[0]) if isinstance(actions, list) and actions else {}
        return f"block_actions {first.get('action_id')}"
    if kind in ("view_submission", "view_closed"):
        return f"{kind} {_object(body.get('view')).get('callback_id')}"
    ident = body.get("callback_id") or body.get("action_id")  # shortcuts, suggestions...
    return f"{kind} {ident}" if ident else kind


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
