"""`releasebot token create`: a set-up script's token, printed once, stored as a hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlmodel import select

from models.api.api_tokens import ApiToken
from models.db import Database
from tests.support.cli import Releasebot


def test_the_cli_creates_a_token_and_prints_it_once(releasebot: Releasebot, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'releasebot.db'}"
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "DATABASE_URL": url}
    assert releasebot("db", "upgrade", **env).returncode == 0
    args = ("token", "create", "--team", "T0001", "--name", "ci", "--owner", "U_OWNER")
    created = releasebot(*args, "--service", "payments", "--service", "web", **env)
    assert created.returncode == 0, created.stderr
    raw = created.stdout.strip()
    assert raw.startswith("rbk_") and len(raw) == 47
    assert "shown this once" in created.stderr and raw not in created.stderr

    db = Database(url)
    try:
        with db.session() as session:
            (token,) = session.exec(select(ApiToken)).all()
    finally:
        db.dispose()
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert (token.team_id, token.owner_id, token.created_by) == ("T0001", "U_OWNER", "cli")
    assert token.scope == ("payments", "web")
    assert raw.encode() not in (tmp_path / "releasebot.db").read_bytes()

    again = releasebot(*args, **env)
    assert again.returncode == 1 and "exists already" in again.stderr
    assert "Traceback" not in again.stderr and not again.stdout
    bad = releasebot("token", "create", "--team", "x", "--name", "ci", "--owner", "U1", **env)
    assert bad.returncode == 2 and "--team" in bad.stderr
