"""`/release history`, the track record on a card, and recent releases on Home."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from handlers.rendering.limits import MESSAGE_TEXT, text_length
from handlers.slack_kit import ids
from models.release.records import ReleaseStatus
from tests.handlers.slack.history_rows import NOW, add_release, add_releases
from tests.support.harness import CHANNEL, OWNER, Harness, ahead, iso, rendered_text

PRIVATE = "G_SECRET"
S = ReleaseStatus


def ask(
    harness: Harness, text: str, *, user_id: str = OWNER, channel_id: str = CHANNEL
) -> dict[str, Any]:
    """The private answer to `/release <text>`, as the person sees it."""
    url = harness.slack.new_response_url(channel_id=channel_id, user_id=user_id)
    response = harness.command(text, user_id=user_id, channel_id=channel_id, response_url=url)
    assert not response.content, response.text  # answered after the ack
    return harness.slack.ephemerals(channel_id, user_id)[-1]["message"]


def more(
    harness: Harness, message: dict[str, Any], *, user_id: str = OWNER, channel_id: str = CHANNEL
) -> dict[str, Any]:
    before = len(harness.slack.ephemerals(channel_id, user_id))
    harness.click(
        message, ids.HISTORY_MORE, user_id=user_id, channel_id=channel_id, is_ephemeral=True
    )
    after = harness.slack.ephemerals(channel_id, user_id)
    assert len(after) == before + 1
    return after[-1]["message"]


def has_more(message: dict[str, Any]) -> bool:
    return ids.HISTORY_MORE in json.dumps(message["blocks"])


def versions(message: dict[str, Any]) -> list[str]:
    """The versions listed as releases with an outcome, in order."""
    return re.findall(
        r"^\*([^*]+)\* — :\w+: (?:Released|Rolled back|No-go|Cancelled)",
        rendered_text(message),
        re.M,
    )


def within_slack_limits(message: dict[str, Any]) -> None:
    blocks = [Block.parse(b) for b in message["blocks"]]
    assert len(blocks) <= 50
    assert text_length([b for b in blocks if b is not None]) <= MESSAGE_TEXT


# --- history ---------------------------------------------------------------------------


@pytest.mark.clock
@pytest.mark.both_databases
def test_history_shows_production_in_flight_and_pages_with_more(harness: Harness) -> None:
    with harness.session() as session:
        for i in range(25):
            add_release(
                session,
                "payments",
                f"1.{i}",
                S.RELEASED,
                proposed=NOW - timedelta(days=60 - 2 * i),
                finished=NOW - timedelta(days=59 - 2 * i),
                permalink=f"https://example.slack.com/archives/C_RELEASES/p{i}",
            )
        add_release(session, "payments", "2.0", S.GO, proposed=NOW - timedelta(hours=3))
        add_release(session, "payments", "2.1", S.PROPOSED, proposed=NOW - timedelta(hours=2))
        add_release(session, "checkout", "9.9", S.RELEASED, proposed=NOW - timedelta(days=1))

    first = ask(harness, "history payments 10")
    text = rendered_text(first)
    assert "History of payments" in text
    assert "*In production:* `1.24` since" in text
    assert "*In flight*" in text and "*payments@2.0* — :rocket: Go" in text
    assert "2.1" not in text and "9.9" not in text  # not finished, another service
    assert versions(first) == [f"1.{i}" for i in range(24, 14, -1)]
    assert "<https://example.slack.com/archives/C_RELEASES/p24|thread>" in text
    assert "approvers :white_check_mark: <@U_QA>" in text and "owner <@U_OWNER>" in text
    assert has_more(first)

    second = more(harness, first)
    assert versions(second) == [f"1.{i}" for i in range(14, 4, -1)]
    assert "In production" not in rendered_text(second)  # said on the first page
    third = more(harness, second)
    assert versions(third) == [f"1.{i}" for i in range(4, -1, -1)]
    assert not has_more(third)

    # The default is 10; a cancelled and a no-go release are outcomes too.
    with harness.session() as session:
        add_release(session, "payments", "3.0", S.CANCELLED, proposed=NOW - timedelta(minutes=50))
        add_release(session, "payments", "3.1", S.NO_GO, proposed=NOW - timedelta(minutes=40))
        add_release(session, "payments", "3.2", S.ROLLED_BACK, proposed=NOW - timedelta(minutes=30))
    latest = ask(harness, "history PAYMENTS")
    assert versions(latest)[:4] == ["3.2", "3.1", "3.0", "1.24"]
    assert len(versions(latest)) == 10
    assert ":rewind: Rolled back" in rendered_text(latest)


@pytest.mark.both_databases
def test_without_a_service_history_lists_the_services_a_page_at_a_time(harness: Harness) -> None:
    with harness.session() as session:
        for i in range(75):
            add_release(session, f"svc{i:02d}", "1.0", S.RELEASED, proposed=NOW - timedelta(days=1))
        add_release(session, "svc00", "1.1", S.CANCELLED, proposed=NOW)
        add_release(session, "zz-planned", "0.1", S.PROPOSED, proposed=NOW)
    first = ask(harness, "history")
    text = rendered_text(first)
    assert "*svc00* — `1.0` in production since" in text and "— 2 releases" in text
    assert "Showing 1–30 of 76" in text and "svc30" not in text
    second = more(harness, first)
    assert "Showing 31–60 of 76" in rendered_text(second)
    third = more(harness, second)
    text = rendered_text(third)
    assert "Showing 61–76 of 76" in text
    assert "*zz-planned* — nothing in production yet — 1 release" in text
    assert not has_more(third)


def test_nothing_yet_says_so(harness: Harness) -> None:
    assert "No releases yet" in rendered_text(ask(harness, "history"))
    text = rendered_text(ask(harness, "history payments"))
    assert "Nothing of *payments* is in production yet." in text
    assert "No release of *payments* has an outcome yet." in text


def test_a_service_with_500_releases_stays_within_slacks_limits(harness: Harness) -> None:
    long = "1." + "9" * 55
    service = "big-service-" + "x" * 50
    approvers = [(f"U_APPROVER{n:02d}", timedelta(hours=1)) for n in range(6)]
    rows = [
        (
            service,
            f"{long}.{i:03d}",
            S.RELEASED if i % 7 else S.ROLLED_BACK,
            {
                "proposed": NOW - timedelta(hours=1000 - i),
                "signed": [*approvers, ("S_QA_GROUP", timedelta(hours=2))],
                "permalink": "https://example.slack.com/archives/C_RELEASES/p" + "1" * 60,
            },
        )
        for i in range(500)
    ]
    rows += [(service, f"9.{i}", S.ROLLING_OUT, {"proposed": NOW}) for i in range(30)]
    with harness.session() as session:
        add_releases(session, rows)
    message = ask(harness, "history big-service-" + "x" * 50 + " 50")
    within_slack_limits(message)
    text = rendered_text(message)
    assert "…and 20 more in flight" in text
    assert "+2" in text  # seven approvers: five shown
    seen = versions(message)
    assert 5 <= len(seen) < 50 and has_more(message)  # as many as fit, then More
    pages = 1
    while has_more(message):
        message = more(harness, message)
        within_slack_limits(message)
        seen += versions(message)
        pages += 1
    assert seen == [f"{long}.{i:03d}" for i in range(499, -1, -1)]  # each once, in order
    assert pages < 60

    # Home: ten of them, and how many more.
    harness.client.app_home_opened(OWNER)
    harness.wait()
    home = harness.slack.home_view(OWNER)
    assert len(home["blocks"]) <= 100
    home_text = rendered_text(home)
    recent = home_text[home_text.index("Recent releases") :]
    shown = [v for v in range(500) if f"{long}.{v:03d}" in recent]
    assert shown == list(range(500 - len(shown), 500)) and 5 <= len(shown) <= 10, recent
    assert f"…and {500 - len(shown)} more" in recent  # where it cuts, says how many
    assert "`/release stats`" in home_text


def test_private_releases_stay_out_of_history_for_those_who_may_not_see_them(
    harness: Harness,
) -> None:
    with harness.session() as session:
        add_release(session, "payments", "1.0", S.RELEASED, proposed=NOW - timedelta(days=3))
        add_release(
            session,
            "payments",
            "6.6.6",
            S.RELEASED,
            proposed=NOW - timedelta(days=1),
            channel=PRIVATE,
            private=True,
        )
        add_release(
            session, "secret", "0.1", S.RELEASED, proposed=NOW, channel=PRIVATE, private=True
        )

    other = rendered_text(ask(harness, "history payments", user_id="U_OTHER"))
    assert "6.6.6" not in other and "*In production:* `1.0`" in other
    services = rendered_text(ask(harness, "history", user_id="U_OTHER"))
    assert "secret" not in services and "*payments* — `1.0` in production" in services
    assert "— 1 release" in services  # the private one is not counted either
    # Its approver, its owner, and anyone in its channel see it.
    for user_id, channel_id in (("U_QA", CHANNEL), (OWNER, CHANNEL), ("U_OTHER", PRIVATE)):
        seen = rendered_text(
            ask(harness, "history payments", user_id=user_id, channel_id=channel_id)
        )
        assert "*In production:* `6.6.6`" in seen, (user_id, channel_id)

    # A More button forged to page from the private release reveals nothing.
    with harness.session() as session:
        for i in range(12):
            add_release(
                session, "payments", f"2.{i}", S.RELEASED, proposed=NOW - timedelta(days=20 - i)
            )
    page = ask(harness, "history payments", user_id="U_OTHER")
    private_uid = harness.release("payments@6.6.6").uid
    forged = json.dumps({"service": "payments", "before": private_uid}, separators=(",", ":"))
    page["blocks"][-1]["elements"][0]["value"] = forged
    harness.click(page, ids.HISTORY_MORE, user_id="U_OTHER", value=forged, is_ephemeral=True)
    refusal = rendered_text(harness.slack.ephemerals(CHANNEL, "U_OTHER")[-1]["message"])
    assert "has changed since that page" in refusal and "6.6.6" not in refusal

    # Home: the private release is among the recent ones only for those who may see it.
    for user_id in ("U_OTHER", "U_QA"):
        harness.client.app_home_opened(user_id)
    harness.wait()
    assert "payments@6.6.6" not in rendered_text(harness.slack.home_view("U_OTHER"))
    assert "payments@1.0" in rendered_text(harness.slack.home_view("U_OTHER"))
    assert "payments@6.6.6" in rendered_text(harness.slack.home_view("U_QA"))


def test_hostile_and_malformed_history_commands_are_refused_privately(harness: Harness) -> None:
    cases = {
        "history <!channel>": "is not a service name",
        "history <@U_EVIL|evil> 5": "is not a service name",
        "history *bold*_x": "is not a service name",
        "history pay\x07ments\u202e": "History of payments",  # control characters dropped
        "history payments abc": "is not a number",
        "history payments <!here>": "is not a number",
        "history payments 0": "Show between 1 and 50 releases",
        "history payments 51": "Show between 1 and 50 releases",
        "history payments 10 more": "Name one service",
        "history payments ١٢": "is not a number",
    }
    for text, expected in cases.items():
        url = harness.slack.new_response_url(channel_id=CHANNEL, user_id=OWNER)
        reply = harness.private_reply(harness.command(text, response_url=url))
        assert expected in reply, (text, reply)
        assert "<!channel>" not in reply and "<!here>" not in reply and "<@U_EVIL" not in reply
        assert "\x07" not in reply and "\u202e" not in reply

    # A More button someone edited is refused as out of date.
    with harness.session() as session:
        for i in range(12):
            add_release(
                session, "payments", f"1.{i}", S.RELEASED, proposed=NOW - timedelta(days=20 - i)
            )
    page = ask(harness, "history payments")
    for forged in ('{"service":"<!channel>"}', '{"count":10}', "not json", '{"count":51}'):
        page["blocks"][-1]["elements"][0]["value"] = forged
        harness.click(page, ids.HISTORY_MORE, user_id=OWNER, value=forged, is_ephemeral=True)
        refusal = rendered_text(harness.slack.ephemerals(CHANNEL, OWNER)[-1]["message"])
        assert "That button is out of date" in refusal, forged
        assert "<!channel>" not in refusal


def test_history_is_in_the_help(harness: Harness) -> None:
    reply = harness.private_reply(harness.command("help"))
    assert "`/release history [<service>] [n]` (the last n releases" in reply


# --- the track record on the card --------------------------------------------------------


def track_record(harness: Harness, ref: str) -> str:
    card = harness.card(harness.release(ref))
    found = [b for b in card["blocks"] if b.get("block_id") == "track-record"]
    assert len(found) == 1 and found[0]["type"] == "context"
    assert len(found[0]["elements"]) == 1
    return str(found[0]["elements"][0]["text"])


def date_of(text: str, what: str) -> int:
    match = re.search(what + r" <!date\^(\d+)\^\{ago\}\|[^>]+>", text)
    assert match, text
    return int(match.group(1))


@pytest.mark.both_databases
def test_the_card_shows_the_services_track_record(harness: Harness) -> None:
    waits = [1, 2, 2, 3, 3, 3, 4, 4, 5, 6]  # hours to the last sign-off: median 3 h
    rolled_back_on = {3, 4}  # days ago
    with harness.session() as session:
        for n, days in enumerate(range(3, 13)):  # the last ten, finished 3..12 days ago
            add_release(
                session,
                "payments",
                f"1.{n}",
                S.ROLLED_BACK if days in rolled_back_on else S.RELEASED,
                proposed=NOW - timedelta(days=days, hours=10),
                finished=NOW - timedelta(days=days),
                signed=[("U_QA", timedelta(minutes=30)), ("S_QA", timedelta(hours=waits[n]))],
            )
        for n in range(3):  # older rollbacks: outside the last ten
            add_release(
                session,
                "payments",
                f"0.{n}",
                S.ROLLED_BACK,
                proposed=NOW - timedelta(days=40 + n),
                finished=NOW - timedelta(days=40 + n),
            )
        # Outcomes that were never released do not count among the last ten.
        add_release(session, "payments", "1.98", S.NO_GO, proposed=NOW - timedelta(hours=5))
        add_release(session, "payments", "1.99", S.CANCELLED, proposed=NOW - timedelta(hours=4))
        add_release(session, "payments", "1.97", S.GO, proposed=NOW - timedelta(hours=4))
        # Three rollbacks in a private channel, very recent: only its own cards count them.
        for n, hours in enumerate((12, 24, 48)):
            add_release(
                session,
                "payments",
                f"6.{n}",
                S.ROLLED_BACK,
                proposed=NOW - timedelta(hours=hours + 1),
                finished=NOW - timedelta(hours=hours),
                channel=PRIVATE,
                private=True,
                signed=[("U_QA", timedelta(minutes=10))],
            )
        # Another workspace's releases never count.
        add_release(session, "payments", "7.0", S.ROLLED_BACK, proposed=NOW, team="T_OTHER")

    harness.command(f"propose payments 2.0 {iso(ahead())} <@U_QA|qa>")
    text = track_record(harness, "payments@2.0")
    assert text.startswith(
        ":bar_chart: *payments*, last 10 releases: 8 released, 2 rolled back; last rollback "
    ), text
    assert text.endswith("; median sign-off wait 3 h"), text
    assert date_of(text, "last rollback") == int((NOW - timedelta(days=3)).timestamp())

    # In the private channel, its own releases count.
    harness.command(f"propose payments 2.1 {iso(ahead())} <@U_QA|qa>", channel_id=PRIVATE)
    private = track_record(harness, "payments@2.1")
    assert "last 10 releases: 5 released, 5 rolled back" in private, private
    assert date_of(private, "last rollback") == int((NOW - timedelta(hours=12)).timestamp())

    # The card stays the card: the record is one line of context among its blocks.
    card = harness.card(harness.release("payments@2.0"))
    assert len(card["blocks"]) <= 50


def test_a_service_without_history_says_so(harness: Harness) -> None:
    with harness.session() as session:
        add_release(session, "fresh", "0.9", S.CANCELLED, proposed=NOW - timedelta(days=1))
        add_release(
            session, "fresh", "0.8", S.RELEASED, proposed=NOW, channel=PRIVATE, private=True
        )
    harness.command(f"propose fresh 1.0 {iso(ahead())}")
    assert track_record(harness, "fresh@1.0") == ":bar_chart: No releases of *fresh* yet."
    with harness.session() as session:
        add_release(session, "solo", "0.1", S.RELEASED, proposed=NOW - timedelta(days=2), signed=())
    harness.command(f"propose solo 1.0 {iso(ahead())}")
    assert (
        track_record(harness, "solo@1.0")
        == ":bar_chart: *solo*, last release: 1 released, 0 rolled back"
    )
