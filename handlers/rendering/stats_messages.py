"""`/release stats`: the figures, each with a line saying how it is defined (DORA-style)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, SectionBlock

from handlers.rendering.channel_messages import md
from handlers.rendering.parts import slack_date
from handlers.slack_kit.mrkdwn import escape, truncate
from models import durations
from models.release.statistics import FIX_WINDOW, SlowApprover, Spread, Statistics

# What each figure means, in plain words (the API answers the same sentences).
DEFINITIONS = {
    "deployment_frequency": "Deployment frequency: releases that reached production "
    "(released), per week of the period.",
    "lead_time": "Lead time for changes: from the release's proposal to its release in "
    "production; median and 90th percentile.",
    "commit_lead_time": "Commit to released: from the commit's time (sent by the pipeline as "
    "committed_at) to the release in production; median and 90th percentile.",
    "change_failure_rate": "Change failure rate: deployments (released or rolled back) that "
    f"were rolled back, or followed within {FIX_WINDOW.days} days by a fix of the same "
    "service (the next release, marked fix, or a fix naming it), out of all deployments.",
    "time_to_restore": "Time to restore service: from a rollback to the next successful "
    "release of that service; median (rollbacks not restored yet are counted apart).",
    "sign_off_wait": "Sign-off wait: from the proposal to the last sign-off, for releases "
    "that went out; the slowest approver is the person or group with the longest median wait.",
    "on_time": "On time: released no later than the end of its planned window (target time "
    "plus the window, 60 min unless the policy says otherwise); early counts as on time.",
    "freeze_overrides": "Freeze overrides: releases a release manager let through a freeze, "
    "by when the override was given.",
}

_PERIOD_NOTE = (
    "A release counts in the period its outcome falls in (released, rolled back, no-go, "
    "cancelled); percentiles interpolate between the two nearest values."
)


def duration(seconds: float | None) -> str:
    return "–" if seconds is None else durations.words(timedelta(seconds=seconds))


def percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.0f}%"


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _spread(spread: Spread, what: str) -> str:
    if not spread.count:
        return f"no {what} yet"
    return (
        f"median *{duration(spread.median)}*, p90 *{duration(spread.p90)}* "
        f"({_plural(spread.count, what.removesuffix('s'), what)})"
    )


def approver_name(slowest: SlowApprover, names: Mapping[str, str]) -> str:
    """Named without a mention: the figures must not ping anyone."""
    if slowest.kind == "usergroup":
        return "@" + escape(slowest.handle) if slowest.handle else "a user group"
    return "@" + escape(names.get(slowest.slack_id) or slowest.slack_id)


def title(stats: Statistics, days: int) -> str:
    scope = stats.scope
    what = f"{scope.service}" if scope.service else "all services"
    return truncate(f"Release statistics: {what}, last {days} days", 150)


def summary_text(stats: Statistics, days: int) -> str:
    """The notification text: the headline figures, plain."""
    return (
        f"{title(stats, days)}: {stats.per_week:.1f} releases a week, change failure rate "
        f"{percent(stats.change_failure_rate)}, lead time {duration(stats.lead_time.median)}"
    )


def stats_blocks(
    stats: Statistics, days: int, names: Mapping[str, str], note: str | None = None
) -> list[Block]:
    """The figures, each followed by its definition. `names`: people's names by id (the
    slowest approver's), `note`: said first (why the answer is private)."""
    blocks: list[Block] = []
    if note:
        blocks.append(SectionBlock(text=md(note)))
    blocks.append(HeaderBlock(text=title(stats, days)))
    outcomes = (
        f"{_plural(stats.released, 'released', 'released')} · "
        f"{_plural(stats.rolled_back, 'rolled back', 'rolled back')} · "
        f"{_plural(stats.no_go, 'no-go', 'no-gos')} · "
        f"{_plural(stats.cancelled, 'cancelled', 'cancelled')}"
    )
    blocks.append(SectionBlock(text=md(outcomes)))

    def figure(text: str, key: str) -> None:
        blocks.append(SectionBlock(text=md(text)))
        blocks.append(ContextBlock(elements=[md(DEFINITIONS[key])]))

    figure(
        f"*Deployment frequency*: *{stats.per_week:.1f}* releases a week "
        f"({stats.released} in {days} days)",
        "deployment_frequency",
    )
    lead = _spread(stats.lead_time, "releases")
    figure(f"*Lead time*, proposal to released: {lead}", "lead_time")
    commit = (
        _spread(stats.commit_lead_time, "releases")
        if stats.commit_lead_time.count
        else "no commit times given (pipelines send them as `committed_at`)"
    )
    figure(f"*Lead time*, commit to released: {commit}", "commit_lead_time")
    figure(
        f"*Change failure rate*: *{percent(stats.change_failure_rate)}* "
        f"({stats.failed} of {_plural(stats.deployments, 'deployment')})",
        "change_failure_rate",
    )
    if stats.restore.count:
        restore = (
            f"median *{duration(stats.restore.median)}* "
            f"({_plural(stats.restore.count, 'rollback')} restored)"
        )
    else:
        restore = "nothing restored yet" if stats.unrestored else "no rollbacks"
    if stats.unrestored:
        restore += f"; {_plural(stats.unrestored, 'rollback')} not restored yet"
    figure(f"*Time to restore*: {restore}", "time_to_restore")
    wait = _spread(stats.sign_off_wait, "releases")
    if stats.slowest_approver is not None:
        slowest = stats.slowest_approver
        wait += (
            f"; slowest: {approver_name(slowest, names)} (median "
            f"{duration(slowest.wait.median)} over {_plural(slowest.wait.count, 'sign-off')})"
        )
    figure(f"*Sign-off wait*: {wait}", "sign_off_wait")
    figure(
        f"*On time*: *{percent(stats.on_time_rate)}* "
        f"({stats.on_time} of {stats.released} released within their window)",
        "on_time",
    )
    figure(f"*Freeze overrides*: *{stats.freeze_overrides}*", "freeze_overrides")
    scope = stats.scope
    private = (
        "Private releases count only in their own channel."
        if scope.reader.channel_ids
        else "Private releases are not counted."
    )
    blocks.append(
        ContextBlock(
            elements=[
                md(
                    f"{slack_date(scope.since)} to {slack_date(scope.until)}. {private} "
                    f"{_PERIOD_NOTE}"
                )
            ]
        )
    )
    return blocks
