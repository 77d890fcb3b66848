"""How fast the deploy gate answers, and what 500 pipelines waiting at it cost.

One run, one machine, loopback only. It migrates a fresh SQLite file, adds an API token,
a release that is rolling out (the gate answers `allow`) and one still waiting for its
sign-off (`pending`), and starts the real server in its own process (`python -m bot.cli
serve`). Beside it, the floor: a bare FastAPI app with one endpoint answering JSON of the
same size, under uvicorn in a process of its own. Then:

1. gate answers: `--requests` GETs at `--concurrency` at a time against each, answers per
   second and p99 (the gate reads the token, the release, its freezes and writes an audit
   event per answer; the floor does nothing);
2. 500 waiters: `--waiters` GETs with `wait=60` on the pending release, all in flight at
   once; the server's resident memory and thread count before and while they wait, and the
   latency of signed `/release help` commands (acks) with and without them waiting. The
   waiters are then released by a change written to the database by another process (the
   gate re-checks every 2 s), and must all answer.

Targets, each against the same run: gate p99 under 3x the floor's; 500 waiters within
100 MiB more memory and without a thread each; ack p99 while they wait within 2x of the
p99 before they came. Every waiter must still be waiting when the go is given, and then
answer. Exit status 1 when a waiter did not (or, with `--strict`, a target is missed).
`--smoke`: 20 gate answers, 10 waiters, targets not checked (the waiters still are).

    uv run python benchmarks/gate.py [--requests 2000] [--concurrency 16] [--waiters 500]
        [--strict] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.ack_latency import FakeSlackProcess  # noqa: E402
from benchmarks.feed import wait_until_up  # noqa: E402
from bot import migrate  # noqa: E402
from bot.sandbox.slack_requests import FORM, sign  # noqa: E402
from models.api import api_tokens  # noqa: E402
from models.db import Database  # noqa: E402
from models.release.records import Release, ReleaseStatus  # noqa: E402

TEAM = "T0001"
SECRET = "bench-secret"
START_TIMEOUT = 60.0
CONNECT_TIMEOUT = 60.0

FLOOR_APP = textwrap.dedent(
    """
    import sys
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()
    BODY = {"decision": "allow", "reasons": [], "release": {"ref": "x@1", "status": "go",
            "stages": [], "owner": "U1", "target_at": "2026-12-01T14:00:00Z"}}

    @app.get("/api/v1/gate")
    async def gate(service: str, version: str) -> dict:
        return BODY

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
    """
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def processes(
    *servers: tuple[list[str], dict[str, str], int],
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Each (command, environment, port) started at once, then each waited for."""
    with ExitStack() as stack:
        started = []
        for command, env, port in servers:
            log = stack.enter_context(tempfile.TemporaryFile())
            server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
            stack.callback(server.wait, timeout=30)
            stack.callback(server.terminate)
            started.append((server, log, port))
        for server, log, port in started:
            wait_until_up(f"http://127.0.0.1:{port}", server, log)
        yield [server for server, _log, _port in started]


def prepare(database_url: str) -> str:
    """The schema, a token, a release rolling out and one waiting; returns the token."""
    db = Database(database_url)
    migrate.upgrade(db.engine)
    now = datetime.now(UTC)
    with db.session() as session:
        _token, raw = api_tokens.issue(session, TEAM, "bench", owner_id="U1", created_by="U1")
        for service, status in (("live", ReleaseStatus.ROLLING_OUT), ("waiting", None)):
            session.add(
                Release(
                    team_id=TEAM,
                    service=service,
                    version="1.0.0",
                    target_at=now + timedelta(hours=1),
                    channel_id="C1",
                    owner_id="U1",
                    status=(status or ReleaseStatus.APPROVED).value,
                    rollout_stages="10,100" if status else "",
                    stage_index=0 if status else None,
                    created_at=now,
                    updated_at=now,
                )
            )
    db.dispose()
    return raw


def connections_to(port: int) -> int:
    """How many open (ESTABLISHED) TCP connections a loopback server on `port` has."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, _remote, state = line.split()[1:4]
        count += state == "01" and int(local.rsplit(":", 1)[1], 16) == port
    return count


async def all_connected(port: int, waiters: int) -> None:
    """Until the server holds a connection for each waiter (a deadline, not a guess)."""
    deadline = time.monotonic() + CONNECT_TIMEOUT
    while connections_to(port) < waiters:
        if time.monotonic() > deadline:
            raise SystemExit(f"{waiters} waiters did not connect within {CONNECT_TIMEOUT:.0f} s")
        await asyncio.sleep(0.05)


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def settled(pid: int) -> None:
    """Until the server has taken in its waiters: under a tenth of a core for half a second."""
    deadline = time.monotonic() + CONNECT_TIMEOUT
    used = cpu_seconds(pid)
    while True:
        await asyncio.sleep(0.5)
        now_used = cpu_seconds(pid)
        if now_used - used < 0.05:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"the server was still busy {CONNECT_TIMEOUT:.0f} s after its waiters")
        used = now_used


def proc_status(pid: int) -> tuple[float, int]:
    """(resident MiB, threads) of a process, from /proc."""
    rss, threads = 0.0, 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
        elif line.startswith("Threads:"):
            threads = int(line.split()[1])
    return rss, threads


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def hammer(
    url: str, headers: dict[str, str], requests: int, concurrency: int
) -> dict[str, float]:
    """`requests` GETs, `concurrency` at a time: answers per second and latencies (ms)."""
    latencies: list[float] = []
    queue = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:

        async def worker() -> None:
            for _ in queue:
                started = time.perf_counter()
                answer = await client.get(url)
                latencies.append((time.perf_counter() - started) * 1000)
                if answer.status_code != 200:
                    raise SystemExit(f"{url}: {answer.status_code} {answer.text[:200]}")

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return {
        "per_second": requests / elapsed,
        "p50": statistics.median(latencies),
        "p99": pct(latencies, 0.99),
    }


def signed_help(base_url: str, n: int) -> list[float]:
    """Latency (ms) of `n` signed `/release help` commands: the ack path."""
    latencies: list[float] = []
    with httpx.Client(timeout=30) as client:
        for i in range(n):
            body = urllib.parse.urlencode(
                {
                    "team_id": TEAM,
                    "user_id": "U1",
                    "channel_id": "C1",
                    "command": "/release",
                    "text": "help",
                    "trigger_id": f"t{i}",
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
            latencies.append((time.perf_counter() - started) * 1000)
            if answer.status_code != 200:
                raise SystemExit(f"ack: {answer.status_code} {answer.text[:200]}")
    return latencies


async def wait_at_gate(
    gate_url: str,
    headers: dict[str, str],
    waiters: int,
    acks: int,
    pid: int,
    base_url: str,
    db_url: str,
) -> dict[str, Any]:
    before_rss, before_threads = proc_status(pid)
    acks_before = await asyncio.to_thread(signed_help, base_url, acks)
    # aiohttp for the waiters: httpx's pool slows down with hundreds of connections open,
    # which measured the client rather than the server.
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(
        headers=headers, connector=connector, timeout=timeout
    ) as client:

        async def wait_once() -> tuple[int, str]:
            async with client.get(gate_url + "&wait=60") as answer:
                return answer.status, await answer.text()

        tasks = [asyncio.create_task(wait_once()) for _ in range(waiters)]
        await all_connected(int(urllib.parse.urlsplit(base_url).port or 80), waiters)
        await settled(pid)  # their first answers read: they wait now
        waiting_rss, waiting_threads = proc_status(pid)
        acks_during = await asyncio.to_thread(signed_help, base_url, acks)
        pending = sum(1 for t in tasks if not t.done())
        # Another process makes the release go: the gate's re-check sees it within 2 s.
        released_at = time.perf_counter()
        await asyncio.to_thread(make_go, db_url)
        answers = await asyncio.gather(*tasks)
        released_in = time.perf_counter() - released_at
    decisions = {json.loads(text)["decision"] for status, text in answers if status == 200}
    refused = [f"{status} {text[:120]}" for status, text in answers if status != 200]
    if refused:
        print(f"  {len(refused)} waiters refused, e.g. {refused[0]}")
    return {
        "rss_before": before_rss,
        "rss_waiting": waiting_rss,
        "threads_before": before_threads,
        "threads_waiting": waiting_threads,
        "still_waiting": pending,
        "answered": sum(1 for status, _ in answers if status == 200),
        "decisions": sorted(decisions),
        "released_in": released_in,
        "ack_p50_before": statistics.median(acks_before),
        "ack_p99_before": pct(acks_before, 0.99),
        "ack_p50_during": statistics.median(acks_during),
        "ack_p99_during": pct(acks_during, 0.99),
    }


def make_go(db_url: str) -> None:
    db = Database(db_url)
    with db.session() as session:
        from sqlmodel import select

        release = session.exec(select(Release).where(Release.service == "waiting")).one()
        release.status = ReleaseStatus.GO.value
        release.updated_at = datetime.now(UTC)
        session.add(release)
    db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--waiters", type=int, default=500)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--smoke", action="store_true", help="10 waiters, a few seconds, targets not checked"
    )
    args = parser.parse_args(argv)
    args.warmup, args.acks = 200, 50
    if args.smoke:
        args.requests, args.concurrency, args.waiters, args.strict = 20, 4, 10, False
        args.warmup, args.acks = 10, 5

    with tempfile.TemporaryDirectory() as folder:
        db_url = f"sqlite:///{folder}/gate.db"
        raw = prepare(db_url)
        headers = {"Authorization": f"Bearer {raw}"}
        port, floor_port = free_port(), free_port()
        fake = FakeSlackProcess()  # Bolt's auth.test and the help answers go to it
        env = os.environ | {
            "SLACK_BOT_TOKEN": fake.token,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.api_url,
            "DATABASE_URL": db_url,
            "RELEASEBOT_PUBLIC_URL": "https://releasebot.example.com",
            "RELEASEBOT_API_RATE_PER_MINUTE": "1000000",
        }
        serve = [
            sys.executable,
            "-m",
            "bot.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        floor = [sys.executable, "-c", FLOOR_APP, str(floor_port)]
        with processes((serve, env, port), (floor, dict(os.environ), floor_port)) as [server, _]:
            base_url = f"http://127.0.0.1:{port}"
            live = f"{base_url}/api/v1/gate?service=live&version=1.0.0"
            bare = f"http://127.0.0.1:{floor_port}/api/v1/gate?service=live&version=1.0.0"
            asyncio.run(hammer(live, headers, args.warmup, args.concurrency))  # warm up both
            asyncio.run(hammer(bare, headers, args.warmup, args.concurrency))
            ours = asyncio.run(hammer(live, headers, args.requests, args.concurrency))
            floor_figures = asyncio.run(hammer(bare, headers, args.requests, args.concurrency))
            waiting = asyncio.run(
                wait_at_gate(
                    f"{base_url}/api/v1/gate?service=waiting&version=1.0.0",
                    headers,
                    args.waiters,
                    args.acks,
                    server.pid,
                    base_url,
                    db_url,
                )
            )
        fake.stop()
    return report(args, ours, floor_figures, waiting)


def report(
    args: argparse.Namespace,
    ours: dict[str, float],
    floor: dict[str, float],
    waiting: dict[str, Any],
) -> int:
    ratio = ours["p99"] / floor["p99"]
    grown = waiting["rss_waiting"] - waiting["rss_before"]
    threads = waiting["threads_waiting"] - waiting["threads_before"]
    ack_ratio = waiting["ack_p99_during"] / max(waiting["ack_p99_before"], 0.001)
    print(f"gate, {args.requests} requests at {args.concurrency} at a time:")
    print(
        f"  releasebot: {ours['per_second']:.0f}/s, p50 {ours['p50']:.1f} ms, "
        f"p99 {ours['p99']:.1f} ms"
    )
    print(
        f"  bare FastAPI: {floor['per_second']:.0f}/s, p50 {floor['p50']:.1f} ms, "
        f"p99 {floor['p99']:.1f} ms"
    )
    throughput = floor["per_second"] / ours["per_second"]
    print(f"  p99 ratio {ratio:.2f}x, throughput ratio {throughput:.2f}x")
    print(f"{args.waiters} waiters (wait=60):")
    print(
        f"  memory {waiting['rss_before']:.0f} -> {waiting['rss_waiting']:.0f} MiB "
        f"(+{grown:.0f}); threads {waiting['threads_before']} -> {waiting['threads_waiting']}"
    )
    print(
        f"  acks p50/p99 {waiting['ack_p50_before']:.1f}/{waiting['ack_p99_before']:.1f} ms "
        f"before, {waiting['ack_p50_during']:.1f}/{waiting['ack_p99_during']:.1f} ms while waiting"
    )
    print(
        f"  still waiting when the go came: {waiting['still_waiting']}; all answered "
        f"{waiting['answered']}/{args.waiters} ({', '.join(waiting['decisions'])}) "
        f"{waiting['released_in']:.1f} s after another process gave the go"
    )
    waited = (
        waiting["still_waiting"] == args.waiters
        and waiting["answered"] == args.waiters
        and waiting["decisions"] == ["allow"]
    )
    print(("PASS: " if waited else "FAIL: ") + "every waiter waited, then answered allow")
    if args.smoke:
        print("smoke run: targets not checked")
        return 0 if waited else 1
    targets = [
        (ratio < 3, f"gate p99 {ratio:.2f}x the floor's < 3x"),
        (grown < 100, f"{args.waiters} waiters +{grown:.0f} MiB < 100 MiB"),
        (
            threads < args.waiters / 10,
            f"{args.waiters} waiters add {threads} threads (not one each)",
        ),
        (
            ack_ratio < 2,
            f"acks while waiting p99 {waiting['ack_p99_during']:.1f} ms, {ack_ratio:.2f}x the "
            "p99 before < 2x",
        ),
    ]
    for ok, text in targets:
        print(("PASS: " if ok else "FAIL: ") + text)
    missed = not all(ok for ok, _ in targets)
    return 1 if not waited or (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
