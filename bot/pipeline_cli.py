"""`releasebot gate` and `releasebot report`: a pipeline's side of the HTTP API.

Both read `RELEASEBOT_URL` (the bot's public URL) and `RELEASEBOT_TOKEN` (an API token)
from the environment, and need nothing else (no Slack or database settings).

`gate` exits 0 when the release may be deployed, 1 when it never will (deny), 3 when it
is still pending at the end of the wait, and 2 on an error (bad token, unreachable bot).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from typing import Any

import httpx

from models import durations

EXIT_ALLOW, EXIT_DENY, EXIT_ERROR, EXIT_PENDING = 0, 1, 2, 3
MAX_WAIT = 900  # seconds the server waits in one request
RECONNECT = 5.0  # seconds before asking again when the bot went away mid-wait


class CliError(Exception):
    pass


def duration(text: str) -> int:
    """`30m`, `2h`, `45s` or `90` (seconds)."""
    wait = durations.parse(text, units="smh", bare="s")
    if wait is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30m, 2h or 90s")
    return int(wait.total_seconds())


def add_commands(sub: Any) -> None:
    gate = sub.add_parser(
        "gate",
        help="ask the deploy gate whether service@version may be deployed now "
        "(exit 0 allow, 1 deny, 3 pending, 2 error)",
    )
    gate.add_argument("ref", help="service@version")
    gate.add_argument(
        "--wait", type=duration, default=0, help="wait this long for the go, e.g. 30m"
    )
    gate.add_argument(
        "--digest",
        default=None,
        help="the artifact deployed (sha256:…): denied if not the release's",
    )
    gate.add_argument(
        "--commit", default=None, help="the commit deployed: denied if not the release's"
    )
    report = sub.add_parser("report", help="report a deployment of a release")
    report.add_argument("ref", help="service@version")
    report.add_argument("state", choices=("started", "succeeded", "failed"))
    report.add_argument("--stage", type=int, default=None, help="the percentage deployed")
    report.add_argument("--url", default=None, help="a link to the deploy job")
    report.add_argument("--description", default="")
    report.add_argument("--environment", default="production")
    report.add_argument(
        "--idempotency-key", default=None, help="default: a new one for each invocation"
    )


def run(args: argparse.Namespace) -> int:
    try:
        with _client() as http:
            if args.command == "gate":
                return _gate(http, args.ref, args.wait, args.digest, args.commit)
            return _report(http, args)
    except CliError as error:
        print(f"releasebot: {error}", file=sys.stderr)
        return EXIT_ERROR
    except httpx.HTTPError as error:
        print(f"releasebot: cannot reach the bot: {error}", file=sys.stderr)
        return EXIT_ERROR


def _client() -> httpx.Client:
    url = os.environ.get("RELEASEBOT_URL", "").strip().rstrip("/")
    token = os.environ.get("RELEASEBOT_TOKEN", "").strip()
    if not url:
        raise CliError("set RELEASEBOT_URL to the bot's URL, e.g. https://releasebot.example.com")
    if not token:
        raise CliError("set RELEASEBOT_TOKEN to an API token (rbk_…)")
    return httpx.Client(
        base_url=url + "/api/v1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx.Timeout(30.0),
    )


def _split(ref: str) -> tuple[str, str]:
    service, at, version = ref.partition("@")
    if not at or not service or not version:
        raise CliError(f"{ref!r} is not service@version")
    return service, version


def _answer(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code >= 400:
        message = body.get("message") if isinstance(body, dict) else None
        raise CliError(f"HTTP {response.status_code}: {message or response.text[:200]}")
    if not isinstance(body, dict):
        raise CliError("the bot answered something unexpected")
    return body


def _gate(
    http: httpx.Client, ref: str, wait: int, digest: str | None = None, commit: str | None = None
) -> int:
    service, version = _split(ref)
    pins = {k: v for k, v in (("digest", digest), ("commit", commit)) if v}
    deadline = time.monotonic() + wait
    answered = False
    while True:
        left = max(0, round(deadline - time.monotonic()))
        step = min(left, MAX_WAIT)
        try:
            response = http.get(
                "/gate",
                params={"service": service, "version": version, "wait": step, **pins},
                timeout=httpx.Timeout(step + 30.0),
            )
        except httpx.TransportError:
            # The bot answered before (it restarts, say): ask again within the wait.
            if not answered or time.monotonic() + RECONNECT >= deadline:
                raise
            time.sleep(RECONNECT)
            continue
        answered = True
        if response.status_code == 429:  # rate limited: wait as told, within the wait
            time.sleep(min(float(response.headers.get("Retry-After", "5")), max(left, 1)))
            if time.monotonic() >= deadline:
                raise CliError("rate limited until the end of the wait")
            continue
        body = _answer(response)
        decision = body.get("decision")
        if decision != "pending" or time.monotonic() >= deadline:
            break
        if step == 0:
            break
    print(f"{ref}: {decision}")
    for reason in body.get("reasons", []):
        print(f"  {reason.get('code')}: {reason.get('message')}")
    return {"allow": EXIT_ALLOW, "deny": EXIT_DENY, "pending": EXIT_PENDING}.get(
        str(decision), EXIT_ERROR
    )


def _report(http: httpx.Client, args: argparse.Namespace) -> int:
    service, version = _split(args.ref)
    body: dict[str, Any] = {"state": args.state, "environment": args.environment}
    if args.stage is not None:
        body["stage"] = args.stage
    if args.url:
        body["url"] = args.url
    if args.description:
        body["description"] = args.description
    key = args.idempotency_key or uuid.uuid4().hex
    answer = _answer(
        http.post(
            f"/releases/{service}@{version}/deployments",
            json=body,
            headers={"Idempotency-Key": key},
        )
    )
    stage = (answer.get("stage") or {}).get("current_percentage")
    at = f" at {stage}%" if stage is not None else ""
    print(f"{answer.get('ref')}: {args.state} reported; the release is {answer.get('status')}{at}")
    return 0
