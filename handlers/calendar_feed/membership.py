"""Whether a calendar feed's person is in the channel the feed is filtered by.

Being in a private channel is what shows its private releases in the channel's feed, and
people leave channels, so the feed asks Slack again; but calendar apps poll far more often
than membership changes, and conversations.members is rate-limited: each answer is kept
for a few minutes per (workspace, channel, person), in this process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_sdk import WebClient

from handlers.slack_kit import directory

MEMBERSHIP_TTL = timedelta(minutes=5)
# When Slack did not answer: "not a member" (the safe side), asked again sooner.
UNANSWERED_TTL = timedelta(minutes=1)
# The Slack question runs on a feed thread: a short timeout and no waiting out a 429.
SLACK_TIMEOUT = 5

Ask = Callable[[str, str], bool | None]  # (channel, person) -> member? (None: no answer)
_Key = tuple[str, str, str]  # team, channel, person


@dataclass(frozen=True)
class Membership:
    member: bool
    # When this process first saw this answer: the feed's Last-Modified must not be
    # earlier, or a client asking If-Modified-Since would miss what joining or leaving
    # changed (rows appear or vanish without any release being updated).
    since: datetime


@dataclass(frozen=True)
class _Entry:
    membership: Membership
    valid_until: datetime


class ChannelMembership:
    def __init__(
        self,
        ask: Ask,
        *,
        ttl: timedelta = MEMBERSHIP_TTL,
        unanswered_ttl: timedelta = UNANSWERED_TTL,
        size: int = 10_000,
    ) -> None:
        self._ask = ask
        self.ttl = ttl
        self.unanswered_ttl = unanswered_ttl
        self.size = size
        self._entries: dict[_Key, _Entry] = {}
        self._lock = threading.Lock()

    def cached(
        self, team_id: str, channel_id: str, user_id: str, now: datetime
    ) -> Membership | None:
        """The remembered answer while it is fresh, else None (without asking Slack)."""
        with self._lock:
            entry = self._entries.get((team_id, channel_id, user_id))
        if entry is None or now >= entry.valid_until:
            return None
        return entry.membership

    def check(self, team_id: str, channel_id: str, user_id: str, now: datetime) -> Membership:
        """Asks Slack (blocking; call it outside any database session) and remembers."""
        answer = self._ask(channel_id, user_id)
        member = answer is True
        key = (team_id, channel_id, user_id)
        with self._lock:
            previous = self._entries.get(key)
            if previous is not None and previous.membership.member == member:
                membership = previous.membership  # unchanged: keeps its `since`
            else:
                membership = Membership(member, since=now)
            if len(self._entries) >= self.size and key not in self._entries:
                self._entries.clear()  # rare; only costs a question to Slack per person
            ttl = self.ttl if answer is not None else self.unanswered_ttl
            self._entries[key] = _Entry(membership, now + ttl)
        return membership


def slack_membership(client: WebClient) -> ChannelMembership:
    """Membership asked of the bot's Slack workspace, with a client of its own: the bot's
    client waits out rate limits (Retry-After) and retries, which would hold one of the
    few feed threads; here an unanswered question is simply "not a member" for a minute."""
    quick = WebClient(
        token=client.token, base_url=client.base_url, timeout=SLACK_TIMEOUT, retry_handlers=[]
    )
    return ChannelMembership(
        lambda channel_id, user_id: directory.is_channel_member(quick, channel_id, user_id)
    )
