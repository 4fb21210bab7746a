"""Live sources against a real RTSP camera on the loopback address (GStreamer's RTSP server).

The bundled sample scene (960x540, 15 fps) is re-encoded once per session to a 1080p 25 fps H.264
clip and served in real time, looped, like an IP camera; one test reboots the camera mid-stream.
Everything here skips with the reason when the server's Debian packages are absent
(scripts/setup.sh installs them as root).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml

from detector.config import SourceConfig
from detector.sources import StreamSource
from tests.cameras.rtsp_server import SAMPLE_CLIP, RtspServer, encode_h264, rtsp_unavailable
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(
    rtsp_unavailable() is not None, reason=f"RTSP test server unavailable: {rtsp_unavailable()}"
)

FPS = 25.0
SIZE = (1920, 1080)


@pytest.fixture(scope="module")
def clip_1080p(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 s of the sample scene as 1080p 25 fps H.264 (1 s GOP, no B-frames), encoded once."""
    out = tmp_path_factory.mktemp("rtsp_clip") / "sample_scene_1080p25.mp4"
    return encode_h264(SAMPLE_CLIP, out, fps=FPS, size=SIZE, seconds=6)


@pytest.fixture
def camera(clip_1080p: Path, tmp_path: Path):
    with RtspServer(
        clip_1080p, fps=FPS, size=SIZE, loop=True, encode=False, workdir=tmp_path / "rtsp"
    ) as cam:
        yield cam


def stream_cfg(url: str) -> SourceConfig:
    return SourceConfig(uri=url, reconnect_attempts=10, reconnect_delay_s=0.5, read_timeout_s=5)


def test_stream_source_reads_1080p_at_25_fps(camera: RtspServer):
    source = StreamSource(stream_cfg(camera.url), "cam")
    try:
        assert (source.info.width, source.info.height) == SIZE
        assert source.info.fps == pytest.approx(FPS)
        arrivals, stamps = [], []
        for frame in source:
            assert frame.image.shape == (SIZE[1], SIZE[0], 3)
            arrivals.append(time.monotonic())
            stamps.append(frame.timestamp)
            if arrivals[-1] - arrivals[0] >= 4.0:
                break
    finally:
        source.close()
    assert all(b > a for a, b in pairwise(stamps)), "stream time must increase"
    # FFmpeg hands over what it buffered while probing the stream in a burst: time the rest
    steady = [(t, s) for t, s in zip(arrivals, stamps, strict=True) if t - arrivals[0] >= 1.5]
    wall_fps = (len(steady) - 1) / (steady[-1][0] - steady[0][0])
    stream_fps = (len(steady) - 1) / (steady[-1][1] - steady[0][1])
    assert wall_fps == pytest.approx(FPS, rel=0.15), f"frames arrive at {wall_fps:.1f} fps"
    assert stream_fps == pytest.approx(FPS, rel=0.05), f"stream time advances at {stream_fps:.1f} fps"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def restart_run(clip_1080p: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Read ~2 s from a camera, reboot it (1 s off), read 2 s more: what the source saw and logged.

    Module-scoped (one reboot for the two tests below), so it records the source's log itself
    rather than through the function-scoped caplog.
    """
    logger = logging.getLogger("detector.sources")
    records = _Records()
    logger.addHandler(records)
    workdir = tmp_path_factory.mktemp("rtsp_restart")
    frames: list[tuple[int, float, int]] = []  # (index, stream time, reconnects so far)
    with RtspServer(clip_1080p, fps=FPS, size=SIZE, loop=True, encode=False, workdir=workdir) as camera:
        source = StreamSource(stream_cfg(camera.url), "cam")
        try:
            started = time.monotonic()
            restarted = False
            for frame in source:
                frames.append((frame.index, frame.timestamp, source.reconnects))
                if not restarted and time.monotonic() - started >= 2.0:
                    camera.restart(gap_s=1.0)
                    restarted = True
                if sum(1 for f in frames if f[2]) >= 50:
                    break
                assert time.monotonic() - started < 30, "no frames after the camera came back"
        finally:
            source.close()
            logger.removeHandler(records)
    return {"frames": frames, "log": "\n".join(records.lines), "reconnects": source.reconnects}


def test_stream_source_survives_a_camera_restart(restart_run: dict[str, object]):
    frames = restart_run["frames"]
    assert isinstance(frames, list)
    assert restart_run["reconnects"] == 1
    assert "reconnected (reconnect #1)" in str(restart_run["log"])
    assert "read failed" in str(restart_run["log"])
    before = [f for f in frames if f[2] == 0]
    after = [f for f in frames if f[2] == 1]
    assert len(before) >= 25 and len(after) >= 50
    assert [f[0] for f in frames] == list(range(len(frames))), "frame indices continue across the reconnect"
    stamps = [f[1] for f in frames]
    assert all(b > a for a, b in pairwise(stamps)), "stream time stays monotonic across the reconnect"


def test_stream_time_continues_without_a_jump_after_a_restart(restart_run: dict[str, object]):
    frames = restart_run["frames"]
    assert isinstance(frames, list)
    last_before = max(f[1] for f in frames if f[2] == 0)
    first_after = min(f[1] for f in frames if f[2] == 1)
    assert first_after - last_before == pytest.approx(1 / FPS, abs=0.5 / FPS)


def live_config(tmp_path: Path, size: tuple[int, int]) -> Path:
    """configs/sample_scene.yaml for a live camera: a provisioned key, geometry scaled to `size`.

    Written into tmp_path, so the source path is made absolute (relative paths resolve beside the config).
    """
    keys = tmp_path / "keys"
    r = subprocess.run(
        [sys.executable, "-m", "detector", "keys", "new", "--out", str(keys)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    src = REPO / "configs" / "sample_scene.yaml"
    cfg = yaml.safe_load(src.read_text(encoding="utf-8"))
    cfg["source"]["uri"] = str((src.parent / cfg["source"]["uri"]).resolve())
    cfg["source"].update(
        {"fps": None, "reconnect_attempts": 10, "reconnect_delay_s": 0.5, "read_timeout_s": 5}
    )
    cfg["evidence"] = {**cfg.get("evidence", {}), "key_path": str(keys)}
    rules = cfg["rules"]
    sx, sy = size[0] / rules["image_size"][0], size[1] / rules["image_size"][1]
    rules["image_size"] = list(size)

    def scale(value: object) -> object:
        if (
            isinstance(value, list)
            and len(value) in (2, 4)
            and all(isinstance(v, int | float) for v in value)
        ):
            return [v * (sx if i % 2 == 0 else sy) for i, v in enumerate(value)]
        if isinstance(value, list):
            return [scale(v) for v in value]
        if isinstance(value, dict):
            return {k: scale(v) for k, v in value.items()}
        return value

    rules["zones"] = scale(rules["zones"])
    cal = rules.get("calibration") or {}
    for key in ("image_points", "valid_region"):
        if key in cal:
            cal[key] = scale(cal[key])
    for lamp in (rules.get("signal") or {}).get("lamps", []):
        lamp["box"] = scale(lamp["box"])
    out = tmp_path / "live_sample_scene.yaml"
    out.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out


def start_run(cfg: Path, url: str, out: Path, duration: float) -> subprocess.Popen[str]:
    detector = Path(sys.executable).with_name("detector")
    cmd = [str(detector)] if detector.exists() else [sys.executable, "-m", "detector"]
    return subprocess.Popen(
        cmd
        + ["run", "--config", str(cfg), "--source", url, "--out", str(out), "--duration", f"{duration:g}"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def check_summary(out: Path) -> dict[str, Any]:
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["frames"] > 0
    assert isinstance(summary["dropped_frames"], int) and summary["dropped_frames"] >= 0
    return summary


def test_detector_run_watches_the_rtsp_camera(camera: RtspServer, tmp_path: Path):
    run = start_run(live_config(tmp_path, SIZE), camera.url, tmp_path / "out", duration=3)
    stdout, stderr = run.communicate(timeout=180)
    assert run.returncode == 0, stderr[-3000:]
    check_summary(tmp_path / "out")


def test_detector_run_survives_a_camera_restart(camera: RtspServer, tmp_path: Path):
    run = start_run(live_config(tmp_path, SIZE), camera.url, tmp_path / "out", duration=7)
    try:
        # the engine plays the stream, then builds its pipeline and starts its 7 s: reboot the camera
        # a few seconds in (while it loads, on a slow machine: then its first reads find the drop)
        camera.wait_for_client(timeout_s=120)
        time.sleep(3.5)
        camera.restart(gap_s=1.0)
        stdout, stderr = run.communicate(timeout=180)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, stderr[-3000:]
    assert "reconnected (reconnect #1)" in stderr, stderr[-3000:]
    assert camera.plays == 1  # the engine came back to the rebooted camera
    summary = check_summary(tmp_path / "out")
    assert summary["frames"] > 25


def test_pyav_stream_keeps_the_camera_packets_across_a_reboot(camera: RtspServer, tmp_path: Path):
    """The PyAV source's packet ring on a real camera: a slice on each side of a reboot decodes to
    the very pixels the source gave, and copies into an MP4 that decodes cleanly."""
    import av
    import numpy as np

    from detector.av_sources import AvStreamSource
    from detector.evidence.packets import SliceDecoder, remux_clip

    source = AvStreamSource(stream_cfg(camera.url), "cam")
    images = {}
    try:
        for frame in source:
            images[frame.index] = frame.image
            if frame.index == 60:
                camera.restart(gap_s=0.5)
            if frame.index >= 130:
                break
    finally:
        source.close()
    assert source.reconnects == 1 and source.packets.stats.segments == 2
    for first, last in ((20, 50), (100, 125)):
        piece = source.packets.slice(first, last)
        assert piece is not None and not piece.reconnect_cut
        decoder = SliceDecoder(piece)
        for i in (first, last):
            assert np.array_equal(decoder.image(i), images[i])
        res = remux_clip(piece, tmp_path / f"clip{first}.mp4")
        with av.open(str(res.path)) as c:
            assert sum(1 for _ in c.decode(video=0)) == res.frame_count >= last - first + 1
    across = source.packets.slice(50, 100, anchor_index=100)  # the reboot cuts this window
    assert across is not None and across.reconnect_cut and min(across.frame_pts) > 60
