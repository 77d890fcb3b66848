"""Every benchmark still runs: each script's `--smoke` mode (tiny sizes, no targets checked),
started as a person would start it, so a broken import or a changed API fails here, not at
the next manual run. A smoke run still checks what is not a timing (every answer 200, a card
per proposal, the feed's bytes, every waiter answered) and exits non-zero when that breaks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("*.py") if p.name != "__init__.py")
# Generous for a loaded 2-core machine; on a quiet one a smoke run takes a few seconds.
TIMEOUT_S = 300


@dataclass
class SmokeRun:
    process: subprocess.Popen[bytes]
    output: Path

    def finish(self) -> tuple[int, str]:
        """Its exit status and the tail of what it printed."""
        try:
            status = self.process.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            stop(self.process)
            status = -1
        return status, self.output.read_text(errors="replace")[-6000:]


def stop(process: subprocess.Popen[bytes]) -> None:
    """The run and every server it started (its own process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="module")
def smoke_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, SmokeRun]]:
    """The selected scripts' smoke runs, started together: most of a run is waiting (for
    servers to start, for background work), so together they take about the slowest's time."""
    selected = [
        str(item.callspec.params["script"])
        for item in request.session.items
        if isinstance(item, pytest.Function) and item.path == Path(__file__)
    ]
    # The benchmark's own settings only: none of this shell's Slack or database settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    runs: dict[str, SmokeRun] = {}
    for script in selected:
        folder = tmp_path_factory.mktemp(script.removesuffix(".py"))
        output = folder / "output.txt"
        with output.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, str(BENCHMARKS / script), "--smoke"],
                cwd=folder,  # no .env
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        runs[script] = SmokeRun(process, output)
    yield runs
    for run in runs.values():
        stop(run.process)


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_smoke_run(script: str, smoke_runs: dict[str, SmokeRun]) -> None:
    status, output = smoke_runs[script].finish()
    assert status == 0, output
    assert "smoke run: targets not checked" in output, output
