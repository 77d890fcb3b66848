"""Making user text safe to show in Slack, without HTTP: handlers/slack/mrkdwn.py."""

from __future__ import annotations

import random
import re

import pytest

from handlers.slack_kit.mrkdwn import (
    clean_plain,
    escape,
    escape_inline,
    fit_lines,
    from_slack,
    join_lines,
    to_plain,
    truncate,
    typed_length,
)

# A whole entity or Slack token; what is left after removing them must hold no & < >.
_WHOLE = re.compile(r"&(?:amp|lt|gt);|<[^<>]*>")


def no_broken_entity(text: str) -> bool:
    return not re.search(r"[&<>]", _WHOLE.sub("", text))


# --- from_slack / typed_length ------------------------------------------------------------


@pytest.mark.parametrize(
    "sent, shown",
    [
        ("<@U123|bob>", "@bob"),
        ("<@U123>", "@U123"),
        ("<#C123|general>", "#general"),
        ("<#C123>", "#C123"),
        ("<!subteam^S1|@qa>", "@qa"),
        ("<!subteam^S1>", "@group"),
        ("<!channel>", "@channel"),
        ("<!here|here>", "@here"),
        ("<!everyone>", "@everyone"),
        ("<!date^1700000000^{date}|Nov 14>", "Nov 14"),
        ("<!date^1700000000^{date}>", "a date"),
        ("<https://example.com/a?b=1&amp;c=2|the docs>", "https://example.com/a?b=1&c=2"),
        ("<mailto:ops@example.com|ops>", "mailto:ops@example.com"),
        ("<javascript:alert(1)|click>", "click"),
        ("a &lt;b&gt; &amp; c", "a <b> & c"),
        ("&amp;lt;", "&lt;"),  # unescaped once, as Slack escaped once
    ],
)
def test_from_slack_gives_what_the_person_typed(sent: str, shown: str) -> None:
    assert from_slack(sent) == shown


def test_from_slack_drops_control_characters_and_bidi_overrides() -> None:
    assert from_slack("  a\x00b\u202ec\u2069\x7fd\u200be  ") == "abcd\u200be"
    assert from_slack("one\ntwo\tthree\r\n") == "one two three"
    assert from_slack("one\ntwo\tthree\r\nfour", multiline=True) == "one\ntwo three \nfour"


def test_typed_length_counts_what_was_typed() -> None:
    assert typed_length("a &amp; b") == 5
    assert typed_length("&lt;&gt;") == 2
    assert typed_length("<@U123|bob> hi") == len("@bob hi")
    assert typed_length("<https://example.com/x|docs>") == len("https://example.com/x")
    # Control characters still count: length is measured before anything is dropped.
    assert typed_length("a\x00b") == 3


# --- clean_plain --------------------------------------------------------------------------


@pytest.mark.parametrize("char", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e"])
def test_every_bidi_embedding_and_override_is_dropped(char: str) -> None:
    assert clean_plain(f"pay{char}ments") == "payments"


@pytest.mark.parametrize("char", ["\u2066", "\u2067", "\u2068", "\u2069"])
def test_every_bidi_isolate_is_dropped(char: str) -> None:
    assert clean_plain(f"pay{char}ments") == "payments"


def test_clean_plain_keeps_ordinary_unicode() -> None:
    text = "Zoë ships 🚀 at 14:00 — 東京 مرحبا"
    assert clean_plain(text) == text
    assert clean_plain(text, multiline=True) == text


def test_clean_plain_turns_whitespace_controls_into_spaces_and_strips() -> None:
    assert clean_plain("\t a\tb \r") == "a b"
    assert clean_plain("a\nb") == "a b"
    assert clean_plain("\na\nb\n", multiline=True) == "a\nb"
    assert clean_plain("".join(chr(c) for c in range(32) if chr(c) not in "\t\n\r")) == ""


# --- escape / escape_inline ---------------------------------------------------------------


def test_escape_makes_markup_literal() -> None:
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert escape("&amp;") == "&amp;amp;"  # plain text: its & is shown, not read
    assert escape("*bold* _it_ `code`") == "*bold* _it_ `code`"


def test_escape_inline_cannot_close_the_surrounding_markup() -> None:
    assert escape_inline("*a_b~c`d* <x>") == "∗aˍb∼cˋd∗ &lt;x&gt;"
    assert escape_inline("plain") == "plain"
    for char in "*_~`<>":
        assert char not in escape_inline(f"x{char}y")


# --- truncate -----------------------------------------------------------------------------


def test_truncate_leaves_short_text_alone() -> None:
    assert truncate("hello", 5) == "hello"
    assert truncate("", 1) == ""


def test_truncate_cuts_and_marks() -> None:
    assert truncate("hello world", 8) == "hello w…"
    assert truncate("hello world", 7) == "hello…"  # no space before the marker
    assert truncate("hello world", 8, marker="...") == "hello..."


@pytest.mark.parametrize(
    "text, limit, cut",
    [
        ("a &amp; b", 7, "a…"),
        ("a &amp; b", 8, "a &amp;…"),
        ("&lt;&gt;", 7, "&lt;…"),
        ("x <@U1> y", 6, "x…"),
        ("x <@U1> y", 8, "x <@U1>…"),
        ("<!date^1700000000^{date}|x> ok", 20, "…"),
        ("ok <https://a.example/?q=1&amp;r=2|docs> more", 25, "ok…"),
    ],
)
def test_truncate_never_splits_an_entity_or_a_token(text: str, limit: int, cut: str) -> None:
    assert truncate(text, limit) == cut


def test_truncate_never_splits_anything_whatever_the_text() -> None:
    pieces = ["a", "b ", "&amp;", "&lt;", "&gt;", "<@U1>", "<!date^1^{date}|x>", "é", " "]
    rnd = random.Random(7)
    for _ in range(3000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 25)))
        limit = rnd.randint(1, 60)
        cut = truncate(text, limit)
        assert len(cut) <= limit
        if cut != text:
            assert cut.endswith("…")
            assert text.startswith(cut[:-1])
        assert no_broken_entity(cut), (text, limit, cut)


# --- join_lines ---------------------------------------------------------------------------


def test_join_lines_keeps_everything_that_fits() -> None:
    assert join_lines(["a", "b", "c"], 100) == "a\nb\nc"
    assert join_lines([], 100) == ""


def test_join_lines_says_how_many_were_left_out() -> None:
    lines = [f"line {i:02}" for i in range(10)]  # 7 characters each
    joined = join_lines(lines, 40)
    assert joined == "line 00\nline 01\nline 02\n…and 7 more"
    assert len(joined) <= 40


def test_join_lines_cuts_a_last_line_that_does_not_fit() -> None:
    joined = join_lines(["short", "x" * 100], 50)
    assert joined == "short\n" + "x" * 42 + "…"
    assert len(joined) <= 50
    assert join_lines(["short", "a &amp; b " * 10], 20) == "short\na &amp; b a…"


def test_join_lines_stays_within_its_limit() -> None:
    pieces = ["a", "b ", "&amp;", "<@U1>", "é"]
    rnd = random.Random(11)
    for _ in range(1000):
        lines = [
            "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 30)))
            for _ in range(rnd.randint(1, 12))
        ]
        limit = rnd.randint(30, 300)
        joined = join_lines(lines, limit)
        assert len(joined) <= limit
        assert no_broken_entity(joined)
        kept = joined.split("\n")
        if len(kept) < len(lines):
            assert kept[-1] == f"…and {len(lines) - len(kept) + 1} more"


# --- fit_lines ----------------------------------------------------------------------------


def test_fit_lines_leaves_lines_that_fit_alone() -> None:
    assert fit_lines(["one", "two"], 100) == ["one", "two"]
    assert fit_lines([], 10) == []


def test_fit_lines_cuts_the_longest_first_and_shares_fairly() -> None:
    fitted = fit_lines(["a" * 100, "b" * 10, "c" * 100], 100)
    assert fitted == ["a" * 43 + "…", "b" * 10, "c" * 43 + "…"]
    assert len("\n".join(fitted)) == 100


def test_fit_lines_caps_each_line_at_most() -> None:
    assert fit_lines(["a" * 100, "b" * 10], 1000, most=30) == ["a" * 29 + "…", "b" * 10]


def test_fit_lines_keeps_at_least_least_even_over_the_limit() -> None:
    fitted = fit_lines(["a" * 100, "b" * 100], 20, least=24)
    assert fitted == ["a" * 23 + "…", "b" * 23 + "…"]


def test_fit_lines_fits_whenever_least_allows() -> None:
    pieces = ["a", "b ", "&amp;", "<@U1>", "é"]
    rnd = random.Random(13)
    for _ in range(1000):
        lines = [
            "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 40)))
            for _ in range(rnd.randint(1, 10))
        ]
        limit = rnd.randint(6 * len(lines), 400)
        fitted = fit_lines(lines, limit, least=5)
        assert len("\n".join(fitted)) <= limit
        assert all(no_broken_entity(line) for line in fitted)
        for cut, line in zip(fitted, lines, strict=True):
            assert cut == line or (cut.endswith("…") and line.startswith(cut[:-1]))


# --- to_plain (a form's errors show plain text only) --------------------------------------


@pytest.mark.parametrize(
    "mrkdwn, plain",
    [
        ("*payments@2.4.0* is not yours", "payments@2.4.0 is not yours"),
        ("Ask <@U1> or <!subteam^S1|@qa>", "Ask @U1 or @qa"),
        ("Nobody left in <!subteam^S1>", "Nobody left in @S1"),
        ("See <https://x.example/a?b=1&amp;c=2|the doc>", "See https://x.example/a?b=1&c=2"),
        ("“a &lt;b&gt; &amp; c”", "“a <b> & c”"),
        ("2*3*4 and a*b*c stay", "2*3*4 and a*b*c stay"),
        ("*two* *bolds*", "two bolds"),
        ("at <!date^1700000000^{date_short}|Nov 14>", "at Nov 14"),
    ],
)
def test_to_plain_shows_mrkdwn_as_plain_text(mrkdwn: str, plain: str) -> None:
    assert to_plain(mrkdwn) == plain
