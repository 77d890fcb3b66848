"""Times as people type them: `tomorrow 14:00`, `fri 10:00`, `in 2h`, `2026-12-03T14:00Z`…

Read in the writer's Slack time zone at a given `now`, so a pinned clock gives the same
answer every time. ISO 8601 is read without dateparser (the fast path: acks stay quick);
anything else goes to dateparser, English only, preferring the future. dateparser is
imported on first use, or ahead of time by `warm_up()` (the server calls it at start-up:
its import and first parse take about a second).

Two ways in:

- `parse_time(text, tz=…, now=…)`: the whole text is the time; an aware UTC datetime.
- `take_time(tokens)`: the time at the start of a command's tokens (the longest run, up to
  `MAX_TIME_TOKENS`, that reads as a time, stopping at a mention or keyword); a `When` to
  `resolve(tz, now=…)` once the person's zone is known, and how many tokens it used.

Every refusal is a `Refused` on the `when` field, saying what was typed or how it was read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from handlers.slack_kit.mrkdwn import escape, from_slack, truncate
from handlers.slack_kit.refused import Refused
from models import durations, fields
from models.columns import in_utc

# "next monday at 9am" is five; more than that is not a time but what follows it.
MAX_TIME_TOKENS = 5

EXAMPLES = (
    "`tomorrow 14:00`, `fri 10:00`, `next monday 9am`, `in 2h`, `dec 3 14:00` or "
    "`2026-12-03 14:00` (read in your Slack time zone), or ISO 8601 with an offset such as "
    "`2026-12-03T14:00Z`"
)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]")
CLOCK_PATTERN = re.compile(r"^\d{1,2}:\d{2}$")  # HH:MM

# A time of day alone: "14:00", "9am", "at 9:30 pm", "noon". Read here, not by dateparser:
# preferring the future, it compares them with RELATIVE_BASE as if that were UTC.
_TIME_OF_DAY = re.compile(
    r"^(?:at\s+)?(?:(\d{1,2})(?::(\d{2}))?\s*([ap]\.?m\.?)?|(noon|midday))$", re.I
)
_IN = re.compile(r"^in\s+", re.IGNORECASE)
# 3/12 or 3.12.2026: day-month or month-day? Only both above 12 tells.
_NUMERIC_DATE = re.compile(r"(?<![\d.:/])(\d{1,2})[/.](\d{1,2})(?:[/.](\d{2}|\d{4}))?(?![\d:])")
_WEEKDAYS = {
    name: index
    for index, names in enumerate(
        [
            ("mon", "monday"),
            ("tue", "tues", "tuesday"),
            ("wed", "weds", "wednesday"),
            ("thu", "thur", "thurs", "thursday"),
            ("fri", "friday"),
            ("sat", "saturday"),
            ("sun", "sunday"),
        ]
    )
    for name in names
}
_WORD = re.compile(r"[a-z]+")
_YEAR = re.compile(r"(?<!\d)\d{4}(?!\d)")
# A date a year on that was this year's a little while ago is most likely a late one.
RECENTLY_PAST = timedelta(days=60)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# A fixed base for "does this read as a time at all?": the answer doesn't depend on the day.
_ANY_DAY = datetime(2000, 1, 3)
# A time read lies a day inside what datetime holds (years 1 to 9999), so it can be shown
# in any zone, as refusals show it: beyond that, converting it overflows.
_EARLIEST = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
_LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)


@dataclass(frozen=True)
class When:
    """A release time as typed: absolute (ISO with an offset), local ISO (naive, read in
    the person's Slack time zone), or natural (`text` alone: read when it is resolved)."""

    text: str
    absolute: datetime | None = None
    local: datetime | None = None  # naive; read in the proposer's Slack time zone

    @property
    def needs_zone(self) -> bool:
        """Whether resolving it needs the person's time zone."""
        return self.absolute is None

    def resolve(self, tz_name: str | None, *, now: datetime) -> datetime:
        """The time in UTC, read in `tz_name` (None or unknown: UTC) at `now`. Refuses
        a time that doesn't exist there, is ambiguous, or is not after `now`."""
        zone = _zone(tz_name)
        if self.absolute is not None:
            value = _in_utc(self.absolute, self.text)
        elif self.local is not None:
            value = localize(self.local, tz_name, self.text)
        else:
            value = _read_natural(self.text, zone, now)
        if value <= now:
            raise Refused(
                f"{understood(value, zone, now)} is in the past: pick a time ahead.",
                field=fields.FIELD_WHEN,
            )
        return value


def parse_time(text: str, *, tz: str | None, now: datetime) -> datetime:
    """`text`, all of it a time as a person typed it, read in time zone `tz` (their Slack
    zone; None or unknown: UTC) at `now` (aware). Returns an aware UTC datetime after `now`.

    Raises `Refused` (field `when`) for text that doesn't read as a time, a date without a
    time of day, an ambiguous or past time, or a local time skipped by a DST jump.
    """
    tokens = text.split()
    when, used = take_time(tokens)
    if used != len(tokens):
        raise _unreadable(text)
    return when.resolve(tz, now=now)


def take_time(tokens: Sequence[str]) -> tuple[When, int]:
    """The time at the start of `tokens` (as Slack sent them); returns it and how many
    tokens it used. The longest run of up to `MAX_TIME_TOKENS` tokens that reads as a time,
    stopping before a mention, `phased`, `big-bang`, `fix`, `fixes`, `notes:` or `--`.

    Only what doesn't depend on the person's zone or the clock is checked here (it reads,
    it has a time of day, it is not ambiguous); `When.resolve` checks the rest.
    """
    if not tokens:
        raise Refused("Say when the release happens.", field=fields.FIELD_WHEN)
    first = tokens[0]
    # ISO 8601, the fast path: no dateparser.
    if _ISO_DATE.match(first) and len(tokens) > 1 and CLOCK_PATTERN.match(tokens[1]):
        return _iso(f"{first}T{tokens[1].zfill(5)}", f"{first} {tokens[1]}"), 2
    if _ISO_DATETIME.match(first):
        return _iso(first, first), 1
    if _ISO_DATE.match(first) and (len(tokens) == 1 or _stops_time(tokens[1])):
        try:
            date.fromisoformat(first)
        except ValueError:
            raise _unreadable(first) from None
        raise _no_time_of_day(first)
    # Anything else: the longest run that dateparser reads.
    run = 1
    while run < min(len(tokens), MAX_TIME_TOKENS) and not _stops_time(tokens[run]):
        run += 1
    for used in range(run, 0, -1):
        text = from_slack(" ".join(tokens[:used]))
        if _in_duration(text) is not None or _time_of_day(text) is not None:
            return When(text), used
        if _bare_number(text):
            continue
        parsed = _dateparse(text, "UTC", _ANY_DAY)
        if parsed is None:
            continue
        _check_reading(text, parsed)
        return When(text), used
    raise _unreadable(from_slack(" ".join(tokens[:run])))


def localize(naive: datetime, tz_name: str | None, shown: str) -> datetime:
    """A wall-clock time in `tz_name` (None or unknown: UTC), in UTC. Refuses one that the
    clocks skip; of one that happens twice (clocks going back) takes the first."""
    zone = _zone(tz_name)
    aware = naive.replace(tzinfo=zone)
    utc = _in_utc(aware, shown)
    # A wall-clock time skipped by a DST jump does not survive a round trip through UTC.
    if utc.astimezone(zone).replace(tzinfo=None) != naive:
        raise Refused(
            f"{escape(shown)} does not exist in {zone.key}: the clocks jump forward then. "
            "Pick another time.",
            field=fields.FIELD_WHEN,
        )
    return utc


def understood(value: datetime, zone: ZoneInfo, now: datetime) -> str:
    """A time as it was read, in words and in `zone`: "Thursday 3 Dec 14:00 Europe/Berlin"
    (with the year when it is not this year's)."""
    local = value.astimezone(zone)
    year = f" {local.year}" if local.year != now.astimezone(zone).year else ""
    return f"{local:%A} {local.day} {local:%b}{year} {local:%H:%M} {zone.key}"


def warm_up() -> None:
    """Import dateparser and parse once, so the first person to type a time doesn't wait
    for it (about a second)."""
    _dateparse("tomorrow 14:00", "UTC", _ANY_DAY)


# --- reading ------------------------------------------------------------------------------


def _zone(tz_name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(tz_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _iso(candidate: str, shown: str) -> When:
    try:
        value = datetime.fromisoformat(candidate.replace("z", "Z"))
    except ValueError:
        raise _unreadable(shown) from None
    if value.tzinfo is not None:
        _in_utc(value, shown)  # refused now if out of range; kept as typed
        return When(shown, absolute=value)
    return When(shown, local=value)


def _in_utc(value: datetime, shown: str) -> datetime:
    """Aware `value` in UTC; refused when it is not a day inside the years 1 to 9999."""
    utc = in_utc(value)
    if utc is None or not _EARLIEST <= utc <= _LATEST:
        raise _out_of_range(shown)
    return utc


def _stops_time(token: str) -> bool:
    """A token that starts what comes after the time in a command."""
    lowered = token.lower()
    return (
        token.startswith(("<", "@"))
        or lowered in ("phased", "--phased", "big-bang", "bigbang", "--big-bang", "--")
        or lowered in ("fix", "--fix", "fixes", "--fixes")
        or lowered.startswith("notes:")
    )


def _in_duration(text: str) -> timedelta | None:
    """`in 45 minutes`, `in 2h`: how far ahead."""
    ahead = _IN.match(text)
    return durations.parse(text[ahead.end() :], units="mh", digits=4) if ahead else None


def _time_of_day(text: str) -> time | None:
    """`text` when it is a time of day and nothing else; a bare number is none."""
    match = _TIME_OF_DAY.match(text.strip())
    if match is None:
        return None
    hour, minute, meridiem, noon = match.groups()
    if noon:
        return time(12, 0)
    if minute is None and meridiem is None:
        return None
    h, m = int(hour), int(minute or 0)
    if meridiem:
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if meridiem.lower().startswith("p") else 0)
    if h > 23 or m > 59:
        return None
    return time(h, m)


def _bare_number(text: str) -> bool:
    # dateparser reads "5" as the 5th of a month: no one means a time by it.
    return text.replace(" ", "").isdigit()


class _Reading:
    """What dateparser made of a text: the time (aware) and how precise it is."""

    def __init__(self, value: datetime, period: str) -> None:
        self.value = value
        self.period = period  # "time" when a time of day was given; else day, week…


def _dateparse(text: str, zone_key: str, base: datetime) -> _Reading | None:
    from dateparser.date import DateDataParser  # slow to import: on first use (see warm_up)

    settings: dict[str, Any] = {
        "PREFER_DATES_FROM": "future",
        "TIMEZONE": zone_key,
        "RETURN_AS_TIMEZONE_AWARE": True,
        "RELATIVE_BASE": base,  # naive: the wall clock in `zone_key`
        "RETURN_TIME_AS_PERIOD": True,
    }
    try:
        data = DateDataParser(languages=["en"], settings=settings).get_date_data(text)
    except OverflowError:  # a date at an end of the calendar, taken past it by a zone
        raise _out_of_range(text) from None
    if data.date_obj is None:
        return None
    return _Reading(data.date_obj, str(data.period))


def _check_reading(text: str, reading: _Reading) -> None:
    """What is wrong with a reading whatever the zone and the day."""
    if reading.period != "time":
        raise _no_time_of_day(text)
    for match in _NUMERIC_DATE.finditer(text):
        first, second = int(match.group(1)), int(match.group(2))
        if first != second and 1 <= first <= 12 and 1 <= second <= 12:
            raise Refused(
                f"{_shown(text)} could be {first} {_MONTHS[second - 1]} or "
                f"{second} {_MONTHS[first - 1]}: write the month as a word, e.g. "
                "`dec 3 14:00`, or write `2026-12-03 14:00`.",
                field=fields.FIELD_WHEN,
            )


def _read_natural(text: str, zone: ZoneInfo, now: datetime) -> datetime:
    """`text` (not ISO) read in `zone` at `now`, in UTC."""
    if (duration := _in_duration(text)) is not None:
        return now.astimezone(UTC) + duration
    local_now = now.astimezone(zone)
    if (clock := _time_of_day(text)) is not None:
        value = localize(datetime.combine(local_now.date(), clock), zone.key, text)
        if value <= now:
            raise Refused(
                f"{understood(value, zone, now)} is in the past: pick a time ahead "
                f"(for tomorrow's, write `tomorrow {truncate(escape(text), 20)}`).",
                field=fields.FIELD_WHEN,
            )
        return value
    reading = _dateparse(text, zone.key, local_now.replace(tzinfo=None))
    if reading is None:
        raise _unreadable(text)
    _check_reading(text, reading)
    value = reading.value
    wall = value.replace(tzinfo=None)
    as_local = wall.replace(tzinfo=zone)
    if value.utcoffset() != as_local.utcoffset():
        # The text named its own zone or offset ("14:00 UTC"): that instant it is.
        return _in_utc(value, text)
    resolved = localize(wall, zone.key, text)
    _check_same_weekday(text, resolved, zone, local_now)
    _check_last_year(text, resolved, zone, local_now)
    return resolved


def _check_same_weekday(text: str, value: datetime, zone: ZoneInfo, local_now: datetime) -> None:
    """ "thu 17:00" typed on a Thursday morning: today, or a week on? dateparser says a
    week on; refuse when today's reading is still ahead, so nobody is a week late."""
    words = _WORD.findall(text.lower())
    named = [i for i, w in enumerate(words) if w in _WEEKDAYS]
    if len(named) != 1 or (named[0] > 0 and words[named[0] - 1] in ("next", "this")):
        return
    local = value.astimezone(zone)
    if _WEEKDAYS[words[named[0]]] != local_now.weekday() or local.date() == local_now.date():
        return
    today = datetime.combine(local_now.date(), local.time())
    try:
        today_utc = localize(today, zone.key, text)
    except Refused:
        return
    if today_utc <= local_now:
        return
    hhmm = f"{local:%H:%M}"
    raise Refused(
        f"{_shown(text)} could be today, {understood(today_utc, zone, local_now)}, or "
        f"{understood(value, zone, local_now)}: write `today {hhmm}` or "
        f"`next {words[named[0]]} {hhmm}`.",
        field=fields.FIELD_WHEN,
    )


def _check_last_year(text: str, value: datetime, zone: ZoneInfo, local_now: datetime) -> None:
    """ "dec 3 14:00" typed on the evening of 3 Dec: dateparser, preferring the future,
    reads next year's. Someone a little late meant this year's, which is past: say so."""
    local = value.astimezone(zone)
    if local.year <= local_now.year or _YEAR.search(text):
        return
    try:
        a_year_earlier = local.replace(year=local.year - 1, tzinfo=None)
    except ValueError:  # 29 February
        return
    earlier = a_year_earlier.replace(tzinfo=zone)
    if local_now - RECENTLY_PAST < earlier <= local_now:
        raise Refused(
            f"{understood(earlier, zone, local_now)} is in the past: pick a time ahead "
            f"(for next year's, write the year: e.g. `{local:%b} {local.day} {local.year} "
            f"{local:%H:%M}`).",
            field=fields.FIELD_WHEN,
        )


# --- refusals -----------------------------------------------------------------------------


def _shown(text: str) -> str:
    """Typed text shown back: quoted, cut, escaped."""
    return f"“{truncate(escape(text), 60)}”"


def _unreadable(text: str) -> Refused:
    return Refused(
        f"I can't read {_shown(text)} as a time. Write e.g. {EXAMPLES}.", field=fields.FIELD_WHEN
    )


def _out_of_range(text: str) -> Refused:
    return Refused(
        f"{_shown(text)} is out of range: pick a time ahead. Write e.g. {EXAMPLES}.",
        field=fields.FIELD_WHEN,
    )


def _no_time_of_day(text: str) -> Refused:
    return Refused(
        f"{_shown(text)} has no time of day, and a release needs one: add it, e.g. "
        f"`{truncate(escape(text), 40)} 14:00`.",
        field=fields.FIELD_WHEN,
    )
