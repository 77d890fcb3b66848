"""Thread replies: one short sentence per step, so the thread reads as the release's log."""

from __future__ import annotations

from collections.abc import Sequence

from handlers.rendering.parts import approver_label, slack_date, spec_label, user
from handlers.slack_kit.mrkdwn import escape
from models.release.proposing import ApproverSpec
from models.release.queries import ReleaseView
from models.release.records import Release, SignOffState


def now_token(view: ReleaseView) -> str:
    return slack_date(view.release.updated_at, "{date_short_pretty} {time}")


def approved(view: ReleaseView, actor_id: str, quorum: bool) -> str:
    text = f":white_check_mark: {user(actor_id)} signed off {now_token(view)}."
    return text + "\n" + all_in(view) if quorum else text


def all_in(view: ReleaseView) -> str:
    return (
        f":tada: Every sign-off is in: {user(view.release.owner_id)}, "
        f"*{escape(view.release.ref)}* is approved. Next: tick the checklist, then Go."
    )


def changes_requested(view: ReleaseView, actor_id: str, reason: str) -> str:
    return (
        f":warning: {user(actor_id)} requested changes: {escape(reason)}\n"
        f"{user(view.release.owner_id)}, update the release with `/release update "
        f"{escape(view.release.ref)} …` to ask again."
    )


def withdrawn(view: ReleaseView, actor_id: str) -> str:
    return f":leftwards_arrow_with_hook: {user(actor_id)} withdrew their sign-off."


def updated(
    view: ReleaseView,
    *,
    version_changed: bool,
    time_changed: bool,
    notes_changed: bool,
    reopened: bool,
    previous_time: str | None,
    added: Sequence[ApproverSpec] = (),
    removed: Sequence[ApproverSpec] = (),
    quorum_reached: bool = False,
    digest_changed: bool = False,
    commit_changed: bool = False,
) -> str:
    release = view.release
    build_changed = version_changed or digest_changed or commit_changed
    pending = " ".join(
        approver_label(a) for a in view.approvers if a.sign_off != SignOffState.APPROVED
    )
    lines = []
    if version_changed:
        lines.append(
            f":repeat: The version is now *{escape(release.version)}*: every sign-off starts again."
        )
    if digest_changed:
        now_is = f"`{escape(release.digest)}`" if release.digest else "none"
        lines.append(f":package: The digest is now {now_is}: every sign-off starts again.")
    if commit_changed:
        now_is = f"`{escape(release.commit_sha[:12])}`" if release.commit_sha else "none"
        lines.append(f":package: The commit is now {now_is}: every sign-off starts again.")
    if time_changed:
        was = f" (was {previous_time})" if previous_time else ""
        keep = "" if build_changed else " Sign-offs stand."
        lines.append(f":clock3: Moved to {slack_date(release.target_at)}{was}.{keep}")
    if notes_changed:
        lines.append(":memo: The notes changed.")
    if added or removed:
        changes = [
            f"added {' '.join(spec_label(a) for a in added)}" if added else "",
            f"removed {' '.join(spec_label(a) for a in removed)}" if removed else "",
        ]
        lines.append(f":busts_in_silhouette: Approvers: {'; '.join(c for c in changes if c)}.")
    if reopened or build_changed:
        lines.append(f"Sign-off needed again from {pending}." if pending else "")
    else:
        if added:
            lines.append(f"Sign-off needed from {' '.join(spec_label(a) for a in added)}.")
        if time_changed and view.approvers:
            everyone = " ".join(approver_label(a) for a in view.approvers)
            lines.append(f"FYI {everyone}.")
    if quorum_reached:
        lines.append(all_in(view))
    return "\n".join(line for line in lines if line)


def decided_go(release: Release, actor_id: str) -> str:
    stage = f" at {release.current_percentage}%" if release.is_phased else ""
    return f":rocket: {user(actor_id)} gave the go. Rolling out{stage}."


def no_go(actor_id: str, reason: str) -> str:
    return f":no_entry: {user(actor_id)} called no-go: {escape(reason)}"


def advanced(release: Release, actor_id: str) -> str:
    if release.state.is_finished:
        return (
            f":tada: {user(actor_id)} completed the rollout: *{escape(release.ref)}* is released."
        )
    return f":arrow_up: {user(actor_id)} advanced the rollout to {release.current_percentage}%."


def released(release: Release, actor_id: str) -> str:
    return f":tada: {user(actor_id)} marked *{escape(release.ref)}* released."


def paused(actor_id: str) -> str:
    return f":double_vertical_bar: {user(actor_id)} paused the rollout."


def resumed(actor_id: str) -> str:
    return f":arrow_forward: {user(actor_id)} resumed the rollout."


def rolled_back(actor_id: str, reason: str) -> str:
    return f":rewind: {user(actor_id)} rolled back: {escape(reason)}"


def item_added(actor_id: str, text: str) -> str:
    return f":heavy_plus_sign: {user(actor_id)} added “{escape(text)}” to the checklist."


def cancelled(actor_id: str, reason: str) -> str:
    why = f": {escape(reason)}" if reason else ""
    return f":x: Cancelled by {user(actor_id)}{why}"
