"""The messages a change owes Slack, on their own: models/outbox.py against a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from models import outbox
from models.db import Database
from models.outbox import (
    FIRST_RETRY,
    GIVE_UP_AFTER,
    MAX_RETRY,
    STALE_CLAIM,
    MessageKind,
    OutboxMessage,
)
from models.release.records import Release
from tests.models.conftest import NewRelease

CARD, CHECKLIST, ANNOUNCEMENT, REPLY = (
    MessageKind.CARD,
    MessageKind.CHECKLIST,
    MessageKind.ANNOUNCEMENT,
    MessageKind.REPLY,
)
T0 = datetime(2027, 1, 10, 9, 0, tzinfo=UTC)


def rows(db: Database, release: Release | None = None) -> list[OutboxMessage]:
    with db.read_session() as session:
        query = select(OutboxMessage).order_by(col(OutboxMessage.id))
        if release is not None:
            query = query.where(OutboxMessage.release_id == release.id)
        return list(session.exec(query))


def owe(
    db: Database,
    release: Release,
    *kinds: MessageKind,
    replies: tuple[str, ...] = (),
    now: datetime = T0,
) -> list[OutboxMessage]:
    with db.session() as session:
        outbox.enqueue(session, release, kinds, replies=replies, now=now)
    return rows(db, release)


def claim(db: Database, message_id: int | None, now: datetime = T0) -> OutboxMessage | None:
    assert message_id is not None
    with db.session() as session:
        return outbox.claim(session, message_id, now)


def get(db: Database, message_id: int | None) -> OutboxMessage:
    with db.read_session() as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        return row


def summary(messages: list[OutboxMessage]) -> list[tuple[str, str, str]]:
    return [(m.kind, m.text, m.status) for m in messages]


# --- enqueue ------------------------------------------------------------------------------


def test_enqueue_owes_each_live_message_and_each_reply(
    db: Database, new_release: NewRelease
) -> None:
    release = new_release()
    owed = owe(db, release, CARD, CHECKLIST, replies=("Bob approved.", "Carol ticked it."))
    assert summary(owed) == [
        ("card", "", "pending"),
        ("checklist", "", "pending"),
        ("reply", "Bob approved.", "pending"),
        ("reply", "Carol ticked it.", "pending"),
    ]
    assert all(m.due_at == T0 and m.attempts == 0 and not m.uncertain for m in owed)


def test_enqueue_coalesces_pending_live_messages_but_never_replies(
    db: Database, new_release: NewRelease
) -> None:
    release = new_release()
    owe(db, release, CARD, replies=("first",))
    owed = owe(db, release, CARD, CHECKLIST, replies=("second",), now=T0 + timedelta(minutes=1))
    assert summary(owed) == [
        ("card", "", "pending"),
        ("reply", "first", "pending"),
        ("checklist", "", "pending"),
        ("reply", "second", "pending"),
    ]
    # The card kept its first due time: coalescing never postpones it.
    assert owed[0].due_at == T0


def test_a_card_being_sent_or_sent_is_owed_again_after_a_change(
    db: Database, new_release: NewRelease
) -> None:
    release = new_release()
    card = owe(db, release, CARD)[0]
    assert claim(db, card.id) is not None  # a sender has it: it may show the old state
    owed = owe(db, release, CARD)
    assert summary(owed) == [("card", "", "sending"), ("card", "", "pending")]
    with db.session() as session:
        outbox.sent(session, owed[0].id or 0)
        outbox.sent(session, owed[1].id or 0)
    assert summary(owe(db, release, CARD))[-1] == ("card", "", "pending")
    assert len(rows(db, release)) == 3


def test_coalescing_is_per_release(db: Database, new_release: NewRelease) -> None:
    first, second = new_release(), new_release()
    owe(db, first, CARD)
    owe(db, second, CARD)
    assert [m.release_id for m in rows(db)] == [first.id, second.id]


# --- what is due --------------------------------------------------------------------------


def test_due_for_release_is_pending_due_and_oldest_first(
    db: Database, new_release: NewRelease
) -> None:
    release, other = new_release(), new_release()
    card, checklist, reply = owe(db, release, CARD, CHECKLIST, replies=("r",))
    owe(db, other, CARD)
    with db.session() as session:
        outbox.retry_later(session, get(db, card.id), T0, "ratelimited", uncertain=False)
    with db.read_session() as session:
        assert outbox.due_for_release(session, release.id or 0, T0) == [checklist.id, reply.id]
        later = T0 + FIRST_RETRY
        assert outbox.due_for_release(session, release.id or 0, later) == [
            card.id,
            checklist.id,
            reply.id,
        ]
        assert outbox.due_for_release(session, release.id or 0, T0 - timedelta(seconds=1)) == []


def test_releases_due_names_each_release_once(db: Database, new_release: NewRelease) -> None:
    first, second, idle = new_release(), new_release(), new_release()
    owe(db, first, CARD, CHECKLIST, replies=("a", "b"))
    owe(db, second, CARD, now=T0 + timedelta(minutes=5))
    sent_card = owe(db, idle, CARD)[0]
    with db.session() as session:
        outbox.sent(session, sent_card.id or 0)
    with db.read_session() as session:
        assert outbox.releases_due(session, T0) == [first.id]
        later = outbox.releases_due(session, T0 + timedelta(minutes=5))
        assert sorted(later) == sorted([first.id or 0, second.id or 0])
        assert len(outbox.releases_due(session, T0 + timedelta(minutes=5), limit=1)) == 1


# --- claim, order, put back ---------------------------------------------------------------


def test_claim_is_exclusive(db: Database, new_release: NewRelease) -> None:
    card = owe(db, new_release(), CARD)[0]
    mine = claim(db, card.id, T0 + timedelta(seconds=2))
    assert mine is not None
    assert (mine.status, mine.attempts, mine.claimed_at) == (
        "sending",
        1,
        T0 + timedelta(seconds=2),
    )
    assert claim(db, card.id) is None  # another process, or the same one twice
    with db.session() as session:
        outbox.sent(session, card.id or 0)
    assert claim(db, card.id) is None  # done
    assert claim(db, 999_999) is None  # gone


def test_claim_sees_the_row_as_written_not_a_stale_copy(
    db: Database, new_release: NewRelease
) -> None:
    card = owe(db, new_release(), CARD)[0]
    with db.session() as session:
        stale = session.get(OutboxMessage, card.id)
        assert stale is not None and stale.status == "pending"
        claimed = outbox.claim(session, card.id or 0, T0)
        assert claimed is stale  # the session's own object, refreshed in place
        assert (claimed.status, claimed.attempts) == ("sending", 1)


def test_pending_before_keeps_a_releases_messages_in_order(
    db: Database, new_release: NewRelease
) -> None:
    release, other = new_release(), new_release()
    other_card = owe(db, other, CARD)[0]
    card, checklist, reply = owe(db, release, CARD, CHECKLIST, replies=("r",))

    def waits(message: OutboxMessage) -> bool:
        with db.read_session() as session:
            return outbox.pending_before(session, get(db, message.id))

    assert waits(card) is False  # the other release's older card doesn't hold it up
    assert waits(checklist) is True and waits(reply) is True
    claim(db, card.id)
    assert waits(checklist) is True  # the card is being sent: still not after it
    with db.session() as session:
        outbox.sent(session, card.id or 0)
    assert waits(checklist) is False and waits(reply) is True
    with db.session() as session:
        outbox.failed(session, checklist.id or 0, "not_in_channel")
    assert waits(reply) is False  # a message that failed for good holds nothing up
    assert waits(other_card) is False


def test_put_back_does_not_count_as_a_try(db: Database, new_release: NewRelease) -> None:
    reply = owe(db, new_release(), replies=("r",))[0]
    claim(db, reply.id)
    with db.session() as session:
        outbox.put_back(session, reply.id or 0)
    row = get(db, reply.id)
    assert (row.status, row.attempts) == ("pending", 0)
    assert claim(db, reply.id) is not None


# --- sent, failed, last content -----------------------------------------------------------


def test_sent_clears_the_doubt_and_keeps_the_digest(db: Database, new_release: NewRelease) -> None:
    card = owe(db, new_release(), CARD)[0]
    claim(db, card.id)
    with db.session() as session:
        outbox.retry_later(session, get(db, card.id), T0, "timeout", uncertain=True)
    claim(db, card.id, T0 + MAX_RETRY)
    with db.session() as session:
        outbox.sent(session, card.id or 0, "digest-1")
    row = get(db, card.id)
    assert (row.status, row.uncertain, row.last_error, row.content) == (
        "sent",
        False,
        "",
        "digest-1",
    )


def test_failed_keeps_a_bounded_error(db: Database, new_release: NewRelease) -> None:
    card = owe(db, new_release(), CARD)[0]
    with db.session() as session:
        outbox.failed(session, card.id or 0, "x" * 600)
    row = get(db, card.id)
    assert (row.status, row.last_error) == ("failed", "x" * 500)


def test_last_content_is_what_the_same_live_message_last_showed(
    db: Database, new_release: NewRelease
) -> None:
    release, other = new_release(), new_release()

    def send(release: Release, kind: MessageKind, content: str) -> OutboxMessage:
        message = owe(db, release, kind)[-1]
        claim(db, message.id)
        with db.session() as session:
            outbox.sent(session, message.id or 0, content)
        return message

    def last(message: OutboxMessage) -> str | None:
        with db.read_session() as session:
            return outbox.last_content(session, get(db, message.id))

    first = send(release, CARD, "card-v1")
    assert last(first) == "card-v1"
    send(release, CARD, "card-v2")
    send(release, CHECKLIST, "checklist-v1")
    send(other, CARD, "other-card")
    pending = owe(db, release, CARD)[-1]
    assert pending.status == "pending"
    assert last(pending) == "card-v2"  # the newest sent card of this release only
    failed_card = get(db, pending.id)
    with db.session() as session:
        outbox.failed(session, pending.id or 0, "x")
    assert last(failed_card) == "card-v2"  # a failed one showed nothing
    fresh = owe(db, new_release(), ANNOUNCEMENT)[-1]
    assert last(fresh) is None  # never sent
    reply = owe(db, release, replies=("r",))[-1]
    assert last(reply) is None  # replies are never compared


def test_keys_name_a_message_in_slack(db: Database, new_release: NewRelease) -> None:
    release = new_release()
    card, reply_one, reply_two = owe(db, release, CARD, replies=("a", "b"))
    assert card.key(release) == f"{release.uid}:card"
    assert reply_one.key(release) == f"{release.uid}:reply:{reply_one.id}"
    assert reply_one.key(release) != reply_two.key(release)


def test_unsent_is_pending_or_being_sent(db: Database, new_release: NewRelease) -> None:
    release = new_release()
    card, checklist, reply = owe(db, release, CARD, CHECKLIST, replies=("r",))
    claim(db, card.id)
    with db.session() as session:
        outbox.sent(session, checklist.id or 0)
        owed = outbox.unsent(session, release.id or 0)
    assert sorted(m.id or 0 for m in owed) == [card.id, reply.id]


# --- retries ------------------------------------------------------------------------------


def retry(
    db: Database, message_id: int | None, now: datetime, error: str = "500", uncertain: bool = False
) -> datetime | None:
    with db.session() as session:
        return outbox.retry_later(session, get(db, message_id), now, error, uncertain=uncertain)


def test_retry_later_backs_off_three_times_longer_each_try_up_to_ten_minutes(
    db: Database, new_release: NewRelease
) -> None:
    card = owe(db, new_release(), CARD)[0]
    now = T0
    pauses = []
    for _ in range(7):
        claimed = claim(db, card.id, now)
        assert claimed is not None
        due = retry(db, card.id, now)
        assert due is not None
        pauses.append(due - now)
        row = get(db, card.id)
        assert (row.status, row.due_at, row.last_error) == ("pending", due, "500")
        now = due
    seconds = [int(p.total_seconds()) for p in pauses]
    assert seconds == [5, 15, 45, 135, 405, 600, 600]
    assert max(pauses) == MAX_RETRY


def test_a_retry_remembers_that_a_post_may_have_arrived(
    db: Database, new_release: NewRelease
) -> None:
    card = owe(db, new_release(), CARD)[0]
    now = T0
    claim(db, card.id, now)
    retry(db, card.id, now, uncertain=True)
    assert get(db, card.id).uncertain is True
    claim(db, card.id, now + MAX_RETRY)
    retry(db, card.id, now + MAX_RETRY, uncertain=False)  # a later refusal doesn't undo it
    assert get(db, card.id).uncertain is True


def test_retry_later_gives_up_after_a_day(db: Database, new_release: NewRelease) -> None:
    card, reply = owe(db, new_release(), CARD, replies=("r",))
    assert card.created_at == T0  # enqueued on the caller's clock, as retries are measured
    created = T0
    # The last try planned is the one that falls on the day's end (never later).
    last_try = created + GIVE_UP_AFTER
    claim(db, card.id, created)
    assert retry(db, card.id, last_try - FIRST_RETRY) == last_try
    claim(db, card.id, last_try)
    assert retry(db, card.id, last_try, "x" * 600) is None
    row = get(db, card.id)
    assert row.status == "failed"
    assert row.last_error.startswith("gave up after 2 tries: xxx") and len(row.last_error) == 500
    assert get(db, reply.id).status == "pending"  # only that message


def test_stale_claims_go_back_to_the_queue_marked_uncertain(
    db: Database, new_release: NewRelease
) -> None:
    release = new_release()
    old, recent, waiting = owe(db, release, CARD, CHECKLIST, replies=("r",))
    claim(db, old.id, T0)
    claim(db, recent.id, T0 + timedelta(minutes=1))
    now = T0 + STALE_CLAIM + timedelta(seconds=30)
    with db.session() as session:
        assert outbox.release_stale_claims(session, now) == 1
    row = get(db, old.id)
    assert (row.status, row.uncertain, row.due_at, row.attempts) == ("pending", True, now, 1)
    assert get(db, recent.id).status == "sending"  # its process may still be at it
    assert get(db, waiting.id).uncertain is False  # never claimed: never in doubt
    with db.session() as session:
        assert outbox.release_stale_claims(session, now) == 0
