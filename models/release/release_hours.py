"""Release hours: the weekdays and wall-clock hours, in one zone, when releases may happen
(policy key `release-hours`, e.g. `mon-fri 09:00-16:00 Europe/Berlin`).

Hours are wall-clock times in their zone, so 09:00 stays 09:00 across a change of daylight
saving time; a window must start and end within the hours of one day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = r"([01]?\d|2[0-4]):([0-5]\d)"
_HOURS = re.compile(rf"^\s*(\S+)\s+{_TIME}\s*-\s*{_TIME}\s+(\S+)\s*$", re.IGNORECASE)


class BadHours(ValueError):
    """Not release hours (the caller words the refusal)."""


def _days(text: str) -> frozenset[int]:
    """`mon-fri`, `sat-sun`, `mon,wed,fri`, `daily` -> weekday numbers (Monday 0)."""
    text = text.lower()
    if text in ("daily", "every-day"):
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.split(","):
        first, dash, last = part.partition("-")
        if first not in DAYS or (dash and last not in DAYS):
            raise BadHours(text)
        start = DAYS.index(first)
        end = DAYS.index(last) if dash else start
        days.update(d % 7 for d in range(start, end + 1 if end >= start else end + 8))
    return frozenset(days)


def _time(hours: str, minutes: str) -> int:
    value = int(hours) * 60 + int(minutes)
    if value > 24 * 60:
        raise BadHours(hours)
    return value


@dataclass(frozen=True)
class ReleaseHours:
    weekdays: frozenset[int]
    start_minute: int  # minutes after local midnight
    end_minute: int  # after `start_minute`; 1440 is midnight at the day's end
    tz: str

    @classmethod
    def parse(cls, text: str) -> ReleaseHours:
        match = _HOURS.match(text)
        if not match:
            raise BadHours(text)
        days, tz = _days(match.group(1)), match.group(6)
        start, end = _time(match.group(2), match.group(3)), _time(match.group(4), match.group(5))
        if not days or start >= end:
            raise BadHours(text)
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise BadHours(text) from None
        return cls(days, start, end, str(zone.key))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def text(self) -> str:
        """As typed, canonical: `mon-fri 09:00-16:00 Europe/Berlin` (stored so)."""
        return f"{self._days_text(DAYS)} {self._clock(self.start_minute)}-" + (
            f"{self._clock(self.end_minute)} {self.tz}"
        )

    @property
    def label(self) -> str:
        """For people: `Mon–Fri 09:00–16:00 (Europe/Berlin)`."""
        names = tuple(d.capitalize() for d in DAYS)
        return (
            f"{self._days_text(names, '–')} {self._clock(self.start_minute)}–"
            f"{self._clock(self.end_minute)} ({self.tz})"
        )

    def _days_text(self, names: tuple[str, ...], dash: str = "-") -> str:
        runs: list[str] = []
        day = 0
        while day < 7:
            if day not in self.weekdays:
                day += 1
                continue
            end = day
            while end + 1 < 7 and end + 1 in self.weekdays:
                end += 1
            runs.append(names[day] if end == day else f"{names[day]}{dash}{names[end]}")
            day = end + 1
        return ",".join(runs)

    @staticmethod
    def _clock(minute: int) -> str:
        return f"{minute // 60:02d}:{minute % 60:02d}"

    def _open_on(self, day: date) -> tuple[datetime, datetime]:
        """That local day's hours, in UTC (wall-clock times, whatever the offset then)."""
        midnight = datetime.combine(day, time(), self.zone)
        start = midnight.replace(hour=self.start_minute // 60, minute=self.start_minute % 60)
        if self.end_minute == 24 * 60:
            end = datetime.combine(day + timedelta(days=1), time(), self.zone)
        else:
            end = midnight.replace(hour=self.end_minute // 60, minute=self.end_minute % 60)
        return start.astimezone(UTC), end.astimezone(UTC)

    def contain(self, start: datetime, end: datetime) -> bool:
        """Whether the window [start, end) lies within the hours of one day."""
        day = start.astimezone(self.zone).date()
        if day.weekday() not in self.weekdays:
            return False
        opens, closes = self._open_on(day)
        return opens <= start and end <= closes

    def opening_times(self, since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
        """Each day's hours (in UTC) that overlap [since, until), earliest first: one span
        a day, never joined to the next (a window lies within the hours of one day)."""
        first = since.astimezone(self.zone).date() - timedelta(days=1)
        last = until.astimezone(self.zone).date()
        spans = []
        for offset in range((last - first).days + 1):
            day = first + timedelta(days=offset)
            if day.weekday() not in self.weekdays:
                continue
            opens, closes = self._open_on(day)
            if opens < until and closes > since:
                spans.append((opens, closes))
        return spans
