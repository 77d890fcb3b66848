"""The deployment protection rule: GitHub asks whether a deployment may go; releasebot
answers from its gate, now or as soon as the gate's decision changes.

A request is kept (models/github/protection_requests.py) and looked at again after every
change this process commits to its release, and by a sweep every few seconds (changes
other processes made, freezes that end, requests a stopped process left). Whoever looks
first after the decision changes writes the one answer.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.deps import Deps
from handlers.flows.changes import NotShownYet
from handlers.flows.new_release import create_release
from handlers.github.callback_sender import CallbackSender
from handlers.rendering import github_messages as say
from handlers.rendering.refusals import text_for
from handlers.slack_kit.mrkdwn import to_plain
from models import audit, outbox
from models.api.gate import Decision
from models.errors import DomainError
from models.github import protection_requests as requests
from models.github import repository_links
from models.github.protection_requests import Answer, DeploymentRequest, RequestState
from models.github.repository_links import RepositoryLink
from models.release import queries
from models.release.proposing import Proposal
from models.release.records import Release

logger = logging.getLogger(__name__)

GITHUB = "github"  # the audit source of what the protection rule does
PROPOSED_AHEAD = timedelta(hours=1)  # as a proposal through the API without a time
_RUN = re.compile(r"/repos/[^/]+/[^/]+/actions/runs/(\d+)/deployment_protection_rule$")


@dataclass(frozen=True)
class Asked:
    """What a `deployment_protection_rule` delivery says."""

    repository: str
    environment: str
    deployment_id: int
    installation_id: int
    sha: str
    ref: str
    callback_url: str
    html_url: str  # the repository's page

    @classmethod
    def of(cls, payload: dict[str, Any]) -> Asked:
        deployment = payload["deployment"]
        repository = payload["repository"]
        return cls(
            repository=str(repository["full_name"]).lower(),
            environment=str(payload["environment"]),
            deployment_id=int(deployment["id"]),
            installation_id=int(payload["installation"]["id"]),
            sha=str(deployment.get("sha") or "").lower(),
            ref=str(deployment.get("ref") or ""),
            callback_url=str(payload["deployment_callback_url"]),
            html_url=str(repository.get("html_url") or ""),
        )

    def run_url(self) -> str | None:
        """The workflow run waiting on the rule, as its pipeline link."""
        found = _RUN.search(self.callback_url)
        if not found or not self.html_url.startswith("https://"):
            return None
        return f"{self.html_url.rstrip('/')}/actions/runs/{found.group(1)}"


class NotProposed(Exception):
    """No release could be proposed for a deployment: why, in plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProtectionRule:
    def __init__(
        self, deps: Deps, client: WebClient, callbacks: CallbackSender, api_url: str
    ) -> None:
        self.deps = deps
        self.client = client
        self.callbacks = callbacks
        self.api_url = api_url.rstrip("/")
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="github-rule")

    def close(self) -> None:
        self._worker.shutdown(wait=True)

    def wait_idle(self, timeout: float = 30) -> bool:
        try:
            self._worker.submit(lambda: None).result(timeout=timeout)
        except TimeoutError:
            return False
        return True

    # --- GitHub asks --------------------------------------------------------------------

    def requested(self, payload: dict[str, Any], delivery_id: str) -> None:
        asked = Asked.of(payload)
        # The installation's token goes to that URL: only ever to GitHub's API.
        if not asked.callback_url.startswith(self.api_url + "/"):
            logger.warning(
                "ignored a protection rule request with a callback outside %s", self.api_url
            )
            return
        with self.deps.db.read_session() as session:
            link = repository_links.find(session, asked.repository, asked.environment)
            release = (
                None
                if link is None
                else requests.release_for(session, link.team_id, link.service, asked.sha, asked.ref)
            )
        if link is None:
            logger.info(
                "%s (%s) is linked to no service: its deployment is not answered",
                asked.repository,
                asked.environment,
            )
            return
        with self.deps.db.read_session() as session:
            kept = requests.find_request(session, asked.deployment_id, asked.environment)
        if kept is not None:  # handled before, up to a failure: carry on from there
            assert kept.id is not None
            self.settle(kept.id)
            return
        refusal: str | None = None
        if release is None:
            try:
                release = self._propose(link, asked, delivery_id)
            except NotProposed as error:
                refusal = error.reason  # GitHub hears why, and stops waiting
        now = self.deps.clock()
        with audit.acting_from(GITHUB), self.deps.db.session() as session:
            current = session.get(Release, release.id) if release is not None else None
            request = requests.open_request(
                session,
                team_id=link.team_id,
                release=current,
                repository=asked.repository,
                environment=asked.environment,
                deployment_id=asked.deployment_id,
                installation_id=asked.installation_id,
                sha=asked.sha,
                callback_url=asked.callback_url,
                now=now,
            )
            if current is None:
                assert refusal is not None
                comment = say.proposal_refused(refusal)
                requests.answer(session, request, Answer.REJECTED, comment, now)
            else:
                replies = (say.requested(request),)
                outbox.enqueue(session, current, (), replies=replies, now=now)
        if current is None:
            self.callbacks.nudge()
            return
        assert request.id is not None and current.id is not None
        self.deps.messages.flush(current.id)
        self.settle(request.id)

    def _propose(self, link: RepositoryLink, asked: Asked, delivery_id: str) -> Release:
        """A release for a deployment none is for: proposed as through the API, under the
        policy where it is posted, owned by the release manager who linked the repository."""
        key = "github:" + hashlib.sha256(delivery_id.encode()).hexdigest()[:40]
        proposal = Proposal(
            team_id=link.team_id,
            owner_id=link.created_by,
            channel_id=link.channel_id,
            service=link.service,
            version=requests.proposed_version(asked.ref, asked.sha),
            target_at=self.deps.clock() + PROPOSED_AHEAD,
            checklist=self.deps.config.checklist,
            request_key=key,
            pipeline_url=asked.run_url(),
            commit_sha=asked.sha or None,
            notes=say.proposal_notes(asked.repository, asked.environment),
            via=f"via GitHub {asked.repository}",
        )
        try:
            with audit.acting_from(f"{GITHUB}:{asked.repository}"), suppress(NotShownYet):
                create_release(self.deps, self.client, proposal)
        except DomainError as error:
            raise NotProposed(to_plain(text_for(error))) from None
        except SlackApiError as error:
            code = error.response.get("error", "unknown")
            raise NotProposed(f"Slack refused its card in the linked channel ({code}).") from None
        with self.deps.db.read_session() as session:
            release = queries.by_request_key(session, key)
        if release is None:  # its card was refused for good: it is gone again
            raise NotProposed("Slack refused its card in the linked channel.")
        return release

    # --- answering ----------------------------------------------------------------------

    def release_changed(self, release_id: int) -> None:
        """After a commit this process made: look at the release's requests (never waits)."""
        self._worker.submit(self._quietly, lambda: self.settle_release(release_id))

    def settle_release(self, release_id: int) -> None:
        with self.deps.db.read_session() as session:
            waiting = requests.waiting(session, release_id=release_id)
        for request_id in waiting:
            self.settle(request_id)

    def settle_all(self) -> None:
        """The sweep: every waiting request, whatever changed it."""
        with self.deps.db.read_session() as session:
            waiting = requests.waiting(session)
        for request_id in waiting:
            self.settle(request_id)

    def settle(self, request_id: int) -> None:
        """Answer, report or drop the request if its time has come; else nothing."""
        if not self._has_news(request_id):
            return  # most looks: a read, no write
        now = self.deps.clock()
        owed = False
        with audit.acting_from(GITHUB), self.deps.db.session() as session:
            request = session.get(DeploymentRequest, request_id, populate_existing=True)
            if request is None or request.state != RequestState.WAITING.value:
                return
            release = session.get(Release, request.release_id) if request.release_id else None
            if release is None or release.id is None:
                return
            reply = None
            if requests.is_expired(request, now):
                if requests.drop(session, request, now):
                    reply = say.dropped(request)
            else:
                verdict = requests.verdict(session, request, release, now)
                if verdict.decision == Decision.PENDING:
                    comment = say.status_comment(release, verdict)
                    key = requests.reasons_key(verdict)
                    owed = requests.report_status(session, request, key, comment, now)
                else:
                    answer = (
                        Answer.APPROVED if verdict.decision == Decision.ALLOW else Answer.REJECTED
                    )
                    comment = say.answer_comment(release, answer, verdict)
                    if requests.answer(session, request, answer, comment, now):
                        owed = True
                        reply = say.answered(request, answer, verdict)
            if reply is not None:
                outbox.enqueue(session, release, (), replies=(reply,), now=now)
        if owed:
            self.callbacks.nudge()
        if reply is not None:
            self.deps.messages.flush(release.id)

    def _has_news(self, request_id: int) -> bool:
        now = self.deps.clock()
        with self.deps.db.read_session() as session:
            request = session.get(DeploymentRequest, request_id)
            if request is None or request.state != RequestState.WAITING.value:
                return False
            if requests.is_expired(request, now):
                return True
            release = session.get(Release, request.release_id) if request.release_id else None
            if release is None:
                return False
            verdict = requests.verdict(session, request, release, now)
            if verdict.decision != Decision.PENDING:
                return True
            return (
                request.reports < requests.MAX_REPORTS
                and request.reasons_key != requests.reasons_key(verdict)
            )

    @staticmethod
    def _quietly(fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:
            logger.exception("looking at waiting GitHub deployments failed")
