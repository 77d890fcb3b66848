"""`releasebot …` run in this process (its `main` with argv), for tests of what a command
does rather than of the console script itself: a new interpreter per command cost ~1.5 s."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import pytest

from bot.cli import main

# The settings a developer's shell may hold: a command sees only those the test gives it.
AMBIENT = ("SLACK_", "RELEASEBOT_", "GITHUB_")
AMBIENT_NAMES = ("DATABASE_URL", "PORT")


class CliRun(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


class Releasebot:
    """Runs commands as the console script would, with only the environment given, from
    `cwd` (a folder with no .env in it)."""

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cwd: Path
    ) -> None:
        self._monkeypatch = monkeypatch
        self._capsys = capsys
        self._cwd = cwd

    def __call__(self, *args: str, **env: str) -> CliRun:
        for name in list(os.environ):
            if name.startswith(AMBIENT) or name in AMBIENT_NAMES:
                self._monkeypatch.delenv(name)
        for name, value in env.items():
            self._monkeypatch.setenv(name, value)
        self._monkeypatch.chdir(self._cwd)
        self._capsys.readouterr()  # what ran before is not this command's output
        try:
            code = main(list(args))
        except SystemExit as exit:  # argparse's usage errors
            code = exit.code if isinstance(exit.code, int) else 1
        out, err = self._capsys.readouterr()
        return CliRun(code, out, err)
