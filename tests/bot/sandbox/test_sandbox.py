"""`releasebot sandbox` without a browser: its page's API drives the real bot over signed
HTTP, and what each demo person sees comes back from the Slack stand-in."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient

from bot.cli import main
from bot.sandbox.slack_standin import FakeSlack
from bot.sandbox.workspace import ANNOUNCEMENTS, PRIVATE, RELEASES, Sandbox, sandbox_settings
from handlers.slack_kit import ids
from models import fields
from tests.support.harness import ahead, iso, rendered_text
from tests.support.waiting import wait_until

ADA, BEN, CHIE, DORA = "U0ADA", "U0BEN", "U0CHIE", "U0DORA"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    running = Sandbox(port=0).start()
    yield running
    running.stop()


@pytest.fixture
def page(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, timeout=20) as client:
        yield client


def state(page: httpx.Client, user: str) -> dict[str, Any]:
    response = page.get("/sandbox/state", params={"user": user})
    assert response.status_code == 200, response.text
    return response.json()


def command(page: httpx.Client, user: str, text: str, channel: str = RELEASES) -> None:
    response = page.post("/sandbox/command", json={"user": user, "channel": channel, "text": text})
    assert response.status_code == 200, response.text


def card(view: dict[str, Any], ref: str, channel: str = RELEASES) -> dict[str, Any]:
    found = [
        m
        for m in view["conversations"][channel]["messages"]
        if m.get("blocks") and f"Release {ref}" in rendered_text(m)
    ]
    assert found, f"no card for {ref} in {channel}"
    return found[-1]


def button(message: dict[str, Any], action_id: str) -> tuple[str, str]:
    for block in message["blocks"]:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return block["block_id"], action_id
    raise AssertionError(f"no {action_id} button")


def click(page: httpx.Client, user: str, message: dict[str, Any], action_id: str) -> None:
    block_id, action = button(message, action_id)
    response = page.post(
        "/sandbox/action",
        json={
            "user": user,
            "channel": RELEASES,
            "ts": message["ts"],
            "block_id": block_id,
            "action_id": action,
        },
    )
    assert response.status_code == 200, response.text


def test_a_slash_command_from_the_page_posts_the_bots_card(
    sandbox: Sandbox, page: httpx.Client
) -> None:
    command(page, ADA, f"/release propose payments 2.4.0 {iso(ahead())} <@{BEN}>")
    seen = state(page, BEN)
    message = card(seen, "payments@2.4.0")
    assert "Approve" in rendered_text(message)
    assert seen["refusals"] == []
    # Every request reached the bot signed, as Slack sends it; Slack never refused a call.
    assert not [c for c in sandbox.slack.calls() if c.refused]

    # Chie is no approver: her click is refused to her alone.
    click(page, CHIE, message, ids.APPROVE)
    refusal = [rendered_text(m) for m in state(page, CHIE)["conversations"][RELEASES]["ephemerals"]]
    assert any("can sign off" in text for text in refusal), refusal
    assert state(page, BEN)["conversations"][RELEASES]["ephemerals"] == []

    click(page, BEN, message, ids.APPROVE)
    updated = card(state(page, ADA), "payments@2.4.0")
    assert f"<@{BEN}> approved" in rendered_text(updated)


def test_the_propose_form_answers_errors_under_its_inputs_then_proposes(
    page: httpx.Client,
) -> None:
    command(page, DORA, "/release propose")
    [modal] = state(page, DORA)["modals"]
    assert modal["callback_id"] == ids.PROPOSE_FORM
    assert state(page, ADA)["modals"] == []  # a modal is its opener's alone
    values = {
        fields.FIELD_SERVICE: "search",
        fields.FIELD_VERSION: "1.0.0",
        fields.FIELD_WHEN: int(ahead(days=3).timestamp()),
        fields.FIELD_APPROVERS: [CHIE],
        fields.FIELD_ROLLOUT: "50,10",
    }
    answer = page.post(
        "/sandbox/submit", json={"user": DORA, "view_id": modal["id"], "values": values}
    ).json()
    assert set(answer["errors"]) == {fields.FIELD_ROLLOUT}
    assert state(page, DORA)["modals"][-1]["id"] == modal["id"]  # still open

    values[fields.FIELD_ROLLOUT] = "10,100"
    answer = page.post(
        "/sandbox/submit", json={"user": DORA, "view_id": modal["id"], "values": values}
    ).json()
    assert answer == {"ok": True, "errors": {}}
    assert state(page, DORA)["modals"] == []
    assert "search@1.0.0" in rendered_text(card(state(page, CHIE), "search@1.0.0"))


def test_the_workspace_has_its_channels_people_and_group(page: httpx.Client) -> None:
    ben, chie = state(page, BEN), state(page, CHIE)
    assert {c["id"] for c in ben["channels"]} == {RELEASES, ANNOUNCEMENTS, "D" + BEN}
    assert PRIVATE in {c["id"] for c in chie["channels"]}  # Ben is not in #launch-team
    zones = {p["tz"] for p in ben["people"] if not p["is_bot"]}
    assert len(zones) == 4
    assert ben["groups"] == [{"id": "S0QA", "handle": "qa", "users": [BEN, CHIE]}]
    # Ben can't type in a channel he isn't in.
    response = page.post(
        "/sandbox/command", json={"user": BEN, "channel": PRIVATE, "text": "/release help"}
    )
    assert response.status_code == 400


def test_the_home_tab_is_published_when_a_person_opens_it(page: httpx.Client) -> None:
    assert page.post("/sandbox/home", json={"user": CHIE}).status_code == 200
    home = state(page, CHIE)["home"]
    assert home is not None and home["type"] == "home"


def test_the_page_hears_of_changes_by_server_sent_events(
    sandbox: Sandbox, page: httpx.Client
) -> None:
    heard: list[str] = []
    opened = threading.Event()

    def listen() -> None:
        with (
            httpx.Client(base_url=sandbox.url, timeout=20) as client,
            client.stream("GET", "/sandbox/events") as stream,
        ):
            assert stream.headers["content-type"].startswith("text/event-stream")
            for line in stream.iter_lines():
                opened.set()
                if line.startswith("event: change"):
                    heard.append(line)
                    if len(heard) == 2:  # the first says where things stand
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert opened.wait(10)
    command(page, ADA, "/release list")
    listener.join(timeout=10)
    assert len(heard) == 2


def test_the_page_is_only_for_this_machine(sandbox: Sandbox, page: httpx.Client) -> None:
    index = page.get("/")
    assert index.status_code == 200
    assert "script-src 'self'" in index.headers["content-security-policy"]
    assert "<script>" not in index.text  # all script is in sandbox.js
    assert index.headers["x-content-type-options"] == "nosniff"
    assert page.get("/sandbox/static/sandbox.js").status_code == 200
    assert page.get("/sandbox/static/..%2Fpage.py").status_code == 404
    # Another site's page, a form post, a rebound host name: refused.
    body = {"user": ADA, "channel": RELEASES, "text": "/release help"}
    assert (
        page.post("/sandbox/command", json=body, headers={"Origin": "https://evil.example"})
    ).status_code == 403
    assert page.post("/sandbox/command", data=body).status_code == 415
    assert page.get("/", headers={"Host": "evil.example"}).status_code == 400
    # Slack's side of the bot is served on the same port, and checks signatures.
    assert page.get("/healthz").status_code == 200
    assert page.post("/slack/events", data={"command": "/release"}).status_code == 401


def test_the_cli_refuses_a_port_in_use(sandbox: Sandbox, capsys: pytest.CaptureFixture) -> None:
    assert main(["sandbox", "--port", str(sandbox.port)]) == 1
    assert "cannot listen" in capsys.readouterr().err


def test_reminders_really_fire(sandbox: Sandbox, page: httpx.Client) -> None:
    command(page, ADA, "/release propose", channel=RELEASES)
    modal = state(page, ADA)["modals"][-1]
    # Five minutes and a few seconds ahead: the 5-minute reminder is due in seconds.
    soon = int(time.time()) + 5 * 60 + 3
    values = {
        fields.FIELD_SERVICE: "billing",
        fields.FIELD_VERSION: "7.0.0",
        fields.FIELD_WHEN: soon,
        fields.FIELD_APPROVERS: [DORA],
    }
    answer = page.post(
        "/sandbox/submit", json={"user": ADA, "view_id": modal["id"], "values": values}
    ).json()
    assert answer["errors"] == {}
    thread_ts = card(state(page, ADA), "billing@7.0.0")["ts"]

    def reminded() -> list[str]:
        return [
            rendered_text(m)
            for m in sandbox.slack.messages(RELEASES, thread_ts=thread_ts)
            if "Go/no-go" not in rendered_text(m) and m["ts"] != thread_ts
        ]

    wait_until(reminded, timeout=20, every=0.2, what="a reminder in the thread")

    # Dora, the approver still pending, is told in her DM with the bot (its own outbox
    # message, sent after or before the thread reply).
    def told_dora() -> bool:
        dm = state(page, DORA)["conversations"]["D" + DORA]["messages"]
        return any("billing" in rendered_text(m) for m in dm)

    wait_until(told_dora, timeout=20, every=0.2, what="a reminder in Dora's DM")


def test_closing_a_modal_and_clicking_what_only_you_see(
    sandbox: Sandbox, page: httpx.Client
) -> None:
    command(page, BEN, "/release propose")
    [modal] = state(page, BEN)["modals"]
    closed = page.post("/sandbox/close", json={"user": BEN, "view_id": modal["id"], "values": {}})
    assert closed.status_code == 200
    assert state(page, BEN)["modals"] == []

    # A button in a message only Ben sees: his click reaches the bot as an ephemeral
    # message's; nobody else can click it.
    web = WebClient(token=sandbox.slack.token, base_url=sandbox.slack.api_url)
    posted = web.chat_postEphemeral(
        channel=RELEASES,
        user=BEN,
        text="just for Ben",
        blocks=[
            {
                "type": "actions",
                "block_id": "mine",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "not_a_releasebot_button",
                        "text": {"type": "plain_text", "text": "Press"},
                    }
                ],
            }
        ],
    )
    body = {
        "channel": RELEASES,
        "ts": posted["message_ts"],
        "block_id": "mine",
        "action_id": "not_a_releasebot_button",
    }
    assert page.post("/sandbox/action", json={"user": BEN, **body}).status_code == 200
    sent = sandbox.signer.last_payload if sandbox.signer else None
    assert sent is not None and sent["container"]["is_ephemeral"] is True
    assert "message" not in sent  # Slack sends no message for an ephemeral one
    assert page.post("/sandbox/action", json={"user": CHIE, **body}).status_code == 400
    missing = {**body, "action_id": "no_such_button"}
    assert page.post("/sandbox/action", json={"user": BEN, **missing}).status_code == 400


def test_releasebot_sandbox_prints_its_url_and_stops_cleanly(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "RELEASEBOT_"))}
    env["PYTHONPATH"] = str(ROOT)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "sandbox", "--port", str(port), "--db", "kept.db"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == f"http://127.0.0.1:{port}/\n"
        index = httpx.get(f"http://127.0.0.1:{port}/", timeout=60)
        assert index.status_code == 200 and "sandbox.js" in index.text
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert out == ""  # one line, the URL, and nothing else
    assert (tmp_path / "kept.db").exists()


def test_people_can_talk_and_other_commands_are_refused(
    sandbox: Sandbox, page: httpx.Client
) -> None:
    command(page, DORA, "Ship it <script>alert(1)</script> & go", channel=ANNOUNCEMENTS)
    [said] = [
        m for m in state(page, BEN)["conversations"][ANNOUNCEMENTS]["messages"] if m["user"] == DORA
    ]
    assert said["text"] == "Ship it &lt;script&gt;alert(1)&lt;/script&gt; &amp; go"
    assert "bot_id" not in said
    response = page.post(
        "/sandbox/command", json={"user": DORA, "channel": RELEASES, "text": "/remind me"}
    )
    assert response.status_code == 400
    assert "/release" in response.json()["error"]


def test_a_real_workspaces_settings_stay_out_of_the_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_API_URL", "https://slack.com/api/")
    monkeypatch.setenv("RELEASEBOT_CHECKLIST", "Only this")
    monkeypatch.setenv("RELEASEBOT_ANNOUNCE_CHANNEL", "C0REAL")
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-a-real-one\nDATABASE_URL=sqlite:///x\n")
    with FakeSlack(default_directory=False) as slack:
        settings = sandbox_settings(slack, tmp_path / "s.db", "http://127.0.0.1:3000/")
        assert settings.slack_api_url == slack.api_url
    assert settings.slack_bot_token == slack.token
    assert settings.announce_channel == ANNOUNCEMENTS
    assert "Only this" not in settings.checklist
    assert settings.database_url == f"sqlite:///{tmp_path / 's.db'}"
    assert settings.public_url == "http://127.0.0.1:3000"
