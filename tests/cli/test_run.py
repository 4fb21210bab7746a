"""`detector run` against a live MJPEG camera on the loopback address."""

import json
from pathlib import Path

from tests.cameras.mjpeg_server import MjpegCamera
from tests.cli.support import RunCommand

#: A camera that gives up at once when it cannot connect, evidence off (no signing key needed).
NO_EVIDENCE = (
    "camera_id: live1\nname: loopback camera\nsource: {uri: 'http://127.0.0.1:1/x', fps: 10,"
    " reconnect_attempts: 1, reconnect_delay_s: 0}\nevidence: {enabled: false}\n"
)


def test_run_watches_a_live_camera_and_writes_a_summary(tmp_path: Path, detector_run: RunCommand):
    with MjpegCamera(frames_per_connection=200) as cam:
        r = detector_run(NO_EVIDENCE, "--source", cam.url, "--max-frames", "25", "--preview", timeout=300)
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["frames"] == 25
    assert summary["camera_id"] == "live1"
    assert (tmp_path / "out" / "preview.mp4").exists()


def test_run_without_a_signing_key_is_a_config_error(detector_run: RunCommand):
    config = "camera_id: live1\nname: x\nsource: {uri: 'http://127.0.0.1:1/x'}\n"
    with MjpegCamera(frames_per_connection=5) as cam:
        r = detector_run(config, "--source", cam.url, "--max-frames", "3")
    assert r.returncode == 2
    assert "evidence.key_path" in r.stderr


def test_run_with_a_dead_camera_fails_cleanly(detector_run: RunCommand):
    r = detector_run(NO_EVIDENCE)
    assert r.returncode == 1
    assert "could not connect" in r.stderr
