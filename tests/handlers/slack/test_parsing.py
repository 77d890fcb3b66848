"""`/release …` text -> typed commands, without HTTP or Slack: handlers/slack/parsing.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from handlers.slack_kit.parsing import (
    MAX_COMMAND_TEXT,
    USAGE,
    Calendar,
    ChecklistAdd,
    Help,
    ListReleases,
    Propose,
    ProposeForm,
    RefCommand,
    SharedCalendar,
    Update,
    When,
    parse,
)
from handlers.slack_kit.refused import Refused
from handlers.slack_kit.times import parse_time
from models.release.default_checklist import MAX_ITEM_LENGTH
from models.release.proposing import ApproverSpec
from models.release.records import ApproverKind

# Dates, weekdays and times of day: CI runs these with the clock travelled (.ci/run).
pytestmark = pytest.mark.clock

AT = "2026-12-03T14:00Z"
AT_UTC = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)


def refused(text: str) -> Refused:
    with pytest.raises(Refused) as caught:
        parse(text)
    return caught.value


def propose(tail: str = "") -> Propose:
    command = parse(f"propose payments 2.4.0 {AT} {tail}".strip())
    assert isinstance(command, Propose)
    return command


def when_of(typed: str) -> When:
    command = parse(f"propose p 1 {typed}")
    assert isinstance(command, Propose)
    return command.when


def group(slack_id: str, handle: str = "") -> ApproverSpec:
    return ApproverSpec(slack_id, ApproverKind.USERGROUP, handle)


# --- subcommands --------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "help", "HELP", "-h", "--help", "?"])
def test_nothing_or_help_asks_for_help(text: str) -> None:
    assert parse(text) == Help()


def test_list_and_the_form() -> None:
    assert parse("list") == ListReleases()
    assert parse("  List  ") == ListReleases()
    assert parse("propose") == ProposeForm()
    assert parse("propose   ") == ProposeForm()


@pytest.mark.parametrize("name", ["status", "go", "advance", "done", "pause", "resume", "withdraw"])
def test_subcommands_that_name_one_release(name: str) -> None:
    assert parse(f"{name} payments@2.4.0") == RefCommand(name, "payments@2.4.0")
    assert parse(f"{name.upper()}   payments ") == RefCommand(name, "payments")
    problem = refused(name)
    assert problem.message.startswith("Name one release as service@version.")
    assert USAGE[name] in problem.message


def test_a_ref_is_one_word_of_a_sane_length() -> None:
    assert "Name one release" in refused("status payments 2.4.0").message
    assert "not a release name" in refused("status " + "a" * 131).message
    assert parse("status " + "a" * 130) == RefCommand("status", "a" * 130)
    # A mention where a ref goes is read as the plain text it shows, never as markup.
    assert parse("status <@U1|bob>") == RefCommand("status", "@bob")


def test_cancel_takes_an_optional_reason() -> None:
    assert parse("cancel payments@2.4.0") == RefCommand("cancel", "payments@2.4.0", "")
    assert parse("cancel payments@2.4.0 not needed  ") == RefCommand(
        "cancel", "payments@2.4.0", "not needed"
    )


@pytest.mark.parametrize(
    "typed, name", [("nogo", "nogo"), ("no-go", "nogo"), ("rollback", "rollback")]
)
def test_nogo_and_rollback_need_a_reason(typed: str, name: str) -> None:
    assert parse(f"{typed} payments@2.4.0 error rate &gt; 5%") == RefCommand(
        name, "payments@2.4.0", "error rate > 5%"
    )
    problem = refused(f"{typed} payments@2.4.0")
    assert problem.message.startswith("Say why")
    assert USAGE[name] in problem.message


def test_a_reason_keeps_its_lines_and_loses_its_markup() -> None:
    command = parse("nogo payments@2.4.0 db <!channel>\nsee <https://x.example/i|incident>")
    assert command == RefCommand("nogo", "payments@2.4.0", "db @channel\nsee https://x.example/i")


def test_checklist_add() -> None:
    assert parse("checklist payments@2.4.0 add Run the smoke tests") == ChecklistAdd(
        "payments@2.4.0", "Run the smoke tests"
    )
    assert parse("checklist payments ADD x &amp; y") == ChecklistAdd("payments", "x & y")
    assert "Use `add`" in refused("checklist payments@2.4.0 remove x").message
    assert "after `add`" in refused("checklist payments@2.4.0 add").message
    assert "after `add`" in refused("checklist payments@2.4.0 add \x07 ").message
    assert "Name one release" in refused("checklist").message


def test_a_checklist_item_is_counted_as_shown() -> None:
    longest = "x" * MAX_ITEM_LENGTH
    assert parse(f"checklist p add {longest}") == ChecklistAdd("p", longest)
    problem = refused(f"checklist p add {longest}y")
    assert f"at most {MAX_ITEM_LENGTH} characters" in problem.message
    assert f"has {MAX_ITEM_LENGTH + 1}" in problem.message
    # Slack's escaping doesn't count: "&amp;" is one character typed and shown.
    assert parse(f"checklist p add {'&amp;' * MAX_ITEM_LENGTH}") == ChecklistAdd(
        "p", "&" * MAX_ITEM_LENGTH
    )


def test_calendar() -> None:
    assert parse("calendar") == Calendar()
    assert parse("calendar revoke") == Calendar(revoke=True)
    assert parse("calendar REVOKE") == Calendar(revoke=True)
    assert parse("calendar <#C0123|releases>") == Calendar(channel_id="C0123")
    assert parse("calendar <#G0123>") == Calendar(channel_id="G0123")
    assert parse("calendar Payments") == Calendar(service="payments")
    assert "one #channel or one service" in refused("calendar <#C0123> payments").message
    assert "one #channel or one service" in refused("calendar pay ments").message


def test_shared_calendar_links() -> None:
    assert parse("calendar shared") == SharedCalendar("shared")
    assert parse("calendar SHARED") == SharedCalendar("shared")
    assert parse('calendar share "Support team"') == SharedCalendar("share", "Support team")
    assert parse("calendar share “Support” <#C0123|releases>") == SharedCalendar(
        "share", "Support", channel_id="C0123"
    )
    assert parse('calendar share "Sales" Payments') == SharedCalendar(
        "share", "Sales", service="payments"
    )
    assert parse('calendar unshare "Support team"') == SharedCalendar("unshare", "Support team")
    # As Slack sends what was typed: mentions read as text, entities unescaped.
    assert parse('calendar share "<!channel> &lt;b&gt; <@U1|bob>"') == SharedCalendar(
        "share", "@channel <b> @bob"
    )
    assert "in quotes" in refused("calendar share Support").message
    assert "in quotes" in refused('calendar unshare ""').message
    assert "Name only the shared link" in refused('calendar unshare "a" b').message
    assert "one #channel or one service" in refused('calendar share "a" b c').message
    assert "takes nothing more" in refused("calendar shared x").message


def test_an_unknown_subcommand_lists_every_command() -> None:
    problem = refused("deploy payments")
    assert problem.message.startswith("I don't know `/release deploy`.")
    for usage in USAGE.values():
        assert f"• {usage}" in problem.message


# --- propose ------------------------------------------------------------------------------


def test_propose_reads_service_version_and_time() -> None:
    assert propose() == Propose(service="payments", version="2.4.0", when=When(AT, absolute=AT_UTC))


def test_propose_needs_service_version_and_time() -> None:
    for text in ("propose payments", "propose payments 2.4.0"):
        problem = refused(text)
        assert problem.message.startswith("Name the service, the version and when.")
        assert USAGE["propose"] in problem.message


def test_mentions_become_approvers_in_order_without_repeats() -> None:
    command = propose("<@U2|bob> <!subteam^S1|@qa> <@U1> <@U2> <!subteam^S2> <@W3|eve>")
    assert command.users == ("U2", "U1", "W3")
    assert command.groups == (group("S1", "qa"), group("S2"))
    assert command.approvers == (
        ApproverSpec("U2"),
        ApproverSpec("U1"),
        ApproverSpec("W3"),
        group("S1", "qa"),
        group("S2"),
    )


def test_a_group_handle_is_plain_text() -> None:
    command = propose("<!subteam^S1|@qa&amp;ops\u202e>")
    assert command.groups == (group("S1", "qa&ops"),)


def test_an_at_name_that_is_no_mention_is_refused() -> None:
    problem = refused(f"propose payments 2.4.0 {AT} @bob")
    assert problem.message.startswith("@bob is not someone I can find.")


@pytest.mark.parametrize("token", ["<!channel>", "<!here>", "<!everyone>"])
def test_a_broadcast_is_no_approver(token: str) -> None:
    problem = refused(f"propose payments 2.4.0 {AT} {token}")
    # Named as plain text (nothing pings), with what may follow the time.
    assert problem.message.startswith(f"I don't understand “@{token[2:-1]}” here.")
    assert "<!" not in problem.message


def test_phased_and_big_bang() -> None:
    assert propose("phased 10,50,100").stages == (10, 50, 100)
    assert propose("--phased 5%,100%").stages == (5, 100)
    assert propose("PHASED 25,100").stages == (25, 100)
    assert propose("phased 10,100 big-bang").stages == ()
    assert propose("bigbang").stages == ()


def test_phased_needs_percentages() -> None:
    assert "Give the phases" in refused(f"propose p 1 {AT} phased").message
    problem = refused(f"propose p 1 {AT} phased ten")
    assert "“ten” is not a list of percentages" in problem.message
    assert problem.field == "rollout"
    assert "not a list" in refused(f"propose p 1 {AT} phased 10,,100").message
    assert "not a list" in refused(f"propose p 1 {AT} phased 1000").message


def test_notes_run_to_the_end_and_keep_their_lines() -> None:
    command = propose("<@U1> notes: first line\nsecond  <@U2>  line ")
    assert command.users == ("U1",)  # a mention inside the notes is no approver
    assert command.notes == "first line\nsecond  @U2  line"
    assert propose("notes:tight").notes == "tight"
    assert propose("NOTES: shouting").notes == "shouting"
    assert propose("-- after a dash").notes == "after a dash"
    assert propose("notes:").notes == ""


def test_notes_begin_at_their_own_keyword_not_at_an_earlier_lookalike() -> None:
    # The keyword's position is the token's own, not the first match of its text.
    assert propose("<@U1|ann--> -- fix it").notes == "fix it"
    assert propose("<@U1|ann--> notes: fix it").notes == "fix it"
    assert propose("phased 10,100   --   spaced").notes == "spaced"


def test_anything_else_after_the_time_is_refused_with_usage() -> None:
    problem = refused(f"propose payments 2.4.0 {AT} soon")
    assert problem.message.startswith("I don't understand “soon” here.")
    assert USAGE["propose"] in problem.message


# --- times --------------------------------------------------------------------------------

# A Thursday: 10:30 in New York (UTC-5), already Friday 00:30 in Tokyo (UTC+9).
NOW = datetime(2026, 11, 26, 15, 30, tzinfo=UTC)
NY, TOKYO = "America/New_York", "Asia/Tokyo"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def time_refusal(text: str, tz: str | None) -> str:
    with pytest.raises(Refused) as caught:
        parse_time(text, tz=tz, now=NOW)
    assert caught.value.field == "when"
    return caught.value.message


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("2026-12-03T14:00Z", AT_UTC),
        ("2026-12-03T14:00z", AT_UTC),
        ("2026-12-03T14:00+01:00", AT_UTC - timedelta(hours=1)),
        ("2026-12-03T09:00-05:00", AT_UTC),
        ("2026-12-03T14:00:30+00:00", AT_UTC + timedelta(seconds=30)),
    ],
)
def test_an_iso_time_with_an_offset_is_absolute(typed: str, expected: datetime) -> None:
    when = when_of(f"{typed}")
    assert when.text == typed
    assert when.local is None and not when.needs_zone
    assert when.resolve(TOKYO, now=NOW) == expected  # the person's zone plays no part
    assert when.resolve(TOKYO, now=NOW).tzinfo == UTC


def test_a_local_time_is_read_in_the_persons_zone() -> None:
    when = when_of("2026-12-03 14:00")
    assert when == When("2026-12-03 14:00", local=datetime(2026, 12, 3, 14, 0))
    assert when.needs_zone
    assert when.resolve("Europe/Berlin", now=NOW) == datetime(2026, 12, 3, 13, 0, tzinfo=UTC)
    assert when.resolve(NY, now=NOW) == datetime(2026, 12, 3, 19, 0, tzinfo=UTC)
    assert when.resolve(None, now=NOW) == AT_UTC
    assert when.resolve("Not/AZone", now=NOW) == AT_UTC
    assert when.resolve("../../etc/passwd", now=NOW) == AT_UTC
    # One-digit hours are fine; the ISO form without an offset is local too.
    assert when_of("2026-12-03 9:05") == When("2026-12-03 9:05", local=datetime(2026, 12, 3, 9, 5))
    assert when_of("2026-12-03T14:00") == When(
        "2026-12-03T14:00", local=datetime(2026, 12, 3, 14, 0)
    )


@pytest.mark.parametrize(
    "typed, tz, expected",
    [
        # New York: Thursday 26 Nov, 10:30.
        ("tomorrow 14:00", NY, utc(2026, 11, 27, 19, 0)),
        ("fri 10:00", NY, utc(2026, 11, 27, 15, 0)),
        ("next monday 9am", NY, utc(2026, 11, 30, 14, 0)),
        ("in 2h", NY, utc(2026, 11, 26, 17, 30)),
        ("dec 3 14:00", NY, utc(2026, 12, 3, 19, 0)),
        ("2026-12-03 14:00", NY, utc(2026, 12, 3, 19, 0)),
        ("2026-12-03T14:00+01:00", NY, utc(2026, 12, 3, 13, 0)),
        ("today 17:00", NY, utc(2026, 11, 26, 22, 0)),
        ("tomorrow at 2pm", NY, utc(2026, 11, 27, 19, 0)),
        ("thu 10:00", NY, utc(2026, 12, 3, 15, 0)),  # today's 10:00 has gone: next week's
        ("13/12 14:00", NY, utc(2026, 12, 13, 19, 0)),  # no month 13: day first
        ("jan 5 14:00", NY, utc(2027, 1, 5, 19, 0)),
        # Tokyo: already Friday 27 Nov, 00:30.
        ("tomorrow 14:00", TOKYO, utc(2026, 11, 28, 5, 0)),
        ("sat 10:00", TOKYO, utc(2026, 11, 28, 1, 0)),
        ("next monday 9am", TOKYO, utc(2026, 11, 30, 0, 0)),
        ("in 2h", TOKYO, utc(2026, 11, 26, 17, 30)),  # the same instant wherever you are
        ("dec 3 14:00", TOKYO, utc(2026, 12, 3, 5, 0)),
        ("2026-12-03 14:00", TOKYO, utc(2026, 12, 3, 5, 0)),
        ("2026-12-03T14:00+01:00", TOKYO, utc(2026, 12, 3, 13, 0)),
        ("9am", TOKYO, utc(2026, 11, 27, 0, 0)),
        # A zone typed along wins over the person's.
        ("tomorrow 14:00 UTC", NY, utc(2026, 11, 27, 14, 0)),
    ],
)
def test_times_as_people_type_them(typed: str, tz: str, expected: datetime) -> None:
    assert parse_time(typed, tz=tz, now=NOW) == expected
    assert parse_time(typed, tz=tz, now=NOW).tzinfo == UTC
    # The same through the command, resolved later with the person's zone.
    when = when_of(typed)
    assert when.text == typed
    assert when.resolve(tz, now=NOW) == expected


def test_the_time_is_the_longest_run_that_reads_up_to_a_mention_or_keyword() -> None:
    command = parse("propose p 1 next monday 9am <@U1|ann> phased 10,100 notes: ship it")
    assert isinstance(command, Propose)
    assert (command.when, command.users, command.stages, command.notes) == (
        When("next monday 9am"),
        ("U1",),
        (10, 100),
        "ship it",
    )
    assert when_of("tomorrow at 2pm -- notes").text == "tomorrow at 2pm"
    assert when_of("in 2h big-bang").text == "in 2h"
    assert when_of("dec 3 14:00 <!subteam^S1|@qa>").text == "dec 3 14:00"
    # What reads ends the time; a word after it that is neither is refused as such.
    problem = refused("propose p 1 tomorrow 14:00 soon <@U1>")
    assert problem.message.startswith("I don't understand “soon” here.")
    assert "@bob is not someone" in refused("propose p 1 fri 10:00 @bob").message
    # At most five tokens are a time.
    problem = refused("propose p 1 xx yy zz ww vv uu")
    assert "can't read “xx yy zz ww vv” as a time" in problem.message


def test_a_pinned_clock_gives_the_same_answer_every_time() -> None:
    answers = {parse_time("fri 10:00", tz=NY, now=NOW) for _ in range(3)}
    assert answers == {utc(2026, 11, 27, 15, 0)}
    a_week_on = NOW + timedelta(days=7)
    assert parse_time("fri 10:00", tz=NY, now=a_week_on) == utc(2026, 12, 4, 15, 0)


@pytest.mark.parametrize("tz", [NY, TOKYO])
def test_a_past_time_is_refused_as_it_was_understood(tz: str) -> None:
    assert time_refusal("2026-11-25 14:00", tz) == (
        f"Wednesday 25 Nov 14:00 {tz} is in the past: pick a time ahead."
    )
    assert time_refusal("2025-12-03 14:00", tz).startswith(
        f"Wednesday 3 Dec 2025 14:00 {tz} is in the past"
    )
    # Shown in the person's zone, whatever zone it was typed in.
    shown = (
        "Thursday 26 Nov 10:00 America/New_York" if tz == NY else "Friday 27 Nov 00:00 Asia/Tokyo"
    )
    assert time_refusal("2026-11-26T15:00Z", tz).startswith(f"{shown} is in the past")
    # "in" a moment ago, or now: not ahead.
    assert "is in the past" in time_refusal("in 0h", tz)


def test_a_past_time_today_or_this_year() -> None:
    # A time of day alone is today's: earlier today in New York.
    assert time_refusal("9am", NY) == (
        "Thursday 26 Nov 09:00 America/New_York is in the past: pick a time ahead "
        "(for tomorrow's, write `tomorrow 9am`)."
    )
    assert parse_time("14:00", tz=NY, now=NOW) == utc(2026, 11, 26, 19, 0)
    assert parse_time("noon", tz=TOKYO, now=NOW) == utc(2026, 11, 27, 3, 0)
    assert parse_time("9:30 pm", tz=TOKYO, now=NOW) == utc(2026, 11, 27, 12, 30)
    assert parse_time("at 9am", tz=TOKYO, now=NOW) == utc(2026, 11, 27, 0, 0)
    # Yesterday's date: preferring the future would make it next year's; a late person
    # meant this year's.
    message = time_refusal("nov 25 14:00", NY)
    assert message.startswith("Wednesday 25 Nov 14:00 America/New_York is in the past")
    assert "`Nov 25 2027 14:00`" in message
    assert parse_time("nov 25 2027 14:00", tz=NY, now=NOW) == utc(2027, 11, 25, 19, 0)
    # Without a zone: UTC.
    assert time_refusal("2020-01-01T10:00Z", None).startswith(
        "Wednesday 1 Jan 2020 10:00 UTC is in the past"
    )


@pytest.mark.parametrize("tz", [NY, TOKYO])
@pytest.mark.parametrize(
    "typed", ["tomorrow", "dec 3", "fri", "2026-12-03", "next week", "in 2 days"]
)
def test_a_date_without_a_time_of_day_asks_for_one(typed: str, tz: str) -> None:
    assert time_refusal(typed, tz).startswith(f"“{typed}” has no time of day")
    problem = refused(f"propose p 1 {typed} <@U1>")
    assert problem.message.startswith(f"“{typed}” has no time of day")
    assert f"`{typed} 14:00`" in problem.message
    assert USAGE["propose"] in problem.message


@pytest.mark.parametrize("tz", [NY, TOKYO])
def test_a_day_and_month_in_numbers_that_could_be_either_is_refused(tz: str) -> None:
    message = time_refusal("3/12 14:00", tz)
    assert message.startswith("“3/12 14:00” could be 3 Dec or 12 Mar")
    assert "dec 3 14:00" in message
    assert "could be" in refused("propose p 1 12/3/2026 14:00").message
    # The same day and month either way is no question.
    assert parse_time("5/5 14:00", tz=tz, now=NOW).month == 5


def test_todays_weekday_is_refused_while_today_could_still_be_meant() -> None:
    # Thursday morning in New York: "thu 17:00" today, or in a week?
    assert time_refusal("thu 17:00", NY) == (
        "“thu 17:00” could be today, Thursday 26 Nov 17:00 America/New_York, or "
        "Thursday 3 Dec 17:00 America/New_York: write `today 17:00` or `next thu 17:00`."
    )
    assert parse_time("next thu 17:00", tz=NY, now=NOW) == utc(2026, 12, 3, 22, 0)
    assert parse_time("today 17:00", tz=NY, now=NOW) == utc(2026, 11, 26, 22, 0)
    # In Tokyo it is already Friday.
    assert "could be today, Friday 27 Nov 10:00 Asia/Tokyo" in time_refusal("fri 10:00", TOKYO)
    assert parse_time("thu 17:00", tz=TOKYO, now=NOW) == utc(2026, 12, 3, 8, 0)


@pytest.mark.parametrize("tz", [NY, TOKYO, None])
def test_times_that_dont_read(tz: str | None) -> None:
    for junk in ("soonish", "2026-12-03 25:00", "2026-02-30T10:00Z", "5", "tomorrow 14:00 please"):
        message = time_refusal(junk, tz)
        assert message.startswith(f"I can't read “{junk}” as a time."), message
        assert "`tomorrow 14:00`" in message and "`2026-12-03T14:00Z`" in message


def test_times_that_dont_read_in_a_command() -> None:
    problem = refused("propose p 1 soonish")
    assert problem.message.startswith("I can't read “soonish” as a time.")
    assert "`next monday 9am`" in problem.message
    assert USAGE["propose"] in problem.message
    assert "can't read" in refused("propose p 1 2026-12-03 25:00").message
    assert "can't read" in refused("propose p 1 2026-02-30T10:00Z").message
    assert "can't read" in refused("propose p 1 2026-02-30").message
    problem = refused("propose p 1 2026-12-03")
    assert problem.message.startswith("“2026-12-03” has no time of day")
    # A time that doesn't read is shown escaped and cut, never as markup.
    problem = refused("propose p 1 <!channel>")
    assert "<!channel>" not in problem.message
    assert problem.message.startswith("I can't read “@channel” as a time.")
    # Slack's escaping is undone before ours: "&amp;" shows as "&", not as "&amp;".
    problem = refused("propose p 1 " + "x&amp;" * 30)
    assert problem.message.startswith("I can't read “" + "x&amp;" * 9 + "x…” as a time.")


def test_a_local_time_in_a_dst_gap_is_refused() -> None:
    when = when_of("2027-03-28 02:30")
    with pytest.raises(Refused) as caught:
        when.resolve("Europe/Berlin", now=NOW)
    assert caught.value.field == "when"
    assert "2027-03-28 02:30 does not exist in Europe/Berlin" in caught.value.message
    # The same wall-clock time exists elsewhere.
    assert when.resolve("UTC", now=NOW) == datetime(2027, 3, 28, 2, 30, tzinfo=UTC)
    # Typed in words: the same. New York jumps on 14 March 2027; Tokyo never does.
    assert "“mar 14 2:30” does not exist in America/New_York" not in (
        message := time_refusal("mar 14 2:30", NY)
    )
    assert message.startswith("mar 14 2:30 does not exist in America/New_York")
    assert parse_time("mar 14 2:30", tz=TOKYO, now=NOW) == utc(2027, 3, 13, 17, 30)


def test_a_local_time_in_a_dst_overlap_takes_the_first() -> None:
    when = when_of("2027-10-31 02:30")
    # 02:30 happens twice in Berlin that night: the first is still summer time (UTC+2).
    assert when.resolve("Europe/Berlin", now=NOW) == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)


def test_a_lowercase_t_still_separates_date_and_time() -> None:
    assert when_of("2026-12-03t14:00Z").resolve(None, now=NOW) == AT_UTC


# --- update -------------------------------------------------------------------------------


def test_update_assignments() -> None:
    assert parse("update payments@2.4.0 version=2.4.1") == Update("payments@2.4.0", version="2.4.1")
    assert parse(f"update payments when={AT}") == Update("payments", when=When(AT, absolute=AT_UTC))
    assert parse("update payments when=2026-12-03 14:00") == Update(
        "payments", when=When("2026-12-03 14:00", local=datetime(2026, 12, 3, 14, 0))
    )
    assert parse("update payments when=tomorrow 14:00") == Update(
        "payments", when=When("tomorrow 14:00")
    )
    assert parse("update payments notes=line one\nline &lt;two&gt;") == Update(
        "payments", notes="line one\nline <two>"
    )
    assert parse("update payments notes=") == Update("payments", notes="")


def test_update_several_at_once_in_any_order_and_case() -> None:
    command = parse(f"update payments NOTES=ship it Version=2.5.0 when={AT}")
    assert command == Update(
        "payments", version="2.5.0", when=When(AT, absolute=AT_UTC), notes="ship it"
    )


def test_update_approvers() -> None:
    assert parse("update payments approvers=<@U1|amy> <!subteam^S1|@qa> <@U2>") == Update(
        "payments", approvers=(ApproverSpec("U1"), group("S1", "qa"), ApproverSpec("U2"))
    )
    assert parse("update payments approvers=none") == Update("payments", approvers=())
    assert parse("update payments approvers=NONE") == Update("payments", approvers=())
    # Left out: unchanged (None), which is not the same as none at all (()).
    assert parse("update payments version=3") == Update("payments", version="3", approvers=None)
    assert "after `approvers=`" in refused("update payments approvers=").message
    assert refused("update payments approvers=@amy").message.startswith(
        "@amy is not someone I can find."
    )
    assert "is not someone" in refused("update payments approvers=<@U1> none").message
    assert "is not someone" in refused("update payments approvers=<!channel>").message


def test_update_usage_errors() -> None:
    for text in ("update payments", "update payments later", "update payments x version=2"):
        problem = refused(text)
        assert problem.message.startswith("Say what changes")
        assert USAGE["update"] in problem.message
    assert "`version=` appears twice" in refused("update p version=2 VERSION=3").message
    assert "only the time" in refused(f"update p when={AT} please").message
    assert "only the time" in refused("update p when=tomorrow 14:00 please").message
    assert "has no time of day" in refused("update p when=tomorrow").message
    assert "one version" in refused("update p version=").message
    assert "one version" in refused("update p version=2 3").message
    assert "Say when" in refused("update p when=").message
    assert "Name one release" in refused("update").message


def test_a_word_ending_in_a_key_is_no_assignment() -> None:
    # "subversion=2" inside the notes must not change the version.
    assert parse("update p notes=move to subversion=2") == Update("p", notes="move to subversion=2")


# --- hostile text -------------------------------------------------------------------------


def test_broadcasts_in_free_text_are_plain_text() -> None:
    command = propose("notes: <!channel> <!here|here> <!subteam^S9|@everyone> hi")
    assert command.notes == "@channel @here @everyone hi"
    assert "<" not in command.notes


def test_control_characters_and_bidi_overrides_are_dropped() -> None:
    command = propose("notes: a\x00b\x1bc\u202eevil\u2066d\te\r\nf")
    assert command.notes == "abcevild e \nf"
    item = parse("checklist p add tick\u202e\x07 me")
    assert item == ChecklistAdd("p", "tick me")


def test_a_command_may_be_as_long_as_typed_but_no_longer() -> None:
    head = f"propose p 1 {AT} notes: "
    room = MAX_COMMAND_TEXT - len(head)
    at_limit = head + "x" * room
    assert parse(at_limit) == Propose("p", "1", When(AT, absolute=AT_UTC), notes="x" * room)
    problem = refused(at_limit + "x")
    assert f"{MAX_COMMAND_TEXT + 1} characters long" in problem.message
    # Slack's escaping does not count against the person: "&amp;" is one character.
    escaped = head + "&amp;" * room
    assert parse(escaped) == Propose("p", "1", When(AT, absolute=AT_UTC), notes="&" * room)


def test_an_unknown_subcommand_is_shown_safely() -> None:
    problem = refused("<!channel>" + "x" * 100)
    assert "<!channel>" not in problem.message
    assert problem.message.startswith("I don't know `/release @channelxxxx")
    first_line = problem.message.splitlines()[0]
    assert "…`" in first_line and len(first_line) < 100


def test_offsets_in_times_are_kept_as_typed() -> None:
    when = when_of("2026-12-03T14:00+05:30")
    assert when.absolute is not None
    assert when.absolute.utcoffset() == timezone(timedelta(hours=5, minutes=30)).utcoffset(None)
    assert when.resolve(None, now=NOW) == datetime(2026, 12, 3, 8, 30, tzinfo=UTC)
