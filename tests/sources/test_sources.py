import logging
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from detector.config import SourceConfig
from detector.errors import SourceError
from detector.sources import ImageFolderSource, StreamSource, VideoFileSource, open_source
from tests.cameras.mjpeg_server import MjpegCamera, free_port
from tests.conftest import shared_path


def test_real_clip_frames_and_pts_timestamps():
    clip = shared_path("ua-detrac-evadb-sample", "clips", "test_ua_detrac_69f.mp4")
    src = VideoFileSource(clip)
    frames = list(src)
    assert len(frames) == 69 == src.info.frame_count
    ts = np.array([f.timestamp for f in frames])
    assert np.all(np.diff(ts) > 0)
    assert ts[1] - ts[0] == pytest.approx(1 / 30, rel=0.05)
    assert {f.timestamp_source for f in frames} == {"pts"}
    assert frames[0].image.shape == (540, 960, 3)


def test_avi_clip_has_monotonic_time():
    clip = shared_path("bgslibrary-videos", "video02.avi")
    ts = [f.timestamp for f, _ in zip(VideoFileSource(clip), range(100), strict=False)]
    assert np.all(np.diff(ts) > 0)
    assert np.median(np.diff(ts)) == pytest.approx(0.04, rel=0.05)


def test_configured_fps_overrides_container():
    clip = shared_path("ua-detrac-evadb-sample", "clips", "test_ua_detrac_69f.mp4")
    frames = [f for f, _ in zip(VideoFileSource(clip, fps=10), range(5), strict=False)]
    assert [f.timestamp for f in frames] == pytest.approx([0, 0.1, 0.2, 0.3, 0.4])
    assert frames[0].timestamp_source == "configured_fps"


def test_missing_and_corrupt_files(tmp_path: Path):
    with pytest.raises(SourceError, match="not found"):
        VideoFileSource(tmp_path / "nope.mp4")
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(np.random.default_rng(1).integers(0, 255, 50_000, dtype=np.uint8).tobytes())
    with pytest.raises(SourceError, match="corrupt.mp4"):
        list(VideoFileSource(bad))


def test_truncated_clip_is_an_error_not_a_hang(tmp_path: Path):
    clip = shared_path("ua-detrac-evadb-sample", "clips", "test_ua_detrac_69f.mp4")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 3])
    try:
        frames = list(VideoFileSource(cut))
    except SourceError as exc:
        assert "cut.mp4" in str(exc)
    else:
        assert 0 < len(frames) < 69


def test_image_folder(tmp_path: Path):
    for i in range(4):
        cv2.imwrite(str(tmp_path / f"img{i:03d}.png"), np.full((20, 30, 3), i * 40, np.uint8))
    src = ImageFolderSource(tmp_path, fps=5)
    frames = list(src)
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert [f.timestamp for f in frames] == pytest.approx([0, 0.2, 0.4, 0.6])
    assert int(frames[2].image[0, 0, 0]) == 80
    (tmp_path / "img002.png").write_bytes(b"not a png")
    with pytest.raises(SourceError, match="img002.png"):
        list(ImageFolderSource(tmp_path, fps=5))


def test_empty_folder(tmp_path: Path):
    with pytest.raises(SourceError, match="no images"):
        ImageFolderSource(tmp_path)


def test_open_source_dispatch(tmp_path: Path):
    clip = shared_path("ua-detrac-evadb-sample", "MVI_20011")
    folder = tmp_path / "frames"
    shutil.copytree(clip, folder, ignore=shutil.ignore_patterns("*.xml"))
    src = open_source(SourceConfig(uri=str(folder), fps=25), "cam")
    assert isinstance(src, ImageFolderSource) and src.info.frame_count == 9


def test_stream_reconnects_and_keeps_time_monotonic(caplog: pytest.LogCaptureFixture):
    with MjpegCamera(frames_per_connection=15) as cam:
        cfg = SourceConfig(
            uri=cam.url.replace("http://", "http://user:secret@"),
            fps=10,
            reconnect_attempts=2,
            reconnect_delay_s=0,
            read_timeout_s=3,
        )
        waits: list[float] = []
        src = StreamSource(cfg, "cam1", sleep=waits.append)
        frames = []
        with caplog.at_level(logging.WARNING, logger="detector.sources"):
            for frame in src:
                frames.append(frame)
                if len(frames) == 40:
                    break
        src.close()
    assert len(frames) == 40
    assert cam.connections >= 3  # the camera hung up after 15 frames, twice
    ts = np.array([f.timestamp for f in frames])
    assert np.all(np.diff(ts) > 0), "stream time must stay monotonic across reconnects"
    assert "reconnected" in caplog.text
    assert "secret" not in caplog.text


def test_stream_that_never_comes_back_raises():
    port = free_port()
    cfg = SourceConfig(
        uri=f"http://127.0.0.1:{port}/cam", reconnect_attempts=2, reconnect_delay_s=0.5, read_timeout_s=2
    )
    waits: list[float] = []
    with pytest.raises(SourceError, match="could not connect after 3 attempt"):
        StreamSource(cfg, "cam", sleep=waits.append)
    assert waits == [0.5, 0.5]


def test_stream_drop_after_frames_raises_once_attempts_run_out():
    cam = MjpegCamera(frames_per_connection=5).__enter__()
    cfg = SourceConfig(uri=cam.url, fps=10, reconnect_attempts=1, reconnect_delay_s=0, read_timeout_s=2)
    src = StreamSource(cfg, "cam", sleep=lambda s: None)
    got = []
    with pytest.raises(SourceError, match="could not connect"):
        for frame in src:
            got.append(frame)
            if len(got) == 5:
                cam.stop()
    assert len(got) == 5


def test_recording_start_time_stamps_wall_time(tmp_path: Path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"f{i}.png"), np.zeros((8, 8, 3), np.uint8))
    cfg = SourceConfig.model_validate(
        {"uri": str(tmp_path), "fps": 2, "start_time": "2026-11-20T07:30:00+07:00"}
    )
    walls = [f.wall_time for f in open_source(cfg, "cam")]
    assert walls[0] == pytest.approx(1795134600.0)  # 2026-11-20 00:30 UTC
    assert walls[0] is not None and walls[2] is not None and walls[2] - walls[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="timezone"):
        SourceConfig.model_validate({"uri": "x.mp4", "start_time": "2026-11-20T07:30:00"})
