"""How many Slack Web API calls each lifecycle action makes, driven through Slack's wire.

After a change the bot updates only the messages whose rendering changed and republishes
only the Home tabs that read differently. The tables below are the fewest calls each action
needs, with the reason for each; a count that grows (or shrinks without the table being
corrected) fails. benchmarks/README.md compares these counts with the code before this work.

The release: owner U_OWNER, approvers @pm (U_PM) and the @qa group (U_QA, U_QA2), so a
change involves four Home tabs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from bot.sandbox.slack_standin import Call, FakeSlack
from handlers.slack_kit import ids
from tests.support.harness import OWNER, Harness, ahead, iso

ANNOUNCE = "CANNOUNCE"
APPROVERS = "<@U_PM|pm> <!subteam^S_QA|@qa>"
EVERYONE = {OWNER, "U_PM", "U_QA", "U_QA2"}

# (action, Web API method, fewest calls, why)
MINIMUM: list[tuple[str, str, int, str]] = [
    ("propose", "users.info", 1, "@pm must be an active person, not a bot"),
    ("propose", "usergroups.users.list", 1, "@qa, fresh: its sign-off must not need the owner"),
    ("propose", "conversations.info", 1, "a private channel makes a private release"),
    ("propose", "chat.postMessage", 2, "the card, and the checklist in its thread"),
    ("propose", "chat.getPermalink", 1, "the card's link, for Home and the announcement"),
    ("propose", "views.publish", 4, "the release is new on all four Homes"),
    ("approve", "usergroups.users.list", 1, "fresh: is @pm in @qa too (one click, one sign-off)"),
    ("approve", "chat.update", 2, "card (sign-offs) and checklist (its sign-off count)"),
    ("approve", "chat.postMessage", 1, "the note in the thread"),
    ("approve", "views.publish", 2, "@pm no longer awaited, owner's 'still missing'; @qa's same"),
    ("approve last", "usergroups.users.list", 1, "fresh: U_QA signs for @qa as a member"),
    ("approve last", "chat.update", 2, "card and checklist: every sign-off in, approved"),
    ("approve last", "chat.postMessage", 1, "the note in the thread"),
    ("approve last", "views.publish", 4, "the status on every Home; @qa no longer awaited"),
    ("tick", "chat.update", 1, "the checklist; the card shows no ticks, so it is unchanged"),
    ("tick", "views.publish", 1, "only the owner's Home lists unticked items"),
    ("tick last", "chat.update", 1, "the checklist; the card is unchanged"),
    ("tick last", "views.publish", 1, "the owner's Home: everything is in"),
    ("go", "chat.update", 2, "card and checklist show the decision"),
    ("go", "chat.postMessage", 3, "the note, the announcement, the thread's link to it"),
    ("go", "chat.getPermalink", 1, "the announcement's link for that note"),
    ("go", "views.publish", 4, "the status is on every Home"),
    ("done", "chat.update", 3, "card, checklist and announcement all say released"),
    ("done", "chat.postMessage", 1, "the note in the thread"),
    ("done", "views.publish", 4, "the release leaves every Home"),
    ("advance", "chat.update", 2, "announcement and card (its stage); the checklist is unchanged"),
    ("advance", "chat.postMessage", 1, "the note in the thread"),
    ("advance", "views.publish", 0, "Homes show the status, not the stage"),
    ("advance last", "chat.update", 3, "card, checklist and announcement all say released"),
    ("advance last", "chat.postMessage", 1, "the note in the thread"),
    ("advance last", "views.publish", 4, "the release leaves every Home"),
]

# Which live messages each action rewrites, and whose Home it republishes.
UPDATED: dict[str, set[str]] = {
    "approve": {"card", "checklist"},
    "approve last": {"card", "checklist"},
    "tick": {"checklist"},
    "tick last": {"checklist"},
    "go": {"card", "checklist"},
    "done": {"card", "checklist", "announcement"},
    "advance": {"card", "announcement"},
    "advance last": {"card", "checklist", "announcement"},
}
HOMES: dict[str, set[str]] = {
    "propose": EVERYONE,
    "approve": {OWNER, "U_PM"},
    "approve last": EVERYONE,
    "tick": {OWNER},
    "tick last": {OWNER},
    "go": EVERYONE,
    "done": EVERYONE,
    "advance": set(),
    "advance last": EVERYONE,
}


def minimum(action: str) -> dict[str, int]:
    return {method: n for a, method, n, _ in MINIMUM if a == action and n}


@pytest.fixture
def harness(database_url: str, fake_slack: FakeSlack) -> Iterator[Harness]:
    with Harness(database_url, fake_slack, RELEASEBOT_ANNOUNCE_CHANNEL=ANNOUNCE) as running:
        running.command("help")  # Bolt's one auth.test per process, before anything counts
        yield running


class Counted:
    def __init__(self, harness: Harness, ref: str) -> None:
        self.harness = harness
        self.ref = ref

    def act(self, action: str, do: Callable[[], object]) -> None:
        """Do it, then check its calls against the tables."""
        harness = self.harness
        release = harness.release(self.ref) if action != "propose" else None
        start = len(harness.slack.calls())
        do()
        harness.wait()
        made = harness.slack.calls()[start:]
        counts = dict(Counter(call.method for call in made))
        assert counts == minimum(action), f"{action}: {counts}"
        if release is not None:
            assert self.updated(made) == UPDATED.get(action, set()), action
        published = {call.args["user_id"] for call in made if call.method == "views.publish"}
        assert published == HOMES[action], action

    def updated(self, made: list[Call]) -> set[str]:
        release = self.harness.release(self.ref)
        names = {
            release.message_ts: "card",
            release.checklist_ts: "checklist",
            release.announcement_ts: "announcement",
        }
        return {names[call.args["ts"]] for call in made if call.method == "chat.update"}


def propose_and_approve(harness: Harness, ref: str, extra: str = "") -> Counted:
    service, version = ref.split("@")
    counted = Counted(harness, ref)
    counted.act(
        "propose",
        lambda: harness.command(f"propose {service} {version} {iso(ahead())} {APPROVERS}{extra}"),
    )
    card = lambda: harness.card(harness.release(ref))  # noqa: E731
    counted.act("approve", lambda: harness.click(card(), ids.APPROVE, user_id="U_PM"))
    counted.act("approve last", lambda: harness.click(card(), ids.APPROVE, user_id="U_QA"))
    counted.act("tick", lambda: harness.tick(harness.release(ref), 0))
    for position in (1, 2, 3):
        harness.tick(harness.release(ref), position)
    counted.act("tick last", lambda: harness.tick(harness.release(ref), 4))
    checklist = harness.checklist(harness.release(ref))
    counted.act("go", lambda: harness.click(checklist, ids.GO, user_id=OWNER))
    return counted


def announcement_click(harness: Harness, ref: str, action_id: str) -> Callable[[], object]:
    return lambda: harness.click(
        harness.announcement(harness.release(ref)),
        action_id,
        user_id=OWNER,
        channel_id=ANNOUNCE,
    )


def test_big_bang_release_makes_the_fewest_calls(harness: Harness) -> None:
    ref = "payments@2.4.0"
    counted = propose_and_approve(harness, ref)
    counted.act("done", announcement_click(harness, ref, ids.MARK_RELEASED))


def test_phased_rollout_makes_the_fewest_calls(harness: Harness) -> None:
    ref = "search@1.0.0"
    counted = propose_and_approve(harness, ref, " phased 10,50,100")
    counted.act("advance", announcement_click(harness, ref, ids.ADVANCE))
    counted.act("advance last", announcement_click(harness, ref, ids.ADVANCE))


def test_opening_home_publishes_it_even_when_unchanged(harness: Harness) -> None:
    """The digest spares publishes after changes only: opening the tab shows it afresh
    (another process may have published something else since)."""
    propose_and_approve(harness, "payments@2.4.0")
    before = len(harness.slack.calls("views.publish"))
    harness.client.app_home_opened("U_PM")
    harness.wait()
    assert len(harness.slack.calls("views.publish")) == before + 1


def test_a_group_member_ticking_asks_slack_once(harness: Harness) -> None:
    """Only someone whose right to tick comes from a group costs a membership lookup."""
    ref = "payments@2.4.0"
    harness.command(f"propose payments 2.4.0 {iso(ahead())} {APPROVERS}")
    start = len(harness.slack.calls("usergroups.users.list"))
    harness.tick(harness.release(ref), 0, user_id="U_PM")
    assert len(harness.slack.calls("usergroups.users.list")) == start
    harness.tick(harness.release(ref), 1, user_id="U_QA2")
    assert len(harness.slack.calls("usergroups.users.list")) == start + 1
