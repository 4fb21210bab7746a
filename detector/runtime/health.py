"""Liveness check of a `detector run` from its status file, for container HEALTHCHECKs and probes.

Contract: the run rewrites `<out>/status.json` atomically every few seconds with at least
`updated_at` (unix time, seconds), `frames`, `fps` and `dropped`. The check passes when the file
parses and `updated_at` is at most `max_age_s` old. No network tools needed:

    python -m detector.runtime.health /var/lib/detector/status.json --max-age 30   # exit 0 ok, 1 not
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

DEFAULT_MAX_AGE_S = 30.0


def check_status(
    path: str | Path, max_age_s: float = DEFAULT_MAX_AGE_S, *, now: Callable[[], float] = time.time
) -> tuple[bool, str]:
    """(healthy, one-line reason) for the status file at `path`."""
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False, f"{p}: no status file (the run has not started or writes elsewhere)"
    except OSError as exc:
        return False, f"{p}: cannot read the status file: {exc}"
    try:
        record = json.loads(raw)
    except ValueError as exc:
        return False, f"{p}: status file is not valid JSON: {exc}"
    if not isinstance(record, dict):
        return False, f"{p}: status file holds {type(record).__name__}, expected an object"
    updated = record.get("updated_at")
    if isinstance(updated, bool) or not isinstance(updated, int | float) or not math.isfinite(updated):
        return False, f"{p}: status file has no numeric updated_at (got {updated!r})"
    age = now() - float(updated)
    if age > max_age_s:
        return False, f"{p}: stale, last updated {age:.1f}s ago (max {max_age_s:g}s)"
    details = ", ".join(f"{k}={record[k]}" for k in ("frames", "fps", "dropped") if k in record)
    return True, f"{p}: ok, updated {max(age, 0.0):.1f}s ago" + (f" ({details})" if details else "")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m detector.runtime.health",
        description="Exit 0 when a detector run's status.json is fresh, 1 otherwise.",
    )
    parser.add_argument("path", type=Path, help="The run's status file (<out>/status.json)")
    parser.add_argument(
        "--max-age",
        type=float,
        default=DEFAULT_MAX_AGE_S,
        help=f"Oldest acceptable updated_at, in seconds (default {DEFAULT_MAX_AGE_S:g})",
    )
    args = parser.parse_args(argv)
    ok, message = check_status(args.path, args.max_age)
    print(message, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
