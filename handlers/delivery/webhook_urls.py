"""Which URLs a webhook may call: https, to public addresses only.

A webhook is a request the bot makes on someone's behalf, from inside the network it runs
in; so its host is resolved and every address it names must be public (not private,
loopback, link-local, multicast, reserved or unspecified), and so must every IPv4 address
an IPv6 one embeds (6to4, Teredo, NAT64, IPv4-mapped). The check runs again at each
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


# IPv6 ranges whose last 32 bits are an IPv4 address the packets reach in the end.
_NAT64 = (
    ipaddress.IPv6Network("64:ff9b::/96"),  # well-known prefix (RFC 6052)
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # local-use (RFC 8215)
)
_IPV4_TAIL = (
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated)
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (SIIT)
    *_NAT64,
)


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses a (not IPv4-mapped) IPv6 address carries: 6to4 (2002::/16),
    Teredo (its server and client), NAT64, IPv4-compatible and -translated."""
    found: list[ipaddress.IPv4Address] = []
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if any(address in network for network in _IPV4_TAIL):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def _is_global(address: Address) -> bool:
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def is_public(address: Address) -> bool:
    """Public itself and, for an IPv6 address that embeds IPv4 ones, all of those too
    (Python counts 2002::/16 as global, whatever IPv4 address a 6to4 one carries)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # it is that IPv4 address
    if isinstance(address, ipaddress.IPv4Address):
        return _is_global(address)
    return _is_global(address) and all(_is_global(v4) for v4 in embedded_ipv4(address))


def parse(url: str, *, allow_private: bool) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of a URL a webhook may have; refused otherwise."""
    if len(url) > MAX_URL:
        raise UnsafeUrl(f"That URL is too long (at most {MAX_URL} characters).")
    if not all("!" <= c <= "~" for c in url):
        # A request line is ASCII: such a URL could never be sent.
        raise UnsafeUrl(
            "Write the URL in plain ASCII: %-encode anything else, and leave out spaces and "
            "control characters (a host name goes in its xn-- form)."
        )
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
