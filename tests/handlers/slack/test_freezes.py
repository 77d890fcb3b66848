"""Freeze windows over the Slack wire: adding, listing and removing them, go and advance
refused during one, overrides by release managers (audited, escalated), warnings on
proposals in a freeze, and freezes in the calendar feed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import icalendar
import pytest
from dateutil.rrule import rrulestr
from sqlmodel import select

from bot.sandbox.slack_standin import FakeSlack
from handlers.slack_kit import ids
from models.audit import AuditEvent
from models.freezes import Freeze, FreezeOverride
from models.release.records import Release, ReleaseStatus
from tests.support.harness import CHANNEL, OWNER, Harness, ahead, iso, rendered_text

# Dates, weekdays and times of day: CI runs these with the clock travelled (.ci/run).
pytestmark = pytest.mark.clock

PM = "U_PM"
ESCALATION = "CESCALATE1"


@pytest.fixture
def harness(database_url: str, fake_slack: FakeSlack) -> Iterator[Harness]:
    with Harness(
        database_url,
        fake_slack,
        RELEASEBOT_RELEASE_MANAGERS=PM,
        RELEASEBOT_ESCALATION_CHANNEL=ESCALATION,
    ) as running:
        yield running


def said(harness: Harness, text: str, user_id: str = OWNER) -> str:
    """What the person alone read after `text` (the ack, else the last private answer)."""
    return harness.private_reply(harness.command(text, user_id=user_id))


def last_private(harness: Harness) -> dict[str, Any]:
    posts = harness.slack.calls("response_url")
    assert posts
    args = dict(posts[-1].args)
    if isinstance(args.get("blocks"), str):
        args["blocks"] = json.loads(args["blocks"])
    return args


def approved(harness: Harness, ref: str, *extra: str, when: datetime | None = None) -> Release:
    service, version = ref.split("@")
    harness.command(f"propose {service} {version} {iso(when or ahead())} {' '.join(extra)}")
    release = harness.release(ref)
    for position in range(5):
        harness.tick(release, position)
    release = harness.release(ref)
    assert release.status == ReleaseStatus.APPROVED
    return release


def audit_actions(harness: Harness) -> list[tuple[str, str]]:
    with harness.session() as session:
        return [(e.actor_id, e.action) for e in session.exec(select(AuditEvent))]


def date_token(when: datetime) -> str:
    return f"<!date^{int(when.timestamp())}^"


# --- adding, listing, removing ----------------------------------------------------------


@pytest.mark.both_databases
def test_managers_add_list_and_remove_freezes_and_it_is_audited(harness: Harness) -> None:
    # A Wednesday: the weekly freeze below is not in force, whatever day the suite runs.
    now = datetime(2026, 12, 9, 10, 0, tzinfo=UTC)
    harness.clock.pin(now)
    until = now + timedelta(days=3)
    added = said(harness, f'freeze add "Holidays" now to {iso(until)}', PM)
    assert "Freeze “Holidays” added" in added
    assert "*in force* until" in added and date_token(until) in added
    said(
        harness,
        'freeze add "Weekend" every fri 16:00 to mon 08:00 tz Europe/Berlin service payments',
        PM,
    )
    listed = said(harness, "freeze list", "U_ANYONE")
    assert "“Holidays” on the whole workspace: *in force*" in listed
    assert "“Weekend” on `payments`" in listed
    assert "every Fri 16:00 to Mon 08:00 (Europe/Berlin)" in listed
    assert listed.index("Holidays") < listed.index("Weekend")  # in force first

    removed = said(harness, 'freeze remove "holidays"', PM)
    assert "Freeze “Holidays” removed" in removed and "Holidays”  on" not in removed
    assert "Holidays" not in said(harness, "freeze list").replace("“Holidays” removed", "")
    assert [a for a in audit_actions(harness) if a[1].startswith("freeze")] == [
        (PM, "freeze_added"),
        (PM, "freeze_added"),
        (PM, "freeze_removed"),
    ]


def test_non_managers_and_bad_input_are_refused(harness: Harness) -> None:
    refused = said(harness, f'freeze add "Holidays" now to {iso(ahead())}', "U_OTHER")
    assert "Only release managers can add freezes" in refused
    said(harness, f'freeze add "Holidays" now to {iso(ahead())}', PM)
    assert "Only release managers can remove freezes" in said(
        harness, 'freeze remove "Holidays"', "U_OTHER"
    )
    cases = {
        f"freeze add Holidays now to {iso(ahead())}": "Name the freeze in quotes",
        f'freeze add "Holidays" now to {iso(ahead())}': "A freeze named “Holidays” exists",
        f'freeze add "Late" {iso(ahead(3))} to {iso(ahead(2))}': "must end after it starts",
        'freeze add "X" now until tomorrow': "Put `to` between",
        'freeze add "X" now to someday': "I can't read “someday” as a time",
        'freeze add "X" every fri 16:00 to mon 25:00': "is not a time of day",
        'freeze add "X" every friday to monday': "Write it as `every fri 16:00 to mon 08:00`",
        'freeze add "X" every fry 16:00 to mon 08:00': "is not a weekday and a time",
        'freeze add "X" every fri 16:00 to mon 08:00 tz Mars/Base': "I don't know the time zone",
        f'freeze add "X" now to {iso(ahead())} service Pay ments': "one service after",
        'freeze remove "Nope"': "No freeze named “Nope”",
        "freeze melt": "Use `list`, `add` or `remove`",
    }
    for text, expected in cases.items():
        assert expected in said(harness, text, PM), text
    with harness.session() as session:
        assert [f.name for f in session.exec(select(Freeze))] == ["Holidays"]


# --- go and advance during a freeze -----------------------------------------------------


def test_go_is_refused_in_a_one_off_freeze_with_its_end_and_how_to_override(
    harness: Harness,
) -> None:
    release = approved(harness, "payments@2.4.0")
    until = ahead(days=3)
    said(harness, f'freeze add "Holidays" now to {iso(until)}', PM)
    refused = said(harness, "go payments@2.4.0")
    assert "Can't give the go for payments@2.4.0: the freeze “Holidays”" in refused
    assert f"in force until {date_token(until)}" in refused
    assert harness.release(release.ref).status == ReleaseStatus.APPROVED
    message = last_private(harness)
    # The owner is no release manager: no button they can't use (test_moves_in_a_freeze).
    assert ids.OVERRIDE_FREEZE not in json.dumps(message["blocks"])
    # A freeze on another service holds nothing here.
    said(harness, 'freeze remove "Holidays"', PM)
    said(harness, f'freeze add "Search" now to {iso(until)} service search', PM)
    harness.command("go payments@2.4.0")
    assert harness.release(release.ref).status == ReleaseStatus.GO


@pytest.mark.both_databases
def test_a_weekly_freeze_across_a_dst_change_holds_until_its_wall_clock_end(
    harness: Harness,
) -> None:
    # Berlin leaves summer time on Sunday 25 October 2026: Friday 16:00 CEST (14:00Z) to
    # Monday 08:00 CET (07:00Z) lasts 65 hours.
    harness.clock.pin(datetime(2026, 10, 20, 9, 0, tzinfo=UTC))
    said(harness, 'freeze add "Weekend" every fri 16:00 to mon 08:00 tz Europe/Berlin', PM)
    approved(harness, "payments@2.4.0", when=datetime(2026, 10, 27, 10, 0, tzinfo=UTC))
    harness.clock.pin(datetime(2026, 10, 26, 6, 30, tzinfo=UTC))  # Monday 07:30 CET
    refused = said(harness, "go payments@2.4.0")
    assert "the freeze “Weekend”" in refused
    assert date_token(datetime(2026, 10, 26, 7, 0, tzinfo=UTC)) in refused
    harness.clock.pin(datetime(2026, 10, 26, 7, 0, tzinfo=UTC))  # Monday 08:00 CET
    harness.command("go payments@2.4.0")
    assert harness.release("payments@2.4.0").status == ReleaseStatus.GO


def test_advance_is_refused_during_a_freeze(harness: Harness) -> None:
    approved(harness, "payments@2.4.0", "phased 10,50,100")
    harness.command("go payments@2.4.0")
    said(harness, f'freeze add "Incident" now to {iso(ahead())} service payments', PM)
    refused = said(harness, "advance payments@2.4.0")
    assert "Can't advance payments@2.4.0: the freeze “Incident” on `payments`" in refused
    assert harness.release("payments@2.4.0").stage_index == 0
    harness.command("advance payments@2.4.0 override: the fix must reach everyone", user_id=PM)
    assert harness.release("payments@2.4.0").stage_index == 1


# --- overrides --------------------------------------------------------------------------


def test_a_managers_override_is_audited_shown_and_escalated(harness: Harness) -> None:
    release = approved(harness, "payments@2.4.0")
    said(harness, f'freeze add "Holidays" now to {iso(ahead(days=3))}', PM)
    said(harness, "go payments@2.4.0 override: security fix for CVE-1", PM)
    release = harness.release(release.ref)
    assert release.status == ReleaseStatus.GO
    with harness.session() as session:
        [override] = session.exec(select(FreezeOverride)).all()
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "freeze_overridden")
        ).one()
    assert (override.by, override.reason, override.freeze_name) == (
        PM,
        "security fix for CVE-1",
        "Holidays",
    )
    assert (event.actor_id, event.release_id, event.detail) == (
        PM,
        release.id,
        "security fix for CVE-1",
    )
    card = rendered_text(harness.card(release))
    assert "Freeze “Holidays” overridden by <@U_PM>" in card and "security fix for CVE-1" in card
    assert any("overridden by <@U_PM>" in reply for reply in harness.thread(release))
    [escalated] = harness.slack.messages(ESCALATION)
    text = rendered_text(escalated)
    assert "<@U_PM> overrode the freeze “Holidays”" in text
    assert "payments@2.4.0" in text and "Reason: security fix for CVE-1" in text


def test_an_override_by_someone_not_a_manager_is_refused(harness: Harness) -> None:
    approved(harness, "payments@2.4.0")
    said(harness, f'freeze add "Holidays" now to {iso(ahead(days=3))}', PM)
    refused = said(harness, "go payments@2.4.0 override: I really want to")
    assert "Only release managers can override a freeze" in refused
    assert harness.release("payments@2.4.0").status == ReleaseStatus.APPROVED
    assert "Say why" in said(harness, "go payments@2.4.0 override:", PM)
    with harness.session() as session:
        assert session.exec(select(FreezeOverride)).all() == []
    assert harness.slack.messages(ESCALATION) == []


def test_the_override_button_asks_a_reason_then_goes(harness: Harness) -> None:
    approved(harness, "payments@2.4.0")
    said(harness, f'freeze add "Holidays" now to {iso(ahead(days=3))}', PM)
    url = harness.slack.new_response_url(channel_id=CHANNEL, user_id=PM)
    harness.command("go payments@2.4.0", user_id=PM, response_url=url)
    refusal = harness.slack.ephemerals(CHANNEL, PM)[-1]["message"]
    # Someone else clicking it is refused before any form opens.
    harness.click(refusal, ids.OVERRIDE_FREEZE, user_id="U_OTHER", is_ephemeral=True)
    assert harness.slack.views(ids.OVERRIDE_FREEZE_FORM) == []
    harness.click(refusal, ids.OVERRIDE_FREEZE, user_id=PM, is_ephemeral=True)
    assert harness.release("payments@2.4.0").status == ReleaseStatus.APPROVED
    harness.submit_modal(ids.OVERRIDE_FREEZE_FORM, user_id=PM, reason="Payment outage fix")
    assert harness.release("payments@2.4.0").status == ReleaseStatus.GO
    assert (PM, "freeze_overridden") in audit_actions(harness)
    assert len(harness.slack.messages(ESCALATION)) == 1


# --- proposals and reminders in a freeze ------------------------------------------------


def test_a_proposal_inside_a_freeze_is_accepted_with_a_warning(harness: Harness) -> None:
    start, until = ahead(days=5, hour=0), ahead(days=7, hour=0)
    said(harness, f'freeze add "Holidays" {iso(start)} to {iso(until)}', PM)
    harness.command(f"propose payments 2.4.0 {iso(ahead(days=6))}")
    release = harness.release("payments@2.4.0")
    assert release.status == ReleaseStatus.APPROVED  # accepted: no approvers to wait for
    card = rendered_text(harness.card(release))
    assert "Its release window falls in a freeze" in card and "“Holidays”" in card
    assert any("falls in a freeze" in reply for reply in harness.thread(release))
    # Moved out of the freeze, the warning goes.
    harness.command(f"update payments@2.4.0 when={iso(ahead(days=9))}")
    assert "falls in a freeze" not in rendered_text(harness.card(release))
    harness.command(f"update payments@2.4.0 when={iso(ahead(days=6, hour=10))}")
    assert "falls in a freeze" in harness.thread(release)[-1]


# --- the calendar feed ------------------------------------------------------------------

LINK = re.compile(r"https://releasebot\.example\.com(/calendar/[A-Za-z0-9_-]+\.ics)")


def feed_path(harness: Harness, text: str = "calendar") -> str:
    match = LINK.search(said(harness, text))
    assert match
    return match.group(1)


def fetch(harness: Harness, path: str, **headers: str) -> httpx.Response:
    return httpx.get(harness.server.url + path, headers=headers, timeout=10)


def test_freezes_are_events_of_their_own_in_the_feeds_they_touch(harness: Harness) -> None:
    harness.clock.pin(datetime(2026, 10, 20, 9, 0, tzinfo=UTC))
    start, until = datetime(2026, 12, 20, tzinfo=UTC), datetime(2027, 1, 4, tzinfo=UTC)
    said(harness, f'freeze add "Holidays" {iso(start)} to {iso(until)}', PM)
    everything, search = feed_path(harness), feed_path(harness, "calendar search")
    first = fetch(harness, everything)
    etag = first.headers["ETag"]
    said(
        harness,
        'freeze add "Weekend" every fri 16:00 to mon 08:00 tz Europe/Berlin service payments',
        PM,
    )
    again = fetch(harness, everything, **{"If-None-Match": etag})
    assert again.status_code == 200 and again.headers["ETag"] != etag
    feed = icalendar.Calendar.from_ical(again.content)
    events = {str(e["SUMMARY"]): e for e in feed.walk("VEVENT")}
    holidays = events["Release freeze: Holidays"]
    assert holidays.decoded("DTSTART") == start and holidays.decoded("DTEND") == until
    weekend = events["Release freeze: Weekend (payments)"]
    rrule = weekend["RRULE"]
    assert isinstance(rrule, icalendar.vRecur)
    assert (rrule["FREQ"], rrule["BYDAY"], rrule["BYHOUR"], rrule["BYMINUTE"]) == (
        ["WEEKLY"],
        ["FR"],
        [16],
        [0],
    )
    assert weekend["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert [tz["TZID"] for tz in feed.walk("VTIMEZONE")] == ["Europe/Berlin"]
    # The occurrences, read back with dateutil: the Friday before the clocks go back
    # ends on Monday 08:00 in winter time.
    dtstart = weekend.decoded("DTSTART")
    rule = rrulestr(rrule.to_ical().decode(), dtstart=dtstart)
    occurrence = rule.after(datetime(2026, 10, 23, tzinfo=UTC))
    end = occurrence + weekend.decoded("DURATION")
    assert occurrence.astimezone(UTC) == datetime(2026, 10, 23, 14, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 10, 26, 7, tzinfo=UTC)
    assert str(weekend["UID"]).startswith("freeze-")
    # A service's feed shows the workspace's freezes, not another service's.
    searching = icalendar.Calendar.from_ical(fetch(harness, search).content)
    assert [str(e["SUMMARY"]) for e in searching.walk("VEVENT")] == ["Release freeze: Holidays"]
    # Unchanged: the same bytes; removed: gone, with a new ETag.
    assert fetch(harness, everything).content == again.content
    said(harness, 'freeze remove "Weekend"', PM)
    after = fetch(harness, everything, **{"If-None-Match": again.headers["ETag"]})
    assert after.status_code == 200 and b"Weekend" not in after.content
    assert timedelta(0) < until - start
