"""Authenticating as the app against the fake GitHub: RS256 JWTs it accepts, installation
tokens kept until shortly before they expire, a wrong key refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import httpx
import jwt
import pytest
import time_machine

from handlers.github.app_credentials import AppCredentials, GitHubAuthError
from tests.handlers.github.conftest import eventually
from tests.support.fake_github import APP_ID, INSTALLATION, PRIVATE_KEY, FakeGitHub, new_private_key


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def test_the_jwt_says_who_and_expires_within_ten_minutes(
    fixed_moment: datetime, github: FakeGitHub, http: httpx.Client
) -> None:
    credentials = AppCredentials(APP_ID, PRIVATE_KEY, github.url, http)
    with time_machine.travel(fixed_moment, tick=False):
        claims = jwt.decode(credentials.app_jwt(), options={"verify_signature": False})
    now = fixed_moment.timestamp()
    assert claims["iss"] == APP_ID
    assert now - 70 <= claims["iat"] <= now - 50  # a minute back: clocks differ
    assert claims["exp"] - now <= 600 and claims["exp"] > now


def test_an_installation_token_is_kept_until_shortly_before_it_expires(
    github: FakeGitHub, http: httpx.Client
) -> None:
    credentials = AppCredentials(APP_ID, PRIVATE_KEY, github.url, http)
    token = credentials.installation_token(INSTALLATION)
    assert token.startswith("ghs_")
    assert credentials.installation_token(INSTALLATION) == token
    assert github.tokens_issued == 1

    # Tokens that expire a second after the margin: replaced once within it.
    github.token_lifetime = 301
    credentials.forget(INSTALLATION)
    short = credentials.installation_token(INSTALLATION)
    assert credentials.installation_token(INSTALLATION) == short
    eventually(
        lambda: credentials.installation_token(INSTALLATION) != short, timeout=5, what="renewal"
    )
    assert github.tokens_issued == 3


def test_a_jwt_signed_with_another_key_is_refused(github: FakeGitHub, http: httpx.Client) -> None:
    other_key, _ = new_private_key()
    credentials = AppCredentials(APP_ID, other_key, github.url, http)
    with pytest.raises(GitHubAuthError) as refused:
        credentials.installation_token(INSTALLATION)
    assert refused.value.status == 401
    assert github.refused and "Signature verification failed" in github.refused[0]
