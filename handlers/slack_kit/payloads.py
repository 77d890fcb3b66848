"""What our messages and forms carry back to us: button values, block ids, form metadata.

Each is a small pydantic model with one way to write it and one way to read it back. A value
that doesn't read, or isn't exactly what `encode` writes (forged, cut, or from an older
version of the bot), is refused as out of date, privately, like any other stale click.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from handlers.slack_kit.refused import Refused

# The moves a freeze override can be given for (the command word of each).
OverrideStep = Literal["go", "advance", "done"]

# A release's public name (models.release.new_uid): never reused, unlike row ids.
_UID = r"^[A-Za-z0-9_-]{8,32}$"
_SEPARATOR = ":"

STALE_BUTTON = "That button is out of date: open the release again with `/release status`."
STALE_FORM = "That form is out of date: open it again from the release."


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def encode(self) -> str:
        raise NotImplementedError


_P = TypeVar("_P", bound=_Payload)


def _canonical(parsed: _P, value: object) -> _P:
    """`parsed`, when `value` is exactly what it encodes to (int() reads " 3", "+3", "03",
    "1_0" and other digits too; we never write them)."""
    if parsed.encode() != value:
        raise ValueError(value)
    return parsed


class ReleaseButton(_Payload):
    """A button's value: the release, and for Advance the stage the click leads to (so a
    double click can't skip a stage)."""

    release: str = Field(pattern=_UID)
    stage: int | None = Field(default=None, ge=1, le=100)

    def encode(self) -> str:
        return self.release if self.stage is None else f"{self.release}{_SEPARATOR}{self.stage}"

    @classmethod
    def parse(cls, value: object) -> ReleaseButton:
        release, _, stage = str(value).partition(_SEPARATOR)
        try:
            return _canonical(cls(release=release, stage=int(stage) if stage else None), value)
        except (ValidationError, ValueError):
            raise Refused(STALE_BUTTON) from None


class ChecklistBlock(_Payload):
    """The block id of one group of checkboxes: the release, and its first item's index."""

    PREFIX: ClassVar[str] = "checklist"
    release: str = Field(pattern=_UID)
    start: int = Field(ge=0)

    def encode(self) -> str:
        return _SEPARATOR.join((self.PREFIX, self.release, str(self.start)))

    @classmethod
    def parse(cls, block_id: object) -> ChecklistBlock:
        prefix, release, start = (str(block_id).split(_SEPARATOR) + ["", "", ""])[:3]
        try:
            if prefix != cls.PREFIX:
                raise ValueError(prefix)
            return _canonical(cls(release=release, start=int(start)), block_id)
        except (ValidationError, ValueError):
            raise Refused("That checklist is out of date: open the release again.") from None


class ListPage(_Payload):
    """The "Show more" button of `/release list`: where the next page starts."""

    offset: int = Field(ge=0, le=100_000)

    def encode(self) -> str:
        return str(self.offset)

    @classmethod
    def parse(cls, value: object) -> ListPage:
        try:
            return _canonical(cls(offset=int(str(value))), value)
        except (ValidationError, ValueError):
            raise Refused(STALE_BUTTON) from None


class HistoryPage(_Payload):
    """The "More" button of `/release history`: one service's releases older than `before`
    (a release's uid), `count` a page; or, without a service, the services from `offset`."""

    service: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    before: str | None = Field(default=None, pattern=_UID)
    offset: int = Field(default=0, ge=0, le=100_000)
    count: int = Field(default=10, ge=1, le=50)

    def encode(self) -> str:
        return self.model_dump_json(exclude_defaults=True)

    @classmethod
    def parse(cls, value: object) -> HistoryPage:
        try:
            return _canonical(cls.model_validate_json(str(value)), value)
        except (ValidationError, ValueError):
            raise Refused("That button is out of date: run `/release history` again.") from None


class FreezeOverrideButton(_Payload):
    """The "Override freeze" button on a refusal: the release, the freeze holding it, and
    the step that was refused (done once the override is given)."""

    release: str = Field(pattern=_UID)
    freeze: str = Field(pattern=_UID)
    step: OverrideStep

    def encode(self) -> str:
        return _SEPARATOR.join((self.step, self.release, self.freeze))

    @classmethod
    def parse(cls, value: object) -> FreezeOverrideButton:
        step, release, freeze = (str(value).split(_SEPARATOR) + ["", "", ""])[:3]
        try:
            parsed = cls.model_validate({"release": release, "freeze": freeze, "step": step})
            return _canonical(parsed, value)
        except (ValidationError, ValueError):
            raise Refused(STALE_BUTTON) from None


class MoveButton(_Payload):
    """The "Move to next free slot" button: the release, the sequence it was at when the
    slot was offered (a second click of the offer moves it no more), and the window's
    start in minutes since the epoch."""

    release: str = Field(pattern=_UID)
    sequence: int = Field(ge=0, le=1_000_000)
    minute: int = Field(ge=0, le=10**9)

    @classmethod
    def of(cls, release: str, sequence: int, start: datetime) -> MoveButton:
        return cls(release=release, sequence=sequence, minute=int(start.timestamp()) // 60)

    @property
    def start(self) -> datetime:
        return datetime.fromtimestamp(self.minute * 60, UTC)

    def encode(self) -> str:
        return _SEPARATOR.join((self.release, str(self.sequence), str(self.minute)))

    @classmethod
    def parse(cls, value: object) -> MoveButton:
        release, sequence, minute = (str(value).split(_SEPARATOR) + ["", "", ""])[:3]
        try:
            parsed = cls(release=release, sequence=int(sequence), minute=int(minute))
            return _canonical(parsed, value)
        except (ValidationError, ValueError):
            raise Refused(STALE_BUTTON) from None


class PolicyButton(_Payload):
    """The Edit button under `/release policy`: the channel whose policy it edits."""

    channel: str = Field(pattern=r"^[CGD][A-Z0-9_]{1,31}$")

    def encode(self) -> str:
        return self.channel

    @classmethod
    def parse(cls, value: object) -> PolicyButton:
        try:
            return _canonical(cls(channel=str(value)), value)
        except (ValidationError, ValueError):
            raise Refused("That button is out of date: run `/release policy` again.") from None


class FormMetadata(_Payload):
    """A modal's `private_metadata`: which release it changes, or where a new one goes,
    and where to answer the person privately."""

    release: str | None = Field(default=None, pattern=_UID)
    channel_id: str | None = Field(default=None, max_length=32)
    response_url: str | None = Field(default=None, max_length=500)
    # The override-freeze form: the step to take once the freeze is overridden.
    step: OverrideStep | None = None

    def encode(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def parse(cls, text: object) -> FormMetadata:
        try:
            return cls.model_validate_json(str(text or "{}"))
        except ValidationError:
            raise Refused(STALE_FORM) from None

    def require_release(self) -> str:
        if self.release is None:
            raise Refused(STALE_FORM)
        return self.release

    def trusted_response_url(self, allowed_prefix: str) -> str | None:
        """The response_url, only when it is one of Slack's: never post anywhere else."""
        url = self.response_url
        return url if url and url.startswith(allowed_prefix) else None
