"""Helpers of the CLI tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

#: The `detector_run` fixture: `detector_run(config_yaml, *args, timeout=...)` -> the finished `detector run`.
RunCommand = Callable[..., subprocess.CompletedProcess[str]]

#: The command line of the package's CLI, run by the tests' interpreter.
DETECTOR = [sys.executable, "-m", "detector"]


def run_detector(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`detector *args` from the repository, finished (stdout and stderr as text)."""
    from tests.conftest import REPO

    return subprocess.run([*DETECTOR, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)
