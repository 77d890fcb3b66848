"""`/release stats` through Slack's wire format: the figures and one chart PNG in the
channel that asked (uploaded as files.uploadV2 does), privately when the bot can't post,
private releases counted only in their own channel; and the fix flag on `propose`."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import pytest

from handlers.rendering import stats_chart
from handlers.slack_kit import parsing
from handlers.slack_kit.refused import Refused
from models import fields
from models.release.records import ReleaseStatus
from tests.support.harness import CHANNEL, TEAM, Harness, ahead, iso, rendered_text
from tests.support.release_history import History

R = ReleaseStatus
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(content: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (the first, right after the signature)."""
    assert content[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", content[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", content[16:24])
    return width, height


def days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def build(harness: Harness) -> None:
    """payments: two releases (the second rolled back) and a fix 2 days after the first;
    a private rollback in G_PRIV; all within the last 30 days."""
    with harness.session() as session:
        h = History(session)
        h.release(
            "payments@1.0",
            proposed=days_ago(10.5),
            outcome=R.RELEASED,
            ended=days_ago(10),  # lead 12 h
            target=days_ago(10),
            team=TEAM,
        )
        h.release(
            "payments@1.1",
            proposed=days_ago(8.5),
            outcome=R.RELEASED,
            ended=days_ago(8),  # lead 12 h; a fix of payments 2 days later
            target=days_ago(8),
            is_fix=True,
            team=TEAM,
        )
        h.release(
            "payments@1.2",
            proposed=days_ago(5),
            outcome=R.ROLLED_BACK,
            ended=days_ago(4),
            team=TEAM,
        )
        h.release(
            "billing@9.0",
            proposed=days_ago(3),
            outcome=R.ROLLED_BACK,
            ended=days_ago(2),
            channel="G_PRIV",
            private=True,
            team=TEAM,
        )


def posted(harness: Harness, channel: str) -> str:
    [message] = [
        c.args for c in harness.slack.calls("chat.postMessage") if c.args["channel"] == channel
    ]
    return rendered_text(message)


@pytest.mark.clock
def test_stats_post_the_figures_and_one_chart_in_the_channel(harness: Harness) -> None:
    build(harness)
    response = harness.command("stats")
    assert not response.content or response.json().get("response_type") != "in_channel"

    text = posted(harness, CHANNEL)
    assert "Release statistics: all services, last 30 days" in text
    assert "2 released · 1 rolled back · 0 no-gos · 0 cancelled" in text
    # payments@1.0 failed (a fix followed it within 7 days) and 1.2 rolled back: 2 of 3.
    assert "*Change failure rate*: *67%* (2 of 3 deployments)" in text
    assert "*0.5* releases a week (2 in 30 days)" in text
    assert "median *12 h*, p90 *12 h* (2 releases)" in text
    assert "nothing restored yet; 1 rollback not restored yet" in text
    # Every figure says how it is defined.
    for words in ("Deployment frequency:", "Change failure rate:", "Time to restore service:"):
        assert words in text
    assert "Private releases count only in their own channel." in text

    # One chart, uploaded the files.uploadV2 way: ask for a URL, send the bytes, complete.
    methods = [
        c.method
        for c in harness.slack.calls()
        if c.method.startswith("files.") or c.method == "files.upload_url"
    ]
    assert methods == [
        "files.getUploadURLExternal",
        "files.upload_url",
        "files.completeUploadExternal",
    ]
    [chart] = harness.slack.files(CHANNEL)
    assert chart["name"] == "release-stats.png"
    assert png_size(chart["content"]) == (stats_chart.WIDTH, stats_chart.HEIGHT)
    assert harness.slack.calls("response_url") == []


def test_the_chart_decodes_as_an_image_of_the_promised_size(harness: Harness) -> None:
    import io

    from matplotlib import image

    build(harness)
    harness.command("stats payments 90d")
    [chart] = harness.slack.files(CHANNEL)
    pixels = image.imread(io.BytesIO(chart["content"]), format="png")
    assert pixels.shape[:2] == (stats_chart.HEIGHT, stats_chart.WIDTH)
    assert "Release statistics: payments, last 90 days" in posted(harness, CHANNEL)


def test_private_releases_count_only_in_their_own_channel(harness: Harness) -> None:
    build(harness)
    harness.command("stats", channel_id="C_OTHER")
    assert "2 released · 1 rolled back" in posted(harness, "C_OTHER")
    harness.command("stats", channel_id="G_PRIV")
    own = posted(harness, "G_PRIV")
    assert "2 released · 2 rolled back" in own
    assert "(3 of 4 deployments)" in own


def test_where_the_bot_cannot_post_the_figures_come_privately(harness: Harness) -> None:
    build(harness)
    harness.slack.fail_next("chat.postMessage", "not_in_channel")
    reply = harness.private_reply(harness.command("stats"))
    assert "I couldn't post in this channel (`not_in_channel`)" in reply
    assert "/invite @releasebot" in reply
    assert "(2 of 3 deployments)" in reply
    assert harness.slack.files() == []


def test_when_the_upload_fails_the_figures_come_privately(harness: Harness) -> None:
    build(harness)
    harness.slack.fail_next("files.completeUploadExternal", "not_in_channel")
    reply = harness.private_reply(harness.command("stats"))
    assert "I couldn't upload the chart here" in reply and "(2 of 3 deployments)" in reply
    assert harness.slack.files(CHANNEL) == []


def test_an_empty_history_still_answers(harness: Harness) -> None:
    harness.command("stats nothing 365d")
    text = posted(harness, CHANNEL)
    assert "0 released · 0 rolled back" in text and "*Change failure rate*: *–*" in text
    [chart] = harness.slack.files(CHANNEL)
    assert png_size(chart["content"]) == (stats_chart.WIDTH, stats_chart.HEIGHT)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("stats 45d", "30, 90 or 365 days, not 45"),
        ("stats payments search", "I don't understand “search”"),
        ("stats 30d 90d", "I don't understand “90d”"),
        ("stats <!channel>", "I don't understand “@channel”"),
        ("stats *bold*", "I don't understand “*bold*”"),
    ],
)
def test_what_stats_refuses(harness: Harness, text: str, says: str) -> None:
    reply = harness.private_reply(harness.command(text))
    assert says in reply and "/release stats" in reply
    assert harness.slack.calls("chat.postMessage") == []


# --- the fix flag -----------------------------------------------------------------------


def test_fix_and_fixes_parse() -> None:
    when = iso(ahead())
    plain = parsing.parse(f"propose payments 2.4.1 {when} <@U_QA|qa> fix notes: hot")
    assert isinstance(plain, parsing.Propose)
    assert (plain.fix, plain.fixes, plain.notes, plain.users) == (True, None, "hot", ("U_QA",))
    named = parsing.parse("propose payments 2.4.1 tomorrow 14:00 fixes Payments@2.4.0")
    assert isinstance(named, parsing.Propose)
    assert (named.when.text, named.fix, named.fixes) == ("tomorrow 14:00", True, "payments@2.4.0")
    bare = parsing.parse(f"propose payments 2.4.1 {when} --fixes 2.4.0")
    assert isinstance(bare, parsing.Propose) and bare.fixes == "2.4.0"
    neither = parsing.parse(f"propose payments 2.4.1 {when}")
    assert isinstance(neither, parsing.Propose) and (neither.fix, neither.fixes) == (False, None)


@pytest.mark.parametrize(
    ("tail", "says"),
    [
        ("fixes", "Name the release it fixes"),
        ("fixes <!channel>", "“@channel” is not a release"),
        ("fixes a@b@c", "“a@b@c” is not a release"),
        ("fixes payments@", "“payments@” is not a release"),
        ("fixes @2.4.0", "“@2.4.0” is not a release"),
        ("fixes <@U_QA|qa>", "“@qa” is not a release"),
    ],
)
def test_malformed_fixes_refs_are_refused(tail: str, says: str) -> None:
    with pytest.raises(Refused) as refused:
        parsing.parse(f"propose payments 2.4.1 {iso(ahead())} {tail}")
    assert says in refused.value.message


def test_a_fix_is_stored_and_shown_on_its_card(harness: Harness) -> None:
    harness.command(f"propose payments 2.4.0 {iso(ahead())}")
    harness.command(f"propose payments 2.4.1 {iso(ahead())} fixes 2.4.0")
    fixed, fix = harness.release("payments@2.4.0"), harness.release("payments@2.4.1")
    assert (fix.is_fix, fix.fixes_release_id) == (True, fixed.id)
    assert not fixed.is_fix
    assert ":adhesive_bandage: fix" in rendered_text(harness.card(fix))
    assert ":adhesive_bandage: fix" not in rendered_text(harness.card(fixed))
    harness.command(f"propose search 1.0.1 {iso(ahead())} fix")
    unnamed = harness.release("search@1.0.1")
    assert (unnamed.is_fix, unnamed.fixes_release_id) == (True, None)


@pytest.mark.parametrize(
    ("tail", "says"),
    [
        ("fixes search@1.0.0", "A release of “payments” can't fix “search@1.0.0”"),
        ("fixes payments@9.9.9", "No release “payments@9.9.9” to fix"),
    ],
)
def test_a_fix_names_a_release_of_its_own_service_that_exists(
    harness: Harness, tail: str, says: str
) -> None:
    harness.command(f"propose search 1.0.0 {iso(ahead())}")
    reply = harness.private_reply(harness.command(f"propose payments 2.4.1 {iso(ahead())} {tail}"))
    assert says in reply
    assert [r.ref for r in harness.releases()] == ["search@1.0.0"]


def test_a_fix_cannot_name_a_private_release_it_cannot_see(harness: Harness) -> None:
    harness.command(f"propose payments 2.4.0 {iso(ahead())}", channel_id="G_PRIV")
    reply = harness.private_reply(
        harness.command(
            f"propose payments 2.4.1 {iso(ahead())} fixes payments@2.4.0",
            user_id="U_QA",
            channel_id=CHANNEL,
        )
    )
    assert "No release “payments@2.4.0” to fix" in reply


def test_the_propose_form_marks_a_fix_and_answers_a_wrong_one_inline(harness: Harness) -> None:
    from tests.handlers.slack.test_propose_modal import open_form, submit

    harness.command(f"propose checkout 3.0.0 {iso(ahead())}")
    when = int(ahead(days=4).timestamp())
    wrong = submit(
        harness,
        open_form(harness),
        service="checkout",
        version="3.0.1",
        when=when,
        fixes="search@1.0",
    )
    body = wrong.json()
    assert body["response_action"] == "errors"
    assert "can't fix" in body["errors"][fields.FIELD_FIXES]
    submit(
        harness,
        open_form(harness),
        service="checkout",
        version="3.0.1",
        when=when,
        fixes="3.0.0",
    )
    fixed, fix = harness.release("checkout@3.0.0"), harness.release("checkout@3.0.1")
    assert (fix.is_fix, fix.fixes_release_id) == (True, fixed.id)
    submit(harness, open_form(harness), service="checkout", version="3.0.2", when=when, fixes="fix")
    assert harness.release("checkout@3.0.2").is_fix
    submit(harness, open_form(harness), service="checkout", version="3.0.3", when=when)
    assert not harness.release("checkout@3.0.3").is_fix
