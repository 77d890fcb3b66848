"""`releasebot gate` and `releasebot report` against a running bot: exit codes, waits."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot import pipeline_cli
from bot.pipeline_cli import duration
from bot.sandbox.slack_standin import FakeSlack
from tests.handlers.api.conftest import (
    MANAGER,
    make_token,
    propose,
    waiting_at_gate,
    wake_ups_only,
)
from tests.support.cli import Releasebot
from tests.support.harness import Harness, iso

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def harness(database_url: str, fake_slack: FakeSlack) -> Iterator[Harness]:
    with Harness(database_url, fake_slack, RELEASEBOT_RELEASE_MANAGERS=MANAGER) as running:
        yield running


def pipeline_env(url: str, token: str) -> dict[str, str]:
    return {"RELEASEBOT_URL": url, "RELEASEBOT_TOKEN": token}


def cli_env(url: str, token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "RELEASEBOT_"))}
    return {**env, "RELEASEBOT_URL": url, "RELEASEBOT_TOKEN": token}


def releasebot_process(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """The console script in a process of its own, for a wait that runs alongside the test."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def tick_all(harness: Harness, ref: str) -> None:
    for position in range(5):
        harness.tick(harness.release(ref), position)


def test_exit_codes_allow_deny_pending_error(harness: Harness, releasebot: Releasebot) -> None:
    env = pipeline_env(harness.server.url, make_token(harness))
    code, out, _ = releasebot("gate", "payments@2.4.0", **env)
    assert code == 1 and "deny" in out and "NO_RELEASE" in out

    propose(harness, "payments@2.4.0")
    code, out, _ = releasebot("gate", "payments@2.4.0", **env)
    assert code == 3 and "pending" in out and "NOT_GO" in out

    tick_all(harness, "payments@2.4.0")
    harness.command("go payments@2.4.0")
    code, out, _ = releasebot("gate", "payments@2.4.0", **env)
    assert (code, out.splitlines()[0]) == (0, "payments@2.4.0: allow")

    code, _, err = releasebot(
        "gate", "payments@2.4.0", **pipeline_env(harness.server.url, "rbk_wrong")
    )
    assert code == 2 and "401" in err
    code, _, err = releasebot(
        "gate", "payments@2.4.0", **pipeline_env("http://127.0.0.1:9", "rbk_x")
    )
    assert code == 2 and "cannot reach" in err
    code, _, err = releasebot("gate", "payments@2.4.0", **{**env, "RELEASEBOT_URL": ""})
    assert code == 2 and "RELEASEBOT_URL" in err


def test_a_wait_returns_at_the_go(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    wake_ups_only(monkeypatch)
    env = cli_env(harness.server.url, make_token(harness))
    propose(harness, "payments@2.4.0")
    tick_all(harness, "payments@2.4.0")
    process = releasebot_process(env, "gate", "payments@2.4.0", "--wait", "1m")
    waiting_at_gate(harness, "payments", timeout=90)  # a cold start on a loaded machine
    assert process.poll() is None
    went = time.monotonic()
    harness.command("go payments@2.4.0")
    out, _ = process.communicate(timeout=90)
    assert process.returncode == 0 and "allow" in out
    assert time.monotonic() - went < 10, "the wait did not end at the go"


def test_report_moves_the_rollout_on(harness: Harness, releasebot: Releasebot) -> None:
    env = pipeline_env(harness.server.url, make_token(harness))
    propose(harness, "payments@2.4.0", "phased 10,50")
    tick_all(harness, "payments@2.4.0")
    harness.command("go payments@2.4.0")
    code, out, err = releasebot("report", "payments@2.4.0", "succeeded", "--stage", "50", **env)
    assert code == 0, err
    assert "the release is rolling_out at 50%" in out
    code, out, _ = releasebot(
        "report", "payments@2.4.0", "succeeded", "--url", "https://ci/9", **env
    )
    assert code == 0 and "released" in out
    code, _, err = releasebot("report", "payments@2.4.0", "succeeded", **env)
    assert code == 2 and "409" in err


def test_durations() -> None:
    assert [duration(t) for t in ("30m", "2h", "45s", "90")] == [1800, 7200, 45, 90]
    with pytest.raises(Exception, match="not a duration"):
        duration("soon")


def test_a_wait_survives_the_bot_restarting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline_cli, "RECONNECT", 0.01)
    answers = iter(["pending", "gone", "allow"])

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        if answer == "gone":
            raise httpx.ConnectError("connection refused", request=request)
        assert request.url.params["wait"] in ("60", "59")
        return httpx.Response(200, json={"decision": answer, "reasons": [], "release": None})

    http = httpx.Client(base_url="http://bot/api/v1", transport=httpx.MockTransport(handler))
    assert pipeline_cli._gate(http, "payments@2.4.0", 60) == pipeline_cli.EXIT_ALLOW

    never = httpx.Client(
        base_url="http://bot/api/v1",
        transport=httpx.MockTransport(lambda r: (_ for _ in ()).throw(httpx.ConnectError("x"))),
    )
    with pytest.raises(httpx.ConnectError):  # never answered: an error at once (exit 2)
        pipeline_cli._gate(never, "payments@2.4.0", 60)


def test_a_managers_override_opens_the_gate_for_a_release_go_before_the_freeze(
    harness: Harness, releasebot: Releasebot
) -> None:
    now = datetime(2027, 3, 10, 9, 0, tzinfo=UTC)  # pinned: freezes depend on now
    harness.clock.pin(now)
    harness.command(f"propose payments 2.4.0 {iso(now + timedelta(days=1))}")
    tick_all(harness, "payments@2.4.0")
    harness.command("go payments@2.4.0")  # big-bang: go, waiting for the deployment
    harness.command(f'freeze add "Holidays" now to {iso(now + timedelta(days=2))}', user_id=MANAGER)
    env = pipeline_env(harness.server.url, make_token(harness))
    code, out, _ = releasebot("gate", "payments@2.4.0", **env)
    assert code == 3 and "FREEZE_ACTIVE" in out and "Holidays" in out
    harness.command("go payments@2.4.0 override: security fix", user_id=MANAGER)
    code, out, _ = releasebot("gate", "payments@2.4.0", **env)
    assert (code, out.splitlines()[0]) == (0, "payments@2.4.0: allow")


def test_wait_takes_seconds_minutes_or_hours_and_refuses_other_units(
    releasebot: Releasebot,
) -> None:
    env = pipeline_env("http://127.0.0.1:9", "rbk_" + "x" * 43)  # nothing listens: never asked
    for refused in ("2d", "1 week", "1.5h", "5 m s", "soon"):
        code, out, err = releasebot("gate", "payments@2.4.0", "--wait", refused, **env)
        assert code == 2 and not out, refused
        assert f"{refused!r} is not a duration like 30m, 2h or 90s" in err, err
    _, _, err = releasebot("gate", "payments@2.4.0", "--wait", "0 seconds", **env)
    assert "not a duration" not in err, err


def test_the_gate_pins_the_digest_and_the_commit(harness: Harness, releasebot: Releasebot) -> None:
    env = pipeline_env(harness.server.url, make_token(harness))
    digest, commit = "sha256:" + "ab" * 32, "0123456789abcdef0123456789abcdef01234567"
    propose(harness, "payments@2.4.0")
    harness.command(f"update payments@2.4.0 digest={digest} commit={commit}")
    tick_all(harness, "payments@2.4.0")
    harness.command("go payments@2.4.0")
    pins = ("--digest", digest, "--commit", commit[:12])
    code, out, err = releasebot("gate", "payments@2.4.0", *pins, **env)
    assert code == 0 and "allow" in out, err
    other = "sha256:" + "cd" * 32
    code, out, _ = releasebot(
        "gate", "payments@2.4.0", "--digest", other, "--commit", "f" * 40, **env
    )
    assert code == 1 and "deny" in out
    assert "DIGEST_MISMATCH" in out and other in out and digest in out
    assert "COMMIT_MISMATCH" in out and "f" * 40 in out and commit in out
    code, _, err = releasebot("gate", "payments@2.4.0", "--digest", "sha256:nope", **env)
    assert code == 2 and "422" in err and "sha256:" in err
