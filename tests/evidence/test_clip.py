"""Clip encoding: real H.264 when PyAV has libx264, MPEG-4 part 2 fallback without it, timing from PTS."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from detector.evidence.clip import ClipError, h264_encoder, probe_codec, write_clip
from detector.types import Frame


def _frames(
    n: int, w: int = 160, h: int = 120, fps: float = 10.0, skip: frozenset[int] = frozenset()
) -> list[Frame]:
    out = []
    for i in range(n):
        if i in skip:
            continue
        img = np.zeros((h, w, 3), np.uint8)
        img[:, (i * 7) % w] = 255
        out.append(Frame(image=img, index=i, timestamp=i / fps, source_id="c"))
    return out


def test_h264_is_available_and_written(tmp_path: Path) -> None:
    assert h264_encoder() == "libx264", "PyAV with libx264 is expected in this environment"
    res = write_clip(_frames(20), tmp_path / "c.mp4", codec="h264")
    assert (res.codec, res.encoder, res.frame_count) == ("h264", "libx264", 20)
    assert probe_codec(tmp_path / "c.mp4") == ("h264", 20)


def test_clip_timing_follows_stream_timestamps(tmp_path: Path) -> None:
    import av

    frames = _frames(30, skip=frozenset(range(10, 20)))  # 10 dropped frames: a 1 s hole
    write_clip(frames, tmp_path / "c.mp4")
    with av.open(str(tmp_path / "c.mp4")) as c:
        times = [f.time for f in c.decode(video=0)]
    assert len(times) == 20
    assert times[-1] - times[0] == pytest.approx(2.9, abs=0.01)  # not 1.9: the hole is kept


def test_odd_sizes_and_width_cap(tmp_path: Path) -> None:
    res = write_clip(_frames(5, w=321, h=241), tmp_path / "a.mp4")
    assert (res.width, res.height) == (320, 240)
    res = write_clip(_frames(5, w=640, h=480), tmp_path / "b.mp4", max_width=320)
    assert (res.width, res.height) == (320, 240)


def test_mpeg4_requested(tmp_path: Path) -> None:
    res = write_clip(_frames(8), tmp_path / "m.mp4", codec="mpeg4")
    assert res.codec == "mpeg4" and probe_codec(tmp_path / "m.mp4")[0] == "mpeg4"


def test_fallback_without_pyav_records_mpeg4(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` now raises ImportError
    assert h264_encoder() is None
    res = write_clip(_frames(8), tmp_path / "f.mp4", codec="h264")
    assert (res.codec, res.encoder) == ("mpeg4", "opencv-mp4v")
    codec, n = probe_codec(tmp_path / "f.mp4")  # read back through OpenCV's FOURCC
    assert codec == "mpeg4" and n == 8


def test_no_frames_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ClipError, match="no frames"):
        write_clip([], tmp_path / "x.mp4")
