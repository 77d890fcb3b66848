"""`releasebot serve` as a user starts it: a real process that migrates, serves and stops."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bot.sandbox.slack_requests import SignedSlackClient
from bot.sandbox.slack_standin import FakeSlack

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_migrates_answers_slack_and_stops_cleanly(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "RELEASEBOT_"))}
    env |= {
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": fake_slack.token,
        "SLACK_SIGNING_SECRET": "serve-secret",
        "SLACK_API_URL": fake_slack.api_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # A cold start on a loaded 2-core machine: imports, migrations.
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.1)
        with SignedSlackClient(base, "serve-secret", fake=fake_slack) as slack:
            response = slack.command("help", response_url=fake_slack.new_response_url())
            assert response.status_code == 200
            assert "/release propose" in response.text
            forged = slack.post_raw("text=help", "application/x-www-form-urlencoded", sign=False)
            assert forged.status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Traceback" not in output
    assert "Scheduler has been shut down" in output  # releasebot.close() ran
    assert (tmp_path / "serve.db").exists()


class FakeSocketMode:
    """Slack's Socket Mode end: a websocket that sends envelopes and collects the acks."""

    def __init__(self) -> None:
        from websockets.sync.server import serve

        self.acks: queue.Queue[dict[str, Any]] = queue.Queue()
        self.connected = threading.Event()
        self._outbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self._server = serve(self._session, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/link"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _session(self, connection: Any) -> None:
        connection.send(json.dumps({"type": "hello", "num_connections": 1}))
        self.connected.set()
        while True:
            try:
                envelope = self._outbox.get(timeout=0.05)
                connection.send(json.dumps(envelope))
            except queue.Empty:
                pass
            try:
                message = connection.recv(timeout=0.05)
            except TimeoutError:
                continue
            except Exception:
                return
            self.acks.put(json.loads(message))

    def command(self, text: str, response_url: str) -> dict[str, Any]:
        """Send a slash command envelope, as Slack does; returns the app's ack."""
        envelope_id = uuid.uuid4().hex
        self._outbox.put(
            {
                "envelope_id": envelope_id,
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": {
                    "team_id": "T0001",
                    "team_domain": "acme",
                    "channel_id": "C_RELEASES",
                    "channel_name": "releases",
                    "user_id": "U_OWNER",
                    "user_name": "owner",
                    "command": "/release",
                    "text": text,
                    "api_app_id": "A0001",
                    "is_enterprise_install": "false",
                    "response_url": response_url,
                    "trigger_id": uuid.uuid4().hex,
                },
            }
        )
        while True:
            ack = self.acks.get(timeout=10)
            if ack.get("envelope_id") == envelope_id:
                return ack

    def close(self) -> None:
        self._server.shutdown()


def test_socket_mode_serves_the_same_handlers(tmp_path: Path, fake_slack: FakeSlack) -> None:
    socket_mode = FakeSocketMode()
    fake_slack.socket_mode_url = socket_mode.url
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "RELEASEBOT_"))}
    env |= {
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": fake_slack.token,
        "SLACK_APP_TOKEN": fake_slack.app_token,
        "SLACK_API_URL": fake_slack.api_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'socket.db'}",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "serve",
            "--socket",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert socket_mode.connected.wait(30), "the bot never opened the Socket Mode link"
        ack = socket_mode.command("help", fake_slack.new_response_url())
        assert "/release propose" in json.dumps(ack["payload"])
        when = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:00Z")
        socket_mode.command(f"propose payments 2.4.0 {when}", fake_slack.new_response_url())
        card = fake_slack.wait_for(
            "chat.postMessage", lambda c: not c.args.get("thread_ts"), timeout=15
        )
        assert "payments@2.4.0" in str(card.args["text"])
        # The HTTP server still runs beside it, for /healthz and the calendar feed.
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
        socket_mode.close()
    assert process.returncode == 0, output
