"""Tests of the test harness itself: FakeSlack, SignedSlackClient, and the check that fails a
test whenever Slack refused what the bot sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from bot.sandbox.slack_requests import SignedSlackClient, build_view_state, sign
from bot.sandbox.slack_standin import FakeSlack, validate_blocks, validate_view
from tests.support.harness import Harness

SECRET = "selftest-secret"


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def modal(title: str = "Propose release", **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "propose",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Propose"},
        "private_metadata": "C_RELEASES",
        "blocks": [
            {
                "type": "input",
                "block_id": "service",
                "label": {"type": "plain_text", "text": "Service"},
                "element": {"type": "plain_text_input", "action_id": "service_input"},
            },
            {
                "type": "input",
                "block_id": "when",
                "label": {"type": "plain_text", "text": "When"},
                "element": {"type": "datetimepicker", "action_id": "when_input"},
            },
            {
                "type": "input",
                "block_id": "approvers",
                "label": {"type": "plain_text", "text": "Approvers"},
                "element": {"type": "multi_users_select", "action_id": "approvers_input"},
            },
            {
                "type": "input",
                "block_id": "strategy",
                "label": {"type": "plain_text", "text": "Strategy"},
                "element": {
                    "type": "static_select",
                    "action_id": "strategy_input",
                    "options": [
                        {"text": {"type": "plain_text", "text": "All at once"}, "value": "all"},
                        {"text": {"type": "plain_text", "text": "Phased"}, "value": "phased"},
                    ],
                },
            },
            {
                "type": "input",
                "block_id": "notes",
                "optional": True,
                "label": {"type": "plain_text", "text": "Notes"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "notes_input",
                    "initial_value": "n/a",
                },
            },
        ],
        **extra,
    }


CARD_BLOCKS: list[dict[str, Any]] = [
    section("*payments 2.4.0*"),
    {
        "type": "actions",
        "block_id": "card_actions",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "value": "42",
                "style": "primary",
                "text": {"type": "plain_text", "text": "Approve"},
            },
            {
                "type": "checkboxes",
                "action_id": "checklist",
                "options": [
                    {"text": {"type": "mrkdwn", "text": "Tests green"}, "value": "tests"},
                    {"text": {"type": "mrkdwn", "text": "Docs"}, "value": "docs"},
                ],
            },
        ],
    },
]


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as running:
        yield running


@pytest.fixture
def web(fake: FakeSlack) -> WebClient:
    return WebClient(token=fake.token, base_url=fake.api_url)


@dataclass
class Recorded:
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    url: str
    requests: list[Recorded] = field(default_factory=list)

    def payload(self, index: int = -1) -> dict[str, Any]:
        form = dict(parse_qsl(self.requests[index].body.decode()))
        return dict(json.loads(form["payload"]))


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """A stand-in for the bot's /slack/events endpoint that records raw requests."""
    seen: list[Recorded] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(Recorded({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield Recorder(f"http://127.0.0.1:{server.server_address[1]}", seen)
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def client(recorder: Recorder, fake: FakeSlack) -> Iterator[SignedSlackClient]:
    with SignedSlackClient(recorder.url, SECRET, fake=fake) as signed:
        yield signed


def post(fake: FakeSlack, method: str, **args: Any) -> dict[str, Any]:
    response = httpx.post(
        fake.api_url + method, json=args, headers={"Authorization": f"Bearer {fake.token}"}
    )
    assert response.status_code == 200
    return dict(response.json())


# ---- FakeSlack: Block Kit validation ---------------------------------------------------------


def test_rejects_more_than_50_blocks(fake: FakeSlack) -> None:
    result = post(fake, "chat.postMessage", channel="C1", text="x", blocks=[section("a")] * 51)
    assert result["ok"] is False and result["error"] == "invalid_blocks"
    assert fake.last("chat.postMessage").error == "invalid_blocks"
    assert post(fake, "chat.postMessage", channel="C1", text="x", blocks=[section("a")] * 50)["ok"]


def test_rejects_section_text_over_3000_chars(fake: FakeSlack) -> None:
    result = post(fake, "chat.postMessage", channel="C1", text="x", blocks=[section("y" * 3001)])
    assert result["error"] == "invalid_blocks"
    assert any("3000" in e for e in result["errors"])


def test_rejects_unknown_block_type_and_element(fake: FakeSlack) -> None:
    unknown = post(fake, "chat.postMessage", channel="C1", text="x", blocks=[{"type": "sectoin"}])
    assert unknown["error"] == "invalid_blocks"
    bad_element = {"type": "actions", "elements": [{"type": "buton", "action_id": "a"}]}
    assert post(fake, "chat.postMessage", channel="C1", blocks=[bad_element])["ok"] is False


def md(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def checkbox(option: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "actions",
        "elements": [{"type": "checkboxes", "action_id": "c", "options": [option]}],
    }


def button(**fields: Any) -> dict[str, Any]:
    return {
        "type": "actions",
        "elements": [{"type": "button", "action_id": "b", "text": plain("Go"), **fields}],
    }


# Each of Slack's limits: a builder of one block holding `n` of what is limited, and the limit.
LIMITS: dict[str, tuple[Any, int]] = {
    "option text": (lambda n: checkbox({"text": md("x" * n), "value": "1"}), 75),
    "option description": (
        lambda n: checkbox({"text": md("x"), "value": "1", "description": md("d" * n)}),
        75,
    ),
    "checkbox options": (
        lambda n: {
            "type": "actions",
            "elements": [
                {
                    "type": "checkboxes",
                    "action_id": "c",
                    "options": [{"text": md(f"o{i}"), "value": str(i)} for i in range(n)],
                }
            ],
        },
        10,
    ),
    "context elements": (lambda n: {"type": "context", "elements": [md("x")] * n}, 10),
    "section fields": (lambda n: {"type": "section", "fields": [md("x")] * n}, 10),
    "section field text": (lambda n: {"type": "section", "fields": [md("x" * n)]}, 2000),
    "section text": (lambda n: section("x" * n), 3000),
    "header text": (lambda n: {"type": "header", "text": plain("x" * n)}, 150),
    "block_id": (lambda n: {**section("x"), "block_id": "b" * n}, 255),
    "action_id": (
        lambda n: {
            "type": "actions",
            "elements": [{"type": "button", "action_id": "a" * n, "text": plain("Go")}],
        },
        255,
    ),
    "button text": (lambda n: button(text=plain("x" * n)), 75),
    "button value": (lambda n: button(value="v" * n), 2000),
}


@pytest.mark.parametrize("what", sorted(LIMITS))
def test_refuses_what_slack_refuses_at_each_limit(fake: FakeSlack, what: str) -> None:
    build, limit = LIMITS[what]
    at_limit = post(fake, "chat.postMessage", channel="C1", text="x", blocks=[build(limit)])
    assert at_limit["ok"], at_limit
    over = post(fake, "chat.postMessage", channel="C1", text="x", blocks=[build(limit + 1)])
    assert over["ok"] is False and over["error"] == "invalid_blocks", over
    assert over["errors"]


def test_counts_every_text_of_a_message_against_msg_blocks_too_long(
    fake: FakeSlack, web: WebClient
) -> None:
    # Tokens count as Slack sends them, not as they are shown.
    mention = "<@U_OWNER> <!date^1800000000^{date_short_pretty} {time}|2027-01-15 08:00 UTC> "
    text = (mention * 60)[:3000]
    four = [section(text)] * 4  # 12,000 characters: the most Slack takes
    assert post(fake, "chat.postMessage", channel="C1", text="x", blocks=four)["ok"]
    with_button = [*four, button()]  # one more text object: a button's
    refused = post(fake, "chat.postMessage", channel="C1", text="x", blocks=with_button)
    assert refused["error"] == "msg_blocks_too_long"
    ts = web.chat_postMessage(channel="C1", text="x")["ts"]
    assert post(fake, "chat.update", channel="C1", ts=ts, blocks=with_button)["error"] == (
        "msg_blocks_too_long"
    )
    url = fake.new_response_url(channel_id="C1")
    assert WebhookClient(url).send(text="x", blocks=with_button).body == "msg_blocks_too_long"
    refused_calls = [c.method for c in fake.calls() if c.refused]
    assert refused_calls == ["chat.postMessage", "chat.update", "response_url"]


def test_a_test_fails_when_slack_refused_the_bots_blocks(
    database_url: str, fake_slack: FakeSlack
) -> None:
    web = WebClient(token=fake_slack.token, base_url=fake_slack.api_url)
    too_long = [section("x" * 3000)] * 5
    with (
        pytest.raises(AssertionError, match="msg_blocks_too_long"),
        Harness(database_url, fake_slack),
        pytest.raises(SlackApiError),
    ):
        web.chat_postMessage(channel="C1", text="x", blocks=too_long)
    fake_slack.clear()
    with pytest.raises(AssertionError, match="invalid_blocks"), Harness(database_url, fake_slack):
        WebhookClient(fake_slack.new_response_url(channel_id="C1")).send(
            text="x",
            blocks=[checkbox({"text": md("x"), "value": "1", "description": md("d" * 76)})],
        )


def test_rejects_what_slack_sdk_misses() -> None:
    assert validate_blocks([section("")])  # empty text object
    assert validate_blocks([{"type": "header", "text": {"type": "mrkdwn", "text": "hi"}}])
    assert validate_blocks([{**section("a"), "acessory": {}}])  # typo'd property
    assert validate_blocks([{**section("a"), "block_id": "b"}, {**section("c"), "block_id": "b"}])
    assert validate_blocks([{"type": "actions", "elements": []}])
    assert validate_blocks(CARD_BLOCKS) == []
    assert validate_view(modal()) == []
    assert validate_view({**modal(), "submit": None})  # inputs need a submit button


def test_message_content_rules(fake: FakeSlack) -> None:
    assert post(fake, "chat.postMessage", channel="C1")["error"] == "no_text"
    assert (
        post(fake, "chat.postMessage", channel="C1", text="x" * 40_001)["error"] == "msg_too_long"
    )
    assert post(fake, "chat.postMessage", channel="#general", text="x")["error"] == (
        "channel_not_found"
    )


def test_form_encoded_blocks_are_decoded(fake: FakeSlack) -> None:
    response = httpx.post(
        fake.api_url + "chat.postMessage",
        data={"channel": "C1", "text": "hi", "blocks": json.dumps(CARD_BLOCKS)},
        headers={"Authorization": f"Bearer {fake.token}"},
    )
    assert response.json()["ok"] is True
    assert fake.last("chat.postMessage").args["blocks"] == CARD_BLOCKS


def test_views_open_validates_title_and_needs_a_fresh_trigger(
    fake: FakeSlack, web: WebClient
) -> None:
    with pytest.raises(SlackApiError) as too_long:
        web.views_open(trigger_id="t1", view=modal(title="x" * 25))
    assert too_long.value.response["error"] == "invalid_blocks"
    with pytest.raises(SlackApiError) as no_trigger:
        web.api_call("views.open", json={"view": modal()})
    assert no_trigger.value.response["error"] == "invalid_arguments"

    opened = web.views_open(trigger_id="t1", view=modal())["view"]
    assert opened["id"].startswith("V") and opened["callback_id"] == "propose"
    assert opened["state"] == {"values": {}} and opened["hash"]
    assert fake.last_view("propose")["id"] == opened["id"]
    with pytest.raises(SlackApiError) as reused:
        web.views_open(trigger_id="t1", view=modal())
    assert reused.value.response["error"] == "exchanged_trigger_id"
    with pytest.raises(SlackApiError) as unknown:
        web.views_update(view_id="VNOPE", view=modal())
    assert unknown.value.response["error"] == "not_found"


def test_wrong_or_missing_token(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as wrong:
        WebClient(token="xoxb-wrong", base_url=fake.api_url).auth_test()
    assert wrong.value.response["error"] == "invalid_auth"
    assert httpx.post(fake.api_url + "auth.test").json()["error"] == "not_authed"
    assert [c.error for c in fake.calls("auth.test")] == ["invalid_auth", "not_authed"]


# ---- FakeSlack: messages, failures, directory -----------------------------------------------


def test_post_then_update_a_message(fake: FakeSlack, web: WebClient) -> None:
    auth = web.auth_test()
    assert (auth["team_id"], auth["user_id"], auth["bot_id"]) == ("T0001", "UBOT", "BBOT")
    first = web.chat_postMessage(channel="C_RELEASES", text="one", blocks=CARD_BLOCKS)
    second = web.chat_postMessage(channel="C_RELEASES", text="two", thread_ts=first["ts"])
    assert float(second["ts"]) > float(first["ts"])
    assert second["message"]["thread_ts"] == first["ts"]
    assert first["message"]["blocks"][0]["block_id"]  # Slack fills block_ids in

    web.chat_update(channel="C_RELEASES", ts=first["ts"], text="one, edited")
    [parent, reply] = fake.messages("C_RELEASES")
    assert parent["text"] == "one, edited" and parent["blocks"]  # blocks kept when omitted
    assert parent["reply_count"] == 1 and reply["text"] == "two"
    with pytest.raises(SlackApiError) as missing:
        web.chat_update(channel="C_RELEASES", ts="1.000001", text="nope")
    assert missing.value.response["error"] == "message_not_found"

    link = web.chat_getPermalink(channel="C_RELEASES", message_ts=first["ts"])["permalink"]
    assert link == f"https://acme.slack.com/archives/C_RELEASES/p{first['ts'].replace('.', '')}"
    dm = web.chat_postMessage(channel="U_QA", text="psst")
    assert dm["channel"] == web.conversations_open(users="U_QA")["channel"]["id"] == "DU_QA"


def test_fail_next(fake: FakeSlack, web: WebClient) -> None:
    fake.fail_next("chat.postMessage", "channel_not_found")
    with pytest.raises(SlackApiError) as failed:
        web.chat_postMessage(channel="C1", text="hi")
    assert failed.value.response["error"] == "channel_not_found"
    assert web.chat_postMessage(channel="C1", text="hi")["ok"]
    assert [c.error for c in fake.calls("chat.postMessage")] == ["channel_not_found", None]
    fake.fail_next("chat.postMessage", "fatal_error", after=1)
    assert web.chat_postMessage(channel="C1", text="hi")["ok"]
    with pytest.raises(SlackApiError):
        web.chat_postMessage(channel="C1", text="hi")
    assert web.chat_postMessage(channel="C1", text="hi")["ok"]


def test_rate_limit_is_retried_by_slack_sdk(fake: FakeSlack) -> None:
    fake.rate_limit_next("chat.postMessage", retry_after=0)
    plain = WebClient(token=fake.token, base_url=fake.api_url)
    with pytest.raises(SlackApiError) as limited:
        plain.chat_postMessage(channel="C1", text="hi")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "0"

    fake.rate_limit_next("chat.postMessage", retry_after=0)
    retrying = WebClient(
        token=fake.token,
        base_url=fake.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    assert retrying.chat_postMessage(channel="C1", text="hi")["ok"]
    assert [c.error for c in fake.calls("chat.postMessage")] == ["ratelimited"] * 2 + [None]


def test_users_and_usergroups(fake: FakeSlack, web: WebClient) -> None:
    user = web.users_info(user="U_QA")["user"]
    assert (user["tz"], user["name"], user["deleted"]) == ("Europe/Berlin", "qa", False)
    assert user["tz_offset"] in (3600, 7200) and user["profile"]["display_name"] == "qa"
    fake.add_user("U_GONE", "gone", tz="Asia/Tokyo", deleted=True)
    gone = web.users_info(user="U_GONE")["user"]
    assert gone["deleted"] is True and gone["tz_offset"] == 9 * 3600
    with pytest.raises(SlackApiError) as unknown:
        web.users_info(user="U_NOBODY")
    assert unknown.value.response["error"] == "user_not_found"
    assert web.usergroups_users_list(usergroup="S_QA")["users"] == ["U_QA", "U_QA2"]
    with pytest.raises(SlackApiError) as no_group:
        web.usergroups_users_list(usergroup="S_NOPE")
    assert no_group.value.response["error"] == "no_such_subteam"


def test_response_url_validates_and_replaces_the_original(fake: FakeSlack, web: WebClient) -> None:
    posted = web.chat_postMessage(channel="C_RELEASES", text="card", blocks=CARD_BLOCKS)
    url = fake.new_response_url(channel_id="C_RELEASES", message_ts=posted["ts"])
    bad = WebhookClient(url).send(text="x", blocks=[section("")])
    assert (bad.status_code, bad.body) == (400, "invalid_blocks")
    ok = WebhookClient(url).send(
        text="approved", blocks=[section("Approved")], replace_original=True
    )
    assert ok.status_code == 200
    assert fake.message("C_RELEASES", posted["ts"])["blocks"][0]["text"]["text"] == "Approved"
    assert fake.last("response_url").args["_url"] == url
    assert [c.error for c in fake.calls("response_url")] == ["invalid_blocks", None]


def test_wait_for(fake: FakeSlack, web: WebClient) -> None:
    timer = threading.Timer(0.05, lambda: web.chat_postMessage(channel="C1", text="later"))
    timer.start()
    call = fake.wait_for("chat.postMessage", lambda c: c.args.get("text") == "later", timeout=10)
    assert call.ok
    with pytest.raises(AssertionError, match="chat.postMessage"):
        fake.wait_for("views.publish", timeout=0.05)


# ---- SignedSlackClient ------------------------------------------------------------------------


def test_signature_verifies_with_slack_sdk(client: SignedSlackClient, recorder: Recorder) -> None:
    client.command("propose payments 2.4.0", retry_num=1)
    [request] = recorder.requests
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid_request(request.body, request.headers)
    assert request.headers["x-slack-retry-num"] == "1"
    form = dict(parse_qsl(request.body.decode()))
    assert form["command"] == "/release" and form["text"] == "propose payments 2.4.0"
    assert form["trigger_id"] == client.last_trigger_id and form["user_name"] == "owner"
    assert form["response_url"].startswith("http://127.0.0.1:")
    assert sign(SECRET, b"body", 1) == SignatureVerifier(SECRET).generate_signature(
        timestamp="1", body="body"
    )
    client.post_raw("x=1", "application/x-www-form-urlencoded", signature="v0=forged")
    assert not verifier.is_valid_request(recorder.requests[-1].body, recorder.requests[-1].headers)


def test_click_button_uses_the_posted_blocks(
    client: SignedSlackClient, recorder: Recorder, fake: FakeSlack, web: WebClient
) -> None:
    ts = web.chat_postMessage(channel="C_RELEASES", text="card", blocks=CARD_BLOCKS)["ts"]
    card = fake.message("C_RELEASES", ts)
    client.click_button(card, "C_RELEASES", user_id="U_QA", action_id="approve")
    payload = recorder.payload()
    assert payload["type"] == "block_actions" and payload["user"]["id"] == "U_QA"
    assert payload["container"] == {
        "type": "message",
        "message_ts": ts,
        "channel_id": "C_RELEASES",
        "is_ephemeral": False,
    }
    [action] = payload["actions"]
    assert (action["action_id"], action["value"], action["block_id"]) == (
        "approve",
        "42",
        "card_actions",
    )
    assert payload["message"]["ts"] == ts and payload["response_url"]
    with pytest.raises(AssertionError, match="approve"):
        client.click_button(card, "C_RELEASES", user_id="U_QA", action_id="reject")

    client.toggle_checkboxes(
        card, "C_RELEASES", user_id="U_QA", action_id="checklist", selected_values=["docs"]
    )
    payload = recorder.payload()
    assert [o["value"] for o in payload["actions"][0]["selected_options"]] == ["docs"]
    assert payload["state"]["values"]["card_actions"]["checklist"]["type"] == "checkboxes"
    with pytest.raises(AssertionError, match="no option"):
        client.toggle_checkboxes(
            card, "C_RELEASES", user_id="U_QA", action_id="checklist", selected_values=["nope"]
        )


def test_view_submission_state_shapes(
    client: SignedSlackClient, recorder: Recorder, fake: FakeSlack, web: WebClient
) -> None:
    web.views_open(trigger_id="t", view=modal())
    view = fake.last_view("propose")
    client.view_submission(
        view,
        user_id="U_OWNER",
        values={
            "service_input": "payments",
            "when": 1_800_000_000,
            "approvers_input": ["U_QA"],
            "strategy_input": "phased",
        },
    )
    payload = recorder.payload()
    assert payload["type"] == "view_submission" and payload["view"]["id"] == view["id"]
    values = payload["view"]["state"]["values"]
    assert values["service"]["service_input"] == {"type": "plain_text_input", "value": "payments"}
    assert values["when"]["when_input"]["selected_date_time"] == 1_800_000_000
    assert values["approvers"]["approvers_input"]["selected_users"] == ["U_QA"]
    assert values["strategy"]["strategy_input"]["selected_option"]["value"] == "phased"
    assert values["notes"]["notes_input"]["value"] == "n/a"  # untouched: initial value

    with pytest.raises(AssertionError, match="required input"):
        build_view_state(view, {"service_input": "payments"})
    with pytest.raises(AssertionError, match="no input"):
        build_view_state(view, {"nope": "x"}, check_required=False)
    with pytest.raises(AssertionError, match="no option"):
        build_view_state(view, {"strategy_input": "yolo"}, check_required=False)


def test_files_upload_v2_takes_the_three_step_sequence_and_shares_the_file() -> None:
    with FakeSlack() as fake:
        client = WebClient(token=fake.token, base_url=fake.api_url)
        reply = client.files_upload_v2(
            channel="C_RELEASES",
            content=b"a,b\n1,2\n",
            filename="audit.csv",
            title="Audit",
            initial_comment="Here it is",
        )
        assert reply["ok"]
        methods = [c.method for c in fake.calls()]
        assert methods == [
            "files.getUploadURLExternal",
            "files.upload_url",
            "files.completeUploadExternal",
        ]
        (shared,) = fake.files("C_RELEASES")
        assert shared["content"] == b"a,b\n1,2\n"
        assert shared["title"] == "Audit"
        assert fake.messages("C_RELEASES")[-1]["text"] == "Here it is"


def test_completing_an_upload_that_never_sent_its_bytes_is_refused() -> None:
    with FakeSlack() as fake:
        client = WebClient(token=fake.token, base_url=fake.api_url)
        started = client.files_getUploadURLExternal(filename="x.csv", length=3)
        try:
            client.files_completeUploadExternal(
                files=[{"id": started["file_id"], "title": "x"}], channel_id="C_RELEASES"
            )
        except SlackApiError as exc:
            assert exc.response["error"] == "file_not_found"
        else:
            raise AssertionError("Slack refuses to share a file whose bytes never arrived")
