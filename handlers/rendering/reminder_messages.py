"""What reminders say (the scheduler decides when, the outbox sends them)."""

from __future__ import annotations

from handlers.rendering.freeze_notes import blocking, window_warning
from handlers.rendering.parts import approver_label, slack_date, status_label, user
from handlers.slack_kit.mrkdwn import escape
from models.outbox import Direct
from models.release.queries import ReleaseView
from models.reminders.planning import Said
from models.reminders.table import Reminder, ReminderKind


def missing_lines(view: ReleaseView) -> list[str]:
    lines = [f"• sign-off from {approver_label(a)}" for a in view.pending_approvers]
    lines += [f"• “{escape(item.text)}” is not ticked" for item in view.open_items]
    return lines


def thread_text(reminder: Reminder, view: ReleaseView) -> str:
    release = view.release
    ref = f"*{escape(release.ref)}*"
    missing = missing_lines(view)
    kind = ReminderKind(reminder.kind)
    if kind == ReminderKind.WINDOW_OPEN:
        until = slack_date(release.target_at + release.window, "{time}")
        head = f":large_green_circle: The release window for {ref} is open (until {until}). "
        head += f"Go/no-go: {status_label(release)}."
    else:
        head = f":alarm_clock: {ref} is due {slack_date(release.target_at)}."
    frozen = window_warning(blocking(view))
    if frozen:
        head += "\n" + frozen
    if missing:
        return head + "\nStill missing:\n" + "\n".join(missing)
    if release.state.is_in_flight:
        return head
    return head + f"\nEverything is in: {user(release.owner_id)} can give the go."


def approver_dm(view: ReleaseView) -> str:
    release = view.release
    link = f" <{release.permalink}|Open the release>" if release.permalink else ""
    return (
        f":wave: {user(release.owner_id)}'s release *{escape(release.ref)}* is due "
        f"{slack_date(release.target_at)} and still needs your sign-off.{link}"
    )


def overdue_dm(view: ReleaseView) -> str:
    release = view.release
    return (
        f":hourglass: *{escape(release.ref)}* was due {slack_date(release.target_at)} and is "
        f"not released yet ({status_label(release)}). Mark it released, roll it back, or move "
        f"it with `/release update {escape(release.ref)} when=…`."
    )


def said(reminder: Reminder, view: ReleaseView) -> Said:
    """What a reminder says, and to whom: the scheduler owes it to the outbox."""
    release = view.release
    kind = ReminderKind(reminder.kind)
    if kind == ReminderKind.OVERDUE:
        return Said(None, (Direct(release.owner_id, overdue_dm(view)),))
    if kind != ReminderKind.BEFORE:
        return Said(thread_text(reminder, view))
    # A group is mentioned in the thread reply; no direct message to every member.
    approvers = [a for a in view.pending_approvers if not a.is_group]
    direct = tuple(Direct(a.slack_id, approver_dm(view)) for a in approvers)
    return Said(thread_text(reminder, view), direct)
