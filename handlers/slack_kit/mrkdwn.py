"""Making user text safe to show in Slack: no pings, no broken mrkdwn, within limits."""

from __future__ import annotations

import html
import re
import unicodedata

# Slack's own markup in text it sends us: <@U1|name>, <#C1|name>, <!subteam^S1|@qa>,
# <!channel>, <https://x|label>.
_SLACK_MARKUP = re.compile(r"<([^<>]*)>")
# Bidirectional overrides can make a name read differently from what it is.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


def _markup_to_plain(match: re.Match[str]) -> str:
    inner = match.group(1)
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        return "@" + (label or target[1:])
    if target.startswith("#"):
        return "#" + (label or target[1:])
    if target.startswith("!subteam^"):
        return label or "@group"
    if target.startswith("!date^"):
        return label or "a date"
    if target.startswith("!"):
        return "@" + target[1:].split("^")[0]
    return target if re.match(r"^(https?|mailto):", target) else (label or target)


def from_slack(text: str, *, multiline: bool = False) -> str:
    """Slack's escaped, marked-up text -> plain text a person typed, without control chars."""
    text = _SLACK_MARKUP.sub(_markup_to_plain, text)
    text = html.unescape(text)
    return clean_plain(text, multiline=multiline)


def typed_length(text: str) -> int:
    """How many characters a person typed to make Slack send `text` (escaped, marked up)."""
    return len(html.unescape(_SLACK_MARKUP.sub(_markup_to_plain, text)))


# A group mention with no label: its id is all there is to show.
_BARE_GROUP = re.compile(r"<!subteam\^([A-Z0-9_]+)>")
_BOLD = re.compile(r"(?<![\w*])\*(\S(?:[^*\n]*\S)?)\*(?![\w*])")


def to_plain(text: str) -> str:
    """Our mrkdwn -> what to show where Slack shows only plain text (a form's errors):
    entities unescaped, mentions and links as @U1 / @qa / the URL, no *bold* stars."""
    text = _BARE_GROUP.sub(r"@\1", text)
    text = _BOLD.sub(r"\1", _SLACK_MARKUP.sub(_markup_to_plain, text))
    return html.unescape(text)


def clean_plain(text: str, *, multiline: bool = False) -> str:
    text = _BIDI.sub("", text)
    kept = []
    for char in text:
        if char == "\n" and multiline:
            kept.append(char)
        elif char in "\t\n\r":
            kept.append(" ")
        elif unicodedata.category(char) != "Cc":
            kept.append(char)
    return "".join(kept).strip()


def escape(text: str) -> str:
    """Plain text -> mrkdwn that shows it literally: nothing pings, links or injects markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_inline(text: str) -> str:
    """Like `escape`, for text set inside bold/italic/code: formatting characters are
    swapped for look-alikes so they cannot close the surrounding markup."""
    return escape(text).translate(_LOOKALIKES)


_LOOKALIKES = str.maketrans({"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ"})


def truncate(text: str, limit: int, *, marker: str = "…") -> str:
    """Cut text to at most `limit` characters without splitting an escape like &amp; or a
    token like <@U1> or <!date^…>: half of one would show as garbage."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - len(marker), 0)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    token = cut.rfind("<")
    if token != -1 and ">" not in cut[token:] and ">" in text[len(cut) :]:
        cut = cut[:token]
    return cut.rstrip() + marker


def fit_lines(
    lines: list[str], limit: int, *, most: int | None = None, least: int = 24
) -> list[str]:
    """Cut the longest lines first, so that all of them fit in `limit` characters joined by
    newlines, each keeping at least `least` and at most `most` characters. Short lines stay
    whole; when even `least` each does not fit, the lines are cut to `least` regardless."""
    if not lines:
        return []
    room = limit - (len(lines) - 1)
    cap = max(len(line) for line in lines)
    if most is not None:
        cap = min(cap, most)
    lengths = sorted(len(line) for line in lines)
    # The largest cap with sum(min(length, cap)) <= room: every line longer than the cap
    # gets an equal share of what the shorter lines leave.
    for index, length in enumerate(lengths):
        longer = len(lengths) - index
        share = room // longer
        if length > share:
            cap = min(cap, share)
            break
        room -= length
    cap = max(cap, least)
    return [truncate(line, cap) for line in lines]


def join_lines(lines: list[str], limit: int) -> str:
    """Join lines within `limit` characters, saying how many were left out."""
    out: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        remaining = len(lines) - index
        tail = f"\n…and {remaining} more"
        if used + len(line) + 1 + len(tail) > limit and index < len(lines) - 1:
            out.append(f"…and {remaining} more")
            break
        if used + len(line) + 1 > limit:
            out.append(truncate(line, max(limit - used - 1, 1)))
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)
