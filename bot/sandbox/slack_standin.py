"""A fake Slack Web API served over real HTTP on a loopback port.

The bot's real ``slack_sdk.WebClient(base_url=fake.api_url)`` talks to it exactly as it would talk
to ``https://slack.com/api/``: bearer-token auth, JSON or form-encoded bodies, ``{"ok": ...}``
envelopes, HTTP 429 + ``Retry-After`` for rate limits.  Every call is recorded, Block Kit is
validated (slack_sdk's own validators plus the checks Slack's servers make that slack_sdk skips),
and a small store keeps the messages and views "a person would see now".

It is the tests' fake Slack and the Slack of ``releasebot sandbox``: for the sandbox it also
keeps each person's modals (by the trigger_id it issued them), carries out the answers to a
view_submission and a slash command, and tells listeners of every call (live updates).

Usage::

    with FakeSlack() as fake:
        client = WebClient(token=fake.token, base_url=fake.api_url)
        client.chat_postMessage(channel="C_RELEASES", text="hi")
        assert fake.last("chat.postMessage").args["text"] == "hi"
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import secrets
import string
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block, BlockElement, TextObject
from slack_sdk.models.views import View

__all__ = [
    "DEFAULT_TOKEN",
    "REFUSALS",
    "Call",
    "FakeSlack",
    "blocks_text_length",
    "Surface",
    "validate_blocks",
    "validate_message",
    "validate_view",
]

DEFAULT_TOKEN = "xoxb-test-token"

Surface = Literal["message", "modal", "home"]

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 40_000
MAX_MODAL_TEXT = 24  # title / submit / close
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_SECTION_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ID = 255  # block_id, action_id
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_OPTION_TEXT = 75
MAX_OPTION_DESCRIPTION = 75
MAX_OPTION_VALUE = 150
MAX_CHOICE_OPTIONS = 10  # checkboxes / radio_buttons
MAX_MODAL_STACK = 3  # views.push onto a stack of three: push_limit_reached
# Slack refuses a message whose blocks hold about this much text in all (msg_blocks_too_long):
# every text object counts, raw, with its <@U…> and <!date^…> tokens.
MAX_BLOCKS_TEXT = 12_000

# Errors by which Slack refuses what a bot sent it (its blocks, view or message), as opposed
# to errors about the world (not_in_channel, user_not_found…): a test must never see one.
REFUSALS = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_arguments",
        "invalid_attachments",
        "invalid_payload",
        "invalid_json",
        "msg_blocks_too_long",
        "msg_too_long",
        "no_text",
    }
)

# A status meaning: close the connection without answering (see drop_reply_next).
DROPPED = -1

_TEXT_TYPES = ("plain_text", "mrkdwn")
# Elements whose options may only carry plain_text (checkboxes / radio_buttons also allow mrkdwn).
_PLAIN_OPTION_ELEMENTS = frozenset(
    {"static_select", "multi_static_select", "overflow", "external_select", "multi_external_select"}
)
_NON_INTERACTIVE_ELEMENTS = frozenset({"image", "plain_text", "mrkdwn"})
_ALNUM = string.ascii_letters + string.digits


# --------------------------------------------------------------------------------------------
# Block Kit validation (usable on its own, e.g. ``assert validate_blocks(build_blocks()) == []``)
# --------------------------------------------------------------------------------------------


def _err(message: str, pointer: str) -> str:
    return f"{message} [json-pointer:{pointer}]"


def _check_plain_text(obj: Any, pointer: str, errors: list[str]) -> None:
    """Slack only accepts plain_text in some places (headers, buttons, labels, titles...)."""
    if isinstance(obj, dict) and obj.get("type") != "plain_text":
        errors.append(_err(f"must be a plain_text text object, got {obj.get('type')!r}", pointer))


def _check_text_objects(node: Any, pointer: str, errors: list[str]) -> None:
    """Slack rejects text objects with empty text; slack_sdk's validators let them through."""
    if isinstance(node, dict):
        if node.get("type") in _TEXT_TYPES:
            text = node.get("text")
            if not isinstance(text, str):
                errors.append(_err("text object requires a string 'text'", f"{pointer}/text"))
            elif text == "":
                errors.append(_err("must be more than 0 characters", f"{pointer}/text"))
        for key, value in node.items():
            _check_text_objects(value, f"{pointer}/{key}", errors)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _check_text_objects(value, f"{pointer}/{index}", errors)


def _check_length(obj: Any, limit: int, pointer: str, errors: list[str]) -> None:
    """A string, or a text object's text, must have at most `limit` characters."""
    text = obj.get("text") if isinstance(obj, dict) else obj
    if isinstance(obj, dict):
        pointer = f"{pointer}/text"
    if isinstance(text, str) and len(text) > limit:
        errors.append(_err(f"must be less than {limit + 1} characters", pointer))


def _check_options(element: dict[str, Any], pointer: str, errors: list[str]) -> None:
    etype = element.get("type")
    option_lists: list[tuple[str, Any]] = [("options", element.get("options"))]
    groups = element.get("option_groups")
    if isinstance(groups, list):
        for g, group in enumerate(groups):
            if isinstance(group, dict):
                _check_plain_text(group.get("label"), f"{pointer}/option_groups/{g}/label", errors)
                option_lists.append((f"option_groups/{g}/options", group.get("options")))
    if etype in ("checkboxes", "radio_buttons"):
        options = element.get("options")
        if isinstance(options, list) and len(options) > MAX_CHOICE_OPTIONS:
            errors.append(
                _err(f"no more than {MAX_CHOICE_OPTIONS} items allowed", f"{pointer}/options")
            )
    for path, options in option_lists:
        if not isinstance(options, list):
            continue
        for o, option in enumerate(options):
            optr = f"{pointer}/{path}/{o}"
            if not isinstance(option, dict):
                errors.append(_err("option must be an object", optr))
                continue
            text = option.get("text")
            if etype in _PLAIN_OPTION_ELEMENTS:
                _check_plain_text(text, f"{optr}/text", errors)
                _check_plain_text(option.get("description"), f"{optr}/description", errors)
            _check_length(text, MAX_OPTION_TEXT, f"{optr}/text", errors)
            _check_length(
                option.get("description"), MAX_OPTION_DESCRIPTION, f"{optr}/description", errors
            )
            _check_length(option.get("value"), MAX_OPTION_VALUE, f"{optr}/value", errors)


def _validate_element(element: Any, pointer: str) -> list[str]:
    """Checks for one interactive element; slack_sdk's validators run at block level."""
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        return [_err("element must be an object with a 'type'", pointer)]
    etype = element["type"]
    try:
        parsed = BlockElement.parse(copy.deepcopy(element))
    except Exception as exc:
        return [_err(f"invalid {etype} element: {exc}", pointer)]
    if parsed is None or isinstance(parsed, TextObject):
        return [_err(f"unknown or misplaced element type {etype!r}", f"{pointer}/type")]
    errors = [
        _err(f"invalid additional property: {key}", f"{pointer}/{key}")
        for key in sorted(set(element) - set(parsed.attributes))
    ]
    if "placeholder" in element:
        _check_plain_text(element["placeholder"], f"{pointer}/placeholder", errors)
    _check_length(element.get("action_id"), MAX_ID, f"{pointer}/action_id", errors)
    if etype == "button":
        _check_plain_text(element.get("text"), f"{pointer}/text", errors)
        _check_length(element.get("text"), MAX_BUTTON_TEXT, f"{pointer}/text", errors)
        _check_length(element.get("value"), MAX_BUTTON_VALUE, f"{pointer}/value", errors)
    confirm = element.get("confirm")
    if isinstance(confirm, dict):
        for key in ("title", "confirm", "deny"):
            _check_plain_text(confirm.get(key), f"{pointer}/confirm/{key}", errors)
    _check_options(element, pointer, errors)
    return errors


def _validate_block(raw: Any, pointer: str) -> list[str]:
    if not isinstance(raw, dict):
        return [_err("block must be an object", pointer)]
    btype = raw.get("type")
    if not isinstance(btype, str):
        return [_err("block is missing required field 'type'", pointer)]
    try:
        parsed = Block.parse(copy.deepcopy(raw))
    except Exception as exc:
        return [_err(f"invalid {btype} block: {exc}", pointer)]
    if parsed is None or type(parsed) is Block:
        return [_err(f"unknown block type {btype!r}", f"{pointer}/type")]
    errors: list[str] = []
    try:
        parsed.to_dict()  # runs validate_json() on the block and, recursively, on its children
    except Exception as exc:
        errors.append(_err(str(exc), pointer))
    errors.extend(
        _err(f"invalid additional property: {key}", f"{pointer}/{key}")
        for key in sorted(set(raw) - set(parsed.attributes))
    )

    _check_length(raw.get("block_id"), MAX_ID, f"{pointer}/block_id", errors)
    if btype in ("actions", "context"):
        elements = raw.get("elements")
        if isinstance(elements, list):
            if not elements:
                errors.append(_err("must provide at least 1 item", f"{pointer}/elements"))
            if btype == "context" and len(elements) > MAX_CONTEXT_ELEMENTS:
                errors.append(
                    _err(
                        f"no more than {MAX_CONTEXT_ELEMENTS} items allowed",
                        f"{pointer}/elements",
                    )
                )
            seen_action_ids: set[str] = set()
            for index, element in enumerate(elements):
                eptr = f"{pointer}/elements/{index}"
                if btype == "context":
                    if not isinstance(element, dict) or element.get("type") not in (
                        "image",
                        *_TEXT_TYPES,
                    ):
                        errors.append(_err("context elements must be image or text objects", eptr))
                    continue
                errors.extend(_validate_element(element, eptr))
                action_id = element.get("action_id") if isinstance(element, dict) else None
                if isinstance(action_id, str):
                    if action_id in seen_action_ids:
                        errors.append(
                            _err(
                                f"duplicate action_id {action_id!r} in the same block",
                                f"{eptr}/action_id",
                            )
                        )
                    seen_action_ids.add(action_id)
    elif btype == "section":
        if "accessory" in raw:
            errors.extend(_validate_element(raw["accessory"], f"{pointer}/accessory"))
        _check_length(raw.get("text"), MAX_SECTION_TEXT, f"{pointer}/text", errors)
        fields = raw.get("fields")
        if isinstance(fields, list):
            if len(fields) > MAX_SECTION_FIELDS:
                errors.append(
                    _err(f"no more than {MAX_SECTION_FIELDS} items allowed", f"{pointer}/fields")
                )
            for index, item in enumerate(fields):
                _check_length(item, MAX_SECTION_FIELD_TEXT, f"{pointer}/fields/{index}", errors)
    elif btype == "input":
        if "element" in raw:
            errors.extend(_validate_element(raw["element"], f"{pointer}/element"))
        _check_plain_text(raw.get("label"), f"{pointer}/label", errors)
        _check_plain_text(raw.get("hint"), f"{pointer}/hint", errors)
    elif btype == "header":
        _check_plain_text(raw.get("text"), f"{pointer}/text", errors)
        _check_length(raw.get("text"), MAX_HEADER_TEXT, f"{pointer}/text", errors)
    elif btype == "image" and not raw.get("image_url") and not raw.get("slack_file"):
        errors.append(_err("must provide image_url or slack_file", pointer))
    return errors


def validate_blocks(blocks: Any, *, surface: Surface = "message", pointer: str = "") -> list[str]:
    """Return Slack-style error strings for ``blocks`` (empty list when Slack would accept them)."""
    base = f"{pointer}/blocks"
    if not isinstance(blocks, list):
        return [_err("blocks must be an array", base)]
    errors: list[str] = []
    limit = MAX_MESSAGE_BLOCKS if surface == "message" else MAX_VIEW_BLOCKS
    if len(blocks) > limit:
        errors.append(_err(f"no more than {limit} items allowed ({len(blocks)} given)", base))
    seen_block_ids: dict[str, int] = {}
    for index, raw in enumerate(blocks):
        bptr = f"{base}/{index}"
        errors.extend(_validate_block(raw, bptr))
        block_id = raw.get("block_id") if isinstance(raw, dict) else None
        if isinstance(block_id, str):
            if block_id in seen_block_ids:
                errors.append(
                    _err(
                        f"duplicate block_id {block_id!r} "
                        f"(also at {base}/{seen_block_ids[block_id]})",
                        f"{bptr}/block_id",
                    )
                )
            else:
                seen_block_ids[block_id] = index
    _check_text_objects(blocks, base, errors)
    return errors


def blocks_text_length(node: Any) -> int:
    """The characters of every text object in `node`, as Slack counts them for
    msg_blocks_too_long: raw text, markup tokens included."""
    if isinstance(node, dict):
        own = node.get("text") if node.get("type") in _TEXT_TYPES else None
        return (len(own) if isinstance(own, str) else 0) + sum(
            blocks_text_length(value) for value in node.values()
        )
    if isinstance(node, list):
        return sum(blocks_text_length(value) for value in node)
    return 0


def validate_view(view: Any) -> list[str]:
    """Return Slack-style error strings for a modal / home tab view object."""
    ptr = "/view"
    if not isinstance(view, dict):
        return [_err("view must be an object", ptr)]
    vtype = view.get("type")
    if vtype not in ("modal", "home"):
        return [_err(f"view type must be 'modal' or 'home', got {vtype!r}", f"{ptr}/type")]
    errors: list[str] = []
    # Blocks are validated (and counted) by validate_blocks below, with better pointers.
    without_blocks = {k: copy.deepcopy(v) for k, v in view.items() if k != "blocks"}
    without_blocks["blocks"] = [{"type": "divider"}]
    try:
        View(**without_blocks).validate_json()
    except Exception as exc:
        errors.append(_err(str(exc), ptr))
    errors.extend(
        _err(f"invalid additional property: {key}", f"{ptr}/{key}")
        for key in sorted(set(view) - View.attributes)
    )
    for key in ("title", "submit", "close"):
        value = view.get(key)
        if value is None:
            continue
        _check_plain_text(value, f"{ptr}/{key}", errors)
        text = value.get("text") if isinstance(value, dict) else value
        if isinstance(text, str) and len(text) > MAX_MODAL_TEXT:
            errors.append(
                _err(f"must be less than {MAX_MODAL_TEXT + 1} characters", f"{ptr}/{key}/text")
            )
    blocks = view.get("blocks")
    if vtype == "modal":
        if view.get("title") is None:
            errors.append(_err("missing required field: title", ptr))
        has_input = isinstance(blocks, list) and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks
        )
        if has_input and view.get("submit") is None:
            errors.append(_err("a modal with input blocks must have a submit button", ptr))
    elif view.get("submit") is not None or view.get("close") is not None:
        errors.append(_err("home view cannot have submit or close", ptr))
    if blocks is None:
        errors.append(_err("missing required field: blocks", ptr))
    else:
        if isinstance(blocks, list) and not blocks:
            errors.append(_err("views must contain between 1 and 100 blocks", f"{ptr}/blocks"))
        errors.extend(validate_blocks(blocks, surface=vtype, pointer=ptr))
    _check_text_objects({k: v for k, v in view.items() if k != "blocks"}, ptr, errors)
    return list(dict.fromkeys(errors))


def validate_message(
    args: dict[str, Any], *, require_content: bool = True
) -> tuple[str, list[str]] | None:
    """Validate message arguments. Returns ``(error_code, errors)`` or None when valid."""
    text = args.get("text")
    blocks = args.get("blocks")
    if blocks is not None:
        if not isinstance(blocks, list):
            return "invalid_blocks_format", [_err("blocks must be a JSON array", "/blocks")]
        errors = validate_blocks(blocks, surface="message")
        if errors:
            return "invalid_blocks", list(dict.fromkeys(errors))
        length = blocks_text_length(blocks)
        if length > MAX_BLOCKS_TEXT:
            return "msg_blocks_too_long", [
                f"the blocks hold {length} characters of text (max {MAX_BLOCKS_TEXT})"
            ]
    if isinstance(text, str) and len(text) > MAX_MESSAGE_TEXT:
        return "msg_too_long", [f"text is {len(text)} characters (max {MAX_MESSAGE_TEXT})"]
    if require_content and not text and not blocks and not args.get("attachments"):
        return "no_text", ["no text, blocks or attachments given"]
    return None


# --------------------------------------------------------------------------------------------
# Recorded calls
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request the fake received: Web API method name (or ``"response_url"``) + arguments.

    ``args`` has JSON-string parameters (blocks, view, attachments, metadata) decoded and the
    token removed.  ``error`` is the Slack error code returned (None when the call succeeded).
    """

    method: str
    args: dict[str, Any]
    error: str | None = None
    detail: tuple[str, ...] = ()  # Slack's "errors" for a refusal: what, and where

    def __str__(self) -> str:
        outcome = f"{self.error} {list(self.detail)}" if self.error else "ok"
        return f"{self.method}: {outcome}"

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def refused(self) -> bool:
        """Slack refused what was sent: its blocks, view or message (any invalid_… too)."""
        return self.error is not None and (self.error in REFUSALS or "invalid" in self.error)


class _SlackError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra

    def payload(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


def _invalid(error: str, errors: list[str]) -> _SlackError:
    return _SlackError(
        error,
        errors=errors,
        response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
    )


def _missing(field: str) -> _SlackError:
    return _invalid("invalid_arguments", [f"missing required field: {field}"])


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def _rand(n: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _tz_offset(tz: str) -> int:
    offset = datetime.now(ZoneInfo(tz)).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


_TZ_LABELS = {
    "America/New_York": ("Eastern Standard Time", "Eastern Daylight Time"),
    "Europe/Berlin": ("Central European Time", "Central European Summer Time"),
    "Europe/London": ("Greenwich Mean Time", "British Summer Time"),
    "Asia/Tokyo": ("Japan Standard Time", "Japan Standard Time"),
    "UTC": ("Coordinated Universal Time", "Coordinated Universal Time"),
}


def _tz_label(tz: str) -> str:
    now = datetime.now(ZoneInfo(tz))
    labels = _TZ_LABELS.get(tz)
    if labels is None:
        return now.tzname() or tz
    dst = now.dst()
    return labels[1] if dst and dst.total_seconds() else labels[0]


@dataclass
class _Injection:
    kind: Literal["fail", "ratelimit", "drop", "pass"]
    error: str = "ratelimited"
    retry_after: int = 1


@dataclass
class _ResponseUrl:
    channel_id: str | None
    message_ts: str | None
    user_id: str | None
    thread_ts: str | None


# --------------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------------


class FakeSlack:
    """A fake Slack Web API (+ response_url endpoint) on ``127.0.0.1:<random port>``."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        team_id: str = "T0001",
        team_domain: str = "acme",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        app_id: str = "A0001",
        default_directory: bool = True,
    ) -> None:
        self.token = token
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id

        self._cond = threading.Condition(threading.RLock())
        self._calls: list[Call] = []
        self._injections: dict[str, deque[_Injection]] = {}
        self._holds: dict[str, deque[threading.Event]] = {}
        self._last_ts_us = 0
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._ephemerals: list[dict[str, Any]] = []
        self._views: dict[str, dict[str, Any]] = {}
        self._modal_order: list[str] = []
        self._home_by_user: dict[str, str] = {}
        self._used_triggers: set[str] = set()
        self._users: dict[str, dict[str, Any]] = {}
        self._usergroups: dict[str, dict[str, Any]] = {}
        # Socket Mode: the app-level token and the websocket URL apps.connections.open gives.
        self.app_token = "xapp-1-test-app-token"
        self.socket_mode_url: str | None = None
        self._channels: dict[str, dict[str, Any]] = {}
        # conversations.members: who is in each channel (none unless a test says so), and
        # the most one page holds (Slack may return fewer than `limit`).
        self._members: dict[str, list[str]] = {}
        self.members_page_size = 1000
        self._response_urls: dict[str, _ResponseUrl] = {}
        # files.getUploadURLExternal → POST to its upload URL → files.completeUploadExternal
        self._files: dict[str, dict[str, Any]] = {}
        # The sandbox: who was given each trigger_id, whose each modal is, each person's
        # stack of open modals, and who hears of every change (live updates).
        self._trigger_users: dict[str, str] = {}
        self._view_users: dict[str, str] = {}
        self._stacks: dict[str, list[str]] = {}
        self._listeners: list[Callable[[Call], None]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.open": self._conversations_open,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroups_users_list,
            "usergroups.list": self._usergroups_list,
            "conversations.info": self._conversations_info,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.members": self._conversations_members,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
        }

        if default_directory:
            self.add_user("U_OWNER", "owner", real_name="Olivia Owner", tz="America/New_York")
            self.add_user("U_QA", "qa", real_name="Quinn QA", tz="Europe/Berlin")
            self.add_user("U_QA2", "qa2", real_name="Quentin QA", tz="Europe/Berlin")
            self.add_user("U_PM", "pm", real_name="Pat PM", tz="UTC")
            self.add_user("U_SEC", "sec", real_name="Sam Security", tz="Asia/Tokyo")
            self.add_user("U_OTHER", "other", real_name="Oscar Other", tz="UTC")
            self.add_user(bot_user_id, "releasebot", real_name="releasebot", is_bot=True)
            self.add_usergroup("S_QA", "qa", ["U_QA", "U_QA2"])

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        # stop() waits for the loop's next poll: a short one keeps a test's teardown short.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.005}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """What to pass as ``WebClient(base_url=...)``."""
        return f"{self.base_url}/api/"

    # ---- recorded calls --------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        with self._cond:
            return [c for c in self._calls if method is None or c.method == method]

    def last(self, method: str) -> Call:
        found = self.calls(method)
        if not found:
            raise AssertionError(
                f"no {method!r} call was made; calls so far: {self._method_names()}"
            )
        return found[-1]

    def clear(self) -> None:
        """Forget recorded calls (messages, views, users and injections are kept)."""
        with self._cond:
            self._calls.clear()

    def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 5.0,
    ) -> Call:
        """Block until a recorded call (earlier or future) of ``method`` matches ``predicate``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for call in self._calls:
                    if call.method == method and (predicate is None or predicate(call)):
                        return call
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    same = [c for c in self._calls if c.method == method]
                    detail = "".join(
                        f"\n  - {c.method} error={c.error} args={_short(c.args)}" for c in same
                    )
                    raise AssertionError(
                        f"timed out after {timeout}s waiting for a matching {method!r} call; "
                        f"recorded methods: {self._method_names()}"
                        + (f"\n{method} calls that did not match:{detail}" if same else "")
                    )
                self._cond.wait(min(remaining, 0.1))

    def _method_names(self) -> list[str]:
        return [c.method + (f"({c.error})" if c.error else "") for c in self._calls]

    def _record(self, call: Call) -> None:
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()
            listeners = list(self._listeners)
        for listener in listeners:
            listener(call)

    def add_listener(self, listener: Callable[[Call], None]) -> None:
        """`listener(call)` after every call is recorded (on the calling thread: keep it
        short, e.g. hand it to an event loop). The sandbox's live updates come from here."""
        with self._cond:
            self._listeners.append(listener)

    # ---- failure injection -----------------------------------------------------------------

    def fail_next(
        self, method: str, error: str = "channel_not_found", times: int = 1, *, after: int = 0
    ) -> None:
        """The next ``times`` calls of ``method`` (once ``after`` more have gone through)
        answer ``{"ok": false, "error": error}``."""
        with self._cond:
            queue = self._injections.setdefault(method, deque())
            queue.extend(_Injection("pass") for _ in range(after))
            queue.extend(_Injection("fail", error=error) for _ in range(times))

    def rate_limit_next(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer HTTP 429 with ``Retry-After``."""
        with self._cond:
            queue = self._injections.setdefault(method, deque())
            queue.extend(_Injection("ratelimit", retry_after=retry_after) for _ in range(times))

    def drop_reply_next(self, method: str, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` are carried out, but the connection closes
        before the answer is sent: the caller can't know whether they happened."""
        with self._cond:
            queue = self._injections.setdefault(method, deque())
            queue.extend(_Injection("drop") for _ in range(times))

    def hold_next(self, method: str) -> threading.Event:
        """The next call of ``method`` waits until the returned event is set (at most 30 s):
        the bot is then stuck mid-call, as when Slack is slow."""
        gate = threading.Event()
        with self._cond:
            self._holds.setdefault(method, deque()).append(gate)
        return gate

    def _wait_if_held(self, method: str) -> None:
        with self._cond:
            queue = self._holds.get(method)
            gate = queue.popleft() if queue else None
        if gate is not None:
            gate.wait(timeout=30)

    def _take_injection(self, method: str) -> _Injection | None:
        queue = self._injections.get(method)
        injection = queue.popleft() if queue else None
        return None if injection is not None and injection.kind == "pass" else injection

    # ---- directory -------------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        name: str | None = None,
        *,
        real_name: str | None = None,
        tz: str = "UTC",
        tz_offset: int | None = None,
        deleted: bool = False,
        is_bot: bool = False,
        is_admin: bool = False,
    ) -> dict[str, Any]:
        """Register (or replace) a user returned by users.info; returns the user object."""
        name = name or user_id.lower()
        real_name = real_name or name
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": real_name,
            "deleted": deleted,
            "tz": tz,
            "tz_label": _tz_label(tz),
            "tz_offset": _tz_offset(tz) if tz_offset is None else tz_offset,
            "is_admin": is_admin,
            "is_owner": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": int(time.time()),
            "profile": {
                "display_name": name,
                "real_name": real_name,
                "real_name_normalized": real_name,
                "display_name_normalized": name,
                "team": self.team_id,
            },
        }
        with self._cond:
            self._users[user_id] = user
        return copy.deepcopy(user)

    def add_usergroup(self, group_id: str, handle: str, members: Iterable[str]) -> None:
        with self._cond:
            self._usergroups[group_id] = {"id": group_id, "handle": handle, "users": list(members)}

    def user(self, user_id: str) -> dict[str, Any] | None:
        with self._cond:
            found = self._users.get(user_id)
            return copy.deepcopy(found) if found else None

    def user_name(self, user_id: str) -> str | None:
        found = self.user(user_id)
        return str(found["name"]) if found else None

    # ---- response_url ----------------------------------------------------------------------

    def new_response_url(
        self,
        *,
        channel_id: str | None = None,
        message_ts: str | None = None,
        user_id: str | None = None,
        thread_ts: str | None = None,
    ) -> str:
        """A response_url on this server. Pass ``message_ts`` when it belongs to a message
        interaction, so ``replace_original`` / ``delete_original`` act on that message."""
        key = uuid.uuid4().hex
        with self._cond:
            self._response_urls[key] = _ResponseUrl(
                channel_id=self._normalize_channel(channel_id) if channel_id else None,
                message_ts=message_ts,
                user_id=user_id,
                thread_ts=thread_ts,
            )
        return f"{self.base_url}/response/{key}"

    # ---- message / view store --------------------------------------------------------------

    def messages(
        self, channel: str | None = None, thread_ts: str | None = None
    ) -> list[dict[str, Any]]:
        """Current messages (after updates/deletes), oldest first.  With ``thread_ts`` you get
        the thread (parent included), like conversations.replies."""
        with self._cond:
            wanted = self._normalize_channel(channel) if channel else None
            found = [
                (ts, msg)
                for (ch, ts), msg in self._messages.items()
                if (wanted is None or ch == wanted)
                and (thread_ts is None or msg.get("thread_ts") == thread_ts or ts == thread_ts)
            ]
            return [copy.deepcopy(msg) for _, msg in sorted(found, key=lambda item: item[0])]

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        with self._cond:
            msg = self._messages.get((self._normalize_channel(channel), ts))
            if msg is None:
                raise AssertionError(
                    f"no message {ts} in {channel}; stored: {sorted(self._messages)}"
                )
            return copy.deepcopy(msg)

    def ephemerals(
        self, channel: str | None = None, user: str | None = None
    ) -> list[dict[str, Any]]:
        """Ephemeral messages (chat.postEphemeral and ephemeral response_url posts); each has
        ``channel``, ``user`` and ``message``."""
        with self._cond:
            wanted = self._normalize_channel(channel) if channel else None
            return [
                copy.deepcopy(e)
                for e in self._ephemerals
                if (wanted is None or e["channel"] == wanted)
                and (user is None or e["user"] == user)
            ]

    def views(self, callback_id: str | None = None) -> list[dict[str, Any]]:
        """Modals opened/pushed so far (current versions, after views.update), in order."""
        with self._cond:
            return [
                copy.deepcopy(self._views[v])
                for v in self._modal_order
                if callback_id is None or self._views[v].get("callback_id") == callback_id
            ]

    def last_view(self, callback_id: str | None = None) -> dict[str, Any]:
        found = self.views(callback_id)
        if not found:
            raise AssertionError(f"no modal with callback_id={callback_id!r} was opened")
        return found[-1]

    def view(self, view_id: str) -> dict[str, Any]:
        with self._cond:
            if view_id not in self._views:
                raise AssertionError(f"no view {view_id}; known: {sorted(self._views)}")
            return copy.deepcopy(self._views[view_id])

    def home_view(self, user_id: str) -> dict[str, Any]:
        with self._cond:
            view_id = self._home_by_user.get(user_id)
            if view_id is None:
                raise AssertionError(f"no home tab was published for {user_id}")
            return copy.deepcopy(self._views[view_id])

    def files(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Files shared by files.completeUploadExternal, oldest first; each has ``id``,
        ``name``, ``title``, ``content`` (bytes), ``channel``, ``thread_ts`` and
        ``initial_comment``."""
        with self._cond:
            wanted = self._normalize_channel(channel) if channel else None
            return [
                copy.deepcopy(f)
                for f in self._files.values()
                if f.get("channel") and (wanted is None or f["channel"] == wanted)
            ]

    # ---- the sandbox: a person's surfaces, and what Slack does with a request's answer ------

    def issue_trigger(self, user_id: str) -> str:
        """A trigger_id for an interaction of `user_id`: the modal it opens is theirs."""
        trigger_id = (
            f"{secrets.randbelow(10**13):013d}.{secrets.randbelow(10**12):012d}."
            f"{secrets.token_hex(16)}"
        )
        with self._cond:
            self._trigger_users[trigger_id] = user_id
        return trigger_id

    def modal_stack(self, user_id: str) -> list[dict[str, Any]]:
        """The modals `user_id` has open (opened with a trigger from issue_trigger), bottom
        first: the last is the one they see."""
        with self._cond:
            return [copy.deepcopy(self._views[v]) for v in self._stacks.get(user_id, [])]

    def published_home(self, user_id: str) -> dict[str, Any] | None:
        with self._cond:
            view_id = self._home_by_user.get(user_id)
            return copy.deepcopy(self._views[view_id]) if view_id else None

    def close_modal(self, user_id: str, view_id: str, *, clear: bool = False) -> None:
        """The person closed `view_id` (and whatever was pushed on it), or all (`clear`)."""
        with self._cond:
            stack = self._stacks.get(user_id, [])
            if clear or view_id not in stack:
                kept: list[str] = [] if clear else stack
            else:
                kept = stack[: stack.index(view_id)]
            self._stacks[user_id] = kept
            self._record(Call("sandbox.close_modal", {"user": user_id, "view_id": view_id}))

    def apply_submission_response(
        self, user_id: str, view_id: str, body: dict[str, Any] | None
    ) -> dict[str, str]:
        """Do what Slack does with the app's answer to a view_submission: close the modal
        (no response_action), show `errors` under the inputs (returned), `update` the
        modal, `push` one on it, or `clear` them all. A view Slack would refuse is refused
        and recorded so (the modal stays as it was)."""
        body = body or {}
        action = body.get("response_action")
        args = {"user": user_id, "view_id": view_id, **body}
        with self._cond:
            stack = self._stacks.setdefault(user_id, [])
            try:
                if action == "errors":
                    errors = body.get("errors")
                    inputs = {
                        b.get("block_id")
                        for b in self._views.get(view_id, {}).get("blocks", [])
                        if b.get("type") == "input"
                    }
                    if not isinstance(errors, dict) or not set(errors) <= inputs:
                        raise _invalid(
                            "invalid_arguments",
                            ["errors must name input blocks of the view: " + _short(errors or {})],
                        )
                    self._record(Call("response_action", args))
                    return {str(k): str(v) for k, v in errors.items()}
                if action in ("update", "push"):
                    raw = self._validate_view(body.get("view"))
                    if raw["type"] != "modal":
                        raise _invalid("invalid_arguments", ["response_action views are modals"])
                    if action == "update" and view_id in self._views:
                        old = self._views[view_id]
                        self._views[view_id] = self._build_view(
                            raw,
                            view_id=view_id,
                            root_view_id=old["root_view_id"],
                            previous_view_id=old["previous_view_id"],
                        )
                    else:
                        if len(stack) >= MAX_MODAL_STACK:
                            raise _SlackError("push_limit_reached")
                        new_id = self._new_view_id()
                        root = (
                            self._views[view_id]["root_view_id"] if view_id in self._views else None
                        )
                        self._views[new_id] = self._build_view(
                            raw, view_id=new_id, root_view_id=root, previous_view_id=view_id
                        )
                        self._modal_order.append(new_id)
                        self._view_users[new_id] = user_id
                        stack.append(new_id)
                elif action == "clear":
                    stack.clear()
                elif action is None:
                    if view_id in stack:
                        del stack[stack.index(view_id) :]
                else:
                    raise _invalid("invalid_arguments", [f"unknown response_action {action!r}"])
            except _SlackError as exc:
                self._record(
                    Call("response_action", args, exc.error, tuple(exc.extra.get("errors") or ()))
                )
                return {}
            self._record(Call("response_action", args))
        return {}

    def post_as_person(self, user_id: str, channel_id: str, text: str) -> dict[str, Any]:
        """`user_id` typed `text` into `channel_id`: stored escaped, as Slack's client sends
        it (&, < and > as entities). The bot asks for no message events, so it hears nothing."""
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        with self._cond:
            if user_id not in self._users:
                raise ValueError(f"no such user {user_id!r}")
            channel = self._normalize_channel(channel_id)
            ts = self._next_ts()
            msg = {
                "user": user_id,
                "type": "message",
                "ts": ts,
                "text": escaped,
                "team": self.team_id,
            }
            self._messages[(channel, ts)] = msg
            self._record(Call("sandbox.message", {"channel": channel, "user": user_id}))
            return copy.deepcopy(msg)

    def reply_to_command(self, channel_id: str, user_id: str, body: dict[str, Any]) -> None:
        """A slash command's acknowledgement carried a message: Slack shows it to the person
        alone, or in the channel (`response_type: in_channel`), as a response_url post would."""
        key = self.new_response_url(channel_id=channel_id, user_id=user_id).rsplit("/", 1)[-1]
        self._handle_response_url(key, body)

    def channel_directory(self) -> list[dict[str, Any]]:
        """The channels added with add_channel, with the members set_channel_members gave."""
        with self._cond:
            return [
                {**copy.deepcopy(c), "members": list(self._members.get(c["id"], []))}
                for c in self._channels.values()
            ]

    def people(self) -> list[dict[str, Any]]:
        with self._cond:
            return [copy.deepcopy(u) for u in self._users.values()]

    def usergroups(self) -> list[dict[str, Any]]:
        with self._cond:
            return [copy.deepcopy(g) for g in self._usergroups.values()]

    def find_message(
        self, channel: str, ts: str, *, user_id: str | None = None
    ) -> tuple[dict[str, Any], bool] | None:
        """The message `ts` in `channel` as `user_id` sees it: (message, is_ephemeral)."""
        with self._cond:
            channel = self._normalize_channel(channel)
            msg = self._messages.get((channel, ts))
            if msg is not None:
                return copy.deepcopy(msg), False
            for eph in self._ephemerals:
                if (eph["channel"], eph["message"]["ts"]) == (channel, ts) and eph[
                    "user"
                ] == user_id:
                    return copy.deepcopy(eph["message"]), True
        return None

    # ---- HTTP entry points (called by the handler thread) ----------------------------------

    def _handle_api(
        self, method: str, headers: dict[str, str], args: dict[str, Any]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        auth = headers.get("authorization", "")
        token: Any = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        if "token" in args:
            token = token or args["token"]
            args = {k: v for k, v in args.items() if k != "token"}
        status, extra_headers = 200, {}
        injection: _Injection | None = None
        with self._cond:
            if not token:
                result = _SlackError("not_authed").payload()
            elif method == "apps.connections.open":
                # Socket Mode: the app-level token asks where to connect.
                if token != self.app_token:
                    result = _SlackError("invalid_auth").payload()
                elif self.socket_mode_url is None:
                    result = _SlackError("socket_mode_not_enabled").payload()
                else:
                    result = {"ok": True, "url": self.socket_mode_url}
            elif token != self.token:
                result = _SlackError("invalid_auth").payload()
            else:
                injection = self._take_injection(method)
                if injection is not None and injection.kind == "ratelimit":
                    status = 429
                    extra_headers["Retry-After"] = str(injection.retry_after)
                    result = _SlackError("ratelimited").payload()
                elif injection is not None and injection.kind == "fail":
                    result = _SlackError(injection.error).payload()
                elif method not in self._methods:
                    result = _SlackError("unknown_method").payload()
                else:
                    try:
                        result = self._methods[method](args)
                    except _SlackError as exc:
                        result = exc.payload()
            error = None if result.get("ok") else str(result["error"])
            self._record(Call(method, args, error, tuple(result.get("errors") or ())))
        if injection is not None and injection.kind == "drop":
            return DROPPED, result, extra_headers
        return status, result, extra_headers

    def _handle_upload(self, file_id: str, body: bytes) -> tuple[int, str]:
        """The upload URL files.getUploadURLExternal handed out: it takes the file's bytes."""
        with self._cond:
            pending = self._files.get(file_id)
            if pending is None or pending["content"] is not None:
                self._record(Call("files.upload_url", {"file": file_id}, "no_such_upload"))
                return 404, "no_such_upload"
            pending["content"] = body
            self._record(Call("files.upload_url", {"file": file_id, "bytes": len(body)}))
        return 200, f"OK - {len(body)}"

    def _handle_response_url(
        self, key: str, body: dict[str, Any] | None
    ) -> tuple[int, dict[str, Any] | str]:
        url = f"{self.base_url}/response/{key}"
        with self._cond:
            target = self._response_urls.get(key)
            args = dict(body or {}) | {"_url": url}
            if target is None:
                self._record(Call("response_url", args, "no_such_url"))
                return 404, "no_such_url"
            if body is None:
                self._record(Call("response_url", args, "invalid_payload"))
                return 400, "invalid_payload"
            delete = _truthy(body.get("delete_original"))
            problem = validate_message(body, require_content=not delete)
            if problem is not None:
                self._record(Call("response_url", args, problem[0], tuple(problem[1])))
                return 400, problem[0]
            self._apply_response(target, body, delete)
            self._record(Call("response_url", args))
        return 200, {"ok": True}

    def _apply_response(self, target: _ResponseUrl, body: dict[str, Any], delete: bool) -> None:
        original = (
            (target.channel_id, target.message_ts)
            if target.channel_id and target.message_ts
            else None
        )
        if delete or _truthy(body.get("replace_original")):
            if original is None:
                return
            if original in self._messages:
                if delete:
                    del self._messages[original]
                else:
                    self._edit(self._messages[original], body, replace_blocks=True)
                return
            for eph in list(self._ephemerals):
                if (eph["channel"], eph["message"]["ts"]) == original:
                    if delete:
                        self._ephemerals.remove(eph)
                    else:
                        self._edit(eph["message"], body, replace_blocks=True)
            return
        channel = target.channel_id
        if channel is None:
            return
        thread_ts = body.get("thread_ts") or target.thread_ts
        if body.get("response_type") == "in_channel":
            self._store_message(channel, body, thread_ts)
        else:
            msg = self._new_message(body, self._next_ts(), thread_ts)
            self._ephemerals.append({"channel": channel, "user": target.user_id, "message": msg})

    # ---- store helpers ---------------------------------------------------------------------

    def _next_ts(self) -> str:
        now_us = time.time_ns() // 1000
        self._last_ts_us = max(now_us, self._last_ts_us + 1)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def _normalize_channel(self, channel: str) -> str:
        return "D" + channel if channel[:1] in ("U", "W") else channel

    def _resolve_channel(self, args: dict[str, Any], key: str = "channel") -> str:
        channel = args.get(key)
        if not isinstance(channel, str) or not channel:
            raise _SlackError("channel_not_found")
        if channel[0] in ("U", "W"):
            if channel not in self._users:
                raise _SlackError("channel_not_found")
            return self._normalize_channel(channel)
        if channel[0] not in ("C", "G", "D"):
            raise _SlackError("channel_not_found")
        return channel

    def _new_message(self, args: dict[str, Any], ts: str, thread_ts: str | None) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "user": self.bot_user_id,
            "type": "message",
            "ts": ts,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "text": args.get("text") or "",
            "team": self.team_id,
        }
        if args.get("blocks"):
            msg["blocks"] = _normalize_blocks(args["blocks"])
        if args.get("attachments"):
            msg["attachments"] = copy.deepcopy(args["attachments"])
        if args.get("metadata"):
            msg["metadata"] = copy.deepcopy(args["metadata"])
        if thread_ts:
            msg["thread_ts"] = thread_ts
        return msg

    def _store_message(
        self, channel: str, args: dict[str, Any], thread_ts: str | None
    ) -> dict[str, Any]:
        ts = self._next_ts()
        msg = self._new_message(args, ts, thread_ts)
        self._messages[(channel, ts)] = msg
        parent = self._messages.get((channel, thread_ts)) if thread_ts else None
        if parent is not None:
            parent["thread_ts"] = thread_ts
            parent["reply_count"] = int(parent.get("reply_count", 0)) + 1
            parent["latest_reply"] = ts
        return msg

    def _edit(self, msg: dict[str, Any], args: dict[str, Any], *, replace_blocks: bool) -> None:
        if "text" in args:
            msg["text"] = args.get("text") or ""
        if "blocks" in args or replace_blocks:
            if args.get("blocks"):
                msg["blocks"] = _normalize_blocks(args["blocks"])
            else:
                msg.pop("blocks", None)
        if "attachments" in args:
            if args.get("attachments"):
                msg["attachments"] = copy.deepcopy(args["attachments"])
            else:
                msg.pop("attachments", None)
        msg["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}

    def _validate_message(self, args: dict[str, Any], *, require_content: bool = True) -> None:
        problem = validate_message(args, require_content=require_content)
        if problem is not None:
            raise _invalid(*problem)

    def _validate_view(self, view: Any) -> dict[str, Any]:
        if view is None:
            raise _missing("view")
        if not isinstance(view, dict):
            raise _invalid("invalid_arguments", ["view must be a JSON object"])
        errors = validate_view(view)
        if errors:
            raise _invalid("invalid_blocks", errors)
        return view

    def _use_trigger(self, args: dict[str, Any]) -> str:
        trigger_id = args.get("trigger_id")
        if not trigger_id:
            raise _missing("trigger_id")
        if trigger_id in self._used_triggers:
            raise _SlackError("exchanged_trigger_id")
        return str(trigger_id)

    def _build_view(
        self,
        raw: dict[str, Any],
        *,
        view_id: str,
        root_view_id: str | None,
        previous_view_id: str | None,
    ) -> dict[str, Any]:
        view: dict[str, Any] = {
            "id": view_id,
            "team_id": self.team_id,
            "type": raw["type"],
            "blocks": _normalize_blocks(raw.get("blocks") or []),
            "private_metadata": raw.get("private_metadata") or "",
            "callback_id": raw.get("callback_id") or "",
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{_rand(8)}",
            "title": _normalize_text(raw.get("title")),
            "clear_on_close": _truthy(raw.get("clear_on_close", False)),
            "notify_on_close": _truthy(raw.get("notify_on_close", False)),
            "close": _normalize_text(raw.get("close")),
            "submit": _normalize_text(raw.get("submit")),
            "previous_view_id": previous_view_id,
            "root_view_id": root_view_id or view_id,
            "app_id": self.app_id,
            "external_id": raw.get("external_id") or "",
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        return view

    def _new_view_id(self) -> str:
        while True:
            view_id = "V" + _rand(10, string.ascii_uppercase + string.digits)
            if view_id not in self._views:
                return view_id

    # ---- Web API methods -------------------------------------------------------------------

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": "Acme",
            "user": self.user_name(self.bot_user_id) or "releasebot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(args)
        self._validate_message(args)
        msg = self._store_message(channel, args, args.get("thread_ts") or None)
        return {"ok": True, "channel": channel, "ts": msg["ts"], "message": copy.deepcopy(msg)}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(args)
        ts = args.get("ts")
        if not ts:
            raise _missing("ts")
        msg = self._messages.get((channel, str(ts)))
        if msg is None:
            raise _SlackError("message_not_found")
        has_content = any(k in args for k in ("text", "blocks", "attachments"))
        self._validate_message(args, require_content=not has_content)
        self._edit(msg, args, replace_blocks=False)
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": msg["text"],
            "message": copy.deepcopy(msg),
        }

    def _chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(args)
        ts = str(args.get("ts") or "")
        if (channel, ts) not in self._messages:
            raise _SlackError("message_not_found")
        del self._messages[(channel, ts)]
        return {"ok": True, "channel": channel, "ts": ts}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(args)
        user = args.get("user")
        if not user:
            raise _missing("user")
        if user not in self._users:
            raise _SlackError("user_not_found")
        self._validate_message(args)
        msg = self._new_message(args, self._next_ts(), args.get("thread_ts") or None)
        self._ephemerals.append({"channel": channel, "user": user, "message": msg})
        return {"ok": True, "message_ts": msg["ts"]}

    def _chat_get_permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(args)
        ts = str(args.get("message_ts") or "")
        msg = self._messages.get((channel, ts))
        if msg is None:
            raise _SlackError("message_not_found")
        permalink = (
            f"https://{self.team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        )
        thread_ts = msg.get("thread_ts")
        if thread_ts and thread_ts != ts:
            permalink += f"?thread_ts={thread_ts}&cid={channel}"
        return {"ok": True, "channel": channel, "permalink": permalink}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("channel"):
            return {"ok": True, "channel": {"id": self._resolve_channel(args)}}
        users = args.get("users")
        if isinstance(users, str):
            users = [u.strip() for u in users.split(",") if u.strip()]
        if not users:
            raise _SlackError("users_list_not_supplied")
        for user in users:
            if user not in self._users:
                raise _SlackError("user_not_found")
        channel_id = "D" + users[0] if len(users) == 1 else "G" + "_".join(sorted(users))
        return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": channel_id}}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger_id = self._use_trigger(args)
        raw = self._validate_view(args.get("view"))
        if raw["type"] != "modal":
            raise _invalid("invalid_arguments", ["views.open only opens modals"])
        view_id = self._new_view_id()
        view = self._build_view(raw, view_id=view_id, root_view_id=None, previous_view_id=None)
        self._used_triggers.add(trigger_id)
        self._views[view_id] = view
        self._modal_order.append(view_id)
        user = self._trigger_users.get(trigger_id)
        if user is not None:  # a new modal replaces whatever the person had open
            self._view_users[view_id] = user
            self._stacks[user] = [view_id]
        return {"ok": True, "view": copy.deepcopy(view)}

    def _views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger_id = self._use_trigger(args)
        raw = self._validate_view(args.get("view"))
        if raw["type"] != "modal":
            raise _invalid("invalid_arguments", ["views.push only pushes modals"])
        user = self._trigger_users.get(trigger_id)
        if user is not None:
            stack = self._stacks.get(user) or []
            if len(stack) >= MAX_MODAL_STACK:
                raise _SlackError("push_limit_reached")
            previous = stack[-1] if stack else None
        else:
            previous = self._modal_order[-1] if self._modal_order else None
        root = self._views[previous]["root_view_id"] if previous else None
        view_id = self._new_view_id()
        view = self._build_view(raw, view_id=view_id, root_view_id=root, previous_view_id=previous)
        self._used_triggers.add(trigger_id)
        self._views[view_id] = view
        self._modal_order.append(view_id)
        if user is not None:
            self._view_users[view_id] = user
            self._stacks.setdefault(user, []).append(view_id)
        return {"ok": True, "view": copy.deepcopy(view)}

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id = args.get("view_id")
        external_id = args.get("external_id")
        if not view_id and not external_id:
            raise _missing("view_id")
        if view_id:
            existing = self._views.get(str(view_id))
        else:
            existing = next(
                (v for v in self._views.values() if v.get("external_id") == external_id), None
            )
        if existing is None:
            raise _SlackError("not_found")
        raw = self._validate_view(args.get("view"))
        if args.get("hash") and args["hash"] != existing["hash"]:
            raise _SlackError("hash_conflict")
        view = self._build_view(
            raw,
            view_id=existing["id"],
            root_view_id=existing["root_view_id"],
            previous_view_id=existing["previous_view_id"],
        )
        self._views[existing["id"]] = view
        return {"ok": True, "view": copy.deepcopy(view)}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = args.get("user_id")
        if not user_id:
            raise _missing("user_id")
        if user_id not in self._users:
            raise _SlackError("user_not_found")
        raw = self._validate_view(args.get("view"))
        if raw["type"] != "home":
            raise _invalid("invalid_arguments", ["views.publish requires a view of type home"])
        view_id = self._home_by_user.get(user_id) or self._new_view_id()
        existing = self._views.get(view_id)
        if existing is not None and args.get("hash") and args["hash"] != existing["hash"]:
            raise _SlackError("hash_conflict")
        view = self._build_view(raw, view_id=view_id, root_view_id=None, previous_view_id=None)
        self._home_by_user[user_id] = view_id
        self._views[view_id] = view
        return {"ok": True, "view": copy.deepcopy(view)}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = args.get("user")
        if not user_id:
            raise _missing("user")
        user = self._users.get(str(user_id))
        if user is None:
            raise _SlackError("user_not_found")
        return {"ok": True, "user": copy.deepcopy(user)}

    def _usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group_id = args.get("usergroup")
        if not group_id:
            raise _missing("usergroup")
        group = self._usergroups.get(str(group_id))
        if group is None:
            raise _SlackError("no_such_subteam")
        return {"ok": True, "users": list(group["users"])}

    def add_channel(
        self, channel_id: str, name: str, *, is_private: bool = False, is_member: bool = True
    ) -> None:
        """A channel conversations.info describes; `is_member`: whether the bot is in it."""
        with self._cond:
            self._channels[channel_id] = {
                "id": channel_id,
                "name": name,
                "is_private": is_private,
                "is_member": is_member,
            }

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = str(args.get("channel") or "")
        if not channel_id:
            raise _missing("channel")
        known = self._channels.get(channel_id)
        if known is None:
            # Any other C… channel exists and is public; G… is a private one, D… a DM.
            if not channel_id.startswith(("C", "G", "D")):
                raise _SlackError("channel_not_found")
            known = {
                "id": channel_id,
                "name": channel_id.lower(),
                "is_private": channel_id.startswith("G"),
                "is_im": channel_id.startswith("D"),
                "is_member": True,
            }
        return {"ok": True, "channel": {"is_channel": not known.get("is_im"), **known}}

    def _listed(self, msg: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
        # Like Slack: message metadata only when asked for it.
        if not _truthy(args.get("include_all_metadata")):
            msg = {k: v for k, v in msg.items() if k != "metadata"}
        return msg

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(args)
        oldest = float(args.get("oldest") or 0)
        limit = int(args.get("limit") or 100)
        top = [
            self._listed(msg, args)
            for msg in reversed(self.messages(channel))  # newest first, as Slack lists
            if not msg.get("thread_ts") or msg.get("thread_ts") == msg.get("ts")
            if float(msg["ts"]) > oldest
        ]
        return {"ok": True, "messages": top[:limit], "has_more": len(top) > limit}

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(args)
        ts = str(args.get("ts") or "")
        if (channel, ts) not in self._messages:
            raise _SlackError("thread_not_found")
        limit = int(args.get("limit") or 100)
        thread = [self._listed(m, args) for m in self.messages(channel, thread_ts=ts)]
        return {"ok": True, "messages": thread[:limit], "has_more": len(thread) > limit}

    def set_channel_members(self, channel_id: str, members: Iterable[str]) -> None:
        """Who conversations.members lists for the channel (replaces the previous list)."""
        with self._cond:
            self._members[channel_id] = list(members)

    def _conversations_members(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = str(args.get("channel") or "")
        if not channel_id:
            raise _missing("channel")
        if not channel_id.startswith(("C", "G", "D")):
            raise _SlackError("channel_not_found")
        try:
            limit = int(args.get("limit") or 100)
        except ValueError:
            raise _SlackError("invalid_limit") from None
        if not 1 <= limit <= 1000:
            raise _SlackError("invalid_limit")
        start = 0
        if cursor := str(args.get("cursor") or ""):
            try:
                start = int(base64.b64decode(cursor).decode().removeprefix("offset:"))
            except ValueError:
                raise _SlackError("invalid_cursor") from None
        members = self._members.get(channel_id, [])
        end = start + min(limit, self.members_page_size)
        next_cursor = base64.b64encode(f"offset:{end}".encode()).decode()
        return {
            "ok": True,
            "members": members[start:end],
            "response_metadata": {"next_cursor": next_cursor if end < len(members) else ""},
        }

    def _files_get_upload_url_external(self, args: dict[str, Any]) -> dict[str, Any]:
        filename = args.get("filename")
        if not isinstance(filename, str) or not filename:
            raise _missing("filename")
        try:
            length = int(args.get("length", ""))
        except ValueError:
            raise _missing("length") from None
        if length < 1:
            raise _SlackError("invalid_arguments")
        file_id = "F" + _rand(10, string.ascii_uppercase + string.digits)
        self._files[file_id] = {
            "id": file_id,
            "name": filename,
            "title": filename,
            "length": length,
            "content": None,
            "channel": None,
        }
        return {"ok": True, "upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload_external(self, args: dict[str, Any]) -> dict[str, Any]:
        raw = args.get("files")
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                raise _SlackError("invalid_arguments") from None
        if not isinstance(raw, list) or not raw:
            raise _missing("files")
        channel = self._resolve_channel(args, "channel_id") if args.get("channel_id") else None
        shared = []
        for entry in raw:
            stored = self._files.get(entry.get("id", "")) if isinstance(entry, dict) else None
            if stored is None or stored["content"] is None:
                raise _SlackError("file_not_found")
            if len(stored["content"]) != stored["length"]:
                raise _SlackError("file_upload_size_mismatch")
            stored["title"] = entry.get("title") or stored["name"]
            shared.append(stored)
        comment = args.get("initial_comment") or ""
        thread_ts = args.get("thread_ts") or None
        if channel is not None:
            for stored in shared:
                stored.update(channel=channel, thread_ts=thread_ts, initial_comment=comment)
            msg = self._store_message(channel, {"text": comment}, thread_ts)
            msg["files"] = [
                {"id": f["id"], "name": f["name"], "title": f["title"], "size": f["length"]}
                for f in shared
            ]
        summaries = [
            {"id": f["id"], "name": f["name"], "title": f["title"], "size": f["length"]}
            for f in shared
        ]
        return {"ok": True, "files": summaries}

    def _usergroups_list(self, args: dict[str, Any]) -> dict[str, Any]:
        groups = [
            {
                "id": g["id"],
                "handle": g["handle"],
                "name": g["handle"],
                "user_count": len(g["users"]),
            }
            for g in self._usergroups.values()
        ]
        return {"ok": True, "usergroups": groups}


# --------------------------------------------------------------------------------------------
# What Slack does to blocks it stores: fill in block_id / action_id, mark plain_text emoji.
# --------------------------------------------------------------------------------------------


def _normalize_text(obj: Any) -> Any:
    if isinstance(obj, str):
        return {"type": "plain_text", "text": obj, "emoji": True}
    if isinstance(obj, dict):
        obj = copy.deepcopy(obj)
        if obj.get("type") == "plain_text":
            obj.setdefault("emoji", True)
    return obj


def _mark_emoji(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "plain_text":
            node.setdefault("emoji", True)
        for value in node.values():
            _mark_emoji(value)
    elif isinstance(node, list):
        for value in node:
            _mark_emoji(value)


def _normalize_element(element: Any) -> None:
    if (
        isinstance(element, dict)
        and element.get("type") not in _NON_INTERACTIVE_ELEMENTS
        and "action_id" not in element
    ):
        element["action_id"] = _rand(5)


def _normalize_blocks(blocks: list[Any]) -> list[Any]:
    out = copy.deepcopy(blocks)
    for block in out:
        if not isinstance(block, dict):
            continue
        block.setdefault("block_id", _rand(5))
        if block.get("type") == "actions":
            for element in block.get("elements") or []:
                _normalize_element(element)
        elif block.get("type") == "section" and "accessory" in block:
            _normalize_element(block["accessory"])
        elif block.get("type") == "input" and "element" in block:
            _normalize_element(block["element"])
    _mark_emoji(out)
    return out


def _short(args: dict[str, Any], limit: int = 300) -> str:
    text = json.dumps(args, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------

_JSON_PARAMS = ("blocks", "view", "attachments", "metadata")


def _decode_json_params(args: dict[str, Any]) -> dict[str, Any]:
    for key in _JSON_PARAMS:
        value = args.get(key)
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            with contextlib.suppress(ValueError):  # left as a string: validation reports it
                args[key] = json.loads(value)
    return args


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeSlack


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        body = self._read_body()
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        try:
            if parts.path.startswith("/api/"):
                method = parts.path[len("/api/") :]
                args: dict[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
                if body:
                    if content_type == "application/json":
                        try:
                            loaded = json.loads(body)
                        except ValueError:
                            loaded = None
                        if not isinstance(loaded, dict):
                            self._send(200, {"ok": False, "error": "invalid_json"})
                            return
                        args.update(loaded)
                    else:
                        args.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
                headers = {k.lower(): v for k, v in self.headers.items()}
                fake._wait_if_held(method)
                status, payload, extra = fake._handle_api(
                    method, headers, _decode_json_params(args)
                )
                if status == DROPPED:
                    self.close_connection = True  # done, but the caller never hears so
                    return
                self._send(status, payload, extra)
            elif parts.path.startswith("/upload/") and self.command == "POST":
                status, text = fake._handle_upload(parts.path[len("/upload/") :], body)
                self._send(status, text)
            elif parts.path.startswith("/response/") and self.command == "POST":
                key = parts.path[len("/response/") :]
                try:
                    loaded = json.loads(body) if body else None
                except ValueError:
                    loaded = None
                status, reply = fake._handle_response_url(
                    key, loaded if isinstance(loaded, dict) else None
                )
                self._send(status, reply)
            else:
                self._send(404, "not_found")
        except Exception as exc:  # pragma: no cover - surfaced to the test as HTTP 500
            self._send(500, f"fake_slack internal error: {exc!r}")

    def _send(
        self, status: int, payload: dict[str, Any] | str, headers: dict[str, str] | None = None
    ) -> None:
        if isinstance(payload, str):
            data, ctype = payload.encode(), "text/plain; charset=utf-8"
        else:
            data, ctype = json.dumps(payload).encode(), "application/json; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)
