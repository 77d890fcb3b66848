"""The go/no-go checklist's defaults and the setting that replaces them."""

from __future__ import annotations

DEFAULT_CHECKLIST: tuple[str, ...] = (
    "Release notes written",
    "Rollback plan ready",
    "Monitoring and alerts in place",
    "On-call aware",
    "Stakeholders informed",
)

# Characters as typed. A checkbox shows at most 75 (escaping included), so the renderer cuts
# a longer item's label and shows its whole text above the checkboxes.
MAX_ITEM_LENGTH = 150
MAX_ITEMS = 10  # in the default checklist; a release may add items up to 30


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
