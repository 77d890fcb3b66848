"""May this reader see this release: the one rule every surface asks.

A release proposed in a private channel or a DM is private: it shows to its owner and
its approvers, and to the members of its channel; a release that is not private shows to
everyone in its workspace. A reader who is nobody in Slack (an API token, a shared
calendar link, a webhook's or GitHub's receiver) is `PUBLIC_READER`: nobody's membership
can be checked outside Slack, so it sees public releases only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, or_
from sqlmodel import Session, col, select

from models.release.records import Approver, Release


@dataclass(frozen=True)
class Reader:
    """Who reads: a person (`user_id`, "" for no one person) and the channels whose
    members they are (where a slash command is typed, a channel feed's channel while its
    person is in it, a card's channel for everyone reading it)."""

    user_id: str = ""
    channel_ids: frozenset[str] = frozenset()

    @classmethod
    def person(cls, user_id: str, channel_id: str | None = None) -> Reader:
        return cls(user_id, frozenset({channel_id}) if channel_id else frozenset())

    @classmethod
    def members_of(cls, channel_id: str | None) -> Reader:
        """Everyone in the channel, nobody in particular: what a message posted there
        (a card, its thread, the channel's figures) may show. No channel: the public."""
        return cls("", frozenset({channel_id}) if channel_id else frozenset())


# Nobody, in no channel: public releases only.
PUBLIC_READER = Reader()


def shown_to(reader: Reader, rows: Any = Release) -> ColumnElement[bool]:
    """The SQL condition: the rows `reader` may see. `rows`: `Release`, or a table copying
    its `private` and `channel_id` (the outcome rows), which only readers who are no one
    person (`members_of`, `PUBLIC_READER`) read."""
    shown: list[ColumnElement[bool]] = [col(rows.private).is_(False)]
    if reader.channel_ids:
        shown.append(col(rows.channel_id).in_(sorted(reader.channel_ids)))
    if reader.user_id:
        approves = (
            select(Approver.id)
            .where(col(Approver.release_id) == col(rows.id), Approver.slack_id == reader.user_id)
            .correlate_except(Approver)  # also inside queries that select approvers themselves
            .exists()
        )
        shown += [col(rows.owner_id) == reader.user_id, approves]
    return or_(*shown)


def may_see(session: Session, release: Release, reader: Reader) -> bool:
    """`shown_to`, for one release already loaded."""
    if not release.private or release.channel_id in reader.channel_ids:
        return True
    if not reader.user_id:
        return False
    if reader.user_id == release.owner_id:
        return True
    approves = select(Approver.id).where(
        Approver.release_id == release.id, Approver.slack_id == reader.user_id
    )
    return session.exec(approves).first() is not None
