"""Every refusal the domain can raise has words, and those words never show what a
person typed as markup. Pure: no database, no Slack."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from handlers.rendering.refusals import WORDINGS, describe, phrase, text_for
from handlers.slack.error_replies import form_error, message_for
from handlers.slack_kit.refused import Refused
from models.errors import (
    Code,
    Conflict,
    DomainError,
    InvalidInput,
    InvalidTransition,
    NotAllowed,
    NotFound,
)
from models.policy import Key, Scope
from models.release.proposing import ApproverSpec
from models.release.records import ApproverKind, ReleaseStatus
from models.release.rules import Activity, allows

MODELS = Path(__file__).resolve().parents[3] / "models"

# What a person might type: a ping, a link, markup, an entity.
EVIL = "<!channel> <@U_EVIL> <https://evil.example|click> *bold* &amp; & x>y"
BOB = ApproverSpec("U_BOB")
QA = ApproverSpec("S_QA", ApproverKind.USERGROUP, "qa")

# Data for every code, user text everywhere a person could have typed it. A new code
# needs a sample here (the test below fails until it has one).
SAMPLES: dict[Code, dict[str, Any]] = {
    Code.RELEASE_GONE: {},
    Code.NO_RELEASE: {"ref": EVIL},
    Code.NO_OPEN_RELEASE: {"service": EVIL},
    Code.SEVERAL_OPEN: {"service": EVIL, "refs": (EVIL + "@1", EVIL + "@2")},
    Code.NOT_OWNER: {"ref": EVIL, "owner_id": "U_OWNER", "action": Activity.ROLL_BACK},
    Code.NOT_MANAGER: {"what": "change the policy"},
    Code.NOT_A_MANAGER: {"manager": "U_SEC"},
    Code.NO_SIGN_OFF_NEEDED: {"ref": EVIL},
    Code.OWN_RELEASE: {"ref": EVIL, "approvers": (BOB, QA)},
    Code.NOT_APPROVER: {"ref": EVIL, "approvers": (BOB, QA)},
    Code.SIGNED_BY_OTHERS: {"ref": EVIL, "approvers": (QA,)},
    Code.NOT_CHECKLIST_KEEPER: {"ref": EVIL, "owner_id": "U_OWNER"},
    Code.MISSING_FOR_GO: {"ref": EVIL, "missing": (BOB, QA, EVIL)},
    Code.BAD_STATE: {
        "ref": EVIL,
        "action": Activity.CANCEL,
        "state": ReleaseStatus.GO,
        "owner_id": "U_OWNER",
    },
    Code.SERVICE_INVALID: {"value": EVIL},
    Code.VERSION_INVALID: {"value": EVIL},
    Code.WHEN_NO_ZONE: {},
    Code.WHEN_PAST: {},
    Code.WHEN_TOO_FAR: {},
    Code.STAGES_RANGE: {},
    Code.STAGES_ORDER: {},
    Code.STAGES_TOO_MANY: {"limit": 10},
    Code.NOTES_TOO_LONG: {"length": 2001, "limit": 2000},
    Code.REASON_MISSING: {},
    Code.REASON_TOO_LONG: {"limit": 500},
    Code.OWN_APPROVAL: {},
    Code.TOO_MANY_APPROVERS: {"limit": 20},
    Code.QUORUM_UNREACHABLE: {"approvers": (BOB, QA), "people": frozenset({"U_BOB"})},
    Code.WINDOW_RANGE: {},
    Code.NOTHING_TO_WITHDRAW: {"ref": EVIL},
    Code.NOTHING_CHANGED: {"ref": EVIL},
    Code.NO_SUCH_ITEM: {},
    Code.ITEM_LENGTH: {"limit": 150},
    Code.CHECKLIST_FULL: {"limit": 30},
    Code.ITEM_EXISTS: {"text": EVIL},
    Code.BIG_BANG: {"ref": EVIL},
    Code.ALREADY_AT: {"ref": EVIL, "percentage": 50},
    Code.TOO_MANY_LINKS: {"limit": 10},
    Code.SHARED_NAME_INVALID: {"limit": 80},
    Code.SHARED_LINK_EXISTS: {"name": EVIL},
    Code.NO_SHARED_LINK: {"name": EVIL},
    Code.TOO_MANY_SHARED_LINKS: {"limit": 100},
    Code.POLICY_UNKNOWN_KEY: {"key": EVIL},
    Code.POLICY_BAD_VALUE: {"key": Key.QUORUM, "value": EVIL},
    Code.POLICY_QUORUM_TOO_LARGE: {"key": Key.QUORUM, "count": 3, "approvers": 2},
    Code.POLICY_CHANNEL_NOT_JOINED: {"key": Key.ESCALATION, "channel": "C_OPS"},
    Code.POLICY_CHECKLIST_EMPTY: {"key": Key.CHECKLIST},
    Code.POLICY_NOT_SET: {"key": Key.WINDOW, "scope": Scope.SERVICE, "target": EVIL},
    Code.POLICY_UNCHANGED: {"key": Key.WINDOW, "scope": Scope.CHANNEL, "target": "C_OPS"},
    Code.POLICY_ONLY_OWNER: {"scope": Scope.SERVICE, "target": EVIL},
    Code.DUPLICATE: {
        "ref": EVIL,
        "state": ReleaseStatus.APPROVED,
        "permalink": "https://slack.example/archives/C1/p1",
    },
    Code.FREEZE_NAME_INVALID: {"limit": 80},
    Code.FREEZE_ZONE_UNKNOWN: {"zone": EVIL},
    Code.FREEZE_RANGE: {"days": 90},
    Code.FREEZE_PAST: {},
    Code.NO_SUCH_FREEZE: {"name": EVIL},
    Code.HISTORY_CURSOR: {"service": EVIL},
    Code.FROZEN: {
        "ref": EVIL,
        "release_uid": "abcdefgh1234",
        "action": Activity.GO,
        "freeze": EVIL,
        "freeze_uid": "freeze123456",
        "service": EVIL,
        "ends_at": datetime(2026, 12, 24, 8, 0, tzinfo=UTC),
    },
    Code.FREEZE_EXISTS: {"name": EVIL},
    Code.VERSION_TAKEN: {"ref": EVIL},
    Code.PROPOSED_JUST_NOW: {"ref": EVIL},
    Code.SLOT_TAKEN: {"ref": EVIL},
    Code.MOVED_ALREADY: {"ref": EVIL},
    Code.PIPELINE_URL_INVALID: {"value": EVIL},
    Code.NOTHING_FROZEN: {"ref": EVIL},
    Code.DEPLOYMENT_STAGE_UNKNOWN: {"ref": EVIL, "stage": 37, "stages": (10, 50, 100)},
    Code.URL_INVALID: {"value": EVIL},
    Code.COMMIT_INVALID: {"value": EVIL},
    Code.DIGEST_INVALID: {"value": EVIL},
    Code.COMMIT_TIME_FUTURE: {"value": EVIL},
    Code.FIXES_INVALID: {"value": EVIL},
    Code.FIXES_UNKNOWN: {"ref": EVIL},
    Code.FIXES_OTHER_SERVICE: {"ref": EVIL, "service": EVIL},
    Code.TOKEN_NAME_INVALID: {"value": EVIL},
    Code.TOKEN_NAME_TAKEN: {"name": EVIL},
    Code.NO_SUCH_TOKEN: {"name": EVIL},
    Code.TOO_MANY_TOKENS: {"limit": 50},
    Code.TOKEN_SERVICES: {"limit": 20},
    Code.TOKEN_SCOPE: {"service": EVIL},
    Code.TOKEN_NOT_MANAGER: {"person": "U_LEAD", "what": "export the audit trail"},
    Code.GITHUB_REPOSITORY_INVALID: {"value": EVIL},
    Code.GITHUB_ENVIRONMENT_INVALID: {"value": EVIL},
    Code.GITHUB_ENVIRONMENT_TAKEN: {
        "repository": "acme/payments",
        "environment": EVIL,
        "service": EVIL,
    },
    Code.GITHUB_NOT_LINKED: {"repository": "acme/payments", "service": EVIL},
    Code.AUDIT_DATE_INVALID: {"value": EVIL},
    Code.DATE_OUT_OF_RANGE: {"value": EVIL},
    Code.AUDIT_RANGE_EMPTY: {
        "since": datetime(2026, 12, 1, tzinfo=UTC),
        "until": datetime(2026, 11, 1, tzinfo=UTC),
    },
}

# The markup refusals may write: mentions of ids, and links to Slack's own permalinks.
_OUR_MARKUP = re.compile(
    r"<@U_[A-Z]+>|<#C_[A-Z]+>|<!subteam\^S_[A-Z]+>|<https://slack\.example/[^|<>]*\|[^<>]*>"
    r"|<!date\^\d+\^[^|<>]*\|[^<>]*>"
)
_RAISE = re.compile(r"\b(NotFound|NotAllowed|InvalidTransition|Conflict|InvalidInput)\(\s*(\S+)")


def _model_sources() -> dict[Path, str]:
    return {path: path.read_text() for path in MODELS.rglob("*.py")}


def test_every_code_has_words_and_a_sample() -> None:
    assert set(WORDINGS) == set(Code)
    assert set(SAMPLES) == set(Code)


def test_models_raise_only_codes_and_every_code_is_raised() -> None:
    raised = set()
    for path, source in _model_sources().items():
        if path.name == "errors.py":  # where the classes are defined
            continue
        for kind, first in _RAISE.findall(source):
            assert first.startswith("Code."), f"{path}: {kind}({first} is not a code"
        raised |= set(re.findall(r"\bCode\.([A-Z_]+)", source))
    assert {Code[name] for name in raised} == set(Code)  # no code without a raise


def test_models_write_no_slack_markup() -> None:
    for path, source in _model_sources().items():
        for token in ("<@", "<!subteam", "<!date", "<#C", "&amp;", "&lt;", "quoted("):
            assert token not in source, f"{path} has {token}"


@pytest.mark.parametrize("code", list(Code))
def test_user_text_is_never_markup(code: Code) -> None:
    text = WORDINGS[code](SAMPLES[code])
    assert text and text == text.strip()
    rest = _OUR_MARKUP.sub("", text)
    assert "<" not in rest and ">" not in rest, text
    assert re.search(r"&(?!amp;|lt;|gt;)", rest) is None, text
    values = [
        *SAMPLES[code].values(),
        *(v for value in SAMPLES[code].values() if isinstance(value, tuple) for v in value),
    ]
    if any(isinstance(value, str) and EVIL in value for value in values):
        assert "&lt;!channel&gt;" in text, text  # shown, escaped, not dropped


# The activities a domain error can name: those the domain checks or owners do.
_SAID_ACTIVITIES = {
    "approve",
    "request_changes",
    "reopen",
    "go",
    "no_go",
    "start_rollout",
    "advance",
    "pause",
    "resume",
    "mark_released",
    "roll_back",
    "cancel",
    "sign",
    "withdraw",
    "edit",
    "tick",
    "add_item",
}


def test_every_refused_activity_in_every_state_can_be_said() -> None:
    for activity in map(Activity, _SAID_ACTIVITIES):
        assert "payments@2.4.0" in phrase(activity, "payments@2.4.0")
        for state in ReleaseStatus:
            if allows(activity, state):
                continue
            data = {"ref": "payments@2.4.0", "action": activity, "state": state}
            text = WORDINGS[Code.BAD_STATE](data | {"owner_id": "U_OWNER"})
            assert "payments@2.4.0" in text
    for state in ReleaseStatus:
        assert describe(state)


def test_wordings_kept_from_before() -> None:
    def said(error: DomainError) -> str:
        return message_for(error)

    assert said(NotFound(Code.RELEASE_GONE)) == "That release no longer exists."
    assert said(
        InvalidTransition(
            Code.BAD_STATE,
            ref="payments@2.4.0",
            action=Activity.CANCEL,
            state=ReleaseStatus.ROLLING_OUT,
            owner_id="U_OWNER",
        )
    ) == (
        "Can't cancel payments@2.4.0: it is rolling out. "
        "Roll it back instead if it must be stopped."
    )
    assert said(
        NotAllowed(
            Code.NOT_OWNER, ref="payments@2.4.0", owner_id="U_OWNER", action=Activity.ADVANCE
        )
    ) == ("Only <@U_OWNER>, who owns it, can advance payments@2.4.0.")
    assert said(
        NotAllowed(Code.MISSING_FOR_GO, ref="payments@2.4.0", missing=(QA, "On-call <aware>"))
    ) == (
        "payments@2.4.0 can't go yet. Still missing:\n"
        "• sign-off from <!subteam^S_QA>\n"
        "• “On-call &lt;aware&gt;”"
    )
    assert said(InvalidInput(Code.SERVICE_INVALID, value="Pay ments")) == (
        "“Pay ments” is not a service name: use up to 64 letters, digits, "
        "dots, dashes or underscores, e.g. payments-api."
    )
    duplicate = Conflict(
        Code.DUPLICATE,
        ref="payments@2.4.0",
        state=ReleaseStatus.APPROVED,
        permalink="https://x.slack.com/p1",
    )
    assert said(duplicate) == (
        "payments@2.4.0 already exists (approved) <https://x.slack.com/p1|(see it here)>. "
        "Use a new version, or `/release cancel` the old one first."
    )
    # On a form, the same words as plain text.
    assert form_error(text_for(duplicate)) == (
        "payments@2.4.0 already exists (approved) https://x.slack.com/p1. "
        "Use a new version, or `/release cancel` the old one first."
    )


def test_a_handlers_own_refusal_keeps_its_words() -> None:
    refused = Refused("That button is out of date.", field="version")
    assert isinstance(refused, InvalidInput)
    assert text_for(refused) == message_for(refused) == "That button is out of date."
    assert refused.field == "version"
