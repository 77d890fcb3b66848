"""Authenticating as the GitHub App: a short JWT signed RS256 with its private key, traded
for an installation token, which is kept until shortly before it expires.

Tokens are never logged: only the installation they are for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx
import jwt

API_VERSION = "2022-11-28"
USER_AGENT = "releasebot-github-app/1"
# GitHub refuses a JWT that expires more than 10 minutes ahead or was issued in its future:
# issued a minute back (clocks differ), valid nine minutes.
JWT_BACKDATE = 60
JWT_LIFETIME = 9 * 60
# A cached installation token is replaced this long before it expires.
TOKEN_MARGIN = 5 * 60.0


class GitHubAuthError(Exception):
    """GitHub would not give an installation token (the status, and its message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float  # seconds since the epoch


class AppCredentials:
    def __init__(
        self,
        app_id: str,
        private_key: str,
        api_url: str,
        http: httpx.Client,
        *,
        now: Callable[[], float] = time.time,
        margin: float = TOKEN_MARGIN,
    ) -> None:
        self.app_id = app_id
        self._private_key = private_key
        self.api_url = api_url.rstrip("/")
        self._http = http
        self._now = now  # real time: GitHub checks the JWT and tokens against its clock
        self._margin = margin
        self._tokens: dict[int, _Token] = {}
        self._lock = threading.Lock()

    def app_jwt(self) -> str:
        issued = int(self._now()) - JWT_BACKDATE
        claims = {"iat": issued, "exp": issued + JWT_BACKDATE + JWT_LIFETIME, "iss": self.app_id}
        return jwt.encode(claims, self._private_key, algorithm="RS256")

    def installation_token(self, installation_id: int) -> str:
        with self._lock:
            cached = self._tokens.get(installation_id)
            if cached is not None and cached.expires_at - self._margin > self._now():
                return cached.value
        token = self._fetch(installation_id)
        with self._lock:
            self._tokens[installation_id] = token
        return token.value

    def forget(self, installation_id: int) -> None:
        """GitHub refused the token (revoked, say): the next call gets a fresh one."""
        with self._lock:
            self._tokens.pop(installation_id, None)

    def _fetch(self, installation_id: int) -> _Token:
        response = self._http.post(
            f"{self.api_url}/app/installations/{installation_id}/access_tokens",
            headers={
                "Authorization": f"Bearer {self.app_jwt()}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": USER_AGENT,
            },
        )
        if response.status_code != 201:
            raise GitHubAuthError(response.status_code, _message(response))
        body = response.json()
        expires_at = datetime.fromisoformat(str(body["expires_at"]).replace("Z", "+00:00"))
        return _Token(str(body["token"]), expires_at.timestamp())


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", ""))[:200]
    except ValueError:
        return response.text[:200]
