"""`/release propose` with no text opens a form; invalid fields are answered on the form."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from handlers.slack_kit import ids
from models import fields
from models.release.records import ReleaseStatus
from tests.support.harness import CHANNEL, Harness, ahead, rendered_text


def open_form(harness: Harness) -> dict:
    response = harness.command("propose")
    assert response.content in (b"", b"{}") or not response.json().get("text")
    view = harness.slack.last_view(ids.PROPOSE_FORM)
    assert json.loads(view["private_metadata"])["channel_id"] == CHANNEL
    return view


def submit(harness: Harness, view: dict, user_id: str = "U_OWNER", **values: object):
    response = harness.client.view_submission(view, user_id=user_id, values=values)
    assert response.status_code == 200
    harness.wait()
    return response


def test_the_form_proposes_a_release(harness: Harness) -> None:
    view = open_form(harness)
    when = ahead(days=4)
    response = submit(
        harness,
        view,
        service="checkout",
        version="3.1.0",
        when=int(when.timestamp()),
        approvers=["U_QA", "U_PM"],
        approver_groups="@qa",
        rollout="25,100",
        notes="Runbook: https://wiki.example.com/checkout",
    )
    assert not response.content or "errors" not in response.json()
    [release] = harness.releases()
    assert (release.service, release.version, release.target_at) == ("checkout", "3.1.0", when)
    assert release.rollout_stages == "25,100"
    assert release.channel_id == CHANNEL
    assert release.status == ReleaseStatus.PROPOSED
    card = rendered_text(harness.card(release))
    assert "<@U_QA>" in card and "<@U_PM>" in card and "<!subteam^S_QA>" in card


def test_invalid_fields_are_answered_inline_on_the_form(harness: Harness) -> None:
    view = open_form(harness)
    response = submit(
        harness,
        view,
        service="bad service!",
        version="1.0",
        when=int(datetime(2020, 1, 1, tzinfo=UTC).timestamp()),
        approvers=["U_OWNER"],
        approver_groups="@nosuchgroup",
        rollout="50,10",
    )
    body = response.json()
    assert body["response_action"] == "errors"
    errors = body["errors"]
    assert set(errors) == {
        fields.FIELD_SERVICE,
        fields.FIELD_WHEN,
        fields.FIELD_APPROVERS,
        fields.FIELD_GROUPS,
        fields.FIELD_ROLLOUT,
    }
    assert "in the past" in errors[fields.FIELD_WHEN]
    assert "own release" in errors[fields.FIELD_APPROVERS]
    # every error key names a block that is on the form, as Slack requires
    block_ids = {b.get("block_id") for b in view["blocks"]}
    assert set(errors) <= block_ids
    assert harness.releases() == []
    assert harness.slack.calls("chat.postMessage") == []


def test_a_duplicate_is_answered_next_to_the_version(harness: Harness) -> None:
    harness.command(f"propose checkout 3.1.0 {ahead():%Y-%m-%dT%H:%MZ}")
    view = open_form(harness)
    body = submit(
        harness, view, service="checkout", version="3.1.0", when=int(ahead(days=3).timestamp())
    ).json()
    assert "checkout@3.1.0 already exists" in body["errors"][fields.FIELD_VERSION]
    assert len(harness.releases()) == 1


def test_a_retried_submission_creates_one_release(harness: Harness) -> None:
    view = open_form(harness)
    values = {"service": "checkout", "version": "3.1.0", "when": int(ahead().timestamp())}
    first = harness.client.view_submission(view, user_id="U_OWNER", values=values)
    retry = harness.client.view_submission(view, user_id="U_OWNER", values=values, retry_num=1)
    harness.wait()
    assert first.status_code == retry.status_code == 200
    assert len(harness.releases()) == 1
    assert harness.cards_posted() == 1


def test_form_errors_are_plain_text_as_slack_shows_them(harness: Harness) -> None:
    # Slack shows a form's errors as plain text: no entities, mentions or links markup.
    harness.slack.add_user("U_GONE", name="gone", deleted=True)
    harness.command(f"propose checkout 3.1.0 {ahead():%Y-%m-%dT%H:%MZ}")
    view = open_form(harness)
    errors = submit(
        harness,
        view,
        service="bad<&>",
        version="3.1.0",
        when=int(ahead(days=3).timestamp()),
        approvers=["U_GONE"],
    ).json()["errors"]
    assert "“bad<&>” is not a service name" in errors[fields.FIELD_SERVICE]
    assert errors[fields.FIELD_APPROVERS].startswith("@U_GONE is deactivated")
    view = open_form(harness)
    errors = submit(
        harness, view, service="checkout", version="3.1.0", when=int(ahead(days=3).timestamp())
    ).json()["errors"]
    [release] = harness.releases()
    assert (
        f"checkout@3.1.0 already exists (approved) {release.permalink}."
        in (errors[fields.FIELD_VERSION])
    )
    for error in errors.values():
        assert not any(markup in error for markup in ("&lt;", "&amp;", "<@", "<http"))
