"""Sends what the deployment protection rule owes GitHub: answers and status reports,
POSTed to each deployment's callback URL with the installation's token.

Never in a request's path: the answer is a row written with the change that decided it;
the sender is nudged after the commit, and a sweep takes retries and what a stopped
process left. 5xx, 429 and timeouts are tried again with growing pauses; another 4xx is
recorded and not tried again (the thread says so, for an answer).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import httpx
from sqlmodel import Session

from handlers.deps import Deps
from handlers.github.app_credentials import API_VERSION, USER_AGENT, AppCredentials, GitHubAuthError
from handlers.rendering import github_messages
from models import outbox
from models.github import protection_requests as requests
from models.github.protection_requests import Callback, CallbackKind, DeploymentRequest
from models.release.records import Release

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0


class CallbackSender:
    def __init__(
        self,
        deps: Deps,
        credentials: AppCredentials,
        http: httpx.Client,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self.deps = deps
        self.credentials = credentials
        self.http = http
        self.clock = clock
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="github-callbacks")
        self._lock = threading.Lock()
        self._queued = False
        self._closed = False

    def nudge(self) -> None:
        """After a commit that owes callbacks: send them on the sender's thread."""
        with self._lock:
            if self._queued or self._closed:
                return
            self._queued = True
        self._worker.submit(self._nudged)

    def _nudged(self) -> None:
        with self._lock:
            self._queued = False
        try:
            self.deliver_due()
        except Exception:
            logger.exception("GitHub callbacks failed")

    def wait_idle(self, timeout: float = 30) -> bool:
        try:
            self._worker.submit(lambda: None).result(timeout=timeout)
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._worker.shutdown(wait=True)

    def deliver_due(self) -> int:
        """Every due callback, each request's in the order owed; how many went."""
        now = self.clock()
        db = self.deps.db
        with db.session() as session:
            if requests.CALLBACKS.release_stale_claims(session, now):
                logger.warning("GitHub callbacks were interrupted mid-send; sending again")
        with db.read_session() as session:
            due = requests.due_callbacks(session, now)
        held: set[int] = set()  # requests whose earlier callback must be retried first
        sent = 0
        for callback_id, request_id in due:
            if request_id in held:
                continue
            outcome = self._send_one(callback_id)
            if outcome is True:
                sent += 1
            elif outcome is False:
                held.add(request_id)
        return sent

    def _send_one(self, callback_id: int) -> bool | None:
        """True: sent; False: to be tried again; None: not ours, or refused for good."""
        db = self.deps.db
        with db.session() as session:
            callback = requests.CALLBACKS.claim(session, callback_id, self.clock())
            if callback is None:
                return None
            request = session.get(DeploymentRequest, callback.request_id)
        assert request is not None
        error, temporary = self._post(request, callback)
        now = self.clock()
        with db.session() as session:
            if error is None:
                requests.CALLBACKS.finish(session, callback_id, sent_at=now)
                return True
            if temporary:
                retry_at = requests.CALLBACKS.retry_later(session, callback, now, error)
                logger.warning(
                    "GitHub %s for deployment %s failed (%s); retry at %s",
                    callback.kind,
                    request.deployment_id,
                    error,
                    retry_at,
                )
                if retry_at is not None:
                    return False
            else:
                requests.CALLBACKS.fail(session, callback_id, error)
            logger.error(
                "GitHub refused the %s for deployment %s: %s",
                callback.kind,
                request.deployment_id,
                error,
            )
            if callback.kind == CallbackKind.ANSWER.value:
                _say_refused(session, request, error, now)
        if request.release_id is not None:
            self.deps.messages.flush(request.release_id)
        return None

    def _post(self, request: DeploymentRequest, callback: Callback) -> tuple[str | None, bool]:
        """(None, _) when GitHub took it; else the error and whether to try again."""
        try:
            token = self.credentials.installation_token(request.installation_id)
        except GitHubAuthError as error:
            return f"no installation token: {error}", True
        except httpx.HTTPError as error:
            return f"no installation token: {type(error).__name__}", True
        try:
            response = self.http.post(
                request.callback_url,
                content=callback.body.encode(),
                headers={
                    "Authorization": f"Bearer {token}",
                    "Accept": "application/vnd.github+json",
                    "Content-Type": "application/json",
                    "X-GitHub-Api-Version": API_VERSION,
                    "User-Agent": USER_AGENT,
                },
                timeout=TIMEOUT_SECONDS,
            )
        except httpx.TimeoutException:
            return "timed out", True
        except httpx.HTTPError as error:
            return f"{type(error).__name__}: {error}"[:300], True
        status = response.status_code
        if 200 <= status < 300:
            return None, False
        if status == 401:
            # The cached token revoked? Tried once more, with a fresh one.
            self.credentials.forget(request.installation_id)
            return "HTTP 401", callback.attempts < 2
        return f"HTTP {status}", status >= 500 or status == 429


def _say_refused(session: Session, request: DeploymentRequest, error: str, now: datetime) -> None:
    release = session.get(Release, request.release_id)
    if release is not None:
        replies = (github_messages.refused(request, error),)
        outbox.enqueue(session, release, (), replies=replies, now=now)
