"""The composition root: settings -> database, Slack client, Bolt app with every surface."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.background import BackgroundWork
from bot.settings import Settings, github_app_settings
from handlers.delivery.outbox_sender import MessageSender
from handlers.delivery.webhook_sender import WebhookSender
from handlers.deps import Deps, HandlerConfig
from handlers.flows import weekly_digests
from handlers.github.github_integration import (
    CALLBACK_SWEEP,
    DELIVERY_SWEEP,
    RULE_SWEEP,
    GitHubIntegration,
)
from handlers.rendering import reminder_messages
from handlers.slack import (
    actions,
    commands,
    context,
    error_replies,
    events,
    history_listeners,
    policy_listeners,
    views,
)
from models import audit
from models.db import Database
from scheduler.clock import ReminderScheduler

logger = logging.getLogger(__name__)

# How often messages Slack didn't take are tried again (each also waits its own backoff).
OUTBOX_SWEEP = timedelta(seconds=5)
# Often enough for the first retry, two seconds after a failure, to go about on time.
WEBHOOK_SWEEP = timedelta(seconds=2)
# The weekly digest's time is a minute's; checked every 30 s, posted once (its claim).
DIGEST_SWEEP = timedelta(seconds=30)


class ResendSafeConnectionRetry(ConnectionErrorRetryHandler):
    """Retries calls whose connection dropped, except posts: Slack may have posted the
    message before the connection dropped, and a blind retry would post it twice. The
    outbox looks for such a post by its metadata key before it posts again."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if request.url.endswith("/chat.postMessage"):
            return False
        return super()._can_retry(state=state, request=request, response=response, error=error)


def make_web_client(settings: Settings) -> WebClient:
    return WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=10,
        # 429s wait for Retry-After; dropped connections are retried too.
        retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=3),
            ResendSafeConnectionRetry(max_retry_count=2),
        ],
    )


def handler_config(settings: Settings) -> HandlerConfig:
    return HandlerConfig(
        public_url=settings.public_url,
        slack_hooks_url=settings.slack_hooks_url,
        announce_channel=settings.announce_channel,
        checklist=settings.checklist,
        reminder_offsets=settings.reminder_offsets,
        release_managers=settings.release_managers,
        escalation_channel=settings.escalation_channel,
        webhook_allow_private=settings.webhook_allow_private,
    )


class SlackApp(App):
    """Bolt, with everything a request from Slack records audited as coming from Slack
    (HTTP and Socket Mode both dispatch here; work after the ack inherits it)."""

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        with audit.acting_from(audit.SLACK):
            return super().dispatch(req)


@dataclass
class Releasebot:
    settings: Settings
    db: Database
    deps: Deps
    work: BackgroundWork
    bolt: App
    scheduler: ReminderScheduler
    webhooks: WebhookSender
    github: GitHubIntegration | None = None  # None: the GitHub App is not set up

    def close(self) -> None:
        self.scheduler.shutdown()
        self.webhooks.close()
        if self.github is not None:
            self.github.close()
        self.work.wait_idle(timeout=30)
        self.work.shutdown()
        self.db.dispose()


def create_releasebot(settings: Settings, db: Database | None = None) -> Releasebot:
    db = db or Database(settings.database_url)
    client = make_web_client(settings)
    messages = MessageSender(db, client, announce_channel=settings.announce_channel)
    work = BackgroundWork()
    deps = Deps(db=db, messages=messages, work=work, config=handler_config(settings))
    messages.clock = lambda: deps.clock()  # tests swap the clock after creation
    bolt = SlackApp(
        client=client,
        # Socket Mode needs no secret, but the HTTP server still routes /slack/events: an
        # unguessable one per process, so no HTTP request can be signed (all get 401).
        signing_secret=settings.slack_signing_secret or secrets.token_hex(32),
        # Listeners ack themselves, then hand slow work to `deps.work`; so the HTTP
        # response goes out as soon as the listener returns, with no polling for the ack.
        process_before_response=True,
        # auth.test runs on the first request instead of at import time.
        token_verification_enabled=False,
        # Requests no listener matches go to the error handler, which acks them (200)
        # instead of Bolt's 404, which Slack would show the person as an error.
        raise_error_for_unhandled_request=True,
        logger=logging.getLogger("releasebot.bolt"),
    )
    error_replies.register(bolt)

    @bolt.middleware
    def acks_first(next: Callable[[], None]) -> None:
        # Background jobs hold back while a listener computes its ack.
        with work.foreground():
            next()

    context.register(bolt, deps)
    for listeners in (commands, views, actions, events, policy_listeners, history_listeners):
        listeners.register(bolt)
    scheduler = ReminderScheduler(
        db,
        reminder_messages.said,
        messages.flush,
        clock=lambda: deps.clock(),  # tests swap the clock after creation
    )
    deps.on_release_changed.append(scheduler.release_changed)
    scheduler.add_sweep("outbox", messages.deliver_due, OUTBOX_SWEEP)
    # Webhook deliveries: sent in each receiver's lane after each change's commit, and
    # after a sweep (retries, and what a stopped process left) that waits for no lane.
    hooks = WebhookSender(
        db,
        allow_private=settings.webhook_allow_private,
        clock=lambda: deps.clock(),  # tests swap the clock after creation
    )
    deps.on_release_changed.append(hooks.nudge)
    scheduler.add_sweep("webhooks", hooks.nudge, WEBHOOK_SWEEP)
    scheduler.add_sweep(
        "weekly-digest", lambda: weekly_digests.post_due(deps, bolt.client), DIGEST_SWEEP
    )
    return Releasebot(
        settings=settings,
        db=db,
        deps=deps,
        work=work,
        bolt=bolt,
        scheduler=scheduler,
        webhooks=hooks,
        github=_github(settings, deps, bolt.client, scheduler),
    )


def _github(
    settings: Settings, deps: Deps, client: WebClient, scheduler: ReminderScheduler
) -> GitHubIntegration | None:
    app = github_app_settings(settings)
    if app is None:
        logger.info(
            "GitHub App off: set GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY_FILE and "
            "GITHUB_WEBHOOK_SECRET to have deployments ask releasebot"
        )
        return None
    github = GitHubIntegration(
        deps,
        client,
        app_id=app.app_id,
        private_key=app.private_key,
        webhook_secret=app.webhook_secret,
        api_url=app.api_url,
    )
    deps.on_release_changed.append(github.release_changed)
    scheduler.add_sweep("github-deliveries", github.events.handle_due, DELIVERY_SWEEP)
    scheduler.add_sweep("github-rule", github.rule.settle_all, RULE_SWEEP)
    scheduler.add_sweep("github-callbacks", github.callbacks.deliver_due, CALLBACK_SWEEP)
    logger.info("GitHub App %s on: webhooks at /github/events", app.app_id)
    return github
