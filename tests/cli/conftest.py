"""Fixtures of the CLI tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cli.support import DETECTOR, RunCommand
from tests.conftest import REPO


@pytest.fixture
def detector_run(tmp_path: Path) -> RunCommand:
    """Runs `detector run --config <tmp>/live.yaml --out <tmp>/out *args` with `config_yaml` written to
    that file, from the repository, and returns the finished process (stdout and stderr as text)."""

    def run(config_yaml: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cfg = tmp_path / "live.yaml"
        cfg.write_text(config_yaml, encoding="utf-8")
        command = [*DETECTOR, "run", "--config", str(cfg), "--out", str(tmp_path / "out"), *args]
        return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout)

    return run
