"""Freezes in words (mrkdwn): their scope and times, and the lines cards, replies and
reminders add when a release's window falls in one or a manager overrode one."""

from __future__ import annotations

from collections.abc import Sequence

from handlers.rendering.parts import slack_date, user
from handlers.slack_kit.mrkdwn import escape
from models.freezes import Freeze, FreezeOverride, Span
from models.release.queries import ReleaseView


def name(freeze_name: str) -> str:
    return f"“{escape(freeze_name)}”"


def scope(service: str | None) -> str:
    return "the whole workspace" if service is None else f"`{escape(service)}`"


def schedule(freeze: Freeze) -> str:
    """How a recurring freeze repeats, in its own zone: "every Fri 16:00 to Mon 08:00"."""
    if not freeze.recurring:
        return "once"
    start = freeze.starts_at.astimezone(freeze.zone)
    end = start + freeze.duration
    return f"every {start.strftime('%a %H:%M')} to {end.strftime('%a %H:%M')} ({escape(freeze.tz)})"


def span_times(span: Span) -> str:
    return f"from {slack_date(span.starts_at)} until {slack_date(span.ends_at)}"


def blocking(view: ReleaseView) -> list[Span]:
    """The freezes in the release's window that no override lets it through."""
    granted = {(o.freeze_uid, o.occurrence_start) for o in view.overrides}
    return [s for s in view.freezes if (s.freeze.uid, s.starts_at) not in granted]


def window_warning(spans: Sequence[Span]) -> str | None:
    """Said when a release's window falls in freezes: it stays, but can't go then."""
    if not spans:
        return None
    lines = [
        f"• {name(s.freeze.name)} for {scope(s.freeze.service)}, {span_times(s)}" for s in spans
    ]
    return (
        ":snowflake: Its release window falls in a freeze; it can't go or advance then "
        "unless a release manager overrides it:\n" + "\n".join(lines)
    )


def override_line(override: FreezeOverride) -> str:
    return (
        f":ice_cube: Freeze {name(override.freeze_name)} overridden by {user(override.by)} "
        f"until {slack_date(override.occurrence_end)}: {escape(override.reason)}"
    )


def card_lines(view: ReleaseView) -> list[str]:
    lines = [override_line(o) for o in view.overrides]
    if not view.release.state.is_finished:
        warning = window_warning(blocking(view))
        if warning:
            lines.append(warning)
    return lines


def escalation_text(ref: str, permalink: str | None, override: FreezeOverride) -> str:
    """Posted to the escalation channel: who overrode which freeze for which release, why."""
    shown = escape(ref)
    release = f"<{permalink}|{shown}>" if permalink else f"*{shown}*"
    return (
        f":rotating_light: {user(override.by)} overrode the freeze {name(override.freeze_name)} "
        f"(until {slack_date(override.occurrence_end)}) for {release}.\n"
        f"Reason: {escape(override.reason)}"
    )
