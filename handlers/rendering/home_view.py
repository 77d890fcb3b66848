"""The App Home tab: what needs this person, and what is coming."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from handlers.rendering.channel_messages import md
from handlers.rendering.controls import sign_off_actions
from handlers.rendering.parts import ref, slack_date, status_label, user
from handlers.rendering.refusals import missing_label
from handlers.slack_kit.mrkdwn import join_lines, truncate
from models.release.lifecycle import Missing
from models.release.records import Release

MAX_VIEW_BLOCKS = 100


@dataclass
class HomeContent:
    awaiting: Sequence[Release] = ()
    # (release, what it still needs before go)
    mine: Sequence[tuple[Release, list[Missing]]] = ()
    upcoming: Sequence[Release] = ()
    # The releases that came to an outcome last (the latest first), and how many did in all.
    recent: Sequence[Release] = ()
    recent_total: int = 0


def _line(release: Release) -> str:
    link = f" · <{release.permalink}|thread>" if release.permalink else ""
    return (
        f"*{ref(release)}* — {slack_date(release.target_at)} — {status_label(release)}"
        f" — {user(release.owner_id)}{link}"
    )


_RECENT_TEXT = 2900


def _recent_line(release: Release) -> str:
    link = f" · <{release.permalink}|thread>" if release.permalink else ""
    return truncate(
        f"*{ref(release)}* — {status_label(release)} "
        f"{slack_date(release.updated_at, '{date_short_pretty} {time}')} — "
        f"{user(release.owner_id)}{link}",
        400,
    )


def recent_blocks(content: HomeContent) -> list[Block]:
    """The releases that came to an outcome last, in one section, saying how many more
    there are; and where to look further (history, stats)."""
    blocks: list[Block] = [
        DividerBlock(),
        HeaderBlock(text=PlainTextObject(text="Recent releases")),
    ]
    lines: list[str] = []
    used = 0
    for release in content.recent:
        line = _recent_line(release)
        if used + len(line) + 1 > _RECENT_TEXT - 40:
            break
        lines.append(line)
        used += len(line) + 1
    more = max(content.recent_total, len(content.recent)) - len(lines)
    if more > 0:
        lines.append(f"…and {more} more")
    blocks.append(
        SectionBlock(text=md("\n".join(lines) if lines else "No release has an outcome yet."))
    )
    blocks.append(
        ContextBlock(
            elements=[
                md(
                    "`/release history <service>` shows a service's whole record · "
                    "`/release stats` shows release statistics"
                )
            ]
        )
    )
    return blocks


def home_view(content: HomeContent) -> View:
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text="Waiting for your sign-off"))]
    if content.awaiting:
        for release in content.awaiting[:15]:
            blocks.append(SectionBlock(text=md(_line(release))))
            blocks.append(sign_off_actions(release, block_id=f"home-signoff-{release.uid}"))
    else:
        blocks.append(SectionBlock(text=md("Nothing needs your sign-off. :sparkles:")))
    blocks += [DividerBlock(), HeaderBlock(text=PlainTextObject(text="Your releases"))]
    if content.mine:
        for release, missing in content.mine[:15]:
            still = (
                "\n" + join_lines([f"• still missing: {missing_label(m)}" for m in missing], 2500)
                if missing
                else "\nEverything is in."
            )
            blocks.append(SectionBlock(text=md(_line(release) + still)))
    else:
        blocks.append(SectionBlock(text=md("You have no open releases.")))
    blocks += [DividerBlock(), HeaderBlock(text=PlainTextObject(text="Coming up"))]
    if content.upcoming:
        blocks.append(SectionBlock(text=md(join_lines([_line(r) for r in content.upcoming], 3000))))
    else:
        blocks.append(SectionBlock(text=md("No releases are planned.")))
    blocks += recent_blocks(content)
    blocks.append(
        ContextBlock(
            elements=[
                md(
                    "`/release help` lists the commands · `/release calendar` "
                    "subscribes your calendar"
                )
            ]
        )
    )
    return View(type="home", blocks=blocks[:MAX_VIEW_BLOCKS])
