"""The release calendar as iCalendar (RFC 5545) bytes, all of them written by icalendar.

icalendar builds and serialises each release's VEVENT once per change of the release,
and `FragmentCache` keeps those bytes; a feed is the calendar's header, the kept
fragments of the releases its token may see, and the calendar's footer (`feed_bytes`).
Header and footer are icalendar's serialisation of the calendar with no events, split
at its END:VCALENDAR, so a feed is byte for byte `icalendar_calendar(...).to_ical()` of
the whole calendar: icalendar writes a component's content lines, then each
subcomponent's, then its END line (the tests hold it to that).

A build depends only on the data (no "now" in the output), so an unchanged feed is
byte-identical from one request to the next. (The bytes are the same as those of the
hand-written writer this replaced, so FEED_FORMAT, and every ETag, stayed as they were.)
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Protocol

import icalendar

from models.release.records import ApproverKind, ReleaseStatus, SignOffState

PRODID = "-//releasebot//release calendar//EN"
# Bump when the same data would be written differently: it is part of every ETag, so
# calendar apps fetch the new format instead of keeping the old one as "not modified".
FEED_FORMAT = "1"
REFRESH = timedelta(minutes=15)
_REFRESH_TEXT = "PT15M"
# Bytes of kept event fragments per process (a 10,000-release feed holds about 7 MB).
FRAGMENT_BYTES = 64 * 2**20

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


# --- icalendar objects ------------------------------------------------------------------


class Text(icalendar.vText):
    """icalendar's TEXT value, except that a literal backslash-N stays as typed.

    icalendar reads `\\N` in a value as a line break (RFC 5545's escape for one) before it
    escapes the backslash, so "C:\\New" would come out as "C:" and a new line "ew". Here
    each piece between such pairs is escaped by icalendar itself, and the pairs are
    written with their backslash escaped like any other.
    """

    def to_ical(self) -> bytes:
        pieces = str(self).split("\\N")
        if len(pieces) == 1:
            return super().to_ical()
        return b"\\\\N".join(icalendar.vText(piece).to_ical() for piece in pieces)


def new_calendar(calendar_name: str) -> icalendar.Calendar:
    """The feed's calendar, with its properties and no events yet."""
    name = Text(clean(calendar_name))
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    # Typed as TEXT explicitly: icalendar would write these unescaped (as "unknown").
    calendar.add("name", name)
    calendar.add("x-wr-calname", name)
    # RFC 7986 wants the VALUE parameter here; icalendar leaves it out unless told.
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", _REFRESH_TEXT)
    return calendar


def new_event(event: EventData) -> icalendar.Event:
    vevent = icalendar.Event()
    vevent.add("uid", event.uid)
    vevent.add("summary", Text(event.summary))
    vevent.add("dtstart", event.start.astimezone(UTC))
    vevent.add("dtend", event.end.astimezone(UTC))
    vevent.add("dtstamp", event.stamp.astimezone(UTC))
    vevent.add("sequence", event.sequence)
    vevent.add("created", event.created.astimezone(UTC))
    vevent.add("last-modified", event.modified.astimezone(UTC))
    vevent.add("status", event.status)
    # A release is not a meeting: it must not make subscribers look busy.
    vevent.add("transp", "TRANSPARENT")
    vevent.add("description", Text(event.description))
    if event.url:
        vevent.add("url", event.url)
    return vevent


def icalendar_calendar(events: Iterable[EventData], *, calendar_name: str) -> icalendar.Calendar:
    """The whole calendar as one icalendar object: what a feed's bytes are the
    `to_ical()` of (tests and benchmarks/feed.py compare them)."""
    calendar = new_calendar(calendar_name)
    for event in events:
        calendar.add_component(new_event(event))
    return calendar


# --- a feed from kept fragments ---------------------------------------------------------


def event_fragment(release: ReleaseFields, approvers: Sequence[ApproverFields]) -> bytes:
    """One release's VEVENT, BEGIN to END line and its CRLF, as icalendar writes it."""
    return bytes(new_event(event_data(release, approvers)).to_ical())


@lru_cache(maxsize=256)
def calendar_ends(calendar_name: str) -> tuple[bytes, bytes]:
    """icalendar's bytes for the calendar up to its first event, and after its last."""
    empty = bytes(new_calendar(calendar_name).to_ical())
    head, end, rest = empty.rpartition(b"END:VCALENDAR\r\n")
    assert end and not rest, empty
    return head, end


def feed_bytes(calendar_name: str, fragments: Iterable[bytes]) -> bytes:
    head, end = calendar_ends(calendar_name)
    return b"".join((head, *fragments, end))


class KeyFields(Protocol):
    """What identifies one state of a release: a `Release`, or a row of its table."""

    @property
    def uid(self) -> str: ...
    @property
    def revision(self) -> int: ...
    @property
    def updated_at(self) -> datetime: ...


FragmentKey = tuple[str, int, datetime]


def fragment_key(release: KeyFields) -> FragmentKey:
    """A release's state, as far as its event's bytes go.

    `uid` is never reused (ids can be); `revision` is moved by the database on every
    UPDATE of the release's row, and every change to what its event shows updates the row
    in the same transaction: its own columns, and its sign-offs, which set `updated_at`
    (the rule the feed's validators rely on too, see models.calendar_feed.subscriptions).
    `updated_at` is in the key as well, for a change written without the ORM (which
    moves `revision` from a `before_update` hook).
    """
    return (release.uid, release.revision, release.updated_at)


class FragmentCache:
    """Each release's VEVENT bytes, kept in this process once icalendar has written them.

    Building and serialising an event with icalendar costs about 0.4 ms, so a
    10,000-release feed is built once; after that only what changed is rebuilt. A
    fragment of an older state is never looked up again and goes when it is the least
    recently used, as does anything once the kept bytes pass `max_bytes`.
    """

    def __init__(self, max_bytes: int = FRAGMENT_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[FragmentKey, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get_many(self, keys: Iterable[FragmentKey]) -> list[bytes | None]:
        """The kept fragment for each key, in order (None: not kept)."""
        found: list[bytes | None] = []
        with self._lock:
            entries = self._entries
            for key in keys:
                fragment = entries.get(key)
                if fragment is not None:
                    entries.move_to_end(key)
                found.append(fragment)
        return found

    def put(self, key: FragmentKey, fragment: bytes) -> None:
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= len(previous)
            self._entries[key] = fragment
            self._bytes += len(fragment)
            while self._bytes > self.max_bytes and self._entries:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= len(dropped)
