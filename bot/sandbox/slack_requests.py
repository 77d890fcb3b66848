"""Send requests to the bot exactly as Slack does: signed, over real HTTP.

The sandbox (``releasebot sandbox``) sends every click of its page with it, and the tests
drive the bot with it.

``SignedSlackClient`` builds slash commands, ``block_actions`` / ``view_submission`` /
``view_closed`` payloads and Events API envelopes in Slack's wire format, signs them with the
signing secret (``X-Slack-Signature`` / ``X-Slack-Request-Timestamp``) and POSTs them to the
bot's ``/slack/events`` endpoint.

The high-level helpers (``click_button``, ``toggle_checkboxes``, ``select_option``,
``view_submission`` ...) build the interaction FROM THE BLOCKS THE BOT POSTED: they find the
element a person would see (asserting it exists) and send what Slack would send when that person
clicks it or submits the form.  Pass ``fake=FakeSlack(...)`` so response_urls point at the fake
(and are bound to the message clicked) and user names come from the fake's directory.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import json
import secrets
import ssl
import string
import time
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from datetime import time as dt_time
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx

__all__ = [
    "SignedSlackClient",
    "SlackDirectory",
    "build_view_state",
    "element_action",
    "find_elements",
    "sign",
]

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
SLACK_USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"

# Element type -> the key Slack uses for the element's value in view.state.values.
_STATE_KEYS: dict[str, str] = {
    "plain_text_input": "value",
    "email_text_input": "value",
    "url_text_input": "value",
    "number_input": "value",
    "rich_text_input": "rich_text_value",
    "static_select": "selected_option",
    "external_select": "selected_option",
    "radio_buttons": "selected_option",
    "multi_static_select": "selected_options",
    "multi_external_select": "selected_options",
    "checkboxes": "selected_options",
    "users_select": "selected_user",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
    "multi_conversations_select": "selected_conversations",
    "channels_select": "selected_channel",
    "multi_channels_select": "selected_channels",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "datetimepicker": "selected_date_time",
    "file_input": "files",
}
# Element type -> its "initial_*" property (what Slack puts in state when untouched).
_INITIAL_KEYS: dict[str, str] = {
    "value": "initial_value",
    "rich_text_value": "initial_value",
    "selected_option": "initial_option",
    "selected_options": "initial_options",
    "selected_user": "initial_user",
    "selected_users": "initial_users",
    "selected_conversation": "initial_conversation",
    "selected_conversations": "initial_conversations",
    "selected_channel": "initial_channel",
    "selected_channels": "initial_channels",
    "selected_date": "initial_date",
    "selected_time": "initial_time",
    "selected_date_time": "initial_date_time",
}
_LIST_KEYS = frozenset(
    {
        "selected_options",
        "selected_users",
        "selected_conversations",
        "selected_channels",
        "files",
    }
)
_OPTION_KEYS = frozenset({"selected_option", "selected_options"})
_STRICT_OPTION_TYPES = frozenset(
    {"static_select", "multi_static_select", "radio_buttons", "checkboxes", "overflow"}
)


class SlackDirectory(Protocol):
    """What the client needs from FakeSlack (structural, so this module doesn't import it)."""

    def new_response_url(
        self,
        *,
        channel_id: str | None = None,
        message_ts: str | None = None,
        user_id: str | None = None,
        thread_ts: str | None = None,
    ) -> str: ...

    def user_name(self, user_id: str) -> str | None: ...


def sign(signing_secret: str, body: str | bytes, timestamp: int | str) -> str:
    """Slack's v0 request signature: ``v0=`` + HMAC-SHA256(secret, ``v0:{ts}:{body}``)."""
    raw = body if isinstance(body, bytes) else body.encode("utf-8")
    base = f"v0:{timestamp}:".encode() + raw
    return "v0=" + hmac.new(signing_secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def _rand(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _now_ts() -> str:
    now_us = time.time_ns() // 1000
    return f"{now_us // 1_000_000}.{now_us % 1_000_000:06d}"


def _with_emoji(text: Any) -> Any:
    if isinstance(text, dict):
        text = copy.deepcopy(text)
        if text.get("type") == "plain_text":
            text.setdefault("emoji", True)
    return text


def _option_payload(option: Mapping[str, Any]) -> dict[str, Any]:
    """An option object as Slack echoes it in payloads (plain_text marked emoji: true)."""
    out = copy.deepcopy(dict(option))
    for key in ("text", "description"):
        if key in out:
            out[key] = _with_emoji(out[key])
    return out


def _text_of(obj: Any) -> str:
    if isinstance(obj, Mapping):
        return str(obj.get("text", ""))
    return "" if obj is None else str(obj)


# --------------------------------------------------------------------------------------------
# Finding elements in blocks
# --------------------------------------------------------------------------------------------


def find_elements(blocks: Any) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Yield ``(block, element)`` for every element a person can interact with: actions-block
    elements, section accessories and input-block elements."""
    for block in blocks or []:
        if not isinstance(block, dict):
            continue
        btype = block.get("type")
        if btype == "actions":
            candidates = list(block.get("elements") or [])
        elif btype == "section":
            candidates = [block["accessory"]] if "accessory" in block else []
        elif btype == "input":
            candidates = [block["element"]] if "element" in block else []
        else:
            candidates = []
        for element in candidates:
            if isinstance(element, dict):
                yield block, element


def _describe(blocks: Any, types: tuple[str, ...] | None = None) -> str:
    found = [
        f"{element.get('type')}(action_id={element.get('action_id')!r}, "
        f"value={element.get('value')!r}, text={_text_of(element.get('text'))!r}, "
        f"block_id={block.get('block_id')!r})"
        for block, element in find_elements(blocks)
        if types is None or element.get("type") in types
    ]
    return ", ".join(found) if found else "none"


def _find_one(
    blocks: Any,
    *,
    types: tuple[str, ...],
    action_id: str,
    value: str | None = None,
    block_id: str | None = None,
    where: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    matches = [
        (block, element)
        for block, element in find_elements(blocks)
        if element.get("type") in types
        and element.get("action_id") == action_id
        and (value is None or element.get("value") == value)
        and (block_id is None or block.get("block_id") == block_id)
    ]
    what = (
        f"{'/'.join(types)} with action_id={action_id!r}"
        + (f" and value={value!r}" if value is not None else "")
        + (f" in block {block_id!r}" if block_id is not None else "")
    )
    if not matches:
        raise AssertionError(f"no {what} in {where}; elements present: {_describe(blocks)}")
    if len(matches) > 1:
        raise AssertionError(
            f"{len(matches)} elements match {what} in {where} (pass value= to pick one): "
            f"{_describe(blocks, types)}"
        )
    return matches[0]


def _all_options(element: Mapping[str, Any]) -> list[dict[str, Any]]:
    options = [o for o in element.get("options") or [] if isinstance(o, dict)]
    for group in element.get("option_groups") or []:
        if isinstance(group, dict):
            options.extend(o for o in group.get("options") or [] if isinstance(o, dict))
    return options


def _pick_option(element: Mapping[str, Any], value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return _option_payload(value)
    options = _all_options(element)
    for option in options:
        if option.get("value") == value:
            return _option_payload(option)
    if element.get("type") in _STRICT_OPTION_TYPES:
        present = [o.get("value") for o in options]
        raise AssertionError(
            f"{element.get('type')} {element.get('action_id')!r} in {where} has no option "
            f"with value {value!r}; options: {present}"
        )
    # external selects: options come from the app's options endpoint, so trust the caller.
    return {"text": {"type": "plain_text", "text": str(value), "emoji": True}, "value": value}


def element_action(
    block: Mapping[str, Any], element: Mapping[str, Any], value: Any = None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """What Slack sends when a person uses `element` (in `block`) and leaves it at `value`:
    the payload's action, and the element's entry in state.values (None: it has none).
    `value`: option value(s) for selects and checkboxes, a date ``YYYY-MM-DD``, a time
    ``HH:MM``, a Unix time for a datetimepicker, user id(s) for user selects."""
    etype = str(element.get("type"))
    block_id = str(block.get("block_id") or _rand(5))
    action_id = element.get("action_id")
    where = f"{block_id}/{action_id}"
    if etype == "button":
        return SignedSlackClient._button_action(block, element), None
    key = "selected_option" if etype == "overflow" else _STATE_KEYS.get(etype)
    if key is None:
        raise AssertionError(f"a person cannot use a {etype} element here")
    chosen = _convert(element, key, value, where)
    action: dict[str, Any] = {
        "type": etype,
        "action_id": action_id,
        "block_id": block_id,
        key: chosen,
        "action_ts": _now_ts(),
    }
    if "placeholder" in element:
        action["placeholder"] = _with_emoji(element["placeholder"])
    if etype == "overflow":
        return action, None
    return action, {"type": etype, key: chosen}


# --------------------------------------------------------------------------------------------
# view.state.values
# --------------------------------------------------------------------------------------------
# view.state.values
# --------------------------------------------------------------------------------------------


def _convert(element: Mapping[str, Any], key: str, value: Any, where: str) -> Any:
    """Turn what a test passes into the exact value shape Slack uses for ``key``."""
    if value is None:
        return [] if key in _LIST_KEYS else None
    if key in _OPTION_KEYS:
        if key == "selected_option":
            return _pick_option(element, value, where)
        if isinstance(value, str | Mapping):
            value = [value]
        return [_pick_option(element, v, where) for v in value]
    if key in _LIST_KEYS:
        return [value] if isinstance(value, str) else list(value)
    if key == "value":
        return str(value)  # number_input values arrive as strings too
    if key == "rich_text_value":
        if isinstance(value, str):
            return {
                "type": "rich_text",
                "elements": [
                    {"type": "rich_text_section", "elements": [{"type": "text", "text": value}]}
                ],
            }
        return value
    if key == "selected_date":
        return value.isoformat() if isinstance(value, date) else str(value)
    if key == "selected_time":
        return value.strftime("%H:%M") if isinstance(value, dt_time) else str(value)
    if key == "selected_date_time":
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise AssertionError(f"datetimepicker value for {where} must be timezone-aware")
            return int(value.timestamp())
        return int(value)
    return value


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _check_submittable(
    block: Mapping[str, Any], element: Mapping[str, Any], state: Mapping[str, Any], where: str
) -> None:
    """Slack's client won't send a view_submission a person couldn't make."""
    key = _STATE_KEYS[str(element.get("type"))]
    value = state.get(key)
    label = _text_of(block.get("label"))
    if _is_empty(value):
        if block.get("type") == "input" and not block.get("optional"):
            raise AssertionError(
                f"a person could not submit this modal: required input {where} ({label!r}) is empty"
            )
        return
    etype = element.get("type")
    if etype == "plain_text_input" and isinstance(value, str):
        min_length = int(element.get("min_length", 0))
        max_length = int(element.get("max_length", 3000))
        if not min_length <= len(value) <= max_length:
            raise AssertionError(
                f"a person could not submit this modal: {where} ({label!r}) must be "
                f"{min_length}..{max_length} characters, got {len(value)}"
            )
    if etype == "number_input" and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise AssertionError(f"{where} ({label!r}): {value!r} is not a number") from None
        if not element.get("is_decimal_allowed") and not number.is_integer():
            raise AssertionError(f"{where} ({label!r}) does not allow decimals: {value!r}")
        low, high = element.get("min_value"), element.get("max_value")
        if (low is not None and number < float(low)) or (high is not None and number > float(high)):
            raise AssertionError(f"{where} ({label!r}): {value} is outside [{low}, {high}]")


def build_view_state(
    view: Mapping[str, Any],
    values: Mapping[str, Any] | None = None,
    *,
    check_required: bool = True,
) -> dict[str, dict[str, dict[str, Any]]]:
    """``view.state.values`` as Slack would send it for ``view``.

    ``values`` maps an element's ``action_id`` or its block's ``block_id`` to what the person
    entered (str / list / option value / date / time / aware datetime / number).  Input blocks
    not mentioned get their ``initial_*`` value (or None / [] when there is none), as Slack does.
    Stateful elements outside input blocks are included only when mentioned.
    """
    values = dict(values or {})
    blocks = view.get("blocks") or []
    candidates: list[tuple[dict[str, Any], dict[str, Any]]] = [
        (block, element)
        for block, element in find_elements(blocks)
        if element.get("type") in _STATE_KEYS
    ]
    used: set[str] = set()
    state: dict[str, dict[str, dict[str, Any]]] = {}
    for block, element in candidates:
        block_id = str(block.get("block_id") or "")
        action_id = str(element.get("action_id") or "")
        keys = [k for k in (action_id, block_id) if k and k in values]
        if keys:
            key = keys[0]
            sharing = [
                b
                for b, e in candidates
                if key in (str(e.get("action_id") or ""), str(b.get("block_id") or ""))
            ]
            if len(sharing) > 1:
                raise AssertionError(
                    f"{key!r} matches {len(sharing)} inputs in the view; use the block_id"
                )
        elif block.get("type") != "input":
            continue
        etype = str(element.get("type"))
        state_key = _STATE_KEYS[etype]
        where = f"{block_id}/{action_id}"
        if keys:
            used.add(keys[0])
            value = _convert(element, state_key, values[keys[0]], where)
        else:
            initial = element.get(_INITIAL_KEYS.get(state_key, ""))
            value = _convert(element, state_key, initial, where)
        entry: dict[str, Any] = {"type": etype, state_key: value}
        if etype == "timepicker" and element.get("timezone"):
            entry["timezone"] = element["timezone"]
        if check_required:
            _check_submittable(block, element, entry, where)
        state.setdefault(block_id, {})[action_id] = entry
    unknown = sorted(set(values) - used)
    if unknown:
        present = [
            f"{b.get('block_id')}/{e.get('action_id')} ({e.get('type')})" for b, e in candidates
        ]
        raise AssertionError(
            f"no input with action_id or block_id {unknown} in view "
            f"{view.get('callback_id')!r}; inputs present: {present}"
        )
    return state


# --------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------


@functools.cache
def _tls() -> ssl.SSLContext:
    # httpx loads the CA bundle again for every client (a tenth of a second and more on a
    # busy machine); one verifying context serves every client of the process.
    return httpx.create_ssl_context()


class SignedSlackClient:
    """POSTs correctly signed Slack requests to ``base_url + path`` (default ``/slack/events``)."""

    def __init__(
        self,
        base_url: str,
        signing_secret: str,
        team_id: str = "T0001",
        *,
        fake: SlackDirectory | None = None,
        api_app_id: str = "A0001",
        team_domain: str = "acme",
        bot_user_id: str = "UBOT",
        verification_token: str = "legacy-verification-token",
        path: str = "/slack/events",
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + path
        self.signing_secret = signing_secret
        self.team_id = team_id
        self.fake = fake
        self.api_app_id = api_app_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.verification_token = verification_token
        self.http = httpx.Client(timeout=timeout, verify=_tls())
        self.last_trigger_id: str | None = None
        self.last_response_url: str | None = None
        self.last_payload: dict[str, Any] | None = None

    # ---- plumbing --------------------------------------------------------------------------

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> SignedSlackClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def sign(self, body: str | bytes, timestamp: int | str) -> str:
        return sign(self.signing_secret, body, timestamp)

    @staticmethod
    def new_trigger_id() -> str:
        return (
            f"{secrets.randbelow(10**13):013d}.{secrets.randbelow(10**12):012d}."
            f"{secrets.token_hex(16)}"
        )

    def post_raw(
        self,
        body: str | bytes,
        content_type: str,
        *,
        timestamp: int | None = None,
        sign: bool = True,
        signature: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """POST ``body`` as-is.  ``sign=False`` sends no signature headers (unless ``timestamp``
        is given); ``signature`` overrides the computed one (forgery tests); ``timestamp``
        fakes the request time (replay tests)."""
        raw = body if isinstance(body, bytes) else body.encode("utf-8")
        ts = int(time.time()) if timestamp is None else timestamp
        sent: dict[str, str] = {"Content-Type": content_type, "User-Agent": SLACK_USER_AGENT}
        if sign or signature is not None or timestamp is not None:
            sent["X-Slack-Request-Timestamp"] = str(ts)
        if signature is not None:
            sent["X-Slack-Signature"] = signature
        elif sign:
            sent["X-Slack-Signature"] = self.sign(raw, ts)
        sent.update(headers or {})
        return self.http.post(self.url, content=raw, headers=sent)

    @staticmethod
    def _retry_headers(retry_num: int | None, retry_reason: str) -> dict[str, str]:
        if retry_num is None:
            return {}
        return {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}

    def _post_payload(
        self, payload: dict[str, Any], *, retry_num: int | None, retry_reason: str
    ) -> httpx.Response:
        self.last_payload = payload
        body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
        return self.post_raw(body, FORM, headers=self._retry_headers(retry_num, retry_reason))

    def _user_name(self, user_id: str) -> str:
        name = self.fake.user_name(user_id) if self.fake is not None else None
        return name or user_id.lower().removeprefix("u_")

    def _user(self, user_id: str) -> dict[str, Any]:
        name = self._user_name(user_id)
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    def _team(self) -> dict[str, Any]:
        return {"id": self.team_id, "domain": self.team_domain}

    @staticmethod
    def channel_name(channel_id: str) -> str:
        if channel_id.startswith("D"):
            return "directmessage"
        if channel_id.startswith("G"):
            return "privategroup"
        return channel_id.removeprefix("C_").removeprefix("C").lower() or channel_id.lower()

    def _response_url(
        self,
        channel_id: str | None,
        user_id: str,
        message_ts: str | None = None,
        thread_ts: str | None = None,
    ) -> str:
        if self.fake is not None:
            return self.fake.new_response_url(
                channel_id=channel_id, message_ts=message_ts, user_id=user_id, thread_ts=thread_ts
            )
        # Nothing listens on the discard port: a bot that uses it fails fast, never leaves loopback.
        return f"http://127.0.0.1:9/actions/{self.team_id}/{_rand(12, string.digits)}/{_rand(24)}"

    # ---- slash commands --------------------------------------------------------------------

    def command(
        self,
        text: str,
        *,
        user_id: str = "U_OWNER",
        channel_id: str = "C_RELEASES",
        command: str = "/release",
        response_url: str | None = None,
        trigger_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        channel_name: str | None = None,
        user_name: str | None = None,
    ) -> httpx.Response:
        """A slash command, form-encoded exactly as Slack sends it.  The trigger_id and
        response_url used are kept in ``last_trigger_id`` / ``last_response_url``."""
        trigger_id = trigger_id or self.new_trigger_id()
        response_url = response_url or self._response_url(channel_id, user_id)
        form = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": channel_name or self.channel_name(channel_id),
            "user_id": user_id,
            "user_name": user_name or self._user_name(user_id),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
        self.last_trigger_id, self.last_response_url = trigger_id, response_url
        self.last_payload = dict(form)
        return self.post_raw(
            urlencode(form), FORM, headers=self._retry_headers(retry_num, retry_reason)
        )

    # ---- block_actions ---------------------------------------------------------------------

    def block_actions(
        self,
        *,
        user_id: str,
        action: Mapping[str, Any],
        container: Mapping[str, Any],
        message: Mapping[str, Any] | None = None,
        view: Mapping[str, Any] | None = None,
        channel_id: str | None = None,
        response_url: str | None = None,
        trigger_id: str | None = None,
        state_values: Mapping[str, Any] | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
    ) -> httpx.Response:
        """A raw ``block_actions`` payload.  Message interactions (``container.type ==
        "message"``) get channel, message, state and a response_url; view interactions get the
        view (with ``state_values`` put in ``view.state.values``) and no response_url."""
        trigger_id = trigger_id or self.new_trigger_id()
        full_action = {
            **copy.deepcopy(dict(action)),
            "action_ts": action.get("action_ts") or _now_ts(),
        }
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "container": dict(container),
            "trigger_id": trigger_id,
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
        }
        if container.get("type") == "view" or view is not None:
            if view is not None:
                view_payload = copy.deepcopy(dict(view))
                view_payload["state"] = {"values": copy.deepcopy(dict(state_values or {}))}
                payload["view"] = view_payload
        else:
            channel_id = channel_id or container.get("channel_id")
            if channel_id:
                payload["channel"] = {"id": channel_id, "name": self.channel_name(channel_id)}
            if message is not None:
                payload["message"] = copy.deepcopy(dict(message))
            payload["state"] = {"values": copy.deepcopy(dict(state_values or {}))}
            if response_url is None:
                message_ts = container.get("message_ts")
                response_url = self._response_url(
                    channel_id,
                    user_id,
                    message_ts=str(message_ts) if message_ts else None,
                    thread_ts=container.get("thread_ts"),
                )
            payload["response_url"] = response_url
        payload["actions"] = [full_action]
        self.last_trigger_id, self.last_response_url = trigger_id, response_url
        return self._post_payload(payload, retry_num=retry_num, retry_reason=retry_reason)

    @staticmethod
    def message_container(
        message: Mapping[str, Any], channel_id: str, is_ephemeral: bool
    ) -> dict[str, Any]:
        """A block_actions payload's ``container`` for a click in ``message``."""
        ts = message.get("ts")
        if not ts:
            raise AssertionError("the message has no 'ts'; pass a message as stored by FakeSlack")
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel_id,
            "is_ephemeral": is_ephemeral,
        }
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != ts:
            container["thread_ts"] = thread_ts
        return container

    @staticmethod
    def _block_id(block: Mapping[str, Any]) -> str:
        # Slack always fills block_id in; FakeSlack-stored messages/views have one.
        return str(block.get("block_id") or _rand(5))

    @staticmethod
    def _button_action(block: Mapping[str, Any], button: Mapping[str, Any]) -> dict[str, Any]:
        action: dict[str, Any] = {
            "action_id": button.get("action_id"),
            "block_id": SignedSlackClient._block_id(block),
            "text": _with_emoji(button.get("text")),
        }
        if "value" in button:
            action["value"] = button["value"]
        if "style" in button:
            action["style"] = button["style"]
        action["type"] = "button"
        return action

    def click_button(
        self,
        message: Mapping[str, Any],
        channel_id: str,
        *,
        user_id: str,
        action_id: str,
        value: str | None = None,
        response_url: str | None = None,
        is_ephemeral: bool = False,
        retry_num: int | None = None,
    ) -> httpx.Response:
        """Click the button (action_id [, value]) that is in ``message["blocks"]``.

        For an ephemeral message pass ``is_ephemeral=True``: Slack then sends no ``message``."""
        block, button = _find_one(
            message.get("blocks"),
            types=("button",),
            action_id=action_id,
            value=value,
            where=f"message {message.get('ts')}",
        )
        return self.block_actions(
            user_id=user_id,
            action=self._button_action(block, button),
            container=self.message_container(message, channel_id, is_ephemeral),
            message=None if is_ephemeral else message,
            channel_id=channel_id,
            response_url=response_url,
            retry_num=retry_num,
        )

    def click_button_in_view(
        self,
        view: Mapping[str, Any],
        *,
        user_id: str,
        action_id: str,
        value: str | None = None,
        values: Mapping[str, Any] | None = None,
        retry_num: int | None = None,
    ) -> httpx.Response:
        """Click a button in a home tab or modal (``view`` as returned by views.* / FakeSlack).
        ``values`` fills the modal's current ``state.values`` (see ``build_view_state``)."""
        view_id = view.get("id")
        if not view_id:
            raise AssertionError("the view has no 'id'; pass a view as returned by FakeSlack")
        block, button = _find_one(
            view.get("blocks"),
            types=("button",),
            action_id=action_id,
            value=value,
            where=f"view {view_id} ({view.get('callback_id')!r})",
        )
        return self.block_actions(
            user_id=user_id,
            action=self._button_action(block, button),
            container={"type": "view", "view_id": view_id},
            view=view,
            state_values=build_view_state(view, values, check_required=False),
            retry_num=retry_num,
        )

    def toggle_checkboxes(
        self,
        message: Mapping[str, Any],
        channel_id: str,
        *,
        user_id: str,
        action_id: str,
        selected_values: list[str],
        block_id: str | None = None,
        response_url: str | None = None,
        retry_num: int | None = None,
    ) -> httpx.Response:
        """Leave exactly ``selected_values`` ticked in the message's checkboxes element (the
        one in block ``block_id`` when several share the action id)."""
        where = f"message {message.get('ts')}"
        block, element = _find_one(
            message.get("blocks"),
            types=("checkboxes",),
            action_id=action_id,
            block_id=block_id,
            where=where,
        )
        selected = [_pick_option(element, v, where) for v in selected_values]
        block_id = self._block_id(block)
        action = {
            "type": "checkboxes",
            "action_id": action_id,
            "block_id": block_id,
            "selected_options": selected,
        }
        state = {block_id: {action_id: {"type": "checkboxes", "selected_options": selected}}}
        return self.block_actions(
            user_id=user_id,
            action=action,
            container=self.message_container(message, channel_id, False),
            message=message,
            channel_id=channel_id,
            response_url=response_url,
            state_values=state,
            retry_num=retry_num,
        )

    def select_option(
        self,
        message: Mapping[str, Any],
        channel_id: str,
        *,
        user_id: str,
        action_id: str,
        value: str,
        response_url: str | None = None,
        retry_num: int | None = None,
    ) -> httpx.Response:
        """Pick an option of a static_select / overflow / radio_buttons element in a message."""
        where = f"message {message.get('ts')}"
        block, element = _find_one(
            message.get("blocks"),
            types=("static_select", "overflow", "radio_buttons"),
            action_id=action_id,
            where=where,
        )
        option = _pick_option(element, value, where)
        block_id = self._block_id(block)
        etype = str(element["type"])
        action: dict[str, Any] = {
            "type": etype,
            "action_id": action_id,
            "block_id": block_id,
            "selected_option": option,
        }
        if "placeholder" in element:
            action["placeholder"] = _with_emoji(element["placeholder"])
        state: dict[str, Any] = {}
        if etype != "overflow":
            state = {block_id: {action_id: {"type": etype, "selected_option": option}}}
        return self.block_actions(
            user_id=user_id,
            action=action,
            container=self.message_container(message, channel_id, False),
            message=message,
            channel_id=channel_id,
            response_url=response_url,
            state_values=state,
            retry_num=retry_num,
        )

    # ---- views -----------------------------------------------------------------------------

    def view_submission(
        self,
        view: Mapping[str, Any],
        *,
        user_id: str,
        values: Mapping[str, Any],
        check_required: bool = True,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        trigger_id: str | None = None,
    ) -> httpx.Response:
        """Submit the modal ``view`` (as recorded by FakeSlack: has id, callback_id,
        private_metadata, blocks) with ``values`` (see ``build_view_state``).

        Raises AssertionError when a person couldn't submit it (required input empty, text
        length / number bounds violated) unless ``check_required=False``."""
        if not view.get("id"):
            raise AssertionError("the view has no 'id'; pass a view as recorded by FakeSlack")
        if view.get("type") != "modal":
            raise AssertionError(f"only modals can be submitted, got {view.get('type')!r}")
        if check_required and not view.get("submit"):
            raise AssertionError("this modal has no submit button, a person cannot submit it")
        state = build_view_state(view, values, check_required=check_required)
        view_payload = copy.deepcopy(dict(view))
        view_payload["state"] = {"values": state}
        response_urls: list[dict[str, Any]] = []
        for block, element in find_elements(view.get("blocks")):
            if block.get("type") == "input" and element.get("response_url_enabled"):
                entry = state.get(str(block.get("block_id")), {}).get(
                    str(element.get("action_id")), {}
                )
                channel = entry.get("selected_conversation") or entry.get("selected_channel")
                if channel:
                    response_urls.append(
                        {
                            "block_id": block.get("block_id"),
                            "action_id": element.get("action_id"),
                            "channel_id": channel,
                            "response_url": self._response_url(channel, user_id),
                        }
                    )
        trigger_id = trigger_id or self.new_trigger_id()
        payload: dict[str, Any] = {
            "type": "view_submission",
            "team": self._team(),
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "trigger_id": trigger_id,
            "view": view_payload,
            "response_urls": response_urls,
            "is_enterprise_install": False,
            "enterprise": None,
        }
        self.last_trigger_id = trigger_id
        return self._post_payload(payload, retry_num=retry_num, retry_reason=retry_reason)

    def view_closed(
        self,
        view: Mapping[str, Any],
        *,
        user_id: str,
        is_cleared: bool = False,
        retry_num: int | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """The person closed the modal (Slack only sends this when notify_on_close is true),
        leaving its inputs at ``values`` (see ``build_view_state``)."""
        if not view.get("notify_on_close"):
            raise AssertionError("Slack sends view_closed only for views with notify_on_close")
        view_payload = copy.deepcopy(dict(view))
        view_payload["state"] = {"values": build_view_state(view, values, check_required=False)}
        payload: dict[str, Any] = {
            "type": "view_closed",
            "team": self._team(),
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "view": view_payload,
            "is_cleared": is_cleared,
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return self._post_payload(payload, retry_num=retry_num, retry_reason="http_timeout")

    # ---- Events API ------------------------------------------------------------------------

    def event(
        self,
        event: Mapping[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
    ) -> httpx.Response:
        """An ``event_callback`` envelope around ``event`` (``event_ts`` filled in if absent)."""
        inner = copy.deepcopy(dict(event))
        inner.setdefault("event_ts", _now_ts())
        envelope: dict[str, Any] = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "context_enterprise_id": None,
            "api_app_id": self.api_app_id,
            "event": inner,
            "type": "event_callback",
            "event_id": event_id or "Ev" + _rand(10, string.ascii_uppercase + string.digits),
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": "4-" + _rand(40),
        }
        self.last_payload = envelope
        return self.post_raw(
            json.dumps(envelope), JSON, headers=self._retry_headers(retry_num, retry_reason)
        )

    def app_home_opened(
        self, user_id: str, *, view: Mapping[str, Any] | None = None
    ) -> httpx.Response:
        """The person opened the app's Home tab (``view`` = the currently published one)."""
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user_id,
            "channel": "D" + user_id,
            "tab": "home",
        }
        if view is not None:
            event["view"] = copy.deepcopy(dict(view))
        return self.event(event)

    def url_verification(self, challenge: str) -> httpx.Response:
        body = {
            "token": self.verification_token,
            "challenge": challenge,
            "type": "url_verification",
        }
        self.last_payload = body
        return self.post_raw(json.dumps(body), JSON)
