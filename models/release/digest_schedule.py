"""When and where the weekly digest is posted (policy key `digest`, e.g.
`digest #eng-announce mon 09:00 Europe/Berlin`): a channel, a weekday and a wall-clock
time in one zone, so 09:00 stays 09:00 across a change of daylight saving time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WHEN = re.compile(r"^\s*([a-z]{3})\s+([01]?\d|2[0-3]):([0-5]\d)\s+(\S+)\s*$", re.IGNORECASE)


class BadSchedule(ValueError):
    """Not a weekday, a time and a zone (the caller words the refusal)."""


@dataclass(frozen=True)
class DigestSchedule:
    channel_id: str
    weekday: int  # Monday 0
    minute: int  # after local midnight
    tz: str

    @classmethod
    def parse(cls, channel_id: str, when: str) -> DigestSchedule:
        """`mon 09:00 Europe/Berlin`, for the channel `channel_id`."""
        match = _WHEN.match(when)
        if not match or match.group(1).lower() not in DAYS:
            raise BadSchedule(when)
        try:
            zone = ZoneInfo(match.group(4))
        except (ZoneInfoNotFoundError, ValueError):
            raise BadSchedule(when) from None
        minute = int(match.group(2)) * 60 + int(match.group(3))
        return cls(channel_id, DAYS.index(match.group(1).lower()), minute, str(zone.key))

    @classmethod
    def read(cls, text: str) -> DigestSchedule:
        """As stored: `C123 mon 09:00 Europe/Berlin`."""
        channel_id, _, when = text.partition(" ")
        return cls.parse(channel_id, when)

    @property
    def when(self) -> str:
        return f"{DAYS[self.weekday]} {self.minute // 60:02d}:{self.minute % 60:02d} {self.tz}"

    @property
    def text(self) -> str:
        return f"{self.channel_id} {self.when}"

    def last_due(self, now: datetime) -> datetime:
        """The latest posting time at or before `now` (UTC), read on the wall clock."""
        zone = ZoneInfo(self.tz)
        today = now.astimezone(zone).date()
        day = today - timedelta(days=(today.weekday() - self.weekday) % 7)
        at = time(self.minute // 60, self.minute % 60)
        due = datetime.combine(day, at, zone).astimezone(UTC)
        if due > now:
            due = datetime.combine(day - timedelta(days=7), at, zone).astimezone(UTC)
        return due
