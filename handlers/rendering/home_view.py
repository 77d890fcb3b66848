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
from handlers.slack.mrkdwn import join_lines
from models.release.lifecycle import Missing
from models.release.records import Release

MAX_VIEW_BLOCKS = 100


@dataclass
class HomeContent:
    awaiting: Sequence[Release] = ()
    # (release, what it still needs before go)
    mine: Sequence[tuple[Release, list[Missing]]] = ()
    upcoming: Sequence[Release] = ()


def _line(release: Release) -> str:
    link = f" · <{release.permalink}|thread>" if release.permalink else ""
    return (
        f"*{ref(release)}* — {slack_date(release.target_at)} — {status_label(release)}"
        f" — {user(release.owner_id)}{link}"
    )


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
                "\n"
                + join_lines([f"• still missing: {missing_label(m)}" for m in missing], 2500)
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
