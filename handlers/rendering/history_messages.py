"""A service's history (`/release history`), the services with releases, and the track
record a new proposal's card shows. Pure renderers: what to show is read by the caller."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from handlers.rendering.limits import MESSAGE_TEXT, SECTION_TEXT, within_budget
from handlers.rendering.parts import (
    SIGN_OFF_EMOJI,
    approver_label,
    ref,
    slack_date,
    status_label,
    user,
)
from handlers.slack_kit import ids
from handlers.slack_kit.mrkdwn import escape_inline, truncate
from handlers.slack_kit.parsing import USAGE
from handlers.slack_kit.payloads import HistoryPage
from models import durations
from models.api.api_reads import Shipped
from models.release.production import ProductionRecord
from models.release.records import Release, SignOffState
from models.release.service_records import History, PastRelease, Services, TrackRecord

_LINE = 500  # one release's line (ids of 64 characters and many approvers make it long)
_SECTION = SECTION_TEXT - 100
_LINES_TEXT = MESSAGE_TEXT - 2500  # the lines of a page; the rest is header, production…
_APPROVERS_SHOWN = 5
_IN_FLIGHT_SHOWN = 10


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=truncate(text, SECTION_TEXT) or " ")


def _sections(lines: Sequence[str]) -> list[Block]:
    """The lines in as few sections as hold them (each within Slack's 3,000 characters)."""
    blocks: list[Block] = []
    chunk: list[str] = []
    used = 0
    for line in lines:
        if chunk and used + len(line) + 1 > _SECTION:
            blocks.append(SectionBlock(text=_md("\n".join(chunk))))
            chunk, used = [], 0
        chunk.append(line)
        used += len(line) + 1
    if chunk:
        blocks.append(SectionBlock(text=_md("\n".join(chunk))))
    return blocks


def _fit(lines: Sequence[str], budget: int) -> list[str]:
    """The first lines that fit in `budget` characters (at least one)."""
    kept: list[str] = []
    used = 0
    for line in lines:
        if kept and used + len(line) + 1 > budget:
            break
        kept.append(line)
        used += len(line) + 1
    return kept


def _more_button(page: HistoryPage, label: str) -> ActionsBlock:
    return ActionsBlock(
        block_id="history-more",
        elements=[
            ButtonElement(
                text=PlainTextObject(text=truncate(label, 75)),
                action_id=ids.HISTORY_MORE,
                value=page.encode(),
            )
        ],
    )


# --- one service ------------------------------------------------------------------------


def production_line(service: str, shipped: Shipped | None) -> str:
    if shipped is None:
        return f"Nothing of *{escape_inline(service)}* is in production yet."
    record = shipped.record
    return (
        f"*In production:* `{escape_inline(record.version)}` since "
        f"{slack_date(record.released_at)} (released by {user(record.released_by)})"
    )


def _approvers(outcome: PastRelease) -> str:
    if not outcome.approvers:
        return "no sign-offs"
    shown = []
    for approver in outcome.approvers[:_APPROVERS_SHOWN]:
        label = approver_label(approver)
        if approver.is_group and approver.signed_by:
            label += f" ({user(approver.signed_by)})"
        shown.append(f"{SIGN_OFF_EMOJI[SignOffState(approver.state)]} {label}")
    left = len(outcome.approvers) - len(shown)
    return ", ".join(shown) + (f" +{left}" if left > 0 else "")


def thread_link(release: Release) -> str:
    return f" · <{release.permalink}|thread>" if release.permalink else ""


def digest_part(release: Release) -> str:
    """The artifact it was approved as, abbreviated as a commit is (`sha256:` + 12)."""
    return f" — `{escape_inline(release.digest[:19])}`" if release.digest else ""


def outcome_line(outcome: PastRelease) -> str:
    release = outcome.release
    return truncate(
        f"*{escape_inline(release.version)}* — {status_label(release)} "
        f"{slack_date(outcome.at, '{date_short_pretty} {time}')} — owner "
        f"{user(release.owner_id)} — approvers {_approvers(outcome)}{digest_part(release)}"
        f"{thread_link(release)}",
        _LINE,
    )


def _in_flight_line(release: Release) -> str:
    return truncate(
        f"*{ref(release)}* — {status_label(release)} — {slack_date(release.target_at)} — "
        f"{user(release.owner_id)}{thread_link(release)}",
        _LINE,
    )


def history_blocks(history: History, count: int, *, first_page: bool = True) -> list[Block]:
    """One page of a service's history: what is in production and in flight, then as many
    of `history.releases` as fit, with a More button for the older ones."""
    service = history.service
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=truncate(f"History of {service}", 150)))
    ]
    if first_page:
        blocks.append(SectionBlock(text=_md(production_line(service, history.in_production))))
        if history.in_flight:
            lines = [_in_flight_line(r) for r in history.in_flight[:_IN_FLIGHT_SHOWN]]
            left = history.in_flight_total - len(lines)
            if left > 0:
                lines.append(f"…and {left} more in flight")
            blocks += _sections(["*In flight*", *_fit(lines, SECTION_TEXT)])
    if not history.releases:
        if first_page:
            blocks.append(
                SectionBlock(
                    text=_md(f"No release of *{escape_inline(service)}* has an outcome yet.")
                )
            )
        return blocks
    lines = _fit([outcome_line(o) for o in history.releases], _LINES_TEXT)
    shown = history.releases[: len(lines)]
    heading = f"*Last {len(lines)} releases*" if first_page else "*Older releases*"
    blocks += _sections([heading, *lines])
    blocks.append(
        ContextBlock(
            elements=[
                _md(
                    "Newest proposed first · outcome, when, owner, approvers · "
                    "`/release status <service@version>` for one release"
                )
            ]
        )
    )
    cut = len(shown) < len(history.releases)
    if cut or history.next:
        last = shown[-1].release.uid
        page = HistoryPage(service=service, before=last, count=count)
        blocks.append(_more_button(page, "More"))
    return within_budget(blocks)


# --- every service --------------------------------------------------------------------


def _service_line(service: str, releases: int, record: ProductionRecord | None) -> str:
    where = (
        f"`{escape_inline(record.version)}` in production since "
        f"{slack_date(record.released_at, '{date_short_pretty}')}"
        if record
        else "nothing in production yet"
    )
    count = "1 release" if releases == 1 else f"{releases} releases"
    return f"*{escape_inline(service)}* — {where} — {count}"


def services_blocks(services: Services, offset: int = 0) -> list[Block]:
    if not services.lines:
        if offset:
            return [SectionBlock(text=_md("No more services."))]
        return [SectionBlock(text=_md(f"No releases yet. Propose one with {USAGE['propose']}."))]
    lines = _fit(
        [_service_line(s.service, s.releases, s.in_production) for s in services.lines],
        _LINES_TEXT,
    )
    shown_to = offset + len(lines)
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text="Services with releases"))]
    blocks += _sections(lines)
    blocks.append(
        ContextBlock(
            elements=[
                _md(
                    f"Showing {offset + 1}–{shown_to} of {services.total} · "
                    "`/release history <service>` for one service's releases"
                )
            ]
        )
    )
    if shown_to < services.total:
        left = services.total - shown_to
        blocks.append(_more_button(HistoryPage(offset=shown_to), f"More ({left} left)"))
    return within_budget(blocks)


# --- the track record on a card -------------------------------------------------------


def track_record_text(record: TrackRecord) -> str:
    service = escape_inline(record.service)
    if record.counted == 0:
        return f":bar_chart: No releases of *{service}* yet."
    releases = "release" if record.counted == 1 else f"{record.counted} releases"
    parts = [
        f":bar_chart: *{service}*, last {releases}: {record.released} released, "
        f"{record.rolled_back} rolled back"
    ]
    if record.last_rollback_at is not None:
        parts.append(f"last rollback {slack_date(record.last_rollback_at, '{ago}')}")
    if record.median_sign_off_wait is not None:
        parts.append(f"median sign-off wait {durations.words(record.median_sign_off_wait)}")
    return "; ".join(parts)


def track_record_block(record: TrackRecord) -> ContextBlock:
    return ContextBlock(block_id="track-record", elements=[_md(track_record_text(record))])
