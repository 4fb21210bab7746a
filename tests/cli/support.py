"""Helpers of the CLI tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

#: The `detector_run` fixture: `detector_run(config_yaml, *args, timeout=...)` -> the finished `detector run`.
RunCommand = Callable[..., subprocess.CompletedProcess[str]]

#: The command line of the package's CLI, run by the tests' interpreter.
DETECTOR = [sys.executable, "-m", "detector"]
