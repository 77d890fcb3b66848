"""Freezes in the calendar feed: one VEVENT each, built with icalendar, inserted into the
feed between its header and its footer (`with_freezes`), apart from the release events.

A one-off freeze is DTSTART/DTEND in UTC. A recurring one is one VEVENT with its RRULE,
DTSTART in its zone (TZID, with the zone's VTIMEZONE) and a DURATION, so calendar apps
repeat it in wall-clock time across DST changes as we do. The bytes depend on the rows
only (DTSTAMP is the freeze's creation), so an unchanged feed keeps its bytes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC

import icalendar

from handlers.calendar_feed.ics import clean
from models.freezes import Freeze

FOOTER = b"END:VCALENDAR\r\n"


def freeze_event(freeze: Freeze) -> icalendar.Event:
    event = icalendar.Event()
    scope = f" ({freeze.service})" if freeze.service else ""
    event.add("uid", f"freeze-{freeze.uid}@releasebot")
    event.add("summary", clean(f"Release freeze: {freeze.name}{scope}"))
    if freeze.recurring:
        event.add("dtstart", freeze.starts_at.astimezone(freeze.zone))
        event.add("duration", freeze.duration)
        event.add("rrule", icalendar.vRecur.from_ical(freeze.rrule))
    else:
        assert freeze.ends_at is not None
        event.add("dtstart", freeze.starts_at.astimezone(UTC))
        event.add("dtend", freeze.ends_at.astimezone(UTC))
    event.add("dtstamp", freeze.created_at.astimezone(UTC))
    covered = f"releases of {freeze.service}" if freeze.service else "all releases"
    event.add(
        "description",
        clean(
            f"Release freeze: {covered} can't go or advance during it, unless a release "
            f"manager overrides it for one release. Added by {freeze.created_by}."
        ),
    )
    event.add("transp", "TRANSPARENT")  # a freeze does not make anyone busy
    return event


def freeze_components(freezes: Sequence[Freeze]) -> Iterator[bytes]:
    """Each zone's VTIMEZONE the recurring freezes need, then each freeze's VEVENT."""
    if not freezes:
        return
    calendar = icalendar.Calendar()
    for freeze in freezes:
        calendar.add_component(freeze_event(freeze))
    calendar.add_missing_timezones()
    for component in calendar.subcomponents:
        data = component.to_ical()
        yield data if data.endswith(b"\r\n") else data + b"\r\n"


def with_freezes(feed: bytes, freezes: Sequence[Freeze]) -> bytes:
    """The feed's bytes with the freezes' components before its footer."""
    if not freezes:
        return feed
    assert feed.endswith(FOOTER)
    return feed[: -len(FOOTER)] + b"".join(freeze_components(freezes)) + FOOTER
