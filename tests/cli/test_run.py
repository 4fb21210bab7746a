"""`detector run` against a live MJPEG camera on the loopback address."""

import json
import subprocess
import sys
from pathlib import Path

from tests.cameras.mjpeg_server import MjpegCamera
from tests.conftest import REPO


def test_run_watches_a_live_camera_and_writes_a_summary(tmp_path: Path):
    cfg = tmp_path / "live.yaml"
    cfg.write_text(
        "camera_id: live1\nname: loopback camera\nsource: {uri: 'http://127.0.0.1:1/x', fps: 10,"
        " reconnect_attempts: 1, reconnect_delay_s: 0}\nevidence: {enabled: false}\n",
        encoding="utf-8",
    )
    with MjpegCamera(frames_per_connection=200) as cam:
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "detector",
                "run",
                "--config",
                str(cfg),
                "--source",
                cam.url,
                "--out",
                str(tmp_path / "out"),
                "--max-frames",
                "25",
                "--preview",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["frames"] == 25
    assert summary["camera_id"] == "live1"
    assert (tmp_path / "out" / "preview.mp4").exists()


def test_run_without_a_signing_key_is_a_config_error(tmp_path: Path):
    cfg = tmp_path / "live.yaml"
    cfg.write_text("camera_id: live1\nname: x\nsource: {uri: 'http://127.0.0.1:1/x'}\n", encoding="utf-8")
    with MjpegCamera(frames_per_connection=5) as cam:
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "detector",
                "run",
                "--config",
                str(cfg),
                "--source",
                cam.url,
                "--out",
                str(tmp_path / "out"),
                "--max-frames",
                "3",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert r.returncode == 2
    assert "evidence.key_path" in r.stderr


def test_run_with_a_dead_camera_fails_cleanly(tmp_path: Path):
    cfg = tmp_path / "live.yaml"
    cfg.write_text(
        "camera_id: live1\nname: x\nsource: {uri: 'http://127.0.0.1:1/x', reconnect_attempts: 1,"
        " reconnect_delay_s: 0}\nevidence: {enabled: false}\n",
        encoding="utf-8",
    )
    r = subprocess.run(
        [sys.executable, "-m", "detector", "run", "--config", str(cfg), "--out", str(tmp_path / "o")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1
    assert "could not connect" in r.stderr
