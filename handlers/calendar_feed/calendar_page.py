"""`GET /calendar/<token>`: the release calendar as a web page, for the feed's token.

Same token, same filters and the same privacy as the feed (`subscriptions`): a month view
and an agenda of the month's releases and freezes, rendered on the server with Jinja2
(autoescaped). Times are written in UTC inside `<time datetime>`; the page's one script
(package data, served from /calendar-static/) shows them in the viewer's own time zone
and moves each release to its local day in the month view. Without JavaScript the page
reads in UTC. People are named by their Slack display names, kept by `DisplayNames`.

The page and its assets carry a strict Content-Security-Policy (no inline script or
style), nosniff and no referrer (the page's address is a secret). Any unusable link gets
the feed's 404.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import anyio
from starlette.requests import Request
from starlette.responses import Response

from handlers.calendar_feed.display_names import DisplayNames
from handlers.calendar_feed.ics import rollout_text
from handlers.calendar_feed.membership import ChannelMembership
from handlers.calendar_feed.route import SECURITY_HEADERS, not_found, note_shared_use
from handlers.flows.personal_calendars import feed_urls, page_url
from models.calendar_feed import subscriptions
from models.calendar_feed.tokens import CalendarToken
from models.db import Database
from models.freezes import Span
from models.release.records import Approver, ApproverKind, Release, ReleaseStatus, SignOffState

PAGE_THREADS = 2
# Releases this far outside the grid's UTC days are read too: in the viewer's zone they
# may fall on a day the grid shows (the script moves them there).
_ZONE_MARGIN = timedelta(hours=14)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_FIRST_YEAR, _LAST_YEAR = 2000, 2200
_DECISIVE = frozenset({ReleaseStatus.CANCELLED, ReleaseStatus.NO_GO, ReleaseStatus.ROLLED_BACK})
_SIGN_OFF_WORDS = {
    SignOffState.PENDING: "pending",
    SignOffState.APPROVED: "approved",
    SignOffState.REJECTED: "changes requested",
}
ASSETS: dict[str, str] = {
    "calendar_page.js": "text/javascript; charset=utf-8",
    "calendar_page.css": "text/css; charset=utf-8",
    "calendar_page.svg": "image/svg+xml",
}

if TYPE_CHECKING:
    import jinja2


@cache
def _templates() -> jinja2.Environment:
    """The page's templates (package data); jinja2 is imported on the first page served,
    so the bot's start-up doesn't wait for it."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("handlers.calendar_feed", "templates"),
        autoescape=True,  # every value, in every template
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def parse_month(text: str | None, today: date) -> date:
    """`?month=2026-12` as the month's first day; missing or unusable: this month."""
    match = _MONTH.match(text or "")
    if match:
        year, month = int(match.group(1)), int(match.group(2))
        if _FIRST_YEAR <= year <= _LAST_YEAR and 1 <= month <= 12:
            return date(year, month, 1)
    return today.replace(day=1)


def shift_month(month: date, by: int) -> date:
    index = month.year * 12 + month.month - 1 + by
    return date(index // 12, index % 12 + 1, 1)


def grid_days(month: date) -> list[date]:
    """The month's weeks, Monday to Sunday, whole."""
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month)
    return [day for week in weeks for day in week]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


@dataclass
class PageData:
    token: CalendarToken
    month: date
    now: datetime
    releases: list[Release]
    approvers: dict[int, list[Approver]]
    spans: list[Span]
    names: dict[str, str] = field(default_factory=dict)


def read_page(
    db: Database,
    raw_token: str,
    now: datetime,
    month: date,
    members: ChannelMembership | None,
    names: DisplayNames | None,
) -> PageData | None:
    """Blocking: what the page shows, or None for an unusable link. Slack (membership,
    names) is asked with no database session open."""
    with db.read_session() as session:
        token = subscriptions.resolve_token(session, raw_token)
    if token is None:
        return None
    in_channel = False
    if token.channel_id is not None and not token.shared and members is not None:
        membership = members.cached(token.team_id, token.channel_id, token.user_id, now)
        if membership is None:
            membership = members.check(token.team_id, token.channel_id, token.user_id, now)
        in_channel = membership.member
    days = grid_days(month)
    start, end = _midnight(days[0]), _midnight(days[-1] + timedelta(days=1))
    with db.read_session() as session:
        token = subscriptions.resolve_token(session, raw_token)  # revoked meanwhile?
        if token is None:
            return None
        releases, approvers = subscriptions.releases_between(
            session, token, now, start - _ZONE_MARGIN, end + _ZONE_MARGIN, in_channel=in_channel
        )
        freezes = subscriptions.feed_freezes(session, token)
    spans = sorted(
        (span for freeze in freezes for span in freeze.occurrences(start, end)),
        key=lambda span: (span.starts_at, span.freeze.id or 0),
    )
    data = PageData(token, month, now, releases, approvers, spans)
    if names is not None:
        data.names = names.names(token.team_id, _people(releases, approvers), now)
    if subscriptions.shared_use_due(token, now):
        note_shared_use(db, token, now, "page")
    return data


def _people(releases: Iterable[Release], approvers: dict[int, list[Approver]]) -> list[str]:
    people: list[str] = []
    for release in releases:
        people.append(release.owner_id)
        if release.status_by:
            people.append(release.status_by)
        for approver in approvers.get(release.id or 0, ()):
            if approver.kind == ApproverKind.USER:
                people.append(approver.slack_id)
            elif approver.signed_by:
                people.append(approver.signed_by)
    return people


# --- rendering --------------------------------------------------------------------------


def _utc_text(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%a %-d %b %Y, %H:%M UTC")


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _safe_link(url: str | None) -> str | None:
    """Only https links are made clickable (never javascript: or data:)."""
    return url if url and url.startswith("https://") else None


def _release_item(
    release: Release, approvers: list[Approver], names: dict[str, str]
) -> dict[str, Any]:
    def name(user_id: str) -> str:
        return names.get(user_id, user_id)

    status = ReleaseStatus(release.status)
    start = release.target_at
    end = start + timedelta(minutes=release.window_minutes)
    signers = []
    for approver in approvers:
        if approver.kind == ApproverKind.USERGROUP:
            who = f"@{approver.handle}" if approver.handle else approver.slack_id
            if approver.signed_by and approver.state != SignOffState.PENDING:
                who += f" (signed by {name(approver.signed_by)})"
        else:
            who = name(approver.slack_id)
        state = SignOffState(approver.state)
        signers.append({"name": who, "state": state.value, "word": _SIGN_OFF_WORDS[state]})
    decision = ""
    if status in _DECISIVE and (release.status_by or release.status_reason):
        by = f"by {name(release.status_by)}" if release.status_by else ""
        decision = ": ".join(part for part in (by, release.status_reason) if part)
    return {
        "kind": "release",
        "anchor": f"release-{release.uid}",
        "title": f"{release.service} {release.version}",
        "status": status.value,
        "status_label": status.label,
        "start": _iso(start),
        "end": _iso(end),
        "start_utc": _utc_text(start),
        "start_time_utc": start.astimezone(UTC).strftime("%H:%M"),
        "end_time_utc": end.astimezone(UTC).strftime("%H:%M UTC"),
        "utc_day": start.astimezone(UTC).date(),
        "owner": name(release.owner_id),
        "approvers": signers,
        "rollout": rollout_text(release.rollout_stages, release.stage_index),
        "decision": decision,
        "notes": release.notes,
        "permalink": _safe_link(release.permalink),
    }


def _freeze_item(span: Span) -> dict[str, Any]:
    freeze = span.freeze
    return {
        "kind": "freeze",
        "anchor": f"freeze-{freeze.uid}-{span.starts_at:%Y%m%d%H%M}",
        "title": f"Freeze: {freeze.name}",
        "name": freeze.name,
        "covers": f"releases of {freeze.service}" if freeze.service else "all releases",
        "start": _iso(span.starts_at),
        "end": _iso(span.ends_at),
        "start_utc": _utc_text(span.starts_at),
        "end_utc": _utc_text(span.ends_at),
        "start_time_utc": span.starts_at.astimezone(UTC).strftime("%H:%M"),
        "utc_day": span.starts_at.astimezone(UTC).date(),
        "recurring": freeze.recurring,
    }


def scope_text(token: CalendarToken) -> str:
    if token.service is not None:
        what = f"Releases of {token.service}"
    elif token.channel_id is not None:
        what = f"Releases proposed in channel {token.channel_id}"
    else:
        what = "Every release in the workspace"
    if token.shared:
        return f"{what}, except private ones."
    return f"{what} that you may see."


def render_page(data: PageData, public_url: str, raw_token: str) -> str:
    token, month = data.token, data.month
    days = grid_days(month)
    first, last = days[0], days[-1]
    month_start, month_end = _midnight(month), _midnight(shift_month(month, 1))
    releases = [
        _release_item(r, data.approvers.get(r.id or 0, []), data.names) for r in data.releases
    ]
    freezes = [_freeze_item(span) for span in data.spans]
    by_day: dict[date, list[dict[str, Any]]] = {}
    unplaced: list[dict[str, Any]] = []
    for item in [*releases, *freezes]:
        if first <= item["utc_day"] <= last:
            by_day.setdefault(item["utc_day"], []).append(item)
        else:
            unplaced.append(item)  # outside the grid in UTC; maybe inside it locally
    frozen_days = {
        day
        for span in data.spans
        for day in days
        if span.starts_at < _midnight(day + timedelta(days=1)) and span.ends_at > _midnight(day)
    }
    today = data.now.astimezone(UTC).date()
    weeks = [
        [
            {
                "iso": day.isoformat(),
                "number": day.day,
                "in_month": day.month == month.month,
                "frozen": day in frozen_days,
                "today": day == today,
                "events": sorted(by_day.get(day, []), key=lambda item: item["start"]),
            }
            for day in days[week : week + 7]
        ]
        for week in range(0, len(days), 7)
    ]
    # The month's releases, and the freezes in force at some point of it (UTC).
    agenda = sorted(
        [
            *(r for r in releases if month_start <= datetime.fromisoformat(r["start"]) < month_end),
            *(
                f
                for f in freezes
                if datetime.fromisoformat(f["start"]) < month_end
                and datetime.fromisoformat(f["end"]) > month_start
            ),
        ],
        key=lambda item: (item["start"], item["kind"]),
    )
    webcal, https = feed_urls(public_url, raw_token)
    previous, following = shift_month(month, -1), shift_month(month, 1)
    return (
        _templates()
        .get_template("calendar_page.html")
        .render(
            title=subscriptions.calendar_name(token),
            scope=scope_text(token),
            shared=token.shared,
            month_label=month.strftime("%B %Y"),
            previous={"query": previous.strftime("%Y-%m"), "label": previous.strftime("%B %Y")},
            following={"query": following.strftime("%Y-%m"), "label": following.strftime("%B %Y")},
            this_month=today.strftime("%Y-%m"),
            weekdays=["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
            weeks=weeks,
            unplaced=unplaced,
            agenda=agenda,
            webcal=webcal,
            ics=https,
            google="https://calendar.google.com/calendar/render?cid=" + quote(webcal, safe=":/"),
            outlook="https://outlook.live.com/calendar/0/addfromweb?url=" + quote(https, safe=""),
            page=page_url(public_url, raw_token),
            cancelled_days=subscriptions.CANCELLED_KEPT.days,
            past_days=subscriptions.PAST_KEPT.days,
        )
    )


def page_response(html: str) -> Response:
    return Response(
        html,
        media_type="text/html",
        headers={**SECURITY_HEADERS, "Cache-Control": "no-store"},
    )


def page_endpoint(
    db: Database,
    clock: Callable[[], datetime],
    public_url: str,
    members: ChannelMembership | None = None,
    names: DisplayNames | None = None,
) -> Callable[[Request, str], Awaitable[Response]]:
    """The page, for the calendar route to call with a token-shaped path."""
    limiter = anyio.CapacityLimiter(PAGE_THREADS)

    def build(raw: str, month_text: str | None) -> str | None:
        now = clock()
        month = parse_month(month_text, now.astimezone(UTC).date())
        data = read_page(db, raw, now, month, members, names)
        return None if data is None else render_page(data, public_url, raw)

    async def calendar_page(request: Request, raw: str) -> Response:
        html = await anyio.to_thread.run_sync(
            build, raw, request.query_params.get("month"), limiter=limiter
        )
        return not_found() if html is None else page_response(html)

    return calendar_page


def _load_assets() -> dict[str, bytes]:
    folder = resources.files("handlers.calendar_feed") / "static"
    return {name: (folder / name).read_bytes() for name in ASSETS}


def assets_endpoint() -> Callable[[Request], Awaitable[Response]]:
    """`GET /calendar-static/<file>`: the page's script and style sheet (package data)."""
    assets = _load_assets()

    async def calendar_asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in assets:
            return not_found()
        return Response(
            assets[name],
            media_type=ASSETS[name],
            headers={**SECURITY_HEADERS, "Cache-Control": "public, max-age=3600"},
        )

    return calendar_asset
