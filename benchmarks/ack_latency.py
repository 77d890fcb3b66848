"""How fast releasebot acks `/release` slash commands, against Bolt's own floor.

One run, one machine, loopback only. It starts:

1. a FakeSlack (bot/sandbox/slack_standin.py) for the Web API calls, in a child process so
   its work does not share the load generator's GIL;
2. the real releasebot server, `python -m bot.cli serve --host 127.0.0.1 --port P`, on a fresh
   SQLite file (or `--database-url`);
3. a bare Bolt app (AsyncApp + AsyncSlackRequestHandler under uvicorn, one listener that only
   acks `/release`): this file run with `--bare-server PORT`.

Then it sends both servers the same correctly signed slash commands, alternating
`/release status payments@2.4.0` and `/release propose svc<N> 1.0.<N> <time>` (each proposal a
new release), one at a time and 16 at a time, and prints p50/p99 per phase with the ratios
releasebot / bare Bolt and the targets:

- sequential p50 of releasebot <= 3 x sequential p50 of bare Bolt;
- concurrent p99 of releasebot <= 2 x concurrent p99 of bare Bolt.

Exit status: 1 on any non-200 answer, a proposal without its card or a status without its
answer (or a server that would not start); 1 when a target is missed and `--strict` is given;
2 when something needed is missing; 0 otherwise. `--smoke`: a few requests per phase, one
round, targets not checked (the answers still are).

The bare app needs aiohttp (slack_sdk's AsyncWebClient imports it), a development
dependency of the project::

    uv run python benchmarks/ack_latency.py [--smoke]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import multiprocessing
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parents[1]
# `python benchmarks/ack_latency.py` puts benchmarks/ first on sys.path, where a sibling module
# (benchmarks/scheduler.py, say) would hide the project's package of the same name.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))

SIGNING_SECRET = "bench-signing-secret"
TEAM = "T0001"
OWNER = "U_OWNER"
CHANNEL = "C_RELEASES"
STATUS_TEXT = "status payments@2.4.0"
SEQ_P50_FACTOR = 3.0
CONC_P99_FACTOR = 2.0
BOT = "releasebot"
BARE = "bare Bolt"
PHASES = ("sequential", "concurrent")
BOT_VARIANTS = ("cli", "quiet-log", "default-runner")
START_TIMEOUT = 60.0
SETTLE_CAP = 120.0


# --------------------------------------------------------------------------------------------
# The bare Bolt app and the releasebot variants (each run in its own process)
# --------------------------------------------------------------------------------------------


def serve_bare(port: int, api_url: str, token: str, signing_secret: str) -> int:
    """Bolt's floor: an AsyncApp whose only listener acks `/release`, under uvicorn."""
    import uvicorn
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncAck, AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    # AsyncApp takes the token from the client when one is given (and warns if both are);
    # it has no token_verification_enabled: auth.test runs lazily on the first request.
    app = AsyncApp(
        signing_secret=signing_secret,
        client=AsyncWebClient(token=token, base_url=api_url),
        process_before_response=True,
        request_verification_enabled=True,
    )

    @app.command("/release")
    async def release(ack: AsyncAck) -> None:
        await ack()

    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(_request: Request) -> Response:
        return PlainTextResponse("ok")

    web = Starlette(
        routes=[
            Route("/slack/events", events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )
    uvicorn.run(web, host="127.0.0.1", port=port, workers=1, log_level="warning", access_log=False)
    return 0


def serve_bot_variant(variant: str, serve_args: list[str]) -> int:
    """`bot.cli.main(["serve", ...])` with one thing changed, to see what that thing costs.

    quiet-log: uvicorn at log level warning without the access log (bot/cli.py hard-codes
    "info", which logs every request); default-runner: Bolt's default listener runner
    (process_before_response=False, polls for the ack every 10 ms) instead of ours.
    """
    import logging

    import uvicorn

    import bot.app
    import bot.cli

    if variant == "quiet-log":
        real_run = uvicorn.run
        real_basic_config = logging.basicConfig

        # bot/cli.py calls uvicorn.run(...) or uvicorn.Server(uvicorn.Config(...)).run().
        class QuietConfig(uvicorn.Config):
            def __init__(self, app: Any, **kwargs: Any) -> None:
                kwargs.update(log_level="warning", access_log=False)
                super().__init__(app, **kwargs)

        def quiet_run(app: Any, **kwargs: Any) -> None:
            kwargs.update(log_level="warning", access_log=False)
            real_run(app, **kwargs)

        def quiet_basic_config(**kwargs: Any) -> None:
            kwargs["level"] = logging.WARNING
            real_basic_config(**kwargs)

        uvicorn.Config = QuietConfig  # type: ignore[misc,assignment]
        uvicorn.run = quiet_run  # type: ignore[assignment]
        logging.basicConfig = quiet_basic_config  # type: ignore[assignment]
    elif variant == "default-runner":
        real_app = bot.app.App

        def default_runner_app(*args: Any, **kwargs: Any) -> Any:
            kwargs["process_before_response"] = False
            return real_app(*args, **kwargs)

        bot.app.App = default_runner_app  # type: ignore[assignment,misc]
    else:
        raise SystemExit(f"unknown bot variant {variant!r}")
    return bot.cli.main(serve_args)


# --------------------------------------------------------------------------------------------
# FakeSlack in a child process
# --------------------------------------------------------------------------------------------


def _fake_slack_child(conn: Connection) -> None:
    from bot.sandbox.slack_standin import FakeSlack

    fake = FakeSlack().start()
    try:
        conn.send({"token": fake.token, "api_url": fake.api_url})
        while True:
            op, arg = conn.recv()
            if op == "response_urls":
                conn.send(
                    [
                        fake.new_response_url(channel_id=CHANNEL, user_id=OWNER)
                        for _ in range(int(arg))
                    ]
                )
            elif op == "counts":
                by_method: dict[str, list[int]] = {}
                cards = 0
                answers = 0  # status answers posted to response_urls after the ack
                for call in fake.calls():
                    if call.method == "response_url" and str(call.args.get("text", "")).startswith(
                        "payments@2.4.0:"
                    ):
                        answers += 1
                    ok_err = by_method.setdefault(call.method, [0, 0])
                    ok_err[0 if call.ok else 1] += 1
                    if call.method == "chat.postMessage" and call.ok:
                        cards += not call.args.get("thread_ts")
                conn.send({"cards": cards, "by_method": by_method, "answers": answers})
            elif op == "stop":
                conn.send(None)
                return
    except (EOFError, KeyboardInterrupt):
        return
    finally:
        fake.stop()


class FakeSlackProcess:
    """The FakeSlack child: response_urls on demand, counts of the calls it received."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child_conn = ctx.Pipe()
        self._lock = threading.Lock()
        self._proc = ctx.Process(
            target=_fake_slack_child, args=(child_conn,), name="fake-slack", daemon=True
        )
        self._proc.start()
        child_conn.close()
        info = self._recv(START_TIMEOUT)
        self.token: str = info["token"]
        self.api_url: str = info["api_url"]

    def _recv(self, timeout: float) -> Any:
        if not self._conn.poll(timeout):
            raise RuntimeError("FakeSlack process did not answer")
        return self._conn.recv()

    def _ask(self, op: str, arg: Any = None) -> Any:
        with self._lock:
            self._conn.send((op, arg))
            return self._recv(30)

    def response_urls(self, n: int) -> list[str]:
        return list(self._ask("response_urls", n)) if n else []

    def counts(self) -> dict[str, Any]:
        return dict(self._ask("counts"))

    def cards(self) -> int:
        return int(self.counts()["cards"])

    def stop(self) -> None:
        try:
            if self._proc.is_alive():
                self._ask("stop")
        except (OSError, EOFError, RuntimeError):
            pass
        self._proc.join(timeout=5)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(timeout=5)
        self._conn.close()


# --------------------------------------------------------------------------------------------
# Servers as subprocesses
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The parent's environment without Slack/releasebot settings or proxies, plus `extra`."""
    dropped = ("SLACK_", "RELEASEBOT_", "DATABASE_URL", "PORT")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(dropped) and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
    }
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class Server:
    name: str
    command: list[str]
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def events_url(self) -> str:
        return f"{self.url}/slack/events"

    def launch(self, env: dict[str, str], cwd: Path) -> None:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_until_up(self) -> None:
        assert self.proc is not None, "launch() first"
        deadline = time.monotonic() + START_TIMEOUT
        with httpx.Client(timeout=2, trust_env=False) as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")
                try:
                    if http.get(f"{self.url}/healthz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        raise RuntimeError(f"{self.name}: GET /healthz was not 200 within {START_TIMEOUT:.0f}s")

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=40)  # releasebot waits up to 30 s for its background work
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlashCommand:
    kind: str  # "status" | "propose"
    form: dict[str, str]


@dataclass(frozen=True)
class Sample:
    kind: str
    ms: float
    status: int
    body: bytes


class Commands:
    """Slash commands as Slack sends them: status and propose alternating, each proposal a new
    service/version, each command with its own response_url (on the fake) and trigger_id."""

    def __init__(self, fake: FakeSlackProcess, base: int, when: str | None = None) -> None:
        self.fake = fake
        self.base = base
        self.proposals = 0
        self.statuses = 0
        if when is None:
            at = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
            when = at.strftime("%Y-%m-%dT%H:%MZ")
        self.when = when

    def form(self, text: str, response_url: str) -> dict[str, str]:
        from bot.sandbox.slack_requests import SignedSlackClient

        # The fields and order of SignedSlackClient.command.
        return {
            "token": "legacy-verification-token",
            "team_id": TEAM,
            "team_domain": "acme",
            "channel_id": CHANNEL,
            "channel_name": SignedSlackClient.channel_name(CHANNEL),
            "user_id": OWNER,
            "user_name": "owner",
            "command": "/release",
            "text": text,
            "api_app_id": "A0001",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": SignedSlackClient.new_trigger_id(),
        }

    def one(self, kind: str, text: str) -> SlashCommand:
        self.statuses += kind == "status"
        return SlashCommand(kind, self.form(text, self.fake.response_urls(1)[0]))

    def batch(self, n: int) -> list[SlashCommand]:
        urls = self.fake.response_urls(n)
        out = []
        for i, url in enumerate(urls):
            if i % 2 == 0:
                self.statuses += 1
                out.append(SlashCommand("status", self.form(STATUS_TEXT, url)))
            else:
                self.proposals += 1
                k = self.base + self.proposals
                text = f"propose svc{k} 1.0.{k} {self.when}"
                out.append(SlashCommand("propose", self.form(text, url)))
        return out


def send(http: httpx.Client, url: str, request: SlashCommand) -> Sample:
    """Sign at send time (Slack's 5-minute window), then time the POST to the full response."""
    from bot.sandbox.slack_requests import FORM, SLACK_USER_AGENT, sign

    body = urlencode(request.form).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": FORM,
        "User-Agent": SLACK_USER_AGENT,
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": sign(SIGNING_SECRET, body, timestamp),
    }
    start = time.perf_counter()
    try:
        response = http.post(url, content=body, headers=headers)
        status, content = response.status_code, response.content
    except httpx.HTTPError as error:
        status, content = 0, repr(error).encode()
    return Sample(request.kind, (time.perf_counter() - start) * 1000, status, content)


@contextmanager
def clients(server: Server, n: int) -> Iterator[list[httpx.Client]]:
    """`n` keep-alive clients, each with its connection open (GET /healthz) before timing."""
    with ExitStack() as stack:
        made = [stack.enter_context(httpx.Client(timeout=30, trust_env=False)) for _ in range(n)]
        for http in made:
            http.get(f"{server.url}/healthz")
        yield made


def run_sequential(server: Server, requests: Sequence[SlashCommand]) -> tuple[list[Sample], float]:
    with clients(server, 1) as [http]:
        start = time.perf_counter()
        samples = [send(http, server.events_url, r) for r in requests]
        return samples, time.perf_counter() - start


def run_concurrent(
    server: Server, requests: Sequence[SlashCommand], concurrency: int
) -> tuple[list[Sample], float]:
    """`concurrency` threads, one client each, each sending the next request as soon as its
    previous one is answered: `concurrency` requests in flight until the list runs out."""
    lock = threading.Lock()
    pending = iter(requests)

    def worker(http: httpx.Client) -> list[Sample]:
        out: list[Sample] = []
        while True:
            with lock:
                request = next(pending, None)
            if request is None:
                return out
            out.append(send(http, server.events_url, request))

    with clients(server, concurrency) as made, ThreadPoolExecutor(concurrency) as pool:
        start = time.perf_counter()
        per_worker = list(pool.map(worker, made))
        wall = time.perf_counter() - start
    return [s for samples in per_worker for s in samples], wall


def background_done(
    fake: FakeSlackProcess, cards: int, answers: int, timeout: float = SETTLE_CAP
) -> dict[str, Any]:
    """Wait for releasebot's background work: until the FakeSlack has `cards` cards
    (chat.postMessage) and `answers` status answers (response_url), or `timeout` seconds
    have passed. Returns the FakeSlack's last counts."""
    deadline = time.monotonic() + timeout
    while True:
        counts = fake.counts()
        done = counts["cards"] >= cards and counts["answers"] >= answers
        if done or time.monotonic() > deadline:
            return counts
        time.sleep(0.05)


def unexpected(server: str, sample: Sample) -> bool:
    """An ack that is not the normal one. releasebot acks every command empty and sends the
    answer (a status, or an error notice) through the response_url afterwards."""
    if sample.status != 200:
        return False  # counted as non-200
    return sample.body.strip() not in (b"", b"{}")


# --------------------------------------------------------------------------------------------
# Statistics and report
# --------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summary(samples: Sequence[Sample], wall: float) -> dict[str, Any]:
    ms = [s.ms for s in samples]
    return {
        "n": len(ms),
        "p50_ms": percentile(ms, 50),
        "p90_ms": percentile(ms, 90),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms) if ms else math.nan,
        "mean_ms": sum(ms) / len(ms) if ms else math.nan,
        "req_per_s": len(ms) / wall if wall > 0 else math.nan,
        "non_200": sum(s.status != 200 for s in samples),
    }


@dataclass
class Results:
    samples: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)
    walls: dict[tuple[str, str], float] = field(default_factory=dict)

    def add(self, phase: str, server: str, samples: list[Sample], wall: float) -> None:
        self.samples.setdefault((phase, server), []).extend(samples)
        self.walls[(phase, server)] = self.walls.get((phase, server), 0.0) + wall

    def stats(self, phase: str, server: str, kind: str | None = None) -> dict[str, Any]:
        samples = self.samples.get((phase, server), [])
        if kind is not None:
            samples = [s for s in samples if s.kind == kind]
        wall = self.walls.get((phase, server), 0.0) if kind is None else 0.0
        return summary(samples, wall)


def ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.nan


def build_report(
    results: Results, args: argparse.Namespace, info: dict[str, Any]
) -> dict[str, Any]:
    phases: dict[str, Any] = {}
    for phase in PHASES:
        bot, bare = results.stats(phase, BOT), results.stats(phase, BARE)
        phases[phase] = {
            BOT: bot,
            BARE: bare,
            "ratio_p50": ratio(bot["p50_ms"], bare["p50_ms"]),
            "ratio_p99": ratio(bot["p99_ms"], bare["p99_ms"]),
            "releasebot_by_command": {
                kind: results.stats(phase, BOT, kind) for kind in ("status", "propose")
            },
        }
    seq_p50 = phases["sequential"][BOT]["p50_ms"]
    seq_limit = SEQ_P50_FACTOR * phases["sequential"][BARE]["p50_ms"]
    conc_p99 = phases["concurrent"][BOT]["p99_ms"]
    conc_limit = CONC_P99_FACTOR * phases["concurrent"][BARE]["p99_ms"]
    targets = [
        {
            "name": "sequential p50",
            "value_ms": seq_p50,
            "limit_ms": seq_limit,
            "rule": f"releasebot sequential p50 <= {SEQ_P50_FACTOR:g} x bare Bolt sequential p50",
            "pass": seq_p50 <= seq_limit,
        },
        {
            "name": "concurrent p99",
            "value_ms": conc_p99,
            "limit_ms": conc_limit,
            "rule": f"releasebot concurrent p99 <= {CONC_P99_FACTOR:g} x bare Bolt concurrent p99",
            "pass": conc_p99 <= conc_limit,
        },
    ]
    all_samples = [(server, s) for (_, server), ss in results.samples.items() for s in ss]
    non_200 = {
        server: sum(s.status != 200 for srv, s in all_samples if srv == server)
        for server in (BOT, BARE)
    }
    odd = {
        server: sum(unexpected(server, s) for srv, s in all_samples if srv == server)
        for server in (BOT, BARE)
    }
    return {
        "config": {
            "requests": args.requests,
            "concurrent_requests": args.concurrent_requests,
            "concurrency": args.concurrency,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "bot_variant": args.bot_variant,
            "smoke": args.smoke,
            "when": args.when or "ISO 8601, 3 days ahead",
            **info,
        },
        "phases": phases,
        "targets": targets,
        "non_200": non_200,
        "unexpected_acks": odd,
    }


def fmt(value: float, unit: str = "") -> str:
    return "-" if math.isnan(value) else f"{value:.2f}{unit}"


def print_table(report: dict[str, Any]) -> None:
    c = report["config"]
    print()
    print("Slash-command ack latency: releasebot vs bare Bolt (same run, same machine)")
    print(
        f"  seq {c['requests']} + conc {c['concurrent_requests']} @{c['concurrency']} "
        f"per server per round, {c['rounds']} rounds pooled, warm-up {c['warmup']}\n"
        f"  proposals' time: {c['when']}"
    )
    print(
        f"  releasebot: {c['bot_command']}  [{c['bot_variant']}]  db: {c['database']}\n"
        f"  bare Bolt: AsyncApp + AsyncSlackRequestHandler, uvicorn 1 worker\n"
        f"  {c['machine']}"
    )
    print()
    header = (
        f"{'phase':<11} {'server':<19} {'n':>5} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8} {'req/s':>7}"
    )
    print(header)
    print("-" * len(header))
    for phase in PHASES:
        p = report["phases"][phase]
        for server in (BOT, BARE):
            s = p[server]
            print(
                f"{phase:<11} {server:<19} {s['n']:>5} {fmt(s['p50_ms']):>8} "
                f"{fmt(s['p90_ms']):>8} {fmt(s['p99_ms']):>8} {fmt(s['max_ms']):>8} "
                f"{fmt(s['req_per_s']):>7}"
            )
        bot, bare = p[BOT], p[BARE]
        print(
            f"{'':<11} {'ratio rb/bare':<19} {'':>5} {fmt(p['ratio_p50'], 'x'):>8} "
            f"{fmt(ratio(bot['p90_ms'], bare['p90_ms']), 'x'):>8} {fmt(p['ratio_p99'], 'x'):>8}"
        )
        for kind, s in p["releasebot_by_command"].items():
            print(
                f"{'':<11} {'  rb ' + kind + ' only':<19} {s['n']:>5} {fmt(s['p50_ms']):>8} "
                f"{fmt(s['p90_ms']):>8} {fmt(s['p99_ms']):>8} {fmt(s['max_ms']):>8}"
            )
        print()
    print("Targets")
    if report["config"]["smoke"]:
        print("  smoke run: targets not checked")
    else:
        for t in report["targets"]:
            verdict = "PASS" if t["pass"] else "FAIL"
            print(
                f"  {verdict}  {t['rule']}: {fmt(t['value_ms'])} ms (limit {fmt(t['limit_ms'])} ms)"
            )
    n2 = report["non_200"]
    verdict = "PASS" if sum(n2.values()) == 0 else "FAIL"
    print(f"  {verdict}  non-200 responses: {n2[BOT]} releasebot, {n2[BARE]} bare Bolt (must be 0)")
    odd = report["unexpected_acks"]
    print(f"        unexpected ack bodies: {odd[BOT]} releasebot, {odd[BARE]} bare Bolt")
    cards = report["cards"]
    verdict = "PASS" if cards["complete"] else "FAIL"
    print(f"  {verdict}  a card per proposal and an answer per status command (must be all)")
    print(
        f"        cards posted (chat.postMessage): {cards['posted']} for "
        f"{cards['proposals_sent']} proposals sent to releasebot "
        f"(settled after {cards['settle_s']:.1f}s); Web API errors: {cards['api_errors'] or 0}"
    )
    print(
        f"        status answers (response_url, after the ack): {cards['status_answers']} for "
        f"{cards['statuses_sent']} status commands sent to releasebot"
    )


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[ack_latency] {message}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ack_latency",
        description="Ack latency of /release: releasebot vs a bare Bolt app, same run.",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=300,
        help="sequential requests per server per round (default 300)",
    )
    parser.add_argument(
        "--concurrent-requests",
        type=int,
        default=320,
        help="concurrent-phase requests per server per round (default 320)",
    )
    parser.add_argument("--concurrency", type=int, default=16, help="in flight (default 16)")
    parser.add_argument("--rounds", type=int, default=2, help="repeat all phases (default 2)")
    parser.add_argument("--warmup", type=int, default=50, help="requests per server (default 50)")
    parser.add_argument(
        "--database-url",
        help="releasebot's DATABASE_URL (default: a new SQLite file in a temporary directory)",
    )
    parser.add_argument(
        "--bot-variant",
        choices=BOT_VARIANTS,
        default="cli",
        help="cli: `python -m bot.cli serve` as shipped (default); quiet-log: the same with "
        "uvicorn at warning, no access log; default-runner: the same with Bolt's "
        "process_before_response=False",
    )
    parser.add_argument(
        "--when",
        help="the time in each `/release propose` (default: ISO 8601 with Z, 3 days ahead); "
        "e.g. 'tomorrow 14:00' to time natural times, which dateparser reads in the ack",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a few requests per phase, one round, a few seconds; targets not checked",
    )
    # Internal: the child processes.
    parser.add_argument("--bare-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--bot-launcher", choices=BOT_VARIANTS, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    args.rest = rest
    if args.bot_launcher is None and rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    for name in ("requests", "concurrent_requests", "concurrency", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must be at least 0")
    if args.smoke:
        args.requests, args.concurrent_requests, args.concurrency = 6, 8, 2
        args.rounds, args.warmup = 1, 2
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.bare_server is not None:
        return serve_bare(args.bare_server, args.api_url, args.token, SIGNING_SECRET)
    if args.bot_launcher is not None:
        return serve_bot_variant(args.bot_launcher, list(args.rest))
    if importlib.util.find_spec("aiohttp") is None:
        print(
            "ack_latency: the bare Bolt app needs aiohttp (slack_sdk's AsyncWebClient), which "
            "is not installed; run:\n  uv sync && uv run python benchmarks/ack_latency.py",
            file=sys.stderr,
        )
        return 2
    return run(args)


def run(args: argparse.Namespace) -> int:
    servers: list[Server] = []
    fake: FakeSlackProcess | None = None
    with tempfile.TemporaryDirectory(prefix="releasebot-bench-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            fake = FakeSlackProcess()
            log(f"FakeSlack at {fake.api_url}")
            database_url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
            bot_port, bare_port = free_port(), free_port()
            serve_args = ["serve", "--host", "127.0.0.1", "--port", str(bot_port)]
            if args.bot_variant == "cli":
                bot_cmd = [sys.executable, "-m", "bot.cli", *serve_args]
            else:
                script = str(Path(__file__).resolve())
                bot_cmd = [sys.executable, script, "--bot-launcher", args.bot_variant, *serve_args]
            bot = Server(BOT, bot_cmd, bot_port, tmp / "releasebot.log")
            bare_cmd = [sys.executable, str(Path(__file__).resolve()), "--bare-server"]
            bare_cmd += [str(bare_port), "--api-url", fake.api_url, "--token", fake.token]
            bare = Server(BARE, bare_cmd, bare_port, tmp / "bare.log")
            servers = [bot, bare]
            bot_env = child_env(
                {
                    "SLACK_BOT_TOKEN": fake.token,
                    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                    "SLACK_API_URL": fake.api_url,
                    "DATABASE_URL": database_url,
                    "RELEASEBOT_PUBLIC_URL": bot.url,
                }
            )
            for server, env in ((bot, bot_env), (bare, child_env({}))):
                # cwd: a scratch directory, so no .env file is read.
                server.launch(env, cwd=tmp)
            for server in servers:
                try:
                    server.wait_until_up()
                except RuntimeError as error:
                    log(f"{error}\n--- {server.name} log ---\n{server.log_tail()}")
                    return 1
                log(f"{server.name} up at {server.url} (pid {server.proc and server.proc.pid})")
            return measure(args, fake, bot, bare, database_url)
        except KeyboardInterrupt:
            log("interrupted")
            return 130
        finally:
            for server in servers:
                server.stop()
            if fake is not None:
                fake.stop()


def measure(
    args: argparse.Namespace,
    fake: FakeSlackProcess,
    bot: Server,
    bare: Server,
    database_url: str,
) -> int:
    # Service names must be new in a database that outlives the run (--database-url).
    base = 0 if args.database_url is None else int(time.time()) * 1000
    commands = {BOT: Commands(fake, base, args.when), BARE: Commands(fake, base, args.when)}
    servers = {BOT: bot, BARE: bare}
    # Proposed once so that `status payments@2.4.0` finds it.
    with clients(bot, 1) as [http]:
        setup = commands[BOT].one("propose", f"propose payments 2.4.0 {commands[BOT].when}")
        first = send(http, bot.events_url, setup)
        if first.status != 200:
            log(f"setup proposal answered {first.status}: {first.body[:300]!r}")
            return 1
        # 1 when its card was posted; 0 when it was already in a reused --database-url.
        extra_proposals = min(1, background_done(fake, 1, 0, timeout=30)["cards"])
        if not extra_proposals:
            log("no card for payments 2.4.0 (already in this database?); status must still find it")
        check = send(http, bot.events_url, commands[BOT].one("status", STATUS_TEXT))
        if check.status != 200 or unexpected(BOT, check):
            log(f"status check answered {check.status}: {check.body[:300]!r}")
            return 1
        if background_done(fake, 0, 1, timeout=30)["answers"] < 1:
            log("the status answer never reached its response_url")
            return 1

    def bot_background_done() -> dict[str, Any]:
        """Every card and status answer of what releasebot was sent so far is out."""
        expected_cards = commands[BOT].proposals + extra_proposals
        return background_done(fake, expected_cards, commands[BOT].statuses)

    log(f"warming up ({args.warmup} requests per server)")
    for name, server in servers.items():
        half = args.warmup // 2
        run_sequential(server, commands[name].batch(half))
        run_concurrent(server, commands[name].batch(args.warmup - half), args.concurrency)
        if name == BOT:
            bot_background_done()

    results = Results()
    for round_no in range(args.rounds):
        order = (BOT, BARE) if round_no % 2 == 0 else (BARE, BOT)
        for phase in PHASES:
            for name in order:
                server = servers[name]
                n = args.requests if phase == "sequential" else args.concurrent_requests
                batch = commands[name].batch(n)
                if phase == "sequential":
                    samples, wall = run_sequential(server, batch)
                else:
                    samples, wall = run_concurrent(server, batch, args.concurrency)
                results.add(phase, name, samples, wall)
                p50 = percentile([s.ms for s in samples], 50)
                p99 = percentile([s.ms for s in samples], 99)
                bad = sum(s.status != 200 for s in samples)
                log(
                    f"round {round_no + 1}/{args.rounds} {phase:<10} {name:<10} "
                    f"p50 {p50:6.2f} ms  p99 {p99:7.2f} ms  non-200 {bad}"
                )
                if name == BOT:  # its background work must not load the other's phase
                    bot_background_done()

    log("waiting for releasebot's background work (a card per proposal, an answer per status)")
    started = time.monotonic()
    counts = bot_background_done()
    settle_s = time.monotonic() - started
    posted = counts["cards"]
    api_errors = {m: err for m, (_ok, err) in counts["by_method"].items() if err}

    info = {
        "bot_command": " ".join(["python", *bot.command[1:]]),
        "database": database_url.split("@")[-1] if args.database_url else "SQLite (temp file)",
        "machine": (
            f"{platform.python_implementation()} {platform.python_version()}, "
            f"{os.cpu_count()} CPUs, {platform.machine()}, {platform.system()}"
        ),
    }
    report = build_report(results, args, info)
    report["cards"] = {
        "posted": posted,
        "proposals_sent": commands[BOT].proposals + extra_proposals,
        "settle_s": settle_s,
        "api_calls": counts["by_method"],
        "api_errors": api_errors,
        "status_answers": counts.get("answers", 0),
        "statuses_sent": commands[BOT].statuses,
    }
    complete = (
        posted >= commands[BOT].proposals + extra_proposals
        and counts["answers"] >= commands[BOT].statuses
    )
    report["cards"]["complete"] = complete
    non_200 = sum(report["non_200"].values())
    missed = [t["name"] for t in report["targets"] if not t["pass"]]
    strict = args.strict and not args.smoke
    status = 1 if non_200 or not complete or (strict and missed) else 0
    report["exit_status"] = status
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print_table(report)
    if non_200:
        log(f"--- releasebot log (tail) ---\n{bot.log_tail()}")
    return status


if __name__ == "__main__":
    sys.exit(main())
