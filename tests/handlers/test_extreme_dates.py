"""Dates at the ends of the calendar (years 1 and 9999, written in a zone that takes them
past it) are refused where they are read, with a clear private answer or a 422: never an
overflow ("Something went wrong", a 500)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.sandbox.slack_standin import FakeSlack
from handlers.slack_kit import ids
from models import fields
from tests.handlers.api.conftest import api, make_token
from tests.support.harness import CHANNEL, OWNER, Harness, ahead, iso

MANAGER = "U_PM"
# Past the ends of the calendar once in UTC, and near them (hours that a zone's offset or
# a local reading takes past them).
PAST_THE_END = ("9999-12-31T23:00-05:00", "0001-01-01T00:30+01:00")


@pytest.fixture
def harness(database_url: str, fake_slack: FakeSlack) -> Iterator[Harness]:
    with Harness(database_url, fake_slack, RELEASEBOT_RELEASE_MANAGERS=MANAGER) as running:
        yield running


def said(harness: Harness, text: str, user_id: str = OWNER) -> str:
    return harness.private_reply(harness.command(text, user_id=user_id))


@pytest.mark.parametrize("since", PAST_THE_END)
def test_the_audit_api_answers_422_for_a_date_past_the_calendar(
    harness: Harness, since: str
) -> None:
    with api(harness, make_token(harness, owner=MANAGER)) as http:
        for name in ("since", "until"):
            answer = http.get("/audit", params={name: since})
            assert answer.status_code == 422, answer.text
            assert answer.json()["error"] == "date_out_of_range"
            assert "years 1 to 9999" in answer.json()["message"]
        # The very ends themselves, in UTC, still read.
        assert http.get("/audit", params={"since": "0001-01-01"}).status_code == 200
        assert http.get("/audit", params={"until": "9999-12-31T23:59Z"}).status_code == 200


@pytest.mark.parametrize("since", PAST_THE_END)
def test_slack_audit_answers_privately_for_a_date_past_the_calendar(
    harness: Harness, since: str
) -> None:
    reply = said(harness, f"audit {since}", MANAGER)
    assert "is out of range" in reply and "Something went wrong" not in reply
    assert harness.slack.files() == []


@pytest.mark.parametrize(
    ("when", "zone"),
    [
        *((w, "UTC") for w in PAST_THE_END),
        ("9999-12-31 23:00", "America/New_York"),
        ("0001-01-01 00:30", "Europe/Berlin"),
        ("dec 31 9999 23:00", "America/New_York"),
        # In UTC, but an hour from the start: shown in New York it would be year 0.
        ("0001-01-01T01:00Z", "America/New_York"),
    ],
)
def test_a_proposal_at_a_time_past_the_calendar_is_refused_privately(
    harness: Harness, when: str, zone: str
) -> None:
    harness.slack.add_user(OWNER, tz=zone)
    reply = said(harness, f"propose payments 1.0.0 {when}")
    assert "is out of range" in reply and "Something went wrong" not in reply, reply
    assert harness.releases() == []


def test_moving_a_release_or_a_freeze_past_the_calendar_is_refused_privately(
    harness: Harness,
) -> None:
    harness.command(f"propose payments 1.0.0 {iso(ahead())}")
    moved = said(harness, f"update payments@1.0.0 when={PAST_THE_END[0]}")
    assert "is out of range" in moved and "Something went wrong" not in moved
    for text in (
        f'freeze add "End" now to {PAST_THE_END[0]}',
        f'freeze add "Start" {PAST_THE_END[1]} to {iso(ahead())}',
    ):
        refused = said(harness, text, MANAGER)
        assert "is out of range" in refused and "Something went wrong" not in refused, text


@pytest.mark.parametrize("epoch", [10**15, -(10**15)])
def test_a_forged_form_time_past_the_calendar_is_answered_on_the_form(
    harness: Harness, epoch: int
) -> None:
    harness.command("propose")
    view = harness.slack.last_view(ids.PROPOSE_FORM)
    response = harness.client.view_submission(
        view, user_id=OWNER, values={"service": "payments", "version": "1.0.0", "when": epoch}
    )
    assert response.status_code == 200
    harness.wait()
    errors = response.json()["errors"]
    assert set(errors) == {fields.FIELD_WHEN}, errors
    assert harness.releases() == []


@pytest.mark.parametrize("field", ["target_at", "committed_at"])
@pytest.mark.parametrize("moment", PAST_THE_END)
def test_the_api_answers_422_for_a_proposal_time_past_the_calendar(
    harness: Harness, field: str, moment: str
) -> None:
    body = {"service": "payments", "version": "1.0.0", "channel": CHANNEL, field: moment}
    answer = api(harness, make_token(harness)).post("/releases", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field
    assert harness.releases() == []
