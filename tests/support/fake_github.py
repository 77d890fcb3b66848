"""A stand-in for GitHub's API on a loopback port: it checks the app's JWTs (RS256 against
the app's public key, `iss`, `exp`), issues installation tokens that expire and refuses
expired ones, and records what the bot POSTs to deployment callback URLs (204, as GitHub
answers), or fails them as a test asks."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.server import BackgroundServer

APP_ID = "424242"
WEBHOOK_SECRET = "test-github-webhook-secret"
INSTALLATION = 77


def new_private_key() -> tuple[str, rsa.RSAPublicKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, key.public_key()


# One key for the session: generating RSA keys is slow, and none is ever committed.
PRIVATE_KEY, PUBLIC_KEY = new_private_key()


@dataclass(frozen=True)
class Posted:
    path: str
    body: dict[str, Any]
    token: str


class FakeGitHub:
    def __init__(self, token_lifetime: float = 3600) -> None:
        self.token_lifetime = token_lifetime
        self._tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)
        self._lock = threading.Lock()
        self.posted: list[Posted] = []
        self.tokens_issued = 0
        self.refused: list[str] = []
        self._failures: list[int] = []  # statuses to answer callbacks with, in turn
        self.server = BackgroundServer(
            Starlette(
                routes=[
                    Route(
                        "/app/installations/{installation}/access_tokens",
                        self._access_token,
                        methods=["POST"],
                    ),
                    Route("/repos/{path:path}", self._callback, methods=["POST"]),
                ]
            )
        )

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> FakeGitHub:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def fail_next(self, *statuses: int) -> None:
        with self._lock:
            self._failures.extend(statuses)

    def revoke_tokens(self) -> None:
        """Every installation token issued so far stops working (as when revoked)."""
        with self._lock:
            self._tokens.clear()

    def callback_url(self, run_id: int = 4242, repository: str = "acme/payments") -> str:
        return f"{self.url}/repos/{repository}/actions/runs/{run_id}/deployment_protection_rule"

    def answers(self) -> list[dict[str, Any]]:
        return [p.body for p in self.posted if "state" in p.body]

    def status_reports(self) -> list[dict[str, Any]]:
        return [p.body for p in self.posted if "state" not in p.body]

    async def _access_token(self, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        try:
            claims = jwt.decode(
                auth.removeprefix("Bearer "),
                PUBLIC_KEY,
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"]},
            )
        except jwt.PyJWTError as error:
            self.refused.append(f"jwt: {error}")
            return JSONResponse({"message": "A JSON web token could not be decoded"}, 401)
        if claims["iss"] != APP_ID or claims["exp"] - time.time() > 600:
            self.refused.append(f"claims: {claims}")
            return JSONResponse({"message": "'Expiration time' claim is too far"}, 401)
        token = "ghs_" + secrets.token_urlsafe(24)
        expires = time.time() + self.token_lifetime
        with self._lock:
            self._tokens[token] = expires
            self.tokens_issued += 1
        expires_at = datetime.fromtimestamp(expires, UTC).isoformat().replace("+00:00", "Z")
        return JSONResponse({"token": token, "expires_at": expires_at}, 201)

    async def _callback(self, request: Request) -> Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        with self._lock:
            expires = self._tokens.get(token)
        if expires is None or expires <= time.time():
            self.refused.append("callback with an unknown or expired token")
            return JSONResponse({"message": "Bad credentials"}, 401)
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            return JSONResponse({"message": "failed as the test asked"}, failure)
        body = json.loads(await request.body())
        with self._lock:
            self.posted.append(Posted(request.url.path, body, token))
        return Response(status_code=204)


def signed(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(
    bot_url: str,
    event: str,
    payload: dict[str, Any],
    *,
    delivery_id: str | None = None,
    signature: str | None = None,
) -> httpx.Response:
    """POST a delivery to the bot's /github/events as GitHub does."""
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-Hub-Signature-256": signature if signature is not None else signed(body),
        "User-Agent": "GitHub-Hookshot/test",
    }
    return httpx.post(bot_url + "/github/events", content=body, headers=headers, timeout=10)


def protection_rule(
    fake: FakeGitHub,
    *,
    sha: str,
    ref: str = "v2.4.0",
    environment: str = "production",
    deployment_id: int = 1001,
    run_id: int = 4242,
    repository: str = "acme/payments",
) -> dict[str, Any]:
    return {
        "action": "requested",
        "environment": environment,
        "event": "push",
        "deployment_callback_url": fake.callback_url(run_id, repository),
        "deployment": {
            "id": deployment_id,
            "sha": sha,
            "ref": ref,
            "environment": environment,
        },
        "repository": {
            "full_name": repository,
            "html_url": f"https://github.com/{repository}",
        },
        "installation": {"id": INSTALLATION},
    }


def deployment_status(
    *,
    state: str,
    sha: str,
    ref: str = "v2.4.0",
    environment: str = "production",
    repository: str = "acme/payments",
    target_url: str = "https://github.com/acme/payments/actions/runs/4242",
) -> dict[str, Any]:
    return {
        "action": "created",
        "deployment_status": {
            "state": state,
            "environment": environment,
            "target_url": target_url,
            "description": "",
        },
        "deployment": {"id": 1001, "sha": sha, "ref": ref, "environment": environment},
        "repository": {"full_name": repository, "html_url": f"https://github.com/{repository}"},
        "installation": {"id": INSTALLATION},
    }
