"""People's display names for the calendar page, asked of Slack once and then kept.

A page names each release's owner and approvers; asking users.info for each on every page
load would cost a Slack call per person per view (and users.info is rate-limited). Names
are kept per (workspace, person) for `ttl`; a page load asks only for the people it has
not seen lately, all at once, and at most `max_asks` of them (the rest show as their id
until a later load). A person Slack could not name is asked again after `unanswered_ttl`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from slack_sdk import WebClient

from handlers.slack_kit import directory

NAME_TTL = timedelta(hours=6)
UNANSWERED_TTL = timedelta(minutes=5)
MAX_ASKS = 40
SLACK_TIMEOUT = 5

Ask = Callable[[str], str | None]  # person -> name (None: Slack did not say)


class DisplayNames:
    def __init__(
        self,
        ask: Ask,
        *,
        ttl: timedelta = NAME_TTL,
        unanswered_ttl: timedelta = UNANSWERED_TTL,
        max_asks: int = MAX_ASKS,
        size: int = 20_000,
    ) -> None:
        self._ask = ask
        self.ttl = ttl
        self.unanswered_ttl = unanswered_ttl
        self.max_asks = max_asks
        self.size = size
        self._entries: dict[tuple[str, str], tuple[str | None, datetime]] = {}
        self._lock = threading.Lock()

    def names(self, team_id: str, user_ids: Iterable[str], now: datetime) -> dict[str, str]:
        """Blocking (call it off the event loop, outside any database session): each
        person's name; those Slack did not name map to their id."""
        wanted = list(dict.fromkeys(user_ids))
        found: dict[str, str] = {}
        missing: list[str] = []
        with self._lock:
            for user_id in wanted:
                entry = self._entries.get((team_id, user_id))
                if entry is not None and now < entry[1]:
                    found[user_id] = entry[0] or user_id
                else:
                    missing.append(user_id)
        asked = missing[: self.max_asks]
        if asked:
            with ThreadPoolExecutor(max_workers=min(8, len(asked))) as pool:
                answers = list(pool.map(self._ask, asked))
            with self._lock:
                if len(self._entries) + len(asked) > self.size:
                    self._entries.clear()
                for user_id, name in zip(asked, answers, strict=True):
                    ttl = self.ttl if name else self.unanswered_ttl
                    self._entries[(team_id, user_id)] = (name, now + ttl)
                    found[user_id] = name or user_id
        for user_id in missing[self.max_asks :]:
            found[user_id] = user_id
        return found


def slack_display_names(client: WebClient) -> DisplayNames:
    """Names asked of the bot's workspace with a quick client of its own (no waiting out
    a 429 on a page load: an unanswered person shows as their id for a few minutes)."""
    quick = WebClient(
        token=client.token, base_url=client.base_url, timeout=SLACK_TIMEOUT, retry_handlers=[]
    )
    return DisplayNames(lambda user_id: directory.display_name(quick, user_id))
