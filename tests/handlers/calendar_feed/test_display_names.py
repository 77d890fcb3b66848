"""Display names for the calendar page: asked of Slack once per person, then kept."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from handlers.calendar_feed.display_names import DisplayNames

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Directory:
    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self.asked: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, user_id: str) -> str | None:
        with self._lock:
            self.asked.append(user_id)
        return self.names.get(user_id)


def test_each_person_is_asked_once_while_their_name_is_kept() -> None:
    slack = Directory({"U1": "Ada", "U2": "Bob"})
    names = DisplayNames(slack, ttl=timedelta(hours=6))
    assert names.names("T1", ["U1", "U2", "U1"], NOW) == {"U1": "Ada", "U2": "Bob"}
    assert sorted(slack.asked) == ["U1", "U2"]
    assert names.names("T1", ["U2", "U1"], NOW + timedelta(hours=5)) == {"U1": "Ada", "U2": "Bob"}
    assert len(slack.asked) == 2
    # Another workspace's U1 is another person.
    names.names("T2", ["U1"], NOW)
    assert len(slack.asked) == 3
    # Once kept long enough, asked again (a renamed person shows their new name).
    slack.names["U1"] = "Ada L."
    assert names.names("T1", ["U1"], NOW + timedelta(hours=6))["U1"] == "Ada L."


def test_unknown_people_show_as_their_id_and_are_asked_again_sooner() -> None:
    slack = Directory({})
    names = DisplayNames(slack, unanswered_ttl=timedelta(minutes=5))
    assert names.names("T1", ["U9"], NOW) == {"U9": "U9"}
    names.names("T1", ["U9"], NOW + timedelta(minutes=4))
    assert slack.asked == ["U9"]
    names.names("T1", ["U9"], NOW + timedelta(minutes=5))
    assert slack.asked == ["U9", "U9"]


def test_one_page_load_asks_about_a_bounded_number_of_people() -> None:
    people = [f"U{i}" for i in range(25)]
    slack = Directory({p: p.lower() for p in people})
    names = DisplayNames(slack, max_asks=10)
    first = names.names("T1", people, NOW)
    assert len(slack.asked) == 10
    assert sum(1 for p in people if first[p] == p.lower()) == 10
    assert all(first[p] == p for p in people[10:])  # named on a later load
    names.names("T1", people, NOW)
    names.names("T1", people, NOW)
    assert len(slack.asked) == 25
    assert names.names("T1", people, NOW) == {p: p.lower() for p in people}
