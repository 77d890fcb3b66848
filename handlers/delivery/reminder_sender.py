"""Reminder messages, and their delivery through Slack (the scheduler decides when)."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from handlers.rendering.freeze_notes import blocking, window_warning
from handlers.rendering.parts import approver_label, slack_date, status_label, user
from handlers.slack_kit.mrkdwn import escape
from handlers.slack_kit.web_api_errors import is_permanent
from models.release.queries import ReleaseView
from models.reminders.planning import DeliveryError
from models.reminders.table import Reminder, ReminderKind

logger = logging.getLogger(__name__)


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


class ReminderSender:
    """Sends one reminder: the thread reply, then the direct messages it calls for."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def send(self, reminder: Reminder, view: ReleaseView) -> None:
        release = view.release
        kind = ReminderKind(reminder.kind)
        if kind == ReminderKind.OVERDUE:
            self._post(release.owner_id, overdue_dm(view), None)
            return
        self._post(release.channel_id, thread_text(reminder, view), release.message_ts)
        if kind == ReminderKind.BEFORE:
            for approver in view.pending_approvers:
                if approver.is_group:
                    continue  # the thread reply mentions the group; no DM to every member
                try:
                    self._post(approver.slack_id, approver_dm(view), None)
                except DeliveryError as error:
                    # One unreachable approver must not hold up the others.
                    logger.warning("DM to %s failed: %s", approver.slack_id, error)

    def _post(self, channel: str, text: str, thread_ts: str | None) -> None:
        try:
            self.client.chat_postMessage(
                channel=channel, text=text, thread_ts=thread_ts, unfurl_links=False
            )
        except SlackApiError as exc:
            code = str(exc.response.get("error", "unknown"))
            raise DeliveryError(code, permanent=is_permanent(code)) from exc
        except SlackClientError as exc:  # connection trouble after slack_sdk's own retries
            raise DeliveryError(str(exc), permanent=False) from exc
