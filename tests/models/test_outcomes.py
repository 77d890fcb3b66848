"""Each finished release's outcome rows (models/release/outcomes.py): written at the commit
that finishes it, worked out again when its rows change, the same as a full rebuild."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from models.audit import AuditEvent
from models.db import Database
from models.release import outcomes
from models.release.outcomes import ReleaseOutcome, SignOffOutcome
from models.release.records import Release, ReleaseStatus
from tests.support.release_history import History

R = ReleaseStatus
H = 3600.0


def approx(value: float | None) -> object:
    return pytest.approx(value, abs=0.01)


PROPOSED = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)  # a Tuesday


def rows(db: Database) -> tuple[list[ReleaseOutcome], list[SignOffOutcome]]:
    with db.read_session() as session:
        return (
            list(session.exec(select(ReleaseOutcome).order_by(col(ReleaseOutcome.release_id)))),
            list(
                session.exec(
                    select(SignOffOutcome).order_by(
                        col(SignOffOutcome.release_id), col(SignOffOutcome.position)
                    )
                )
            ),
        )


def write_history(db: Database) -> dict[str, int]:
    with db.session() as session:
        h = History(session)
        released = h.release(
            "payments@1.0",
            proposed=PROPOSED,
            outcome=R.RELEASED,
            ended=PROPOSED + timedelta(hours=3),
            target=PROPOSED + timedelta(hours=2, minutes=30),  # window to 3:30 h: on time
            committed=PROPOSED - timedelta(hours=24),
            sign_offs=[("U_QA", "", 1), ("S_QA", "qa", 2), ("U_LATE", "", None)],
        )
        rolled_back = h.release(
            "payments@1.1",
            proposed=PROPOSED,
            outcome=R.ROLLED_BACK,
            ended=[PROPOSED + timedelta(hours=5), PROPOSED + timedelta(hours=6)],
            sign_offs=[("U_QA", "", 0.5)],
        )
        no_go = h.release(
            "payments@1.2",
            proposed=PROPOSED,
            outcome=R.NO_GO,
            ended=PROPOSED + timedelta(hours=4),
            sign_offs=[("U_QA", "", 1)],
            is_fix=True,
            fixes=released,
        )
        in_flight = h.release("payments@1.3", proposed=PROPOSED, outcome=R.APPROVED, ended=PROPOSED)
    ids = (released.id, rolled_back.id, no_go.id, in_flight.id)
    return dict(zip(("released", "rolled_back", "no_go", "in_flight"), ids, strict=True))  # type: ignore[arg-type]


def test_each_finished_release_gets_its_outcome_and_durations(db: Database) -> None:
    ids = write_history(db)
    found, sign_offs = rows(db)
    by_id = {row.release_id: row for row in found}
    assert set(by_id) == {ids["released"], ids["rolled_back"], ids["no_go"]}  # not in flight

    released = by_id[ids["released"]]
    assert (released.outcome, released.ended_at) == ("released", PROPOSED + timedelta(hours=3))
    # (SQLite's julianday keeps times to about a millisecond.)
    assert released.lead_s == approx(3 * H) and released.commit_lead_s == approx(27 * H)
    assert released.sign_off_s == approx(2 * H) and released.on_time is True
    # Weeks from Monday 5 January 1970: the Monday of 10 November 2026 starts this one.
    monday = datetime(2026, 11, 9, tzinfo=UTC)
    assert released.week * 7 * 86400 + 4 * 86400 == monday.timestamp()

    rolled_back = by_id[ids["rolled_back"]]
    assert rolled_back.ended_at == PROPOSED + timedelta(hours=5)  # its first rollback
    assert (rolled_back.lead_s, rolled_back.commit_lead_s) == (None, None)
    assert rolled_back.sign_off_s == approx(0.5 * H) and rolled_back.on_time is False

    no_go = by_id[ids["no_go"]]
    assert no_go.sign_off_s is None  # never went out: its sign-offs are not waits
    assert no_go.is_fix and no_go.fixes_release_id == ids["released"]

    # Approved sign-offs of the releases that went out, never a pending one.
    assert [(s.release_id, s.approver, approx(s.wait_s)) for s in sign_offs] == [
        (ids["released"], "user:U_QA", 1 * H),
        (ids["released"], "usergroup:S_QA", 2 * H),
        (ids["rolled_back"], "user:U_QA", 0.5 * H),
    ]


def test_a_change_to_a_finished_release_is_worked_out_again(db: Database) -> None:
    ids = write_history(db)
    later = PROPOSED + timedelta(days=1)
    with db.session() as session:
        # The no-go is asked again: back in flight, it has no outcome.
        no_go = session.get(Release, ids["no_go"])
        assert no_go is not None
        no_go.status = R.APPROVED.value
        # The one in flight is cancelled: its cancellation's time is its outcome's.
        in_flight = session.get(Release, ids["in_flight"])
        assert in_flight is not None
        in_flight.status = R.CANCELLED.value
        session.add(
            AuditEvent(
                team_id="T1",
                release_id=ids["in_flight"],
                actor_id="U_OWNER",
                action="cancelled",
                at=later,
            )
        )
    found, _ = rows(db)
    by_id = {row.release_id: row for row in found}
    assert ids["no_go"] not in by_id
    assert (by_id[ids["in_flight"]].outcome, by_id[ids["in_flight"]].ended_at) == (
        "cancelled",
        later,
    )


def test_a_rolled_back_transaction_changes_nothing(db: Database) -> None:
    ids = write_history(db)
    before = rows(db)
    try:
        with db.session() as session:
            release = session.get(Release, ids["released"])
            assert release is not None
            release.status = R.APPROVED.value
            session.flush()
            raise RuntimeError("the change fails")
    except RuntimeError:
        pass
    with db.session() as session:  # the next commit works out nothing it did not touch
        session.add(AuditEvent(team_id="T1", actor_id="U_OWNER", action="noted", at=PROPOSED))
    assert rows(db) == before


def test_a_rebuild_finds_what_the_commits_kept(db: Database) -> None:
    write_history(db)
    kept = rows(db)
    with db.session() as session:
        outcomes.rebuild(session)
    assert rows(db) == kept
    assert kept[0] and kept[1]


def test_a_change_made_with_core_is_worked_out_when_touched(db: Database) -> None:
    ids = write_history(db)
    with db.session() as session:
        session.execute(
            update(Release).where(col(Release.id) == ids["no_go"]).values(fixes_release_id=None)
        )
        outcomes.touch(session, [ids["no_go"]])
    found, _ = rows(db)
    assert [r.fixes_release_id for r in found if r.release_id == ids["no_go"]] == [None]
