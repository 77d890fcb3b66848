"""Imports every table so that SQLModel.metadata knows them all (Alembic, tests)."""

from models.audit import AuditEvent
from models.release import Approver, ChecklistItem, Release

__all__ = ["Approver", "AuditEvent", "ChecklistItem", "Release"]
