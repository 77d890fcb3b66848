"""Durations as people type them (`30m`, `2 h`, `90 days`) and as we word them (`45 min`).

One reading for every surface (settings, policy, Slack commands, the pipeline CLI, the audit
export): a surface narrows it to the units it takes and words its own refusal.
"""

from __future__ import annotations

import re
from datetime import timedelta

# Each unit's letter, and every way of writing it.
_UNITS = {
    "s": ("s", "sec", "secs", "second", "seconds"),
    "m": ("m", "min", "mins", "minute", "minutes"),
    "h": ("h", "hr", "hrs", "hour", "hours"),
    "d": ("d", "day", "days"),
}
_UNIT_OF = {spelling: unit for unit, spellings in _UNITS.items() for spelling in spellings}
_LENGTH = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse(
    text: str,
    *,
    units: str = "smhd",
    bare: str | None = None,
    digits: int = 9,
    zero: bool = True,
) -> timedelta | None:
    """`text` as a duration, or None: a whole number of at most `digits` digits and one of
    `units` (letters of s, m, h, d), or no unit when `bare` names the number's unit;
    0 only if `zero`."""
    match = _DURATION.match(text)
    if not match or len(match.group(1)) > digits:
        return None
    amount, spelled = int(match.group(1)), match.group(2).lower()
    unit = _UNIT_OF.get(spelled) if spelled else bare
    if unit is None or unit not in units or (amount == 0 and not zero):
        return None
    return timedelta(seconds=amount * _LENGTH[unit])


def typed(delta: timedelta) -> str:
    """The shortest text `parse` reads back as `delta` (whole minutes): `2d`, `36h`, `90m`."""
    minutes = int(delta.total_seconds() // 60)
    if minutes and minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    if minutes and minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def words(delta: timedelta) -> str:
    """As a person says it, to a tenth of the unit that fits: `40 s`, `45 min`, `3 h`,
    `2.5 d`."""
    seconds = max(delta.total_seconds(), 0)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return _tenths(seconds / 3600) + " h"
    return _tenths(seconds / 86400) + " d"


def _tenths(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")
