"""Every move toward production (go, advance, mark released) is held by a freeze covering
the release, whichever way it is asked, until a release manager overrides that freeze for
that release, whatever step the release is at. The clock is pinned: freezes depend on now."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.sandbox.slack_standin import FakeSlack
from handlers.slack_kit import ids
from models.freezes import FreezeOverride
from models.release.production import ProductionRecord
from models.release.records import ReleaseStatus
from tests.support.harness import CHANNEL, OWNER, Harness, iso, rendered_text

PM = "U_PM"
ESCALATION = "CESCALATE1"
ANNOUNCE = "CANNOUNCE"
NOW = datetime(2027, 3, 10, 9, 0, tzinfo=UTC)  # a Wednesday
UNTIL = NOW + timedelta(days=2)


@pytest.fixture
def harness(database_url: str, fake_slack: FakeSlack) -> Iterator[Harness]:
    with Harness(
        database_url,
        fake_slack,
        RELEASEBOT_RELEASE_MANAGERS=PM,
        RELEASEBOT_ESCALATION_CHANNEL=ESCALATION,
        RELEASEBOT_ANNOUNCE_CHANNEL=ANNOUNCE,
    ) as running:
        running.clock.pin(NOW)
        yield running


def said(harness: Harness, text: str, user_id: str = OWNER) -> str:
    return harness.private_reply(harness.command(text, user_id=user_id))


def going(harness: Harness, ref: str, extra: str = "") -> None:
    """Proposed, every item ticked, and go given before any freeze."""
    service, version = ref.split("@")
    harness.command(f"propose {service} {version} {iso(NOW + timedelta(days=1))} {extra}")
    for position in range(5):
        harness.tick(harness.release(ref), position)
    harness.command(f"go {ref}")
    assert harness.release(ref).state in (ReleaseStatus.GO, ReleaseStatus.ROLLING_OUT)


def freeze(harness: Harness, service: str = "payments") -> None:
    said(harness, f'freeze add "Incident" now to {iso(UNTIL)} service {service}', PM)


def production_records(harness: Harness) -> list[ProductionRecord]:
    with harness.session() as session:
        return list(session.exec(select(ProductionRecord)))


def overrides(harness: Harness) -> list[FreezeOverride]:
    with harness.session() as session:
        return list(session.exec(select(FreezeOverride)))


def refusal_blocks(harness: Harness, user_id: str) -> str:
    """The blocks of the last private answer to `user_id` in the channel."""
    blocks = harness.slack.ephemerals(CHANNEL, user_id)[-1]["message"]["blocks"]
    return json.dumps(blocks, ensure_ascii=False)


def test_done_is_held_by_a_freeze_until_a_manager_overrides_it(harness: Harness) -> None:
    going(harness, "payments@2.4.0", "phased 10,50,100")
    freeze(harness)
    refused = said(harness, "done payments@2.4.0")
    assert "Can't mark payments@2.4.0 as released: the freeze “Incident”" in refused
    assert "`/release done payments@2.4.0 override: &lt;reason&gt;`" in refused
    release = harness.release("payments@2.4.0")
    assert (release.status, release.current_percentage) == (ReleaseStatus.ROLLING_OUT, 10)
    assert production_records(harness) == []

    # A manager's `done` is held too, until they override the freeze for this release.
    assert "the freeze “Incident”" in said(harness, "done payments@2.4.0", PM)
    harness.command("done payments@2.4.0 override: the fix must reach everyone", user_id=PM)
    assert harness.release("payments@2.4.0").status == ReleaseStatus.RELEASED
    [record] = production_records(harness)
    assert (record.version, record.released_by) == ("2.4.0", PM)
    [escalated] = harness.slack.messages(ESCALATION)
    assert "overrode the freeze “Incident”" in rendered_text(escalated)


def test_the_mark_released_button_is_held_and_its_override_button_releases(
    harness: Harness,
) -> None:
    going(harness, "payments@2.4.0")  # big-bang: go, not released yet
    freeze(harness)
    announcement = harness.announcement(harness.release("payments@2.4.0"))
    url = harness.slack.new_response_url(channel_id=CHANNEL, user_id=PM)
    harness.click(announcement, ids.MARK_RELEASED, user_id=PM, response_url=url)
    assert harness.release("payments@2.4.0").status == ReleaseStatus.GO
    refusal = harness.slack.ephemerals(CHANNEL, PM)[-1]["message"]
    assert "Can't mark payments@2.4.0 as released" in rendered_text(refusal)
    harness.click(refusal, ids.OVERRIDE_FREEZE, user_id=PM, is_ephemeral=True)
    harness.submit_modal(ids.OVERRIDE_FREEZE_FORM, user_id=PM, reason="Payment outage fix")
    assert harness.release("payments@2.4.0").status == ReleaseStatus.RELEASED
    assert [o.reason for o in overrides(harness)] == ["Payment outage fix"]


def test_a_release_already_go_when_a_freeze_began_can_be_overridden(harness: Harness) -> None:
    going(harness, "payments@2.4.0")  # big-bang, go
    going(harness, "payments@2.5.0")
    freeze(harness)

    harness.command("go payments@2.4.0 override: security fix", user_id=PM)
    release = harness.release("payments@2.4.0")
    assert release.status == ReleaseStatus.GO  # the override alone: the go was given
    [override] = overrides(harness)
    assert (override.release_id, override.by, override.reason) == (release.id, PM, "security fix")
    assert any("overridden by <@U_PM>" in reply for reply in harness.thread(release))
    assert len(harness.slack.messages(ESCALATION)) == 1
    harness.command("done payments@2.4.0")  # the owner's step goes through now
    assert harness.release("payments@2.4.0").status == ReleaseStatus.RELEASED

    # `advance … override:` of a big-bang release is the same override.
    harness.command("advance payments@2.5.0 override: same fix", user_id=PM)
    assert harness.release("payments@2.5.0").status == ReleaseStatus.GO
    assert len(overrides(harness)) == 2
    # Nothing holds it any more: said so, nothing recorded.
    refused = said(harness, "go payments@2.5.0 override: again", PM)
    assert "payments@2.5.0" in refused and "no freeze" in refused.lower()
    assert len(overrides(harness)) == 2


def test_the_override_button_is_offered_to_release_managers_only(harness: Harness) -> None:
    harness.command(f"propose payments 2.4.0 {iso(NOW + timedelta(days=1))}")
    for position in range(5):
        harness.tick(harness.release("payments@2.4.0"), position)
    freeze(harness)
    owner_url = harness.slack.new_response_url(channel_id=CHANNEL, user_id=OWNER)
    harness.command("go payments@2.4.0", response_url=owner_url)
    owner_sees = refusal_blocks(harness, OWNER)
    assert "the freeze “Incident”" in owner_sees
    assert ids.OVERRIDE_FREEZE not in owner_sees
    pm_url = harness.slack.new_response_url(channel_id=CHANNEL, user_id=PM)
    harness.command("go payments@2.4.0", user_id=PM, response_url=pm_url)
    assert ids.OVERRIDE_FREEZE in refusal_blocks(harness, PM)

    # An owner who is a release manager is offered it on their own release.
    harness.command(f"managers add <@{OWNER}>", user_id=PM)
    owner_url = harness.slack.new_response_url(channel_id=CHANNEL, user_id=OWNER)
    harness.command("go payments@2.4.0", response_url=owner_url)
    assert ids.OVERRIDE_FREEZE in refusal_blocks(harness, OWNER)
