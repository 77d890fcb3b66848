"""Imports every table so that SQLModel.metadata knows them all (Alembic, tests)."""

from models.api.api_tokens import ApiToken
from models.api.idempotency import IdempotencyKey
from models.audit import AuditEvent
from models.calendar_feed.tokens import CalendarToken
from models.freezes import Freeze, FreezeOverride
from models.github.github_deliveries import GitHubDelivery
from models.github.protection_requests import Callback, DeploymentRequest
from models.github.repository_links import RepositoryLink
from models.outbox import OutboxMessage
from models.policy import PolicySetting
from models.release.outcomes import ReleaseOutcome, SignOffOutcome
from models.release.production import ProductionRecord
from models.release.records import Approver, ChecklistItem, Release
from models.release.weekly_digest import WeeklyDigestPost
from models.reminders.table import Reminder
from models.roles import ReleaseManager
from models.webhooks import Webhook, WebhookDelivery

__all__ = [
    "ApiToken",
    "Approver",
    "AuditEvent",
    "Callback",
    "CalendarToken",
    "Freeze",
    "FreezeOverride",
    "ChecklistItem",
    "DeploymentRequest",
    "GitHubDelivery",
    "IdempotencyKey",
    "OutboxMessage",
    "PolicySetting",
    "ProductionRecord",
    "Release",
    "ReleaseManager",
    "ReleaseOutcome",
    "RepositoryLink",
    "SignOffOutcome",
    "Reminder",
    "WeeklyDigestPost",
    "Webhook",
    "WebhookDelivery",
]
