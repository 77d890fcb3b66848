"""The go/no-go checklist's defaults and the setting that replaces them."""

from __future__ import annotations

DEFAULT_CHECKLIST: tuple[str, ...] = (
    "Release notes written",
    "Rollback plan ready",
    "Monitoring and alerts in place",
    "On-call aware",
    "Stakeholders informed",
)

MAX_ITEM_LENGTH = 150  # a checkbox option's text is limited to 150 characters by Slack
MAX_ITEMS = 10  # a checkboxes element holds at most 10 options


def parse_checklist_setting(text: str) -> tuple[str, ...]:
    items = tuple(item.strip() for item in text.split(";") if item.strip())
    if not items:
        raise ValueError("must list at least one item, separated by ;")
    if len(items) > MAX_ITEMS:
        raise ValueError(f"lists {len(items)} items; at most {MAX_ITEMS} fit in one checklist")
    for item in items:
        if len(item) > MAX_ITEM_LENGTH:
            raise ValueError(f"item {item[:30]!r}… is longer than {MAX_ITEM_LENGTH} characters")
    return items
