"""How fast the release calendar feed is served, against icalendar serialising the same events.

One run, one machine, loopback only. It migrates a fresh SQLite file (or, with `--postgres`,
a scratch schema in RELEASEBOT_TEST_POSTGRES_URL), inserts `--releases`
releases (default 10,000) with 1-3 approvers each, issues two calendar tokens (everything,
and one channel's releases), and starts the real server in its own process, as production
runs it (`python -m bot.cli serve`), so the load generator here does not share its
interpreter. Then:

1. the full feed, end to end over HTTP (token lookup, fingerprint, load, build, transfer):
   first from cold (every event built by icalendar, as after a restart), then `--runs`
   times with the events the server kept (`handlers/calendar_feed/ics.py`,
   FragmentCache). Beside it, in this process on the same rows: a rebuild of every
   fragment from cold, the feed assembled from kept fragments, and icalendar's
   `Calendar.to_ical()` of the whole calendar (objects pre-built, building them not
   timed; and built and serialised, timed), whose bytes the served feed must equal;
2. the 304 path: 200 requests with If-None-Match for each token, p50/p99. Polls are
   answered from the server's per-process validator cache (handlers/calendar_feed/route.py)
   as in production; what a cache miss adds, the fingerprint query (and, for a channel's
   feed with no membership answer remembered, the query whether it holds releases only
   members see), is timed alone and printed beside it.

Floors, in the same run: icalendar's `to_ical()` of the same whole calendar (objects
pre-built), and `GET /healthz` on the same server (its HTTP stack, a thread hop and one
`SELECT 1`), polled as the 304s are.

Targets: the full feed with kept fragments (median of the runs) within 0.25 times
icalendar's `to_ical()` (the old target, 1 s, was a quarter of it at 10,000 releases here);
the 304 answer's p99 within 3 times /healthz's p99 (each token); the served bytes equal
icalendar's. Prints PASS/FAIL lines; exit status 1 on a FAIL when `--strict` is given.
`--smoke`: 50 releases, 10 polls each, targets not checked (the bytes still are).

    uv run python benchmarks/feed.py [--releases 10000] [--runs 5] [--postgres] [--strict]
        [--smoke]
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
from sqlalchemy import insert, text

ROOT = Path(__file__).resolve().parents[1]
# `python benchmarks/feed.py` puts benchmarks/ first, where benchmarks/scheduler.py would
# hide the scheduler package: the project root goes before it.
sys.path.insert(0, str(ROOT))

from bot import migrate  # noqa: E402
from bot.app import create_releasebot  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from handlers.calendar_feed.ics import (  # noqa: E402
    FragmentCache,
    event_data,
    event_fragment,
    feed_bytes,
    fragment_key,
    icalendar_calendar,
)
from models.calendar_feed import subscriptions as calendar  # noqa: E402
from models.db import Database  # noqa: E402
from models.release.records import Approver, Release, ReleaseStatus, SignOffState  # noqa: E402

TEAM = "T0001"
CHANNEL = "C0001"
FEED_FACTOR = 0.25  # × icalendar's to_ical() of the whole calendar
NOT_MODIFIED_FACTOR = 3.0  # × /healthz's p99
START_TIMEOUT = 60.0
SERVICES = 50
# Everything the fingerprint reads, so it never has to visit the table's rows.
COVERING_INDEX = (
    "CREATE INDEX bench_release_feed ON release (team_id, target_at, status, updated_at, sequence)"
)
NOTES = [
    "",
    "Rollback: redeploy the previous tag. Dashboards: https://grafana.example.com/d/abc",
    "Migration adds an index; watch p99, and the queue depth.\nOn-call: @payments-oncall; "
    "runbook at https://wiki.example.com/runbooks/payments,v2 (see \\\\share\\notes)",
    "Ünïcödé release notes ✓ — " * 12,
]
# Mostly open releases, some finished ones, a few cancelled (recently: they stay in the feed).
STATES = [ReleaseStatus.PROPOSED] * 4 + [
    ReleaseStatus.APPROVED,
    ReleaseStatus.GO,
    ReleaseStatus.RELEASED,
    ReleaseStatus.RELEASED,
    ReleaseStatus.CANCELLED,
    ReleaseStatus.NO_GO,
]


def seed(db: Database, count: int, now: datetime) -> None:
    """Insert `count` releases and their approvers with two executemany statements."""
    rnd = random.Random(2026)
    releases: list[dict[str, Any]] = []
    approvers: list[dict[str, Any]] = []
    for i in range(1, count + 1):
        state = rnd.choice(STATES)
        target = now + timedelta(minutes=rnd.randint(-170 * 24 * 60, 700 * 24 * 60))
        updated = now - timedelta(minutes=rnd.randint(0, 20 * 24 * 60))
        releases.append(
            {
                "id": i,
                "uid": f"bench{i:011d}",
                "team_id": TEAM,
                "service": f"svc-{i % SERVICES}",
                "version": f"1.{i}.0",
                "target_at": target,
                "window_minutes": rnd.choice([30, 60, 120]),
                "channel_id": f"C{i % 7:04d}",
                "owner_id": f"U{i % 97:04d}",
                "status": state.value,
                "rollout_stages": rnd.choice(["", "10,50,100", "1,5,25,100"]),
                "stage_index": None,
                "notes": rnd.choice(NOTES),
                "status_reason": "superseded, see thread" if state.is_finished else "",
                "status_by": None,
                "permalink": f"https://acme.slack.com/archives/C{i % 7:04d}/p17{i:011d}",
                "request_key": None,
                "sequence": rnd.randint(0, 3),
                "created_at": updated - timedelta(days=1),
                "updated_at": updated,
            }
        )
        for position in range(rnd.randint(1, 3)):
            group = position == 2
            approvers.append(
                {
                    "release_id": i,
                    "position": position,
                    "kind": "usergroup" if group else "user",
                    "slack_id": f"S{position}" if group else f"U{(i + position + 1) % 97:04d}Q",
                    "handle": "qa-team" if group else "",
                    "state": rnd.choice(list(SignOffState)).value,
                    "reason": "",
                }
            )
    with db.session() as session:
        session.execute(insert(Release), releases)
        session.execute(insert(Approver), approvers)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def verdict(ok: bool, text: str) -> bool:
    print(f"{'PASS' if ok else 'FAIL'}: {text}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--postgres", action="store_true", help="a scratch schema in RELEASEBOT_TEST_POSTGRES_URL"
    )
    parser.add_argument(
        "--covering-index",
        action="store_true",
        help="experiment: add an index covering the fingerprint query (not in the migrations)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--smoke", action="store_true", help="50 releases, a few seconds, targets not checked"
    )
    args = parser.parse_args(argv)
    args.polls = 200
    if args.smoke:
        args.releases, args.runs, args.polls, args.strict = 50, 1, 10, False
    with ExitStack() as stack:
        if args.postgres:
            from tests.support.databases import PostgresSchema

            schema = PostgresSchema()  # migrated; dropped again below
            stack.callback(schema.close)
            url, backend = schema.url, "PostgreSQL"
        else:
            directory = stack.enter_context(tempfile.TemporaryDirectory())
            url, backend = f"sqlite:///{directory}/feed-bench.db", "SQLite"
        return bench(args, url, backend)


def bench(args: argparse.Namespace, url: str, backend: str) -> int:
    settings = load_settings(
        SLACK_BOT_TOKEN="xoxb-bench",
        SLACK_SIGNING_SECRET="bench",
        DATABASE_URL=url,
        RELEASEBOT_PUBLIC_URL="https://releasebot.example.com",
    )
    bot = create_releasebot(settings)
    try:
        migrate.upgrade(bot.db.engine)
        started = time.perf_counter()
        seed(bot.db, args.releases, datetime.now(UTC))
        if args.covering_index:
            with bot.db.session() as session:
                session.execute(text(COVERING_INDEX))
            backend += ", with the covering index"
        print(
            f"{args.releases} releases seeded in {time.perf_counter() - started:.2f}s "
            f"({backend}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.2f})"
        )
        with bot.db.session() as session:
            raw = calendar.issue_token(session, TEAM, "U_BENCH")
            channel_raw = calendar.issue_token(session, TEAM, "U_BENCH", channel_id=CHANNEL)
        with serve(url) as base_url:
            over_http = measure_http(args.runs, f"{base_url}/calendar/{raw}.ics", args.polls)
            over_http["channel_not_modified"] = measure_not_modified(
                f"{base_url}/calendar/{channel_raw}.ics", args.polls
            )
            over_http["healthz"] = measure_healthz(f"{base_url}/healthz", args.polls)
        writers = measure_writers(bot.db, raw, channel_raw)
    finally:
        bot.close()
    return report(args, over_http, writers)


@contextmanager
def serve(database_url: str) -> Iterator[str]:
    """`releasebot serve` on a free loopback port; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = os.environ | {
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": "bench",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",  # never called here
        "DATABASE_URL": database_url,
        "RELEASEBOT_PUBLIC_URL": "https://releasebot.example.com",
    }
    command = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_until_up(base_url, server, log)
            yield base_url
        finally:
            server.terminate()
            server.wait(timeout=30)


def wait_until_up(base_url: str, server: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            raise SystemExit(f"the server stopped:\n{log.read().decode(errors='replace')}")
        try:
            if httpx.get(base_url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not start")


def measure_http(runs: int, feed_url: str, polls: int) -> dict[str, Any]:
    """The whole answer as a calendar app gets it: full feeds, then conditional requests."""
    with httpx.Client(timeout=120) as http:
        started = time.perf_counter()
        cold = http.get(feed_url)  # every event built (and kept) by the server
        cold_time = time.perf_counter() - started
        cold.raise_for_status()
        times: list[float] = []
        for _ in range(runs):
            started = time.perf_counter()
            response = http.get(feed_url)
            times.append(time.perf_counter() - started)
            response.raise_for_status()
        assert response.content == cold.content
    return {
        "cold": cold_time,
        "times": times,
        "body": response.content,
        "not_modified": measure_not_modified(feed_url, polls),
    }


def measure_healthz(url: str, polls: int) -> list[float]:
    """Milliseconds of each of `polls` GET /healthz: the floor of the 304s."""
    with httpx.Client(timeout=120) as http:
        http.get(url).raise_for_status()  # the connection open, as for the 304s
        times: list[float] = []
        for _ in range(polls):
            started = time.perf_counter()
            answer = http.get(url)
            times.append((time.perf_counter() - started) * 1000)
            answer.raise_for_status()
    return times


def measure_not_modified(feed_url: str, polls: int) -> list[float]:
    """Milliseconds of each of `polls` polls with the feed's ETag."""
    with httpx.Client(timeout=120) as http:
        first = http.get(feed_url)  # also fills the server's caches, as a first poll would
        first.raise_for_status()
        etag = first.headers["etag"]
        times: list[float] = []
        for _ in range(polls):
            started = time.perf_counter()
            conditional = http.get(feed_url, headers={"If-None-Match": etag})
            times.append((time.perf_counter() - started) * 1000)
            assert conditional.status_code == 304, conditional.status_code
    return times


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def measure_writers(db: Database, raw: str, channel_raw: str) -> dict[str, Any]:
    """The route's steps alone (no HTTP), and icalendar writing the same whole calendar."""
    now = datetime.now(UTC)
    with db.read_session() as session:
        token = calendar.resolve_token(session, raw)
        channel_token = calendar.resolve_token(session, channel_raw)
        assert token is not None and channel_token is not None
        fingerprints, members_only = [], []
        for _ in range(20):
            fingerprints.append(timed(lambda: calendar.feed_fingerprint(session, token, now))[1])
            members_only.append(
                timed(lambda: calendar.shown_only_to_members(session, channel_token, now))[1]
            )
        keys, keys_time = timed(lambda: calendar.feed_release_keys(session, token, now))
        ids = [row.id for row in keys]
        releases, rows_time = timed(lambda: calendar.feed_release_rows(session, token, now, ids))
        approvers, approvers_time = timed(
            lambda: calendar.feed_approver_rows(session, token, now, ids)
        )
        name = calendar.calendar_name(token)
    rows = [releases[row.id] for row in keys]
    kept = FragmentCache()

    def rebuild() -> bytes:
        fragments = []
        for row in rows:
            fragment = event_fragment(row, approvers.get(row.id, ()))
            kept.put(fragment_key(row), fragment)
            fragments.append(fragment)
        return feed_bytes(name, fragments)

    def assemble() -> bytes:
        fragments = kept.get_many([fragment_key(row) for row in keys])
        assert all(fragments)
        return feed_bytes(name, fragments)  # type: ignore[arg-type]

    cold, cold_time = timed(rebuild)
    warm, warm_time = timed(assemble)
    events = [event_data(r, approvers.get(r.id, [])) for r in rows]
    whole, whole_time = timed(lambda: icalendar_calendar(events, calendar_name=name).to_ical())
    prebuilt = icalendar_calendar(events, calendar_name=name)  # building it is not timed
    reference, to_ical_time = timed(prebuilt.to_ical)
    return {
        "fingerprint": statistics.median(fingerprints),
        "members_only": statistics.median(members_only),
        "keys": keys_time,
        "rows": rows_time + approvers_time,
        "rebuild": cold_time,
        "assemble": warm_time,
        "icalendar_whole": whole_time,
        "icalendar_to_ical": to_ical_time,
        "reference": reference,
        "identical": cold == warm == whole == reference,
    }


def report(args: argparse.Namespace, http: dict[str, Any], writers: dict[str, Any]) -> int:
    times, body = http["times"], http["body"]
    ours = statistics.median(times)
    print(
        f"feed over HTTP: {body.count(b'BEGIN:VEVENT')} events, {len(body) / 1e6:.1f} MB; "
        f"first request (every event built) {http['cold']:.3f}s; with kept events: runs "
        + ", ".join(f"{t:.3f}s" for t in times)
        + f"; median {ours:.3f}s"
    )
    print(
        f"  its steps alone: keys {writers['keys']:.3f}s, kept events joined "
        f"{writers['assemble']:.3f}s; when nothing is kept: rows {writers['rows']:.3f}s, "
        f"every event built {writers['rebuild']:.3f}s"
    )
    theirs, whole = writers["icalendar_to_ical"], writers["icalendar_whole"]
    print(
        f"icalendar whole calendar, same events: to_ical() of pre-built objects {theirs:.3f}s; "
        f"built and to_ical() {whole:.3f}s"
    )
    print(f"ratio icalendar to_ical / our whole HTTP answer with kept events: {theirs / ours:.1f}x")
    print(
        f"ratio icalendar built+to_ical / our rebuild from cold: {whole / writers['rebuild']:.2f}x"
    )
    healthz_p99 = percentile(http["healthz"], 0.99)
    print(
        f"GET /healthz over HTTP ({args.polls} requests): p50 "
        f"{percentile(http['healthz'], 0.5):.2f} ms, p99 {healthz_p99:.2f} ms"
    )
    targets = [
        (
            ours <= FEED_FACTOR * theirs,
            f"{args.releases}-release feed: median {ours:.3f}s <= {FEED_FACTOR:g} x "
            f"icalendar's to_ical() {theirs:.3f}s",
        )
    ]
    for label, polls in (
        ("every release", http["not_modified"]),
        (f"channel {CHANNEL}", http["channel_not_modified"]),
    ):
        p50, p99 = percentile(polls, 0.5), percentile(polls, 0.99)
        print(
            f"304 over HTTP, {label} ({args.polls} requests with If-None-Match): "
            f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"
        )
        targets.append(
            (
                p99 <= NOT_MODIFIED_FACTOR * healthz_p99,
                f"304 ({label}): p99 {p99:.2f} ms <= {NOT_MODIFIED_FACTOR:g} x /healthz's "
                f"{healthz_p99:.2f} ms",
            )
        )
    print(
        "  (validators cached per process; a cache miss adds the fingerprint query, "
        f"p50 {writers['fingerprint'] * 1000:.1f} ms here, and for the channel's feed with "
        "no membership answer kept, the members-only query, "
        f"{writers['members_only'] * 1000:.1f} ms)"
    )
    print(f"(load average now {os.getloadavg()[0]:.2f})")
    identical = verdict(
        writers["identical"] and body == writers["reference"],
        "served bytes are icalendar's to_ical() of the whole calendar",
    )
    if args.smoke:
        print("smoke run: targets not checked")
        return 0 if identical else 1
    met = [verdict(ok, text) for ok, text in targets]
    return 1 if args.strict and not (identical and all(met)) else 0


if __name__ == "__main__":
    sys.exit(main())
