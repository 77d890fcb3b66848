"""What 1,000 GitHub deployments waiting at the protection rule cost one process, and how
soon a Go in Slack reaches GitHub.

One run, one machine, loopback only. It migrates a fresh SQLite file, links acme/payments
to the service payments, and starts the real server (`python -m bot.cli serve`) with the
GitHub App on, against the tests' fake GitHub (tests/support/fake_github.py: it checks the
app's JWTs and records the callback POSTs) and a FakeSlack. A release payments@2.4.0 is
proposed by a signed `/release propose` (no approvers: approved) and its checklist ticked.
Then:

1. the floor: the server's resident memory and threads, and the latency of signed
   `/release help` commands (acks), before any deployment waits;
2. `--deployments` signed `deployment_protection_rule` deliveries, each its own deployment:
   each is pending (no go yet) and gets a status report at the fake GitHub. Once every one
   has its report, memory, threads and ack latency again;
3. a signed `/release go payments@2.4.0`: the time from sending it to each `approved`
   callback POST arriving at the fake GitHub (p50, p99, last).

Targets, each against the same run: the waiting deployments within 100 MiB more memory and
50 more threads (pools, not a thread each); ack p99 while they wait within 2x the p99
before. Every deployment must be answered `approved` exactly once (exit 1 otherwise).
`--smoke`: 10 deployments, targets not checked (the answers still are).

    uv run python benchmarks/github_waits.py [--deployments 1000] [--strict] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.ack_latency import FakeSlackProcess  # noqa: E402
from benchmarks.gate import (  # noqa: E402
    SECRET,
    TEAM,
    free_port,
    pct,
    proc_status,
    processes,
    settled,
)
from bot import migrate  # noqa: E402
from bot.sandbox.slack_requests import FORM, sign  # noqa: E402
from models.db import Database  # noqa: E402
from models.github.repository_links import RepositoryLink  # noqa: E402
from models.release.records import ChecklistItem, Release  # noqa: E402
from tests.support import fake_github  # noqa: E402
from tests.support.fake_github import FakeGitHub, protection_rule, signed  # noqa: E402

OWNER, CHANNEL = "U1", "C1"
SHA = "9fceb02d0ae598e95dc970b74767f19372d61af8"
MAX_MORE_THREADS = 50  # the server's pools may grow; a thread per deployment would not fit
DEADLINE = 300.0  # seconds a phase may take before the run gives up


def link(database_url: str) -> None:
    db = Database(database_url)
    migrate.upgrade(db.engine)
    with db.session() as session:
        session.add(
            RepositoryLink(
                team_id=TEAM,
                repository="acme/payments",
                environment="production",
                service="payments",
                channel_id=CHANNEL,
                created_by=OWNER,
            )
        )
    db.dispose()


def tick_checklist(database_url: str) -> None:
    """Setup, not measured: the checklist of the proposed release ticked in the database."""
    from sqlmodel import select

    db = Database(database_url)
    with db.session() as session:
        release = session.exec(select(Release).where(Release.service == "payments")).one()
        for item in session.exec(
            select(ChecklistItem).where(ChecklistItem.release_id == release.id)
        ):
            item.checked_at, item.checked_by = datetime.now(UTC), OWNER
            session.add(item)
    db.dispose()


def command(client: httpx.Client, base_url: str, text: str) -> float:
    """A signed `/release <text>` from the owner; its ack latency in ms."""
    body = urllib.parse.urlencode(
        {
            "team_id": TEAM,
            "user_id": OWNER,
            "channel_id": CHANNEL,
            "command": "/release",
            "text": text,
            "trigger_id": uuid.uuid4().hex,
            "response_url": "http://127.0.0.1:9/none",
        }
    )
    stamp = int(time.time())
    headers = {
        "Content-Type": FORM,
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": sign(SECRET, body, stamp),
    }
    started = time.perf_counter()
    answer = client.post(base_url + "/slack/events", content=body, headers=headers)
    if answer.status_code != 200:
        raise SystemExit(f"/release {text}: {answer.status_code} {answer.text[:200]}")
    return (time.perf_counter() - started) * 1000


def acks(base_url: str, n: int) -> list[float]:
    with httpx.Client(timeout=30) as client:
        return [command(client, base_url, "help") for _ in range(n)]


def until(condition: Callable[[], bool], what: str, *, every: float = 0.001) -> float:
    """Until `condition` holds; the perf_counter when it was seen."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(every)
    return time.perf_counter()


def deliver_all(base_url: str, github: FakeGitHub, n: int) -> None:
    """`n` deliveries, 16 at a time, each its own deployment of the release's commit."""

    def one(i: int) -> None:
        payload = protection_rule(github, sha=SHA, deployment_id=10_000 + i, run_id=50_000 + i)
        body = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "deployment_protection_rule",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": signed(body),
        }
        answer = client.post(base_url + "/github/events", content=body, headers=headers)
        if answer.status_code >= 300:
            raise SystemExit(f"delivery: {answer.status_code} {answer.text[:200]}")

    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(n)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=1000)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--smoke", action="store_true", help="10 deployments, targets not checked")
    args = parser.parse_args(argv)
    args.acks = 50
    if args.smoke:
        args.deployments, args.acks, args.strict = 10, 5, False

    github = FakeGitHub().start()
    with tempfile.TemporaryDirectory() as folder:
        db_url = f"sqlite:///{folder}/github.db"
        link(db_url)
        key_file = Path(folder) / "app.pem"
        key_file.write_text(fake_github.PRIVATE_KEY)
        port = free_port()
        fake = FakeSlackProcess()
        env = os.environ | {
            "SLACK_BOT_TOKEN": fake.token,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.api_url,
            "DATABASE_URL": db_url,
            "RELEASEBOT_PUBLIC_URL": "https://releasebot.example.com",
            "GITHUB_APP_ID": fake_github.APP_ID,
            "GITHUB_APP_PRIVATE_KEY_FILE": str(key_file),
            "GITHUB_WEBHOOK_SECRET": fake_github.WEBHOOK_SECRET,
            "GITHUB_API_URL": github.url,
        }
        serve = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1"]
        with processes((serve + ["--port", str(port)], env, port)) as [server]:
            base_url = f"http://127.0.0.1:{port}"
            with httpx.Client(timeout=30) as client:
                when = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%MZ")
                command(client, base_url, f"propose payments 2.4.0 {when}")
            until(lambda: _release_exists(db_url), "the proposal", every=0.05)
            tick_checklist(db_url)
            acks(base_url, 10)  # warm up
            rss_before, threads_before = proc_status(server.pid)
            acks_before = acks(base_url, args.acks)

            began = time.perf_counter()
            deliver_all(base_url, github, args.deployments)
            until(
                lambda: len(github.status_reports()) >= args.deployments,
                "a status report for each deployment",
                every=0.05,
            )
            waiting_in = time.perf_counter() - began
            asyncio.run(settled(server.pid))
            rss_waiting, threads_waiting = proc_status(server.pid)
            acks_waiting = acks(base_url, args.acks)
            unanswered = len(github.answers()) == 0

            arrived: list[float] = []
            with httpx.Client(timeout=30) as client:
                go_at = time.perf_counter()
                command(client, base_url, "go payments@2.4.0")

            def count_arrivals() -> bool:
                seen = len(github.answers())
                now = time.perf_counter()
                arrived.extend([now] * (seen - len(arrived)))
                return seen >= args.deployments

            until(count_arrivals, "an answer for each deployment")
            # Late duplicates, if any, arrive while the sweep runs again.
            time.sleep(1.0)
        fake.stop()
    github.stop()
    answers = github.answers()
    figures = {
        "deployments": args.deployments,
        "waiting_in": waiting_in,
        "rss_before": rss_before,
        "rss_waiting": rss_waiting,
        "threads_before": threads_before,
        "threads_waiting": threads_waiting,
        "ack_p50_before": statistics.median(acks_before),
        "ack_p99_before": pct(acks_before, 0.99),
        "ack_p50_waiting": statistics.median(acks_waiting),
        "ack_p99_waiting": pct(acks_waiting, 0.99),
        "go_p50": statistics.median(t - go_at for t in arrived) * 1000,
        "go_p99": pct([t - go_at for t in arrived], 0.99) * 1000,
        "go_last": (arrived[-1] - go_at) * 1000,
        "answers": len(answers),
        "approved": sum(1 for a in answers if a["state"] == "approved"),
        "distinct": len({p.path for p in github.posted if "state" in p.body}),
        "unanswered_before_go": unanswered,
    }
    return report(args, figures)


def _release_exists(database_url: str) -> bool:
    from sqlmodel import select

    db = Database(database_url)
    try:
        with db.read_session() as session:
            return session.exec(select(Release.id)).first() is not None
    finally:
        db.dispose()


def report(args: argparse.Namespace, f: dict[str, Any]) -> int:
    grown = f["rss_waiting"] - f["rss_before"]
    threads = f["threads_waiting"] - f["threads_before"]
    ack_ratio = f["ack_p99_waiting"] / max(f["ack_p99_before"], 0.001)
    n = f["deployments"]
    print(
        f"{n} GitHub deployments waiting at the protection rule (all pending in "
        f"{f['waiting_in']:.1f} s):"
    )
    print(
        f"  memory: {f['rss_before']:.0f} MiB before, {f['rss_waiting']:.0f} MiB waiting "
        f"(+{grown:.1f} MiB)"
    )
    print(f"  threads: {f['threads_before']} before, {f['threads_waiting']} waiting")
    print(
        f"  acks: p50 {f['ack_p50_before']:.1f} / p99 {f['ack_p99_before']:.1f} ms before, "
        f"p50 {f['ack_p50_waiting']:.1f} / p99 {f['ack_p99_waiting']:.1f} ms waiting "
        f"({ack_ratio:.2f}x)"
    )
    print(
        f"Go in Slack to the callback POST at GitHub, over {n} deployments: "
        f"p50 {f['go_p50']:.0f} ms, p99 {f['go_p99']:.0f} ms, last {f['go_last']:.0f} ms"
    )
    print(f"  answers: {f['answers']} ({f['approved']} approved, {f['distinct']} deployments)")
    broken = (
        f["answers"] != n
        or f["approved"] != n
        or f["distinct"] != n
        or not f["unanswered_before_go"]
    )
    if broken:
        print("FAIL: every deployment must be answered approved exactly once, after the go")
        return 1
    if args.smoke:
        print("smoke run: targets not checked")
        return 0
    checks = [
        (f"memory +{grown:.1f} MiB <= 100 MiB", grown <= 100),
        (
            f"threads +{threads} <= {MAX_MORE_THREADS} (pools, not one each)",
            threads <= MAX_MORE_THREADS,
        ),
        (f"ack p99 waiting {ack_ratio:.2f}x <= 2x before", ack_ratio <= 2.0),
    ]
    for label, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}: {label}")
    return 1 if args.strict and not all(ok for _label, ok in checks) else 0


if __name__ == "__main__":
    raise SystemExit(main())
