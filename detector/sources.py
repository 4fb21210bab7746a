"""Frame sources: a video file, a live RTSP/HTTP stream, or a folder of images.

Timestamps come from the stream (the container's PTS through OpenCV's CAP_PROP_POS_MSEC) or from
the configured frame rate, never from the wall clock. A live source may be handed a `clock` by the
CLI to stamp `Frame.wall_time`; nothing here calls it on its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

from detector.config import SourceConfig
from detector.errors import SourceError
from detector.framesource import (
    DEFAULT_FPS,
    DecodeReport,
    DecodeTracker,
    FrameSource,
    SourceInfo,
    TimestampClock,
    is_stream,
    redact,
)
from detector.types import Frame

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})


class VideoFileSource:
    """A recorded video file. Raises SourceError for a missing, unreadable or corrupt file."""

    def __init__(
        self,
        path: str | Path,
        source_id: str | None = None,
        fps: float | None = None,
        start_wall: float | None = None,
    ) -> None:
        self.path = Path(path)
        self.start_wall = start_wall
        if not self.path.exists():
            raise SourceError(f"video file not found: {self.path}")
        if not self.path.is_file():
            raise SourceError(f"not a file: {self.path}")
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            raise SourceError(f"cannot open video {self.path}: not a video OpenCV/FFmpeg can decode")
        container_fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self._fps_override = fps
        use_fps = fps or (container_fps if 0 < container_fps < 1000 else DEFAULT_FPS)
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.info = SourceInfo(
            source_id=source_id or self.path.stem,
            kind="file",
            fps=use_fps,
            frame_count=count if count > 0 else None,
            width=int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
        self.frames_read = 0
        self.decoding = DecodeTracker(self.info.fps, self.info.frame_count, self.path)

    @property
    def decode_report(self) -> DecodeReport | None:
        """Set when the file has been read to its end."""
        return self.decoding.report

    def __iter__(self) -> Iterator[Frame]:
        clock = TimestampClock(self.info.fps)
        index = 0
        while True:
            ok, image = self._cap.read()
            if not ok or image is None:
                break
            if self._fps_override:
                ts, ts_source = index / self.info.fps, "configured_fps"
            else:
                ts, ts_source = clock.next(float(self._cap.get(cv2.CAP_PROP_POS_MSEC)), index)
            self.decoding.note(index, ts, ts_source)
            wall = None if self.start_wall is None else self.start_wall + ts
            yield Frame(
                image=_bgr(image),
                index=index,
                timestamp=ts,
                source_id=self.info.source_id,
                timestamp_source=ts_source,
                wall_time=wall,
            )
            index += 1
        self.frames_read = index
        if index == 0:
            raise SourceError(f"no frame could be decoded from {self.path}: the file is empty or corrupt")
        self.decoding.finish(index)

    def close(self) -> None:
        self._cap.release()


def _bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


class ImageFolderSource:
    """A folder of images in name order, timed by the configured frame rate."""

    def __init__(
        self,
        folder: str | Path,
        source_id: str | None = None,
        fps: float | None = None,
        start_wall: float | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.start_wall = start_wall
        if not self.folder.is_dir():
            raise SourceError(f"image folder not found: {self.folder}")
        self.files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise SourceError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {self.folder}")
        first = cv2.imread(str(self.files[0]))
        if first is None:
            raise SourceError(f"cannot decode image {self.files[0]}")
        if fps is None:
            log.warning("%s: no fps configured for an image folder; assuming %.0f", self.folder, DEFAULT_FPS)
        self.info = SourceInfo(
            source_id=source_id or self.folder.name,
            kind="images",
            fps=fps or DEFAULT_FPS,
            frame_count=len(self.files),
            width=int(first.shape[1]),
            height=int(first.shape[0]),
        )

    def __iter__(self) -> Iterator[Frame]:
        for index, path in enumerate(self.files):
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise SourceError(f"cannot decode image {path} (frame {index} of {self.folder})")
            ts = index / self.info.fps
            wall = None if self.start_wall is None else self.start_wall + ts
            yield Frame(
                image=image,
                index=index,
                timestamp=ts,
                source_id=self.info.source_id,
                timestamp_source="configured_fps",
                wall_time=wall,
            )

    def close(self) -> None:
        pass


CaptureFactory = Callable[[str], "cv2.VideoCapture"]


def _open_stream_capture(uri: str, open_timeout_s: float, read_timeout_s: float) -> cv2.VideoCapture:
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        int(open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        int(read_timeout_s * 1000),
    ]
    return cv2.VideoCapture(uri, cv2.CAP_FFMPEG, params)


class StreamSource:
    """A live RTSP/HTTP stream that reconnects after a drop, with logged attempts.

    Stream time stays monotonic across reconnects: the new connection's PTS are offset to continue
    after the last frame. After `reconnect_attempts` failed attempts in a row it raises SourceError.
    `sleep` and `clock` are injected by the caller (the CLI); tests pass fakes.
    """

    def __init__(
        self,
        cfg: SourceConfig,
        source_id: str,
        capture_factory: CaptureFactory | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.cfg = cfg
        self.uri = cfg.uri
        self._factory = capture_factory or (
            lambda uri: _open_stream_capture(uri, cfg.read_timeout_s, cfg.read_timeout_s)
        )
        self._sleep = sleep
        self._clock = clock
        self.reconnects = 0
        self._cap = self._connect(first=True)
        fps = cfg.fps or float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not 0 < fps < 1000:
            fps = DEFAULT_FPS
        self.info = SourceInfo(
            source_id=source_id,
            kind="stream",
            fps=fps,
            frame_count=None,
            width=int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )

    def _connect(self, first: bool = False) -> cv2.VideoCapture:
        attempts = 0
        while True:
            cap = self._factory(self.uri)
            if cap.isOpened():
                if not first:
                    self.reconnects += 1
                    log.warning("stream %s: reconnected (reconnect #%d)", redact(self.uri), self.reconnects)
                return cap
            cap.release()
            attempts += 1
            if attempts > self.cfg.reconnect_attempts:
                raise SourceError(f"stream {redact(self.uri)}: could not connect after {attempts} attempt(s)")
            log.warning(
                "stream %s: connection failed (attempt %d of %d), retrying in %.1f s",
                redact(self.uri),
                attempts,
                self.cfg.reconnect_attempts + 1,
                self.cfg.reconnect_delay_s,
            )
            self._sleep(self.cfg.reconnect_delay_s)

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        conn_index = 0  # frames of this connection (the clock's PTS checks are per connection)
        clock = TimestampClock(self.info.fps)
        while True:
            ok, image = self._cap.read()
            if ok and image is not None:
                ts, ts_source = clock.next(float(self._cap.get(cv2.CAP_PROP_POS_MSEC)), conn_index)
                wall = self._clock() if self._clock else None
                yield Frame(
                    image=_bgr(image),
                    index=index,
                    timestamp=ts,
                    source_id=self.info.source_id,
                    timestamp_source=ts_source,
                    wall_time=wall,
                )
                index += 1
                conn_index += 1
                continue
            log.warning("stream %s: read failed after frame %d; reconnecting", redact(self.uri), index)
            self._cap.release()
            self._cap = self._connect()
            # continue stream time after the last frame, whatever the new connection's PTS say
            clock = TimestampClock(self.info.fps, offset=(clock.last or 0.0) + 1.0 / self.info.fps)
            conn_index = 0

    def close(self) -> None:
        self._cap.release()


def _have_pyav() -> bool:
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def open_source(cfg: SourceConfig, source_id: str, clock: Callable[[], float] | None = None) -> FrameSource:
    """Open the source a config names: stream URL, image folder or video file.

    Files and streams are read with PyAV when it is installed (it is a dependency): those sources
    also keep the camera's compressed packets for evidence (`source.packets`). OpenCV otherwise."""
    path = Path(cfg.uri)
    start = cfg.start_time.timestamp() if cfg.start_time is not None else None
    if not is_stream(cfg.uri) and path.is_dir():
        return ImageFolderSource(path, source_id, cfg.fps, start)
    if _have_pyav():
        from detector.av_sources import AvFileSource, AvStreamSource

        if is_stream(cfg.uri):
            return AvStreamSource(cfg, source_id, clock=clock)
        return AvFileSource(path, source_id, cfg.fps, start)
    if is_stream(cfg.uri):
        return StreamSource(cfg, source_id, clock=clock)
    return VideoFileSource(path, source_id, cfg.fps, start)
