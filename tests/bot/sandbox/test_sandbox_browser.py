"""A release clicked through in the sandbox's page, in headless Chromium, person by person."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.sandbox.workspace import Sandbox
from models import fields
from tests.support.browser import screenshot
from tests.support.waiting import wait_until

ADA, BEN, CHIE, DORA = "U0ADA", "U0BEN", "U0CHIE", "U0DORA"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    running = Sandbox(port=0).start()
    yield running
    running.stop()


def be(page: Any, user: str) -> None:
    page.select_option("#person", user)
    page.wait_for_function(
        "user => document.getElementById('person-info').textContent.includes("
        "document.querySelector(`#person option[value=${user}]`).textContent.split(' (')[0])",
        arg=user,
    )


def confirm(page: Any, name: str) -> None:
    dialog = page.get_by_role("alertdialog")
    dialog.get_by_role("button", name=name, exact=True).click()


@pytest.mark.browser
def test_a_release_from_proposal_to_released(sandbox: Sandbox, browser_page: Any) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.goto(sandbox.url)
    expect(page.locator("#title")).to_have_text("#releases")
    assert sandbox.slack.calls() == []  # nothing happened before anyone acted

    # Ada proposes payments 2.4.0 by the form, phased 10% → 50% → 100%, Ben to sign off.
    page.fill("#composer-input", "/release propose")
    page.press("#composer-input", "Enter")
    form = page.get_by_role("dialog", name="Propose a release")
    expect(form).to_be_visible()
    when = (datetime.now(UTC) + timedelta(days=2)).astimezone(ZoneInfo("Africa/Lagos"))
    form.get_by_label("Service").fill("payments")
    form.get_by_label("Version").fill("2.4.0")
    form.locator(f'[data-input-block="{fields.FIELD_WHEN}"] input[type=date]').fill(
        when.strftime("%Y-%m-%d")
    )
    form.locator(f'[data-input-block="{fields.FIELD_WHEN}"] input[type=time]').fill("14:00")
    approvers = form.get_by_role("group", name="Approvers")
    approvers.get_by_role("checkbox", name="Ben Carter").check()
    form.get_by_label("Phased rollout").fill("50,10")
    form.get_by_role("button", name="Propose").click()
    # The bot's answer: an error under the input, the form still open with what was typed.
    error = form.locator(f'[data-error-for="{fields.FIELD_ROLLOUT}"]')
    expect(error).not_to_be_empty()
    expect(form.get_by_label("Service")).to_have_value("payments")
    expect(approvers.get_by_role("checkbox", name="Ben Carter")).to_be_checked()
    screenshot(page, "sandbox-1-form-error")
    form.get_by_label("Phased rollout").fill("10,50,100")
    form.get_by_role("button", name="Propose").click()
    expect(form).to_be_hidden()

    card = page.locator("article.message", has_text="Release payments@2.4.0").first
    expect(card).to_contain_text("@Ben Carter pending")
    checklist = page.locator("article.message", has_text="Go/no-go checklist").first
    expect(checklist).to_contain_text("0/5 items done")
    # <!date^…> in Ada's own time zone: 14:00 in Lagos.
    expect(card.locator("time.date").first).to_contain_text("2:00 PM")
    screenshot(page, "sandbox-2-proposed")

    # Chie (Tokyo) sees the same card with the time in her zone; she is no approver, and
    # her click is refused to her alone.
    be(page, CHIE)
    expect(card.locator("time.date").first).to_contain_text("10:00 PM")
    card.get_by_role("button", name="Approve", exact=True).click()
    confirm(page, "Approve")
    refusal = page.locator("article.ephemeral")
    expect(refusal).to_contain_text("can sign off")
    expect(refusal).to_contain_text("Only visible to you")
    screenshot(page, "sandbox-3-refused")

    # Ben doesn't see Chie's refusal, nor #launch-team, which he isn't in; he signs off
    # through the confirm dialog.
    be(page, BEN)
    expect(page.locator("article.ephemeral")).to_have_count(0)
    expect(page.get_by_role("button", name="launch-team (private)")).to_have_count(0)
    card.get_by_role("button", name="Approve", exact=True).click()
    expect(page.get_by_role("alertdialog")).to_contain_text("Sign off this release?")
    confirm(page, "Approve")
    expect(card).to_contain_text("@Ben Carter approved")
    expect(page.locator(".thread")).to_contain_text("Every sign-off is in")
    screenshot(page, "sandbox-4-approved")

    # Ada ticks the checklist and gives the go.
    be(page, ADA)
    for position in range(1, 6):
        checklist.get_by_role("checkbox").nth(position - 1).check()
        expect(checklist).to_contain_text(f"{position}/5 items done")
    checklist.get_by_role("button", name="Go", exact=True).click()
    confirm(page, "Go")
    # The announcement makes #announcements bold in the sidebar until Ada looks.
    elsewhere = page.get_by_role("button", name="# announcements")
    expect(elsewhere).to_have_class("unread")
    elsewhere.click()
    expect(elsewhere).not_to_have_class("unread")
    announcement = page.locator("article.message", has_text="payments").first
    expect(announcement).to_contain_text("10%")
    screenshot(page, "sandbox-5-rolling-out")

    # Dora sees the announcement too, but may not move the rollout on: only Ada.
    be(page, DORA)
    expect(announcement).to_contain_text("10%")
    for stage in ("50", "100"):
        be(page, ADA)
        announcement.get_by_role("button", name=f"Advance to {stage}%").click()
        confirm(page, "Advance")
    expect(announcement).to_contain_text("is released")
    be(page, DORA)
    expect(announcement).to_contain_text("is released")
    page.get_by_role("button", name="# releases").click()
    expect(card).to_contain_text("Released")
    screenshot(page, "sandbox-6-released")

    # Nothing the bot sent was refused by the stand-in (as Slack would have).
    expect(page.locator("#refusals")).to_be_hidden()
    assert not [str(c) for c in sandbox.slack.calls() if c.refused]


def showcase(when: int) -> list[dict[str, Any]]:
    """A message with every kind of block and element the page draws, and hostile text."""

    def option(text: str, value: str) -> dict[str, Any]:
        return {"text": {"type": "plain_text", "text": text}, "value": value}

    return [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": "<script>window.pwned=1</script>"},
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": (
                    f"*bold* _slanted_ `a code` <https://example.com/x?a=1&amp;b=2|a link> "
                    f"<javascript:alert(1)|not a link> <@U0BEN> <!subteam^S0QA> "
                    f"<!date^{when}^{{date_num}} {{time}}|fallback> "
                    "&lt;img src=x onerror=alert(1)&gt; :rocket:"
                ),
            },
            "fields": [
                {"type": "mrkdwn", "text": "*Field one*\nfirst"},
                {"type": "plain_text", "text": "*not bold*"},
            ],
            "accessory": {
                "type": "static_select",
                "action_id": "showcase_pick",
                "placeholder": {"type": "plain_text", "text": "Pick one"},
                "options": [option("Alpha", "a"), option("Beta", "b")],
            },
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "context *line*"}]},
        {"type": "divider"},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "showcase_danger",
                    "style": "danger",
                    "text": {"type": "plain_text", "text": "Drop it"},
                    "confirm": {
                        "title": {"type": "plain_text", "text": "Really drop?"},
                        "text": {"type": "mrkdwn", "text": "It *cannot* be undone."},
                        "confirm": {"type": "plain_text", "text": "Drop"},
                        "deny": {"type": "plain_text", "text": "Keep it"},
                    },
                },
                {
                    "type": "checkboxes",
                    "action_id": "showcase_boxes",
                    "options": [option("One", "1"), option("Two", "2")],
                    "initial_options": [option("Two", "2")],
                },
                {"type": "datepicker", "action_id": "showcase_date", "initial_date": "2026-12-24"},
                {"type": "timepicker", "action_id": "showcase_time", "initial_time": "09:30"},
                {
                    "type": "radio_buttons",
                    "action_id": "showcase_radio",
                    "options": [option("Left", "l"), option("Right", "r")],
                },
            ],
        },
    ]


@pytest.mark.browser
def test_block_kit_is_drawn_as_slack_draws_it_and_nothing_runs(
    sandbox: Sandbox, browser_page: Any
) -> None:
    from playwright.sync_api import expect
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    when = int(datetime(2026, 12, 24, 12, 0, tzinfo=UTC).timestamp())
    web = WebClient(token=sandbox.slack.token, base_url=sandbox.slack.api_url)
    web.chat_postMessage(channel="C0ANNOUNCE", text="showcase", blocks=showcase(when))
    with pytest.raises(SlackApiError):  # a header Slack refuses: too long
        web.chat_postMessage(
            channel="C0ANNOUNCE",
            text="refused",
            blocks=[{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}],
        )

    page = browser_page
    page.goto(sandbox.url + "?as=U0ADA")
    page.get_by_role("button", name="# announcements").click()
    message = page.locator("article.message", has_text="bold").first
    expect(message.locator("h3")).to_have_text("<script>window.pwned=1</script>")
    expect(message.locator("b").first).to_have_text("bold")
    expect(message.locator("i").first).to_have_text("slanted")
    expect(message.locator("code").first).to_have_text("a code")
    link = message.get_by_role("link", name="a link")
    expect(link).to_have_attribute("href", "https://example.com/x?a=1&b=2")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(message.get_by_role("link", name="not a link")).to_have_count(0)
    expect(message).to_contain_text("@Ben Carter")
    expect(message).to_contain_text("@qa")
    expect(message).to_contain_text("<img src=x onerror=alert(1)>")
    expect(message).to_contain_text("🚀")
    expect(message.locator(".fields")).to_contain_text("*not bold*")
    expect(message.locator(".context b")).to_have_text("line")
    expect(message.locator("hr.divider")).to_have_count(1)
    expect(message.get_by_role("combobox", name="Pick one")).to_be_visible()
    expect(message.get_by_role("checkbox", name="Two")).to_be_checked()
    expect(message.get_by_role("checkbox", name="One")).not_to_be_checked()
    expect(message.get_by_role("radio", name="Left")).to_be_visible()
    expect(message.locator('input[type="date"]')).to_have_value("2026-12-24")
    expect(message.locator('input[type="time"]')).to_have_value("09:30")
    # Noon UTC on Christmas Eve is 1 PM in Lagos, 9 PM in Tokyo.
    expect(message.locator("time.date")).to_have_text("2026-12-24 1:00 PM")
    be(page, CHIE)
    expect(message.locator("time.date")).to_have_text("2026-12-24 9:00 PM")

    # A confirm dialog: keeping it sends nothing.
    calls = len(sandbox.slack.calls())
    message.get_by_role("button", name="Drop it").click()
    dialog = page.get_by_role("alertdialog", name="Really drop?")
    expect(dialog).to_contain_text("It cannot be undone.")
    expect(dialog.locator("b")).to_have_text("cannot")
    dialog.get_by_role("button", name="Keep it").click()
    expect(dialog).to_be_hidden()
    assert len(sandbox.slack.calls()) == calls

    # A click is not lost when another message arrives between pressing and releasing the
    # button: unchanged messages keep their nodes when the page redraws.
    box = message.get_by_role("button", name="Drop it").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    web.chat_postMessage(channel="C0ANNOUNCE", text="arrived mid-click")
    expect(page.locator("article.message", has_text="arrived mid-click")).to_be_visible()
    page.mouse.up()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Keep it").click()
    expect(dialog).to_be_hidden()

    # Picking, ticking and dating send what Slack sends (the bot has no listener for these
    # made-up action ids, and acks them).
    def sent(action_id: str) -> dict[str, Any]:
        def last() -> dict[str, Any] | None:
            payload = sandbox.signer.last_payload if sandbox.signer else None
            actions = (payload or {}).get("actions") or [{}]
            return actions[0] if actions[0].get("action_id") == action_id else None

        return wait_until(last, what=f"the {action_id} action to reach the bot")

    message.get_by_role("combobox", name="Pick one").select_option("b")
    assert sent("showcase_pick")["selected_option"]["value"] == "b"
    message.get_by_role("checkbox", name="One").check()
    picked = sent("showcase_boxes")["selected_options"]
    assert sorted(o["value"] for o in picked) == ["1", "2"]
    message.locator('input[type="date"]').fill("2027-01-02")
    assert sent("showcase_date")["selected_date"] == "2027-01-02"

    # What Slack refused is shown in red.
    refusals = page.locator("#refusals")
    expect(refusals).to_be_visible()
    expect(refusals).to_contain_text("chat.postMessage in announcements: invalid_blocks")
    expect(refusals.locator(".refusal").first).to_have_css("color", "rgb(163, 19, 63)")
    assert page.evaluate("() => window.pwned") is None
    screenshot(page, "sandbox-block-kit")

    # What happens elsewhere reaches the open page without a reload (server-sent events).
    web.chat_postMessage(channel="C0ANNOUNCE", text="news from *elsewhere*")
    expect(page.locator("article.message", has_text="news from elsewhere")).to_be_visible()

    # The Home tab, published by the bot when the person opens it.
    page.get_by_role("button", name="releasebot · Home").click()
    expect(page.locator("#timeline")).to_contain_text("Your releases")
    screenshot(page, "sandbox-home")
