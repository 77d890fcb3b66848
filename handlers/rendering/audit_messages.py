"""What `/release audit` says: the file's message in the DM, and the private answer."""

from __future__ import annotations

from datetime import datetime

from handlers.rendering.parts import slack_date
from handlers.slack_kit.mrkdwn import escape


def _events(count: int) -> str:
    return f"{count:,} audit event" + ("" if count == 1 else "s")


def file_comment(count: int, service: str | None, since: datetime | None) -> str:
    scope = f" about {escape(service)}" if service else ""
    start = f" since {slack_date(since)}" if since else ""
    return (
        f":ledger: The audit trail: {_events(count)}{scope}{start}, oldest first, "
        "private releases included (for release managers only: share it with care). "
        "Times are UTC (ISO 8601); a cell starting with = + - @ has a ' in front, so "
        "spreadsheets show it as text."
    )


def sent_text(count: int) -> str:
    return (
        f":ledger: Sent you the audit export ({_events(count)}) as a CSV file, in our "
        "direct messages."
    )
