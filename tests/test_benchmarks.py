"""Every benchmark still runs: each script's `--smoke` mode (tiny sizes, no targets checked),
as a person would start it, so a broken import or a changed API fails here, not at the next
manual run. The smoke run still checks what is not a timing (every answer 200, the feed's
bytes, every waiter answered) and exits non-zero when that breaks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("*.py") if p.name != "__init__.py")
# Generous for a loaded 2-core machine; a smoke run takes a few seconds.
TIMEOUT_S = 180


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_smoke_run(script: str, tmp_path: Path) -> None:
    # The benchmark's own settings only: none of this shell's Slack or database settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--smoke"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    output = f"--- stdout ---\n{done.stdout[-4000:]}\n--- stderr ---\n{done.stderr[-4000:]}"
    assert done.returncode == 0, output
    assert "smoke run: targets not checked" in done.stdout, output
