"""What the Slack stand-in keeps for the sandbox: each person's modals (views.open, push,
update and the answers to a submission), command replies, and change notifications."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox.slack_standin import Call, FakeSlack


def modal(title: str, block_id: str = "name") -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "cb",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Save"},
        "blocks": [
            {
                "type": "input",
                "block_id": block_id,
                "label": {"type": "plain_text", "text": "Name"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            }
        ],
    }


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def web(slack: FakeSlack) -> WebClient:
    return WebClient(token=slack.token, base_url=slack.api_url)


def titles(slack: FakeSlack, user: str) -> list[str]:
    return [v["title"]["text"] for v in slack.modal_stack(user)]


def test_modals_belong_to_whoever_was_given_the_trigger(slack: FakeSlack, web: WebClient) -> None:
    web.views_open(trigger_id=slack.issue_trigger("U_QA"), view=modal("First"))
    web.views_push(trigger_id=slack.issue_trigger("U_QA"), view=modal("Second"))
    web.views_open(trigger_id=slack.issue_trigger("U_PM"), view=modal("Other"))
    assert titles(slack, "U_QA") == ["First", "Second"]
    assert titles(slack, "U_PM") == ["Other"]
    [first, second] = slack.modal_stack("U_QA")
    assert second["previous_view_id"] == first["id"]
    assert second["root_view_id"] == first["id"]

    web.views_update(view_id=second["id"], view=modal("Second, updated"))
    assert titles(slack, "U_QA") == ["First", "Second, updated"]

    web.views_push(trigger_id=slack.issue_trigger("U_QA"), view=modal("Third"))
    with pytest.raises(SlackApiError, match="push_limit_reached"):
        web.views_push(trigger_id=slack.issue_trigger("U_QA"), view=modal("Fourth"))

    slack.close_modal("U_QA", second["id"])  # and what was pushed on it
    assert titles(slack, "U_QA") == ["First"]
    slack.close_modal("U_PM", "V_NOT_THEIRS")
    assert titles(slack, "U_PM") == ["Other"]
    slack.close_modal("U_PM", "V_NOT_THEIRS", clear=True)
    assert titles(slack, "U_PM") == []


def test_the_answer_to_a_submission_is_carried_out(slack: FakeSlack, web: WebClient) -> None:
    view = web.views_open(trigger_id=slack.issue_trigger("U_QA"), view=modal("Form"))["view"]
    view_id = view["id"]

    errors = slack.apply_submission_response(
        "U_QA", view_id, {"response_action": "errors", "errors": {"name": "Too short"}}
    )
    assert errors == {"name": "Too short"}
    assert titles(slack, "U_QA") == ["Form"]

    update = {"response_action": "update", "view": modal("Step two")}
    assert slack.apply_submission_response("U_QA", view_id, update) == {}
    assert titles(slack, "U_QA") == ["Step two"]
    assert slack.modal_stack("U_QA")[0]["id"] == view_id

    push = {"response_action": "push", "view": modal("Step three")}
    slack.apply_submission_response("U_QA", view_id, push)
    assert titles(slack, "U_QA") == ["Step two", "Step three"]

    top = slack.modal_stack("U_QA")[-1]["id"]
    slack.apply_submission_response("U_QA", top, {})  # a plain ack closes that view
    assert titles(slack, "U_QA") == ["Step two"]
    slack.apply_submission_response("U_QA", view_id, {"response_action": "clear"})
    assert titles(slack, "U_QA") == []
    assert not [c for c in slack.calls() if c.refused]


@pytest.mark.parametrize(
    "answer",
    [
        {"response_action": "errors", "errors": {"not_an_input": "x"}},
        {"response_action": "update", "view": {**modal("x"), "blocks": []}},
        {"response_action": "push", "view": modal("A title far longer than Slack allows")},
        {"response_action": "explode"},
    ],
)
def test_an_answer_slack_would_refuse_is_refused(
    slack: FakeSlack, web: WebClient, answer: dict[str, Any]
) -> None:
    view = web.views_open(trigger_id=slack.issue_trigger("U_QA"), view=modal("Form"))["view"]
    assert slack.apply_submission_response("U_QA", view["id"], answer) == {}
    assert titles(slack, "U_QA") == ["Form"]  # unchanged
    [refused] = [c for c in slack.calls() if c.refused]
    assert refused.method == "response_action"


def test_a_commands_reply_is_private_unless_in_channel(slack: FakeSlack) -> None:
    slack.reply_to_command("C_RELEASES", "U_QA", {"text": "only you"})
    slack.reply_to_command("C_RELEASES", "U_QA", {"text": "all", "response_type": "in_channel"})
    [private] = slack.ephemerals("C_RELEASES")
    assert (private["user"], private["message"]["text"]) == ("U_QA", "only you")
    assert [m["text"] for m in slack.messages("C_RELEASES")] == ["all"]
    ts = private["message"]["ts"]
    assert slack.find_message("C_RELEASES", ts, user_id="U_QA") is not None
    assert slack.find_message("C_RELEASES", ts, user_id="U_PM") is None  # not theirs to see


def test_listeners_hear_every_call(slack: FakeSlack, web: WebClient) -> None:
    heard: list[Call] = []
    slack.add_listener(heard.append)
    web.chat_postMessage(channel="C_RELEASES", text="hello")
    with pytest.raises(SlackApiError):
        web.chat_postMessage(channel="C_RELEASES", text="x", blocks=[{"type": "nonsense"}])
    assert [(c.method, c.refused) for c in heard] == [
        ("chat.postMessage", False),
        ("chat.postMessage", True),
    ]


def test_the_directory_lists_channels_with_their_members(slack: FakeSlack) -> None:
    slack.add_channel("G_SECRET", "secret", is_private=True)
    slack.set_channel_members("G_SECRET", ["U_QA"])
    [channel] = slack.channel_directory()
    assert (channel["name"], channel["is_private"], channel["members"]) == (
        "secret",
        True,
        ["U_QA"],
    )
    assert {g["handle"] for g in slack.usergroups()} == {"qa"}
    assert "U_OWNER" in {p["id"] for p in slack.people()}
