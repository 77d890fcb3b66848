"""Imports every table so that SQLModel.metadata knows them all (Alembic, tests)."""

from models.api.api_tokens import ApiToken
from models.api.idempotency import IdempotencyKey
from models.audit import AuditEvent
from models.calendar_feed.tokens import CalendarToken
from models.freezes import Freeze, FreezeOverride
from models.outbox import OutboxMessage
from models.policy import PolicySetting
from models.release.outcomes import ReleaseOutcome, SignOffOutcome
from models.release.production import ProductionRecord
from models.release.records import Approver, ChecklistItem, Release
from models.reminders.table import Reminder
from models.roles import ReleaseManager
from models.webhooks import Webhook, WebhookDelivery

__all__ = [
    "ApiToken",
    "Approver",
    "AuditEvent",
    "CalendarToken",
    "Freeze",
    "FreezeOverride",
    "ChecklistItem",
    "IdempotencyKey",
    "OutboxMessage",
    "PolicySetting",
    "ProductionRecord",
    "Release",
    "ReleaseManager",
    "ReleaseOutcome",
    "SignOffOutcome",
    "Reminder",
    "Webhook",
    "WebhookDelivery",
]
