"""What the GitHub App says: in a release's thread (GitHub asked, what was answered), to
GitHub (the comments on a deployment, plain text), and the links of `/release github`."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, ContextBlock, SectionBlock

from handlers.rendering.channel_messages import md
from handlers.rendering.limits import SECTION_TEXT
from handlers.rendering.parts import user
from handlers.slack_kit.mrkdwn import escape, join_lines
from models.api.gate import Verdict
from models.github.protection_requests import SHORT_SHA, Answer, DeploymentRequest
from models.github.repository_links import RepositoryLink
from models.release.records import Release

USAGE = (
    "`/release github link <owner>/<repo> <service> [environment <name> …]` · "
    "`/release github links` · `/release github unlink <owner>/<repo> [<service>]`"
)


def _deployment(request: DeploymentRequest) -> str:
    return (
        f"deployment {request.deployment_id} of {escape(request.repository)} "
        f"(`{escape(request.sha[:SHORT_SHA])}`) to *{escape(request.environment)}*"
    )


# --- in the release's thread ------------------------------------------------------------


def requested(request: DeploymentRequest) -> str:
    return f":octocat: GitHub asks whether {_deployment(request)} may go."


def answered(request: DeploymentRequest, answer: Answer, verdict: Verdict) -> str:
    if answer == Answer.APPROVED:
        return f":white_check_mark: Answered GitHub: {_deployment(request)} is approved."
    reasons = " ".join(escape(message) for _, message in verdict.reasons)
    return f":no_entry: Answered GitHub: {_deployment(request)} is rejected. {reasons}"


def dropped(request: DeploymentRequest) -> str:
    return (
        f":hourglass: GitHub stopped waiting for {_deployment(request)} after 30 days; "
        "it was never answered."
    )


def refused(request: DeploymentRequest, error: str) -> str:
    return f":warning: GitHub did not take the answer for {_deployment(request)} ({escape(error)})."


# --- to GitHub (plain text) -------------------------------------------------------------


def _thread(release: Release) -> str:
    return f" Slack thread: {release.permalink}" if release.permalink else ""


def answer_comment(release: Release, answer: Answer, verdict: Verdict) -> str:
    if answer == Answer.APPROVED:
        return f"releasebot: {release.ref} may deploy.{_thread(release)}"
    reasons = " ".join(f"{code.value}: {message}" for code, message in verdict.reasons)
    return f"releasebot: {release.ref} may not deploy. {reasons}{_thread(release)}"


def status_comment(release: Release, verdict: Verdict) -> str:
    reasons = " ".join(f"{code.value}: {message}" for code, message in verdict.reasons)
    return f"releasebot: {release.ref} is waiting. {reasons}{_thread(release)}"


def proposal_refused(refusal: str) -> str:
    return f"releasebot could not propose a release for this deployment: {refusal}"


def proposal_notes(repository: str, environment: str) -> str:
    return f"Proposed by GitHub: a deployment of {repository} to {environment} asked for it."


# --- /release github --------------------------------------------------------------------


def _environments(links: Sequence[RepositoryLink]) -> str:
    return ", ".join(f"`{escape(link.environment)}`" for link in links)


def linked_text(made: Sequence[RepositoryLink], repository: str, service: str) -> str:
    if not made:
        return f"{escape(repository)} is linked to *{escape(service)}* already; nothing changed."
    return (
        f":link: {escape(repository)} is linked to *{escape(service)}* for "
        f"{_environments(made)}. Turn releasebot's protection rule on in those environments "
        "(the repository's Settings → Environments)."
    )


def unlinked_text(removed: Sequence[RepositoryLink]) -> str:
    parts = sorted({f"*{escape(link.service)}* ({_environments([link])})" for link in removed})
    return f":heavy_minus_sign: {escape(removed[0].repository)} unlinked from {', '.join(parts)}."


def links_blocks(links: Sequence[RepositoryLink], note: str | None = None) -> list[Block]:
    lines = [
        f"• {escape(link.repository)} `{escape(link.environment)}` → *{escape(link.service)}*, "
        f"proposals in <#{link.channel_id}> owned by {user(link.created_by)}"
        for link in links
    ]
    body = join_lines(lines, SECTION_TEXT - 100) if lines else "No repositories are linked."
    blocks: list[Block] = []
    if note:
        blocks.append(SectionBlock(text=md(note, SECTION_TEXT)))
    blocks.append(SectionBlock(text=md(f"*GitHub repositories*\n{body}", SECTION_TEXT)))
    blocks.append(ContextBlock(elements=[md(USAGE)]))
    return blocks
