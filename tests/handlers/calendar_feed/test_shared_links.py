"""Shared calendar links: named links release managers give to people outside Slack.

They serve the feed and the page, show only releases that are not private within their
scope, are listed and revoked by name, and every creation, use (at most hourly per link)
and revocation is audited.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta

import icalendar
import pytest
import sqlalchemy
from sqlmodel import col, select

from bot.sandbox.slack_standin import FakeSlack, validate_message
from models.audit import AuditEvent
from models.calendar_feed import subscriptions
from models.calendar_feed.tokens import CalendarToken
from tests.handlers.calendar_feed.test_calendar_page import get, month_of, page_path, propose
from tests.support.harness import TEAM, Harness, ahead, iso
from tests.support.waiting import wait_until

MANAGER = "U_PM"
SHARED_PAGE = re.compile(
    r"Web page: https://releasebot\.example\.com(/calendar/([A-Za-z0-9_-]{43}))\n"
)


@pytest.fixture
def harness(database_url: str, fake_slack: FakeSlack) -> Iterator[Harness]:
    with Harness(database_url, fake_slack, RELEASEBOT_RELEASE_MANAGERS=MANAGER) as running:
        yield running


def said(harness: Harness, text: str, user_id: str = MANAGER) -> str:
    return harness.private_reply(harness.command(text, user_id=user_id))


def share(harness: Harness, text: str, user_id: str = MANAGER) -> str:
    """`/release calendar share …`; the page's path (the feed is the same path + .ics)."""
    reply = said(harness, f"calendar share {text}", user_id)
    match = SHARED_PAGE.search(reply)
    assert match, reply
    assert f"`https://releasebot.example.com{match.group(1)}.ics`" in reply
    assert f"`webcal://releasebot.example.com{match.group(1)}.ics`" in reply
    return match.group(1)


def summaries(harness: Harness, path: str) -> set[str]:
    response = get(harness, path + ".ics")
    assert response.status_code == 200, response.text
    feed = icalendar.Calendar.from_ical(response.content)
    return {str(event["SUMMARY"]) for event in feed.walk("VEVENT")}


def actions(harness: Harness) -> list[tuple[str, str]]:
    with harness.session() as session:
        events = session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))
        return [(e.action, e.actor_id) for e in events if e.action.startswith("calendar.")]


@pytest.fixture
def releases(harness: Harness) -> dict[str, str]:
    """A public release in #releases and in #other, and a private one (G_SECRET)."""
    when = ahead(days=5)
    propose(harness, "payments@2.4.0", when=when)
    propose(harness, "search@1.0.0", when=when, channel_id="C_OTHER")
    harness.command(f"propose vault 9.0.0 {iso(when)} <@U_QA|qa>", channel_id="G_SECRET")
    assert harness.release("vault@9.0.0").private
    return {"month": month_of(when)}


def test_only_release_managers_share_list_and_revoke(harness: Harness) -> None:
    for text in ('calendar share "Support"', "calendar shared", 'calendar unshare "Support"'):
        reply = said(harness, text, user_id="U_OTHER")
        assert "Only release managers can" in reply, reply
    with harness.session() as session:
        assert list(session.exec(select(CalendarToken))) == []
    assert actions(harness) == []


def test_a_shared_link_shows_only_public_releases_in_its_scope(
    harness: Harness, releases: dict[str, str]
) -> None:
    everything = share(harness, '"Support team"')
    assert summaries(harness, everything) == {"payments 2.4.0", "search 1.0.0"}
    # Scoped to the private channel: even its own private releases stay out.
    secret = share(harness, '"Secret" <#G_SECRET|secret>')
    assert summaries(harness, secret) == set()
    assert "releases proposed in <#G_SECRET>, except private ones (none yet)" in said(
        harness, 'calendar share "Secret 2" <#G_SECRET|secret>'
    )
    other = share(harness, '"Other" <#C_OTHER|other>')
    assert summaries(harness, other) == {"search 1.0.0"}
    service = share(harness, '"Vault" vault')
    assert summaries(harness, service) == set()
    payments = share(harness, '"Payments" Payments')
    assert summaries(harness, payments) == {"payments 2.4.0"}

    page = get(harness, everything, month=releases["month"])
    assert page.status_code == 200
    assert "payments 2.4.0" in page.text and "search 1.0.0" in page.text
    assert "vault" not in page.text
    assert "<h1>Releases: Support team</h1>" in page.text
    assert "it shows no private release" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    # Meanwhile the owner's personal link still shows their private release.
    assert "vault 9.0.0" in get(harness, page_path(harness), month=releases["month"]).text


def test_the_creator_leaving_the_channel_changes_nothing(
    harness: Harness, releases: dict[str, str]
) -> None:
    harness.slack.set_channel_members("G_SECRET", [MANAGER, "U_OWNER"])
    secret = share(harness, '"Secret" <#G_SECRET|secret>')
    before = len(harness.slack.calls("conversations.members"))
    assert summaries(harness, secret) == set()
    get(harness, secret, month=releases["month"])
    assert len(harness.slack.calls("conversations.members")) == before  # never asked


def test_listing_shows_scope_creator_and_last_use(
    harness: Harness, releases: dict[str, str]
) -> None:
    posted = len(harness.slack.calls("chat.postMessage"))
    assert "No shared calendar links." in said(harness, "calendar shared")
    path = share(harness, '"Support" payments')
    share(harness, '"All" ')
    listed = said(harness, "calendar shared")
    everything = "every release in this workspace, except private ones"
    assert f"• *All* — {everything}; created by <@U_PM>" in listed
    assert "*Support* — releases of payments, except private ones" in listed
    assert listed.count("never used") == 2
    get(harness, path + ".ics")
    listed = said(harness, "calendar shared")
    assert listed.count("never used") == 1 and "last used <!date^" in listed
    answer = harness.slack.calls("response_url")[-1].args
    assert answer["response_type"] == "ephemeral" and validate_message(answer) is None
    assert len(harness.slack.calls("chat.postMessage")) == posted  # never in a channel


@pytest.mark.clock
@pytest.mark.both_databases
def test_uses_are_audited_at_most_hourly_per_link(
    harness: Harness, releases: dict[str, str]
) -> None:
    path = share(harness, '"Support"')
    other = share(harness, '"Sales"')
    for _ in range(3):
        assert get(harness, path + ".ics").status_code == 200
        assert get(harness, path, month=releases["month"]).status_code == 200
    get(harness, other)
    get(harness, path + "x.ics")  # a wrong link is no use of anything
    used = [a for a, _ in actions(harness) if a == "calendar.shared_link_used"]
    assert len(used) == 2  # one per link
    harness.clock.advance(timedelta(minutes=59))
    get(harness, path + ".ics")
    assert len([a for a, _ in actions(harness) if a == "calendar.shared_link_used"]) == 2
    harness.clock.advance(timedelta(minutes=2))
    get(harness, path)
    assert len([a for a, _ in actions(harness) if a == "calendar.shared_link_used"]) == 3
    with harness.session() as session:
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "calendar.shared_link_used")
        ).all()[-1]
        scope = {"name": "Support", "channel_id": None, "service": None}
        assert event.after == {**scope, "via": "page"}
        assert event.release_id is None and event.actor_id == MANAGER
    # Personal links record no use.
    get(harness, page_path(harness, user_id="U_OTHER"))
    assert len([a for a, _ in actions(harness) if a == "calendar.shared_link_used"]) == 3


def test_unsharing_revokes_both_the_feed_and_the_page_and_is_audited(
    harness: Harness, releases: dict[str, str]
) -> None:
    path = share(harness, '"Support"')
    assert get(harness, path).status_code == 200
    # Personal revocation does not touch the workspace's shared links.
    said(harness, "calendar revoke")
    assert get(harness, path + ".ics").status_code == 200
    reply = said(harness, 'calendar unshare "SUPPORT"')  # any letter case
    assert "*Support* is revoked" in reply
    assert get(harness, path).status_code == 404
    assert get(harness, path + ".ics").status_code == 404
    assert "No shared calendar link is named “Support”" in said(
        harness, 'calendar unshare "Support"'
    )
    assert actions(harness) == [
        ("calendar.shared_link_created", MANAGER),
        ("calendar.shared_link_used", MANAGER),
        ("calendar.shared_link_revoked", MANAGER),
    ]
    # The name is free again.
    assert get(harness, share(harness, '"support"') + ".ics").status_code == 200


@pytest.mark.both_databases
def test_names_are_unique_per_workspace_whatever_their_case(harness: Harness) -> None:
    share(harness, '"Support"')
    reply = said(harness, 'calendar share "  sUPPORT "')
    assert "A shared calendar link named “sUPPORT” exists already" in reply
    with harness.session() as session:
        live = session.exec(select(CalendarToken).where(col(CalendarToken.revoked_at).is_(None)))
        assert [t.shared_name for t in live] == ["Support"]


def test_hostile_and_malformed_names(harness: Harness) -> None:
    # As Slack sends `"<!channel> *bold* <b>x</b> `code`"`: a mention, and escaped < >.
    reply = said(harness, 'calendar share "<!channel> *bold* &lt;b&gt;x&lt;/b&gt; `code`"')
    assert "<!channel>" not in reply and "<b>" not in reply
    assert "*@channel ∗bold∗ &lt;b&gt;x&lt;/b&gt; ˋcodeˋ*" in reply
    listed = said(harness, "calendar shared")
    assert "<!channel>" not in listed and "&lt;b&gt;" in listed
    path = SHARED_PAGE.search(reply)
    assert path
    page = get(harness, path.group(1)).text
    assert "<h1>Releases: @channel *bold* &lt;b&gt;x&lt;/b&gt; `code`</h1>" in page

    for text, problem in (
        ("calendar share", "Name the shared link in quotes"),
        ('calendar share ""', "Name the shared link in quotes"),
        ("calendar share Support", "Name the shared link in quotes"),
        ('calendar share "' + "x" * 81 + '"', "a name of 1 to 80 characters"),
        ('calendar share "Support" pay ments', "one #channel or one service"),
        ('calendar share "Support" pay/ments', "is not a service name"),
        ('calendar unshare "Support" extra', "Name only the shared link"),
        ("calendar shared extra", "takes nothing more"),
    ):
        assert problem in said(harness, text), text
    assert [a for a, _ in actions(harness)] == [
        "calendar.shared_link_created",
        "calendar.shared_link_used",  # the page above
    ]


@pytest.fixture
def pg_harness(postgres_url: str, fake_slack: FakeSlack) -> Iterator[Harness]:
    with Harness(postgres_url, fake_slack, RELEASEBOT_RELEASE_MANAGERS=MANAGER) as running:
        yield running


def test_two_managers_unsharing_one_link_at_once_revoke_and_audit_it_once(
    pg_harness: Harness,
) -> None:
    """PostgreSQL row locks: the second unshare waits for the first, then finds no link."""
    harness = pg_harness
    share(harness, '"Support"')
    replies: list[str] = []
    with harness.session() as other:
        # Another replica's unshare, its transaction still open.
        subscriptions.revoke_shared(other, TEAM, "U_PM2", "Support")
        unshare = threading.Thread(
            target=lambda: replies.append(said(harness, 'calendar unshare "Support"'))
        )
        unshare.start()
        wait_until(lambda: waiting_on_a_lock(harness), what="the second unshare to wait")
    unshare.join()
    assert "No shared calendar link is named “Support”" in replies[0]
    assert actions(harness) == [
        ("calendar.shared_link_created", MANAGER),
        ("calendar.shared_link_revoked", "U_PM2"),
    ]


def waiting_on_a_lock(harness: Harness) -> bool:
    with harness.session() as session:
        waiting = session.execute(
            sqlalchemy.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        ).scalar_one()
    return bool(waiting)
