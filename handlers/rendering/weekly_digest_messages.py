"""The weekly digest in blocks: the week ahead by day (each release with its status and
owner, a conflict marked), the freezes, and last week's figures."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, SectionBlock

from handlers.rendering.channel_messages import md
from handlers.rendering.freeze_messages import span_line
from handlers.rendering.limits import SECTION_TEXT
from handlers.rendering.parts import slack_date, user
from handlers.slack_kit.mrkdwn import escape, join_lines
from models.release.weekly_digest import WeekAhead


def _day_title(day: date) -> str:
    return day.strftime("%A %-d %B")


def digest_blocks(week: WeekAhead, tz: str) -> list[Block]:
    """Days are read in `tz` (the digest's zone, or the reader's); times in each reader's."""
    zone = ZoneInfo(tz)
    blocks: list[Block] = [HeaderBlock(text="The week ahead")]
    by_day: dict[date, list[str]] = {}
    for release in week.releases:
        line = (
            f"• {slack_date(release.target_at, '{time}')} *{escape(release.ref)}* · "
            f"{release.state.label} · {user(release.owner_id)}"
            + (" :warning: conflicts" if release.id in week.conflicting else "")
        )
        by_day.setdefault(release.target_at.astimezone(zone).date(), []).append(line)
    if not by_day:
        blocks.append(SectionBlock(text=md("No releases are planned this week.")))
    for day, lines in by_day.items():
        body = join_lines(lines, SECTION_TEXT - 100)
        blocks.append(SectionBlock(text=md(f"*{_day_title(day)}*\n{body}", SECTION_TEXT)))
    if week.freezes:
        body = join_lines([span_line(s, week.since) for s in week.freezes], SECTION_TEXT - 100)
        blocks.append(SectionBlock(text=md(f"*Freezes*\n{body}", SECTION_TEXT)))
    stats = week.last_week
    blocks.append(
        SectionBlock(
            text=md(
                f"*Last week*: {stats.released} released · {stats.rolled_back} rolled back "
                "(`/release stats` for more)"
            )
        )
    )
    blocks.append(ContextBlock(elements=[md(f"Days in {escape(tz)}; times in yours.")]))
    return blocks


def digest_text(week: WeekAhead) -> str:
    return f"The week ahead: {len(week.releases)} releases planned"
