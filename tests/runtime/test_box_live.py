"""`detector run --config A --config B`: two live RTSP cameras on one edge box (one process).

Two GStreamer RTSP cameras on the loopback address serve the sample scene in real time (960x540,
15 fps, looped); each camera has its own config, camera id, signing key and MQTT topics. The box
must watch both at once: each camera's status file, summary, heartbeats (recorded from the real
Mosquitto at 127.0.0.1:1883 by the store's subscriber) and bundles under its own id and key, one
detector session for both, and a clean stop that turns both offline. (That a camera's violations
through the box are the ones it gives alone is tests/test_runtime_box.py, on files.)
"""

# ruff: noqa: F811  (pytest fixtures are imported from the support modules by name)
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from detector.evidence.keys import PUBLIC_NAME, write_key_pair
from detector.store.db import utc_now
from detector.store.heartbeat import HeartbeatSubscriber
from tests.cameras.rtsp_server import SAMPLE_CLIP, RtspServer, encode_h264, rtsp_unavailable
from tests.conftest import REPO
from tests.store.support import Keys, make_store

pytestmark = [
    pytest.mark.skipif(
        rtsp_unavailable() is not None, reason=f"RTSP test server unavailable: {rtsp_unavailable()}"
    ),
    pytest.mark.mqtt,
    pytest.mark.slow,
    pytest.mark.timeout(600),
]
BROKER = ("127.0.0.1", 1883)
CAMERAS = ("box-cam-a", "box-cam-b")


def _config(tmp: Path, camera_id: str, url: str, prefix: str) -> Path:
    key = tmp / "keys" / camera_id
    write_key_pair(key)
    src = REPO / "configs" / "sample_scene.yaml"
    cfg = yaml.safe_load(src.read_text(encoding="utf-8"))
    cfg["camera_id"] = camera_id
    cfg["source"].update(
        {"uri": url, "fps": None, "reconnect_attempts": 10, "reconnect_delay_s": 0.5, "read_timeout_s": 5}
    )
    cfg["evidence"] = {**cfg.get("evidence", {}), "key_path": str(key)}
    cfg["telemetry"] = {"mqtt_enabled": True, "topic_prefix": prefix, "heartbeat_s": 0.5, "keepalive_s": 5}
    out = tmp / f"{camera_id}.yaml"
    out.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out


def test_two_rtsp_cameras_on_one_box(tmp_path: Path, keys: Keys) -> None:  # noqa: F811
    try:
        socket.create_connection(BROKER, timeout=2).close()
    except OSError as exc:
        pytest.skip(f"Mosquitto at {BROKER[0]}:{BROKER[1]} is unreachable: {exc}")
    clip = encode_h264(SAMPLE_CLIP, tmp_path / "sample_540p15.mp4", fps=15, size=(960, 540), seconds=10)
    store = make_store(f"sqlite:///{tmp_path / 'health.db'}", tmp_path, keys)
    store.services.heartbeats.clock = utc_now
    prefix = f"test-{uuid.uuid4().hex[:8]}/cameras"
    sub = HeartbeatSubscriber(
        store.services.heartbeats, *BROKER, prefix, f"sub-{uuid.uuid4().hex[:8]}"
    ).start()
    assert sub.subscribed.wait(10)
    out = tmp_path / "box"
    try:
        with (
            RtspServer(clip, fps=15, size=(960, 540), encode=False, workdir=tmp_path / "rtsp-a") as cam_a,
            RtspServer(clip, fps=15, size=(960, 540), encode=False, workdir=tmp_path / "rtsp-b") as cam_b,
        ):
            cmd = [sys.executable, "-m", "detector", "run", "--out", str(out), "--duration", "12"]
            for cam, server in zip(CAMERAS, (cam_a, cam_b), strict=True):
                cmd += ["--config", str(_config(tmp_path, cam, server.url, prefix))]
            proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=400)
        assert proc.returncode == 0, proc.stderr[-3000:]
        deadline = time.monotonic() + 15
        cams = {}
        while time.monotonic() < deadline:
            cams = {c.camera_id: c for c in store.services.heartbeats.cameras()}
            if all(c in cams and cams[c].status == "offline" for c in CAMERAS):
                break
            time.sleep(0.2)
        beats = {c: store.services.heartbeats.history(c) for c in CAMERAS}
    finally:
        sub.close()
        store.services.close()

    box = json.loads((out / "box.json").read_text())
    assert set(box["cameras"]) == set(CAMERAS)
    (session,) = box["detector_sessions"].values()  # one detector session for both cameras
    assert session["frames"] > 0
    for cam in CAMERAS:
        folder = out / cam
        status = json.loads((folder / "status.json").read_text())
        assert status["camera_id"] == cam and status["frames"] > 0
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["camera_id"] == cam and summary["frames"] == box["cameras"][cam]["frames"] > 0
        assert cams[cam].status == "offline", cams  # the clean stop published offline for each
        assert beats[cam] and all(b.camera_id == cam for b in beats[cam])
        manifests = [json.loads(m.read_text()) for m in (folder / "evidence").glob("**/manifest.json")]
        assert {m["camera"]["camera_id"] for m in manifests} <= {cam}
        assert sorted(m["sequence"] for m in manifests) == list(range(1, len(manifests) + 1))
        assert summary["store"]["accepted"] == len(manifests) and not summary["store"]["rejected"]
        if manifests:  # signed by its own key only
            other = next(c for c in CAMERAS if c != cam)
            for key, code in ((cam, 0), (other, 1)):
                pub = tmp_path / "keys" / key / PUBLIC_NAME
                v = subprocess.run(
                    [sys.executable, "-m", "detector", "verify", str(folder / "evidence"), "--key", str(pub)],
                    cwd=REPO,
                    capture_output=True,
                    text=True,
                )
                assert v.returncode == code, (cam, key, v.stdout[-1000:])
