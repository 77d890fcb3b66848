"""What our messages and forms carry back to us, without HTTP: handlers/slack/payloads.py."""

from __future__ import annotations

import json

import pytest

from handlers.slack_kit.payloads import (
    STALE_BUTTON,
    STALE_FORM,
    ChecklistBlock,
    FormMetadata,
    ListPage,
    ReleaseButton,
)
from handlers.slack_kit.refused import Refused
from models.release.records import new_uid

UID = "AbC-12_xyz9Q"
HOOKS = "https://hooks.slack.com/"


def test_uids_the_bot_makes_fit_every_payload() -> None:
    for _ in range(50):
        uid = new_uid()
        assert ReleaseButton.parse(ReleaseButton(release=uid).encode()).release == uid
        assert ChecklistBlock.parse(ChecklistBlock(release=uid, start=0).encode()).release == uid
        assert FormMetadata.parse(FormMetadata(release=uid).encode()).release == uid


# --- ReleaseButton ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "button, encoded",
    [
        (ReleaseButton(release=UID), UID),
        (ReleaseButton(release=UID, stage=1), f"{UID}:1"),
        (ReleaseButton(release=UID, stage=100), f"{UID}:100"),
        (ReleaseButton(release="a" * 32, stage=50), f"{'a' * 32}:50"),
    ],
)
def test_a_release_button_round_trips(button: ReleaseButton, encoded: str) -> None:
    assert button.encode() == encoded
    assert ReleaseButton.parse(encoded) == button


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        42,
        "short",  # under 8 characters
        "a" * 33,  # over 32
        "AbC/12.xyz9Q",  # characters a uid never has
        f"{UID}\n",
        f"{UID}:0",  # stages are 1..100
        f"{UID}:101",
        f"{UID}:-1",
        f"{UID}:x",
        f"{UID}:1:2",
        f"{UID}:",  # written only with a stage
        f"{UID}: 3",  # int() is lenient; the value we wrote is not
        f"{UID}:+3",
        f"{UID}:03",
        f"{UID}:1_0",
        f"{UID}:\u0663",  # an Arabic-Indic three
        f"{UID}:" + "9" * 5000,
    ],
)
def test_a_forged_or_garbled_button_is_out_of_date(value: object) -> None:
    with pytest.raises(Refused) as caught:
        ReleaseButton.parse(value)
    assert caught.value.message == STALE_BUTTON
    assert caught.value.field is None


def test_a_release_button_is_frozen_and_strict() -> None:
    button = ReleaseButton(release=UID)
    with pytest.raises(ValueError):
        button.stage = 3  # type: ignore[misc]
    with pytest.raises(ValueError):
        ReleaseButton(release=UID, colour="red")  # type: ignore[call-arg]


# --- ChecklistBlock -----------------------------------------------------------------------


@pytest.mark.parametrize("start", [0, 1, 10, 29])
def test_a_checklist_block_round_trips(start: int) -> None:
    block = ChecklistBlock(release=UID, start=start)
    assert block.encode() == f"checklist:{UID}:{start}"
    assert ChecklistBlock.parse(block.encode()) == block


@pytest.mark.parametrize(
    "block_id",
    [
        None,
        "",
        "checklist",
        f"checklist:{UID}",
        f"checklist:{UID}:",
        f"checklist:{UID}:-1",
        f"checklist:{UID}:one",
        f"checklist:{UID}:1:extra",
        f"checklist:{UID}:01",
        f"Checklist:{UID}:0",
        f"other:{UID}:0",
        "checklist:short:0",
        f"checklist:{UID}/x:0",
    ],
)
def test_a_forged_or_garbled_checklist_block_is_out_of_date(block_id: object) -> None:
    with pytest.raises(Refused) as caught:
        ChecklistBlock.parse(block_id)
    assert caught.value.message == "That checklist is out of date: open the release again."


# --- ListPage -----------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [0, 10, 100_000])
def test_a_list_page_round_trips(offset: int) -> None:
    assert ListPage(offset=offset).encode() == str(offset)
    assert ListPage.parse(str(offset)) == ListPage(offset=offset)


@pytest.mark.parametrize(
    "value", [None, "", "-1", "100001", "ten", "1e3", "1.0", " 5 ", "05", "+5", 7.5]
)
def test_a_forged_or_garbled_list_page_is_out_of_date(value: object) -> None:
    with pytest.raises(Refused) as caught:
        ListPage.parse(value)
    assert caught.value.message == STALE_BUTTON


# --- FormMetadata -------------------------------------------------------------------------


def test_form_metadata_round_trips_without_empty_fields() -> None:
    full = FormMetadata(release=UID, channel_id="C0123", response_url=f"{HOOKS}commands/T/1/x")
    assert json.loads(full.encode()) == {
        "release": UID,
        "channel_id": "C0123",
        "response_url": f"{HOOKS}commands/T/1/x",
    }
    assert FormMetadata.parse(full.encode()) == full
    assert FormMetadata().encode() == "{}"
    assert FormMetadata.parse(FormMetadata(channel_id="D1").encode()) == FormMetadata(
        channel_id="D1"
    )


@pytest.mark.parametrize("text", [None, "", "{}"])
def test_no_metadata_reads_as_empty(text: object) -> None:
    assert FormMetadata.parse(text) == FormMetadata()


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '"a string"',
        json.dumps({"release": "short"}),
        json.dumps({"release": 12345678}),
        json.dumps({"release": UID, "owner": "U1"}),  # nothing unexpected is let through
        json.dumps({"channel_id": "C" * 33}),
        json.dumps({"response_url": HOOKS + "x" * 500}),
        json.dumps({"release": UID})[:-2],
    ],
)
def test_forged_or_garbled_metadata_is_out_of_date(text: str) -> None:
    with pytest.raises(Refused) as caught:
        FormMetadata.parse(text)
    assert caught.value.message == STALE_FORM


def test_a_form_that_must_name_a_release() -> None:
    assert FormMetadata(release=UID).require_release() == UID
    with pytest.raises(Refused) as caught:
        FormMetadata(channel_id="C1").require_release()
    assert caught.value.message == STALE_FORM


@pytest.mark.parametrize(
    "url, trusted",
    [
        (f"{HOOKS}commands/T1/2/abc", True),
        (f"{HOOKS}actions/T1/2/abc", True),
        ("https://hooks.slack.com.evil.example/commands/x", False),
        ("https://hooks.slack.com@evil.example/commands/x", False),
        ("http://hooks.slack.com/commands/x", False),
        ("https://evil.example/?https://hooks.slack.com/", False),
        ("https://slack.com/api/chat.postMessage", False),
        ("", False),
        (None, False),
    ],
)
def test_only_a_response_url_on_slacks_hooks_host_is_used(url: str | None, trusted: bool) -> None:
    metadata = FormMetadata(response_url=url)
    assert metadata.trusted_response_url(HOOKS) == (url if trusted else None)


def test_the_trusted_prefix_is_the_configured_one() -> None:
    local = "http://127.0.0.1:8765/hooks/"
    metadata = FormMetadata(response_url=f"{local}commands/1")
    assert metadata.trusted_response_url(local) == f"{local}commands/1"
    assert metadata.trusted_response_url(HOOKS) is None
