"""Sends what the outbox says a release owes Slack: its card, checklist, announcement and
thread replies, rendered from the release as it is when they go out.

No database transaction is open during a Slack call: a message is claimed, the release is
read, Slack is called, and the outcome is recorded, each step on its own. A live message
whose rendering has not changed since it was last sent costs no Slack call.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from sqlmodel import Session

from handlers.deps import Failure
from handlers.rendering.channel_messages import card_blocks, card_text, to_dicts
from handlers.rendering.thread_messages import (
    announcement_blocks,
    announcement_text,
    checklist_blocks,
    checklist_text,
)
from handlers.slack_kit import directory
from handlers.slack_kit.web_api_errors import is_permanent
from models import audit, outbox, webhooks
from models.columns import utcnow
from models.db import Database
from models.outbox import ONE_OFF_MESSAGES, MessageKind, OutboxMessage
from models.release import conflicts, lifecycle, service_records
from models.release.conflicts import WindowConflict
from models.release.queries import ReleaseView, load_view
from models.release.records import Release
from models.release.service_records import TrackRecord
from models.release.visibility import Reader

logger = logging.getLogger(__name__)

METADATA_TYPE = "releasebot_message"


@dataclass(frozen=True)
class Rendered:
    channel: str
    text: str
    blocks: list[Block]
    thread_ts: str | None = None
    ts: str | None = None  # set: update that message; None: post a new one

    def digest(self) -> str:
        content = json.dumps(
            [self.channel, self.thread_ts, self.text, to_dicts(self.blocks)], sort_keys=True
        )
        return hashlib.sha256(content.encode()).hexdigest()[:32]


class MessageSender:
    def __init__(
        self,
        db: Database,
        client: WebClient,
        *,
        announce_channel: str | None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.client = client
        self.announce_channel = announce_channel
        self.clock = clock

    # --- what callers use ---------------------------------------------------------------

    def flush(self, release_id: int) -> list[Failure]:
        """Send what is due for one release now, in order; the failures, if any."""
        failures: list[Failure] = []
        tried: set[int] = set()
        while True:  # sending one may owe another (the announcement's note in the thread)
            with self.db.read_session() as session:
                due = [
                    i
                    for i in outbox.due_for_release(session, release_id, self.clock())
                    if i not in tried
                ]
            if not due:
                return failures
            for message_id in due:
                tried.add(message_id)
                failure = self._send_one(message_id)
                if failure is not None:
                    failures.append(failure)

    def deliver_due(self) -> int:
        """Every release's due messages (retries, leftovers): the scheduler's sweep."""
        now = self.clock()
        with self.db.session() as session:
            stale = outbox.release_stale_claims(session, now)
        if stale:
            logger.warning("%d messages were interrupted mid-send; looking before resending", stale)
        with self.db.read_session() as session:
            release_ids = outbox.releases_due(session, now)
        failed = 0
        for release_id in release_ids:
            failed += len(self.flush(release_id))
        return failed

    # --- one message --------------------------------------------------------------------

    def _send_one(self, message_id: int) -> Failure | None:
        now = self.clock()
        with self.db.session() as session:
            message = outbox.claim(session, message_id, now)
            if message is None:
                return None
            if outbox.pending_before(session, message):
                outbox.put_back(session, message_id)  # an older one (its card?) goes first
                return None
        with self.db.read_session() as session:
            release = session.get(Release, message.release_id)
            view = load_view(session, release) if release is not None else None
            last_sent = outbox.last_content(session, message)
            # The card shows the service's track record (a few aggregates), read here,
            # after the ack, with the card.
            record, calendar = None, []
            if release is not None and message.message_kind == MessageKind.CARD:
                record = service_records.track_record(session, release)
                # Its window's conflicts, as the card's channel may read them.
                calendar = conflicts.find(session, release, Reader.members_of(release.channel_id))
        if view is None:
            return None
        try:
            content = self._send(message, view, last_sent, record, calendar)
        except Exception as error:
            return self._failed(message, view, error, now)
        with self.db.session() as session:
            outbox.sent(session, message_id, content)
        return None

    def _send(
        self,
        message: OutboxMessage,
        view: ReleaseView,
        last_sent: str | None,
        record: TrackRecord | None = None,
        calendar: Sequence[WindowConflict] = (),
    ) -> str:
        """Post or update; returns the content's digest, kept to spare unchanged updates."""
        rendered = self._render(message, view, record, calendar)
        if rendered is None:
            return ""  # nothing to show (no checklist) or nowhere to show it yet
        digest = rendered.digest()
        if rendered.ts is not None:
            if digest == last_sent:
                return digest  # unchanged since it was last sent: no Slack call
            self.client.chat_update(
                channel=rendered.channel,
                ts=rendered.ts,
                text=rendered.text,
                blocks=to_dicts(rendered.blocks),
            )
            return digest
        key = message.key(view.release)
        ts = self._find_posted(message, rendered, key) if message.uncertain else None
        if ts is None:
            ts = self._post(rendered, key)
        self._record_post(message, view.release, rendered, ts)
        return digest

    def _post(self, rendered: Rendered, key: str) -> str:
        response = self.client.chat_postMessage(
            channel=rendered.channel,
            thread_ts=rendered.thread_ts,
            text=rendered.text,
            blocks=to_dicts(rendered.blocks) if rendered.blocks else None,
            unfurl_links=False,
            metadata={"event_type": METADATA_TYPE, "event_payload": {"key": key}},
        )
        return str(response["ts"])

    def _find_posted(self, message: OutboxMessage, rendered: Rendered, key: str) -> str | None:
        """A post whose answer we never heard may have reached Slack: find it by its key,
        among the messages since it was owed (an hour's margin for clocks that differ)."""
        channel = rendered.channel
        if message.message_kind == MessageKind.DIRECT:
            # A direct message is posted to the person; its history is their IM channel's.
            channel = str(self.client.conversations_open(users=channel)["channel"]["id"])
        if rendered.thread_ts:
            response = self.client.conversations_replies(
                channel=rendered.channel,
                ts=rendered.thread_ts,
                include_all_metadata=True,
                limit=200,
            )
        else:
            oldest = (message.created_at - timedelta(hours=1)).timestamp()
            response = self.client.conversations_history(
                channel=channel,
                oldest=f"{oldest:.6f}",
                include_all_metadata=True,
                limit=200,
            )
        for found in response.get("messages") or []:
            payload = (found.get("metadata") or {}).get("event_payload") or {}
            if payload.get("key") == key:
                logger.info("found %s already posted as %s", key, found.get("ts"))
                return str(found["ts"])
        return None

    def _record_post(
        self, message: OutboxMessage, release: Release, rendered: Rendered, ts: str
    ) -> None:
        kind = message.message_kind
        if kind in ONE_OFF_MESSAGES:
            return
        permalink = self._permalink(rendered.channel, ts) if kind != MessageKind.CHECKLIST else None
        with self.db.session() as session:
            row = session.get(Release, release.id, populate_existing=True)
            assert row is not None
            if kind == MessageKind.CARD:
                row.message_ts, row.permalink = ts, permalink
            elif kind == MessageKind.CHECKLIST:
                row.checklist_ts = ts
            else:
                row.announcement_channel, row.announcement_ts = rendered.channel, ts
                where = f"<{permalink}|announced>" if permalink else "announced"
                outbox.enqueue(
                    session,
                    row,
                    (),
                    replies=(f":mega: The rollout is {where} in <#{rendered.channel}>.",),
                    now=self.clock(),
                )
            session.add(row)

    def _permalink(self, channel: str, ts: str) -> str | None:
        try:
            return str(self.client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
        except SlackApiError as exc:
            logger.warning("no permalink for %s/%s: %s", channel, ts, exc.response.get("error"))
            return None

    # --- rendering ----------------------------------------------------------------------

    def _render(
        self,
        message: OutboxMessage,
        view: ReleaseView,
        record: TrackRecord | None = None,
        calendar: Sequence[WindowConflict] = (),
    ) -> Rendered | None:
        release = view.release
        kind = message.message_kind
        if kind == MessageKind.CARD:
            # Sign-offs nobody left can give are said on the card (Slack knows the groups).
            blocks = card_blocks(view, directory.unsignable(self.client, view), record, calendar)
            return Rendered(release.channel_id, card_text(view), blocks, ts=release.message_ts)
        if kind == MessageKind.ANNOUNCEMENT:
            channel = release.announcement_channel or self.announcement_channel(release)
            return Rendered(
                channel,
                announcement_text(release),
                announcement_blocks(release),
                ts=release.announcement_ts,
            )
        if kind == MessageKind.DIRECT:
            return Rendered(message.recipient, message.text, [])
        if not release.message_ts:
            return None  # the card never went out (it failed for good): no thread
        if kind == MessageKind.CHECKLIST:
            if not view.checklist:
                return None
            return Rendered(
                release.channel_id,
                checklist_text(view),
                checklist_blocks(view),
                thread_ts=release.message_ts,
                ts=release.checklist_ts,
            )
        return Rendered(release.channel_id, message.text, [], thread_ts=release.message_ts)

    def announcement_channel(self, release: Release) -> str:
        # A private release is announced where it lives, never in a wider channel.
        if release.private:
            return release.channel_id
        # The policy's channel it was proposed under; older releases: the settings'.
        return release.announce_to or self.announce_channel or release.channel_id

    # --- failures -----------------------------------------------------------------------

    def _failed(
        self, message: OutboxMessage, view: ReleaseView, error: Exception, now: datetime
    ) -> Failure:
        assert message.id is not None
        code = (
            str(error.response.get("error", "unknown"))
            if isinstance(error, SlackApiError)
            else type(error).__name__
        )
        permanent = is_permanent(code)
        kind = message.message_kind
        # A post that failed in transit may have arrived: look for it before posting again.
        posting = self._render_target_missing(message, view)
        if permanent:
            logger.error("%s of %s refused for good: %s", kind, view.release.ref, code)
            with self.db.session() as session:
                outbox.failed(session, message.id, code)
                if kind == MessageKind.CARD and posting:
                    self._withdraw(session, view.release, code, now)
        else:
            with self.db.session() as session:
                retry_at = outbox.retry_later(
                    session, message, now, code, uncertain=posting and not _refused(error)
                )
            logger.warning(
                "%s of %s failed (%s); retry at %s", kind, view.release.ref, code, retry_at
            )
        return Failure(kind, code, permanent, error)

    @staticmethod
    def _withdraw(session: Session, release: Release, code: str, now: datetime) -> None:
        """Its card can't be posted, ever: the lifecycle withdraws it if it still may;
        a cancellation's webhooks are owed (the sweep sends them)."""
        assert release.id is not None
        if lifecycle.withdraw_unseen(session, release.id, code, now):
            cancelled = session.get(Release, release.id)
            assert cancelled is not None
            webhooks.owe(session, cancelled, audit.take_recorded(session, release.id), now=now)

    @staticmethod
    def _render_target_missing(message: OutboxMessage, view: ReleaseView) -> bool:
        """Whether this message was a new post (not an update of one already there)."""
        release = view.release
        return {
            MessageKind.CARD: release.message_ts,
            MessageKind.CHECKLIST: release.checklist_ts,
            MessageKind.ANNOUNCEMENT: release.announcement_ts,
            MessageKind.REPLY: None,
            MessageKind.DIRECT: None,
        }[message.message_kind] is None


def _refused(error: Exception) -> bool:
    """Slack answered (an error it returned): the message was certainly not posted."""
    return isinstance(error, SlackApiError)
