"""The release calendar as iCalendar (RFC 5545) bytes, fast enough for 10,000 releases.

`build_feed` writes the content lines itself: icalendar's object model costs about 15
times more per event (benchmarks/feed.py). What it writes is what icalendar 7 writes for
the same events (`render_with_icalendar`, the reference, is kept for the tests that prove
it and for the benchmark), with one deliberate difference: icalendar turns a literal
backslash-N in a TEXT value into a line break when writing; here it stays as typed.

A build depends only on the data (no "now" in the output), so an unchanged feed is
byte-identical from one request to the next.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import icalendar

from models.release.records import ApproverKind, ReleaseStatus, SignOffState

PRODID = "-//releasebot//release calendar//EN"
# Bump when the same data would be written differently: it is part of every ETag, so
# calendar apps fetch the new format instead of keeping the old one as "not modified".
FEED_FORMAT = "1"
REFRESH = timedelta(minutes=15)
_REFRESH_TEXT = "PT15M"

S = ReleaseStatus
EVENT_STATUS: dict[str, str] = {
    S.PROPOSED: "TENTATIVE",
    S.CHANGES_REQUESTED: "TENTATIVE",
    S.NO_GO: "TENTATIVE",
    S.APPROVED: "CONFIRMED",
    S.GO: "CONFIRMED",
    S.ROLLING_OUT: "CONFIRMED",
    S.PAUSED: "CONFIRMED",
    S.RELEASED: "CONFIRMED",
    S.ROLLED_BACK: "CONFIRMED",
    S.CANCELLED: "CANCELLED",
}
# Said in the title too, where a calendar app shows it without opening the event.
_SUMMARY_SUFFIX: dict[str, str] = {
    S.CANCELLED: " (cancelled)",
    S.NO_GO: " (no-go)",
    S.ROLLED_BACK: " (rolled back)",
    S.PAUSED: " (paused)",
}
# States whose reason and author (`status_reason`, `status_by`) the description gives.
_DECISIVE: frozenset[str] = frozenset({S.CANCELLED, S.NO_GO, S.ROLLED_BACK})
# Status strings are looked up as stored (StrEnum members hash like their values).
_LABELS: dict[str, str] = {state: state.label for state in ReleaseStatus}
_SIGN_OFF_WORDS: dict[str, str] = {
    SignOffState.PENDING: "pending",
    SignOffState.APPROVED: "approved",
    SignOffState.REJECTED: "changes requested",
}


class ReleaseFields(Protocol):
    """What the feed reads of a release: a `Release`, or a row of its table."""

    @property
    def id(self) -> int | None: ...
    @property
    def uid(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def target_at(self) -> datetime: ...
    @property
    def window_minutes(self) -> int: ...
    @property
    def owner_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def rollout_stages(self) -> str: ...
    @property
    def stage_index(self) -> int | None: ...
    @property
    def notes(self) -> str: ...
    @property
    def status_reason(self) -> str: ...
    @property
    def status_by(self) -> str | None: ...
    @property
    def permalink(self) -> str | None: ...
    @property
    def sequence(self) -> int: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


class ApproverFields(Protocol):
    """What the feed reads of a sign-off: an `Approver`, or a row of its table."""

    @property
    def kind(self) -> str: ...
    @property
    def slack_id(self) -> str: ...
    @property
    def handle(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def signed_by(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class EventData:
    """One VEVENT's content as plain text and UTC times, before any iCalendar escaping."""

    uid: str
    summary: str
    start: datetime
    end: datetime
    stamp: datetime
    created: datetime
    modified: datetime
    sequence: int
    status: str
    description: str
    url: str | None


# --- from releases to event content -----------------------------------------------------

# Control characters are not allowed in iCalendar TEXT (tab and line breaks are, the
# latter escaped); lone surrogates cannot be encoded at all.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def clean(text: str) -> str:
    """Text safe to write: line breaks normalised to \\n, other control characters gone."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def approver_text(approver: ApproverFields) -> str:
    # Plain reads of each column once: this runs for every approver of every release.
    state, slack_id, signed_by = approver.state, approver.slack_id, approver.signed_by
    if approver.kind == ApproverKind.USERGROUP:
        who = f"@{approver.handle}" if approver.handle else slack_id
        by = f" by {signed_by}" if signed_by and state != SignOffState.PENDING else ""
    else:
        who, by = slack_id, ""
    return f"{who} ({_SIGN_OFF_WORDS.get(state, state)}{by})"


def rollout_text(stages_text: str, stage_index: int | None) -> str:
    if not stages_text:
        return "big-bang"
    stages = stages_text.split(",")
    text = "phased " + " → ".join(f"{p}%" for p in stages)
    if stage_index is None or not 0 <= stage_index < len(stages):
        return text
    return f"{text} (now at {stages[stage_index]}%)"


def describe(release: ReleaseFields, approvers: Sequence[ApproverFields]) -> str:
    status = release.status
    lines = [
        f"Status: {_LABELS.get(status, status)}",
        f"Owner: {release.owner_id}",
        f"Rollout: {rollout_text(release.rollout_stages, release.stage_index)}",
        "Approvers: " + (", ".join([approver_text(a) for a in approvers]) or "none"),
    ]
    status_by, reason = release.status_by, release.status_reason
    if status in _DECISIVE and (status_by or reason):
        by = f" by {status_by}" if status_by else ""
        lines.append(f"{_LABELS[status]}{by}{': ' + reason if reason else ''}")
    notes, permalink = release.notes, release.permalink
    if notes:
        lines.append(f"Notes:\n{notes}")
    if permalink:
        lines.append(f"In Slack: {permalink}")
    return clean("\n".join(lines))


def event_data(release: ReleaseFields, approvers: Sequence[ApproverFields]) -> EventData:
    status, target_at, updated_at = release.status, release.target_at, release.updated_at
    permalink = release.permalink
    summary = f"{release.service} {release.version}{_SUMMARY_SUFFIX.get(status, '')}"
    return EventData(
        uid=f"release-{release.uid}@releasebot",
        summary=clean(summary),
        start=target_at,
        end=target_at + timedelta(minutes=release.window_minutes),
        # The last change, not the build time: an unchanged feed keeps its bytes.
        stamp=updated_at,
        created=release.created_at,
        modified=updated_at,
        sequence=release.sequence,
        status=EVENT_STATUS[status],
        description=describe(release, approvers),
        url=clean(permalink).replace("\n", "") if permalink else None,
    )


def build_feed(
    releases: Iterable[ReleaseFields],
    approvers_by_release: Mapping[int, Sequence[ApproverFields]],
    *,
    calendar_name: str,
    now: datetime,
) -> bytes:
    """The feed's bytes. `now` is deliberately not written anywhere (see the module doc)."""
    del now  # kept in the signature for callers; the output must not depend on it
    # A generator: each event's data is dropped as soon as it is written.
    events = (event_data(r, approvers_by_release.get(r.id or 0, ())) for r in releases)
    return render(events, calendar_name=calendar_name)


# --- writing content lines --------------------------------------------------------------

_LIMIT = 75  # octets per physical line, as icalendar counts them


def escape_text(text: str) -> str:
    """RFC 5545 TEXT escaping (icalendar's, minus its backslash-N quirk)."""
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str) -> str:
    """Fold a content line exactly as icalendar 7 does (see `fold_bytes`)."""
    if len(line) < _LIMIT and (line.isascii() or len(line.encode("utf-8")) < _LIMIT):
        return line
    return fold_bytes(line.encode("utf-8")).decode("utf-8")


def fold_bytes(line: bytes) -> bytes:
    """At most 74 octets, then CRLF + space + at most 74 more, and so on; never inside a
    UTF-8 character, nor between a backslash (or ^) and what it escapes: that backslash
    starts the next line instead (icalendar does so for older clients' sake)."""
    if len(line) < _LIMIT:
        return line
    chunks = []
    start = 0
    while len(line) - start >= _LIMIT:
        end = start + _LIMIT - 1
        while 0x80 <= line[end] < 0xC0:  # a continuation byte: don't split the character
            end -= 1
        if line[end - 1] in b"\\^":
            end -= 1
        chunks.append(line[start:end])
        start = end
    chunks.append(line[start:])
    return b"\r\n ".join(chunks)


def _utc(when: datetime) -> str:
    if when.tzinfo is not UTC:
        when = when.astimezone(UTC)
    return (
        f"{when.year:04d}{when.month:02d}{when.day:02d}"
        f"T{when.hour:02d}{when.minute:02d}{when.second:02d}Z"
    )


def _text(name: str, value: str) -> str:
    return fold(f"{name}:{escape_text(value)}")


def _event(event: EventData) -> str:
    stamp = _utc(event.stamp)
    modified = stamp if event.modified == event.stamp else _utc(event.modified)
    # Property order as icalendar writes it: its canonical order, then alphabetical.
    lines = [
        "BEGIN:VEVENT",
        _text("SUMMARY", event.summary),
        "DTSTART:" + _utc(event.start),
        "DTEND:" + _utc(event.end),
        "DTSTAMP:" + stamp,
        _text("UID", event.uid),
        f"SEQUENCE:{event.sequence}",
        "CREATED:" + _utc(event.created),
        _text("DESCRIPTION", event.description),
        "LAST-MODIFIED:" + modified,
        "STATUS:" + event.status,
        # A release is not a meeting: it must not make subscribers look busy.
        "TRANSP:TRANSPARENT",
    ]
    if event.url:
        lines.append(fold("URL:" + event.url))
    lines.append("END:VEVENT")
    return "\r\n".join(lines)


def render(events: Iterable[EventData], *, calendar_name: str) -> bytes:
    name = clean(calendar_name)
    parts = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        _text("PRODID", PRODID),
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        _text("NAME", name),
        _text("X-WR-CALNAME", name),
        # RFC 7986 wants the VALUE parameter here; icalendar leaves it out unless told.
        f"REFRESH-INTERVAL;VALUE=DURATION:{_REFRESH_TEXT}",
        f"X-PUBLISHED-TTL:{_REFRESH_TEXT}",
    ]
    parts.extend(_event(event) for event in events)
    parts.append("END:VCALENDAR\r\n")
    return "\r\n".join(parts).encode("utf-8")


# --- the reference: icalendar's object model --------------------------------------------


def icalendar_calendar(events: Iterable[EventData], *, calendar_name: str) -> icalendar.Calendar:
    """The same calendar as `render` writes, built from icalendar objects."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    # Typed as TEXT explicitly: icalendar would write these unescaped (as "unknown").
    calendar.add("name", icalendar.vText(clean(calendar_name)))
    calendar.add("x-wr-calname", icalendar.vText(clean(calendar_name)))
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", _REFRESH_TEXT)
    for event in events:
        vevent = icalendar.Event()
        vevent.add("uid", event.uid)
        vevent.add("summary", event.summary)
        vevent.add("dtstart", event.start.astimezone(UTC))
        vevent.add("dtend", event.end.astimezone(UTC))
        vevent.add("dtstamp", event.stamp.astimezone(UTC))
        vevent.add("sequence", event.sequence)
        vevent.add("created", event.created.astimezone(UTC))
        vevent.add("last-modified", event.modified.astimezone(UTC))
        vevent.add("status", event.status)
        vevent.add("transp", "TRANSPARENT")
        vevent.add("description", event.description)
        if event.url:
            vevent.add("url", event.url)
        calendar.add_component(vevent)
    return calendar


def render_with_icalendar(events: Iterable[EventData], *, calendar_name: str) -> bytes:
    return icalendar_calendar(events, calendar_name=calendar_name).to_ical()
