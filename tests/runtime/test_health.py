"""The status-file health check used by the container HEALTHCHECK."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from detector.runtime.health import check_status, main

NOW = 1_800_000_000.0


def _write(path: Path, **fields: object) -> Path:
    path.write_text(json.dumps(fields), encoding="utf-8")
    return path


def test_fresh_file_is_ok(tmp_path: Path) -> None:
    p = _write(tmp_path / "status.json", updated_at=NOW - 3.2, frames=1500, fps=14.8, dropped=2)
    ok, msg = check_status(p, 30, now=lambda: NOW)
    assert ok, msg
    assert "3.2s ago" in msg and "frames=1500" in msg and "dropped=2" in msg


def test_stale_file_fails_with_its_age(tmp_path: Path) -> None:
    p = _write(tmp_path / "status.json", updated_at=NOW - 95.0, frames=10, fps=0.0, dropped=0)
    ok, msg = check_status(p, 30, now=lambda: NOW)
    assert not ok
    assert "stale" in msg and "95.0s ago" in msg and "max 30s" in msg


def test_boundary_age_is_ok(tmp_path: Path) -> None:
    p = _write(tmp_path / "status.json", updated_at=NOW - 30.0)
    assert check_status(p, 30, now=lambda: NOW)[0]


def test_missing_file_fails(tmp_path: Path) -> None:
    ok, msg = check_status(tmp_path / "status.json", 30)
    assert not ok
    assert "no status file" in msg and "status.json" in msg


def test_corrupt_file_fails(tmp_path: Path) -> None:
    p = tmp_path / "status.json"
    p.write_text('{"updated_at": 17', encoding="utf-8")  # torn write
    ok, msg = check_status(p, 30)
    assert not ok and "not valid JSON" in msg


def test_wrong_shapes_fail(tmp_path: Path) -> None:
    p = tmp_path / "status.json"
    for body, expected in (
        ("[1, 2]", "expected an object"),
        ('{"frames": 3}', "no numeric updated_at"),
        ('{"updated_at": "yesterday"}', "no numeric updated_at"),
        ('{"updated_at": true}', "no numeric updated_at"),
        ('{"updated_at": NaN}', "no numeric updated_at"),
    ):
        p.write_text(body, encoding="utf-8")
        ok, msg = check_status(p, 30)
        assert not ok and expected in msg, (body, msg)


def test_a_folder_is_not_a_status_file(tmp_path: Path) -> None:
    ok, msg = check_status(tmp_path, 30)
    assert not ok and "cannot read" in msg


def test_main_exit_codes(tmp_path: Path, capsys) -> None:
    p = _write(tmp_path / "status.json", updated_at=time.time(), frames=1, fps=1.0, dropped=0)
    assert main([str(p), "--max-age", "30"]) == 0
    assert "ok" in capsys.readouterr().out
    _write(p, updated_at=time.time() - 120)
    assert main([str(p), "--max-age", "30"]) == 1
    assert "stale" in capsys.readouterr().err
    assert main([str(tmp_path / "nope.json")]) == 1


def test_module_entry_point(tmp_path: Path) -> None:
    p = _write(tmp_path / "status.json", updated_at=time.time())
    run = [sys.executable, "-m", "detector.runtime.health"]
    repo = Path(__file__).resolve().parents[2]
    assert subprocess.run([*run, str(p), "--max-age", "30"], capture_output=True, cwd=repo).returncode == 0
    res = subprocess.run(
        [*run, str(tmp_path / "missing.json"), "--max-age", "30"], capture_output=True, text=True, cwd=repo
    )
    assert res.returncode == 1 and "no status file" in res.stderr
