"""The console script's commands, run in process."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import Releasebot


@pytest.fixture
def releasebot(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> Releasebot:
    return Releasebot(monkeypatch, capsys, tmp_path)
