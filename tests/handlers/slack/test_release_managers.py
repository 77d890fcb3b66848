"""Release managers: who they are, who may change that, and acting on others' releases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import select

from bot.sandbox.slack_standin import FakeSlack
from handlers.slack_kit import ids
from models.audit import AuditEvent
from models.release.records import ReleaseStatus
from models.roles import ReleaseManager
from tests.support.harness import Harness, ahead, iso, rendered_text


@pytest.fixture
def harness(database_url: str, fake_slack: FakeSlack) -> Iterator[Harness]:
    with Harness(database_url, fake_slack, RELEASEBOT_RELEASE_MANAGERS="U_PM,S_QA") as running:
        yield running


def said(harness: Harness, text: str, user_id: str) -> str:
    harness.command(text, user_id=user_id)
    posts = harness.slack.calls("response_url")
    assert posts, "nothing was said"
    return rendered_text(posts[-1].args)


def added(harness: Harness) -> set[str]:
    with harness.session() as session:
        return {m.slack_id for m in session.exec(select(ReleaseManager))}


def test_the_list_says_where_each_manager_comes_from(harness: Harness) -> None:
    text = said(harness, "managers", "U_OTHER")
    assert "<@U_PM> — from the bot's settings" in text
    assert "<!subteam^S_QA> — from the bot's settings" in text
    assert "Workspace admins and owners are release managers too" in text


def test_only_managers_change_the_managers(harness: Harness) -> None:
    refused = said(harness, "managers add <@U_SEC|sec>", "U_OTHER")
    assert "Only release managers can" in refused
    assert added(harness) == set()

    done = said(harness, "managers add <@U_SEC|sec>", "U_PM")
    assert "<@U_SEC> can now act as release managers" in done
    assert added(harness) == {"U_SEC"}
    again = said(harness, "managers add <@U_SEC|sec>", "U_QA2")  # a member of S_QA
    assert "already were" in again
    # The one added may now add others, and the change is audited under their names.
    said(harness, "managers add <@U_OTHER|other>", "U_SEC")
    with harness.session() as session:
        events = [(e.actor_id, e.action) for e in session.exec(select(AuditEvent))]
    assert ("U_PM", "manager_added") in events and ("U_SEC", "manager_added") in events

    said(harness, "managers remove <@U_SEC|sec>", "U_OTHER")
    assert added(harness) == {"U_OTHER"}
    kept = said(harness, "managers remove <@U_PM|pm>", "U_OTHER")
    assert "is not a release manager added" in kept  # settings' managers stay


def test_a_workspace_admin_is_a_manager(harness: Harness) -> None:
    harness.slack.add_user("U_ADMIN", "admin", is_admin=True)
    assert "can now act" in said(harness, "managers add <@U_SEC|sec>", "U_ADMIN")


def test_bad_names_are_refused_with_the_usage(harness: Harness) -> None:
    bob = harness.private_reply(harness.command("managers add bob", user_id="U_PM"))
    assert "not a person or a user group" in bob
    promote = harness.command("managers promote <@U_SEC|sec>", user_id="U_PM")
    assert "Use `add` or `remove`" in harness.private_reply(promote)
    assert added(harness) == set()


def test_a_manager_acts_on_a_release_as_its_owner_would_but_does_not_edit_it(
    harness: Harness,
) -> None:
    harness.command(f"propose payments 2.4.0 {iso(ahead())}")
    release = harness.release("payments@2.4.0")
    for position in range(5):
        harness.tick(release, position)

    harness.click(harness.checklist(release), ids.GO, user_id="U_OTHER")
    assert harness.release("payments@2.4.0").status == ReleaseStatus.APPROVED
    harness.click(harness.card(release), ids.EDIT, user_id="U_PM")
    assert harness.slack.views(ids.EDIT_FORM) == []

    harness.click(harness.checklist(release), ids.GO, user_id="U_PM")
    release = harness.release("payments@2.4.0")
    assert release.status == ReleaseStatus.GO
    with harness.session() as session:
        go = session.exec(select(AuditEvent).where(AuditEvent.action == "go")).one()
    assert go.actor_id == "U_PM"
    harness.command("rollback payments@2.4.0 broke checkout", user_id="U_QA")  # S_QA member
    assert harness.release("payments@2.4.0").status == ReleaseStatus.ROLLED_BACK
