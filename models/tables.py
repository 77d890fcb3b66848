"""Imports every table so that SQLModel.metadata knows them all (Alembic, tests)."""

from models.audit import AuditEvent
from models.calendar_token import CalendarToken
from models.history import ProductionRecord
from models.outbox import OutboxMessage
from models.release import Approver, ChecklistItem, Release
from models.reminder import Reminder

__all__ = [
    "Approver",
    "AuditEvent",
    "CalendarToken",
    "ChecklistItem",
    "OutboxMessage",
    "ProductionRecord",
    "Release",
    "Reminder",
]
