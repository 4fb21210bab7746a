"""Short evidence clips: H.264 in MP4 through PyAV (libx264), else MPEG-4 part 2.

PyAV's wheels bundle FFmpeg with libx264, so H.264 is the normal path. Without PyAV (or without an
H.264 encoder in it) the clip is written as MPEG-4 part 2 ('mp4v') by OpenCV, and the codec that
was really written is returned so the manifest records it. Frame times come from the frames'
stream timestamps (millisecond PTS), so dropped frames do not shorten the clip.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from detector.errors import DetectorError
from detector.fsutil import fsync_file
from detector.types import Frame

log = logging.getLogger(__name__)


class ClipError(DetectorError):
    """The clip could not be encoded."""


@dataclass(frozen=True, slots=True)
class ClipResult:
    path: Path
    codec: str  # h264 | mpeg4
    encoder: str  # libx264 | opencv-mp4v | pyav-mpeg4
    fps: float
    frame_count: int
    width: int
    height: int
    start_s: float
    end_s: float


def h264_encoder() -> str | None:
    """Name of a usable H.264 encoder in PyAV, or None."""
    try:
        import av
    except ImportError:
        return None
    for name in ("libx264", "libopenh264"):
        if name in av.codecs_available:
            try:
                av.codec.Codec(name, "w")
            except Exception:  # noqa: BLE001 - an encoder that cannot open is simply not there
                continue
            return name
    return None


def _nominal_fps(frames: Sequence[Frame]) -> float:
    if len(frames) < 2:
        return 10.0
    dts = np.diff([f.timestamp for f in frames])
    dts = dts[dts > 0]
    if dts.size == 0:
        return 10.0
    return float(min(max(1.0 / float(np.median(dts)), 1.0), 120.0))


def _target_size(frame: Frame, max_width: int) -> tuple[int, int]:
    w, h = frame.width, frame.height
    if w > max_width:
        h = round(h * max_width / w)
        w = max_width
    return w - w % 2, h - h % 2  # yuv420p needs even sizes


def _prepare(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    if image.shape[1] != w or image.shape[0] != h:
        if image.shape[1] - w <= 1 and image.shape[0] - h <= 1:
            return np.ascontiguousarray(image[:h, :w])
        return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    return image


def _encode_pyav(
    frames: Sequence[Frame], path: Path, codec: str, size: tuple[int, int], fps: float, crf: int
) -> None:
    import av

    t0 = frames[0].timestamp
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        assert isinstance(stream, av.video.stream.VideoStream)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        if codec in ("libx264",):
            stream.options = {"crf": str(crf), "preset": "veryfast", "threads": "2"}
        last_pts = -1
        for f in frames:
            vf = av.VideoFrame.from_ndarray(_prepare(f.image, size), format="bgr24")
            pts = max(round((f.timestamp - t0) * 1000), last_pts + 1)
            vf.pts, vf.time_base, last_pts = pts, Fraction(1, 1000), pts
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def _encode_opencv(frames: Sequence[Frame], path: Path, size: tuple[int, int], fps: float) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise ClipError(f"{path}: OpenCV cannot open an mp4v writer")
    try:
        for f in frames:
            writer.write(_prepare(f.image, size))
    finally:
        writer.release()


def write_clip(
    frames: Sequence[Frame], path: Path, *, codec: str = "h264", crf: int = 23, max_width: int = 1280
) -> ClipResult:
    """Encode `frames` (time order) into an MP4 at `path`, fsync it, and say what was written."""
    if not frames:
        raise ClipError(f"{path}: no frames to encode")
    frames = sorted(frames, key=lambda f: f.index)
    size = _target_size(frames[0], max_width)
    fps = _nominal_fps(frames)
    encoder = h264_encoder() if codec == "h264" else None
    try:
        if encoder is not None:
            _encode_pyav(frames, path, encoder, size, fps, crf)
            written, used = "h264", encoder
        else:
            if codec == "h264":
                log.warning("no H.264 encoder (install PyAV: pip install av); writing MPEG-4 part 2")
            try:
                _encode_pyav(frames, path, "mpeg4", size, fps, crf)
                written, used = "mpeg4", "pyav-mpeg4"
            except ImportError:
                _encode_opencv(frames, path, size, fps)
                written, used = "mpeg4", "opencv-mp4v"
    except ClipError:
        raise
    except Exception as exc:  # FFmpeg errors carry no common base we can import without PyAV
        raise ClipError(f"{path}: clip encoding failed: {exc}") from exc
    if not path.is_file() or path.stat().st_size == 0:
        raise ClipError(f"{path}: encoder wrote nothing")
    fsync_file(path)
    return ClipResult(
        path=path,
        codec=written,
        encoder=used,
        fps=round(fps, 3),
        frame_count=len(frames),
        width=size[0],
        height=size[1],
        start_s=frames[0].timestamp,
        end_s=frames[-1].timestamp,
    )


_FOURCC_CODEC = {
    "avc1": "h264",
    "h264": "h264",
    "x264": "h264",
    "mp4v": "mpeg4",
    "fmp4": "mpeg4",
    "xvid": "mpeg4",
    "divx": "mpeg4",
}


def probe_codec(path: Path) -> tuple[str, int]:
    """(codec name, decoded frame count) of the first video stream, read back with PyAV or OpenCV."""
    try:
        import av
    except ImportError:
        cap = cv2.VideoCapture(str(path))
        try:
            fourcc = int(cap.get(cv2.CAP_PROP_FOURCC))
            name = "".join(chr((fourcc >> (8 * i)) & 0xFF) for i in range(4)).strip().lower()
            n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        finally:
            cap.release()
        return _FOURCC_CODEC.get(name, name), n
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        name = stream.codec_context.name
        n = sum(1 for _ in container.decode(stream))
    return name, n
