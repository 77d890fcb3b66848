"""Calendar conflicts in words (mrkdwn), for the card, the thread and private answers: each
names the releases its reader may see (models/release/conflicts.py decided which)."""

from __future__ import annotations

from collections.abc import Sequence

from handlers.rendering.parts import slack_date
from handlers.slack_kit.mrkdwn import escape
from models.release.conflicts import Kind, WindowConflict
from models.release.records import Release

HIDDEN_ONE = "another release you can't see"


def _release(release: Release) -> str:
    return f"*{escape(release.ref)}* ({slack_date(release.target_at)})"


def _hidden(count: int) -> str:
    return HIDDEN_ONE if count == 1 else f"{count} other releases you can't see"


def _named(conflict: WindowConflict) -> str:
    names = [_release(r) for r in conflict.others]
    if conflict.hidden:
        names.append(_hidden(conflict.hidden))
    return ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1]


def line(conflict: WindowConflict) -> str:
    if conflict.kind == Kind.RELEASE_HOURS:
        assert conflict.hours is not None
        return f"Its window is outside the release hours, {escape(conflict.hours.label)}"
    if conflict.kind == Kind.MAX_CONCURRENT:
        return (
            f"It makes more than {conflict.limit} releases of this channel at once, with "
            f"{_named(conflict)}"
        )
    if conflict.kind == Kind.SAME_SERVICE:
        return f"Its window overlaps {_named(conflict)}, of the same service"
    if conflict.others:
        why = f"{escape(conflict.dependent)} depends on {escape(conflict.dependency)}"
    else:  # which services a hidden release is of is not said
        why = "one depends on the other"
    return f"Its window overlaps {_named(conflict)}: {why}"


def lines(conflicts: Sequence[WindowConflict]) -> list[str]:
    return [line(c) for c in conflicts]


def warning(conflicts: Sequence[WindowConflict]) -> str | None:
    """Said on the card, in the thread and to the person: the release stays as planned."""
    if not conflicts:
        return None
    return ":warning: Its window conflicts with the calendar (it stays as planned):\n" + (
        "\n".join(f"• {text}" for text in lines(conflicts))
    )
