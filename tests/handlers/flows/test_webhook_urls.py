"""The webhook URL check: https to public addresses only, unless private ones are allowed."""

from __future__ import annotations

import pytest

from handlers.delivery import webhook_urls
from handlers.delivery.webhook_urls import Unresolvable, UnsafeUrl


def resolving(*addresses: str) -> webhook_urls.Resolver:
    return lambda host, port: list(addresses)


PUBLIC = resolving("93.184.216.34")


def test_a_public_https_url_passes_and_is_pinned_to_its_address() -> None:
    target = webhook_urls.check(
        "https://hooks.example.com/in?x=1", allow_private=False, resolve=PUBLIC
    )
    assert (target.scheme, target.host, target.port) == ("https", "hooks.example.com", 443)
    assert target.path == "/in?x=1" and target.address == "93.184.216.34"


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "172.16.0.5",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.169.254",  # cloud metadata
        "224.0.0.1",
        "240.0.0.1",
        "0.0.0.0",
        "100.64.0.1",  # carrier-grade NAT
        "::1",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        # IPv6 forms that embed an IPv4 address the request would reach in the end
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
        "2002:0a00:0001:1::5",  # 6to4 of 10.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::7f00:1",  # local-use NAT64 of 127.0.0.1
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
        "::a9fe:a9fe",  # IPv4-compatible 169.254.169.254
        "::ffff:0:a9fe:a9fe",  # IPv4-translated 169.254.169.254
    ],
)
def test_a_host_resolving_to_a_private_address_is_refused(address: str) -> None:
    with pytest.raises(UnsafeUrl, match="not a public address"):
        webhook_urls.check(
            "https://hooks.example.com/", allow_private=False, resolve=resolving(address)
        )


def test_a_6to4_address_of_a_public_ipv4_address_passes() -> None:
    target = webhook_urls.check(
        "https://hooks.example.com/", allow_private=False, resolve=resolving("2002:5db8:d822::")
    )
    assert target.address == "2002:5db8:d822::"


def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    with pytest.raises(UnsafeUrl, match="10.0.0.7"):
        webhook_urls.check(
            "https://hooks.example.com/",
            allow_private=False,
            resolve=resolving("93.184.216.34", "10.0.0.7"),
        )


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/x",
        "https://[::1]:8443/",
        "https://10.0.0.1/",
        "https://[2002:7f00:1::]/",
        "https://[2002:a9fe:a9fe::]/latest",
    ],
)
def test_literal_private_addresses_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrl, match="not a public address"):
        webhook_urls.check(url, allow_private=False, resolve=PUBLIC)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://hooks.example.com/", "https://"),
        ("ftp://hooks.example.com/", "https://"),
        ("hooks.example.com/x", "https://"),
        ("https:///x", "no host"),
        ("https://user:pw@hooks.example.com/", "password"),
        ("https://hooks.example.com/#x", "fragment"),
        ("https://hooks.example.com:99999/", "not a URL"),
        ("https://hooks.example.com/" + "a" * 600, "too long"),
        # A request line is ASCII: these would fail at every delivery, never sent.
        ("https://hooks.example.com/caf\u00e9", "plain ASCII"),
        ("https://hooks.example.com/in?token=a\x07b", "plain ASCII"),
        ("https://h\u00f4te.example/", "plain ASCII"),
    ],
)
def test_malformed_or_plain_http_urls_are_refused(url: str, problem: str) -> None:
    with pytest.raises(UnsafeUrl, match=problem):
        webhook_urls.check(url, allow_private=False, resolve=PUBLIC)


def test_a_host_that_does_not_resolve_is_refused_as_unresolvable() -> None:
    def fail(host: str, port: int) -> list[str]:
        raise Unresolvable(f"{host} can't be resolved.")

    with pytest.raises(Unresolvable):
        webhook_urls.check("https://nowhere.invalid/", allow_private=False, resolve=fail)
    with pytest.raises(Unresolvable):
        webhook_urls.check("https://nowhere.example/", allow_private=False, resolve=resolving())


def test_the_real_resolver_refuses_localhost() -> None:
    with pytest.raises(UnsafeUrl, match="not a public address"):
        webhook_urls.check("https://localhost:8443/hook", allow_private=False)


def test_allowing_private_addresses_allows_http_and_loopback() -> None:
    target = webhook_urls.check("http://127.0.0.1:8080/hook", allow_private=True)
    assert (target.scheme, target.address, target.port) == ("http", "127.0.0.1", 8080)
    target = webhook_urls.check(
        "https://internal.example/", allow_private=True, resolve=resolving("10.0.0.1")
    )
    assert target.address == "10.0.0.1"
