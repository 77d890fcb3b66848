"""Which URLs a webhook may call: https, to public addresses only.

A webhook is a request the bot makes on someone's behalf, from inside the network it runs
in; so its host is resolved and every address it names must be public (not private,
loopback, link-local, multicast, reserved or unspecified). The check runs again at each
delivery, and the request goes to the address that passed it, so a name that resolves to
something else later (DNS rebinding) can't steer a delivery inside.

`allow_private` (RELEASEBOT_WEBHOOK_ALLOW_PRIVATE=1) also allows http and private or
loopback addresses: for local receivers and tests.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from models.webhooks import MAX_URL

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class UnsafeUrl(Exception):
    """The URL may not be a webhook's; the message says why, for the person."""


class Unresolvable(UnsafeUrl):
    """Its host resolves to nothing (now): at delivery, worth trying again later."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (`address`), and what to ask for there."""

    scheme: str
    host: str
    port: int
    path: str  # with its query
    address: str


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolvable(f"{host} can't be resolved ({exc}).") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def parse(url: str, *, allow_private: bool) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of a URL a webhook may have; refused otherwise."""
    if len(url) > MAX_URL:
        raise UnsafeUrl(f"That URL is too long (at most {MAX_URL} characters).")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl("That is not a URL.") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise UnsafeUrl("A webhook's URL must start with https://.")
    if not parts.hostname:
        raise UnsafeUrl("That URL names no host.")
    if parts.username or parts.password:
        raise UnsafeUrl("Put no user name or password in a webhook's URL.")
    if parts.fragment:
        raise UnsafeUrl("A webhook's URL has no #fragment.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname, port or default, path


def check(url: str, *, allow_private: bool, resolve: Resolver = system_resolver) -> Target:
    """The URL, checked now: its host resolves, and only to addresses it may reach."""
    scheme, host, port, path = parse(url, allow_private=allow_private)
    try:
        literal: Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    found = [str(literal)] if literal is not None else resolve(host, port)
    if not found:
        raise Unresolvable(f"{host} resolves to no address.")
    for text in found:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if not allow_private and not is_public(address):
            raise UnsafeUrl(
                f"{host} resolves to {address}, which is not a public address: a webhook "
                "can't call internal services."
            )
    return Target(scheme, host, port, path, found[0])
