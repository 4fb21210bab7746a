"""Video files and live streams demuxed and decoded with PyAV, keeping the camera's own packets.

Besides the decoded frames, these sources fill a `PacketRing` with the compressed packets they
demux (with keyframe flags and PTS), so evidence needs neither a copy of every decoded frame nor a
re-encode: a bundle decodes the few frames it needs from the nearest keyframe and its clip is a
stream copy of the camera's packets (see detector/evidence/packets.py).

Timestamps are the stream's PTS, from the stream's start (files) or continued across reconnects
(streams); nothing here reads the wall clock unless handed a `clock` (a live camera's wall time).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from detector.config import SourceConfig
from detector.errors import SourceError
from detector.evidence.packets import PacketRing
from detector.framesource import DEFAULT_FPS, DecodeReport, DecodeTracker, SourceInfo, TimestampClock, redact
from detector.types import Frame

log = logging.getLogger(__name__)


def _ms_from_start(frame: Any, start: int | None, stream: Any) -> float:
    if frame.pts is None:
        return 0.0
    return float((frame.pts - (start or 0)) * stream.time_base) * 1000.0


def _fps_of(stream: Any) -> float:
    rate = stream.average_rate or stream.guessed_rate
    fps = float(rate) if rate else 0.0
    return fps if 0 < fps < 1000 else DEFAULT_FPS


def _video_stream(container: Any, where: str, threads: int) -> Any:
    if not container.streams.video:
        container.close()
        raise SourceError(f"{where}: no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    stream.codec_context.thread_count = threads
    return stream


class AvFileSource:
    """A recorded video file. Raises SourceError for a missing, unreadable or corrupt file."""

    def __init__(
        self,
        path: str | Path,
        source_id: str | None = None,
        fps: float | None = None,
        start_wall: float | None = None,
        threads: int = 1,
    ) -> None:
        import av

        self.path = Path(path)
        self.start_wall = start_wall
        if not self.path.exists():
            raise SourceError(f"video file not found: {self.path}")
        if not self.path.is_file():
            raise SourceError(f"not a file: {self.path}")
        try:
            self._container = av.open(str(self.path))
        except av.FFmpegError as exc:
            raise SourceError(
                f"cannot open video {self.path}: not a video FFmpeg can decode ({exc})"
            ) from exc
        self._stream = _video_stream(self._container, str(self.path), threads)
        self._fps_override = fps
        count = int(self._stream.frames or 0)
        self.info = SourceInfo(
            source_id=source_id or self.path.stem,
            kind="file",
            fps=fps or _fps_of(self._stream),
            frame_count=count if count > 0 else None,
            width=self._stream.codec_context.width,
            height=self._stream.codec_context.height,
        )
        self.packets = PacketRing()
        self.packets.start_segment(self._stream)
        self.frames_read = 0
        self.decoding = DecodeTracker(self.info.fps, self.info.frame_count, self.path)

    @property
    def decode_report(self) -> DecodeReport | None:
        """Set when the file has been read to its end."""
        return self.decoding.report

    def __iter__(self) -> Iterator[Frame]:
        import av

        stream, ring = self._stream, self.packets
        clock = TimestampClock(self.info.fps)
        start = stream.start_time
        index = 0
        try:
            for packet in self._container.demux(stream):
                ring.add_packet(packet)
                for vf in packet.decode():
                    if start is None:
                        start = vf.pts
                    ring.note_frame(index, vf.pts)
                    if self._fps_override:
                        ts, ts_source = index / self.info.fps, "configured_fps"
                    else:
                        ts, ts_source = clock.next(_ms_from_start(vf, start, stream), index)
                    self.decoding.note(index, ts, ts_source)
                    wall = None if self.start_wall is None else self.start_wall + ts
                    yield Frame(
                        image=vf.to_ndarray(format="bgr24"),
                        index=index,
                        timestamp=ts,
                        source_id=self.info.source_id,
                        timestamp_source=ts_source,
                        wall_time=wall,
                    )
                    index += 1
        except av.FFmpegError as exc:
            log.warning("%s: decoding stopped after frame %d: %s", self.path, index, exc)
        self.frames_read = index
        if index == 0:
            raise SourceError(f"no frame could be decoded from {self.path}: the file is empty or corrupt")
        self.decoding.finish(index)

    def close(self) -> None:
        self._container.close()


class AvStreamSource:
    """A live RTSP/HTTP stream that reconnects after a drop, with logged attempts.

    Stream time stays monotonic across reconnects: the new connection's PTS are offset to continue
    after the last frame. After `reconnect_attempts` failed attempts in a row it raises SourceError.
    RTSP is read over TCP (no lost UDP packets on a busy box)."""

    def __init__(
        self,
        cfg: SourceConfig,
        source_id: str,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] | None = None,
        threads: int = 1,
    ) -> None:
        self.cfg = cfg
        self.uri = cfg.uri
        self._sleep = sleep
        self._clock = clock
        self._threads = threads
        self.reconnects = 0
        self.packets = PacketRing()
        self._container, self._stream = self._connect(first=True)
        self.info = SourceInfo(
            source_id=source_id,
            kind="stream",
            fps=cfg.fps or _fps_of(self._stream),
            frame_count=None,
            width=self._stream.codec_context.width,
            height=self._stream.codec_context.height,
        )

    def _open(self) -> tuple[Any, Any]:
        import av

        options = {"rtsp_transport": "tcp"} if self.uri.lower().startswith("rtsp") else {}
        container = av.open(
            self.uri, options=options, timeout=(self.cfg.read_timeout_s, self.cfg.read_timeout_s)
        )
        return container, _video_stream(container, redact(self.uri), self._threads)

    def _connect(self, first: bool = False) -> tuple[Any, Any]:
        import av

        attempts = 0
        while True:
            try:
                container, stream = self._open()
            except (av.FFmpegError, SourceError, OSError) as exc:
                attempts += 1
                if attempts > self.cfg.reconnect_attempts:
                    raise SourceError(
                        f"stream {redact(self.uri)}: could not connect after {attempts} attempt(s): {exc}"
                    ) from exc
                log.warning(
                    "stream %s: connection failed (attempt %d of %d: %s), retrying in %.1f s",
                    redact(self.uri),
                    attempts,
                    self.cfg.reconnect_attempts + 1,
                    exc,
                    self.cfg.reconnect_delay_s,
                )
                self._sleep(self.cfg.reconnect_delay_s)
                continue
            if not first:
                self.reconnects += 1
                log.warning("stream %s: reconnected (reconnect #%d)", redact(self.uri), self.reconnects)
            self.packets.start_segment(stream)
            return container, stream

    def _frames_of_connection(self) -> Iterator[Any]:
        import av

        try:
            for packet in self._container.demux(self._stream):
                if packet.size == 0:
                    break
                self.packets.add_packet(packet)
                yield from packet.decode()
        except av.FFmpegError as exc:
            log.warning("stream %s: read failed: %s", redact(self.uri), exc)

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        clock = TimestampClock(self.info.fps)
        while True:
            start = None
            for conn_index, vf in enumerate(self._frames_of_connection()):
                if start is None:
                    start = vf.pts
                self.packets.note_frame(index, vf.pts)
                ts, ts_source = clock.next(_ms_from_start(vf, start, self._stream), conn_index)
                wall = self._clock() if self._clock else None
                yield Frame(
                    image=vf.to_ndarray(format="bgr24"),
                    index=index,
                    timestamp=ts,
                    source_id=self.info.source_id,
                    timestamp_source=ts_source,
                    wall_time=wall,
                )
                index += 1
            log.warning("stream %s: read failed after frame %d; reconnecting", redact(self.uri), index)
            self._close_container()
            self._container, self._stream = self._connect()
            # continue stream time after the last frame, whatever the new connection's PTS say
            clock = TimestampClock(self.info.fps, offset=(clock.last or 0.0) + 1.0 / self.info.fps)

    def _close_container(self) -> None:
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - a dead connection's close may fail; nothing to keep
            log.debug("closing a stream container failed", exc_info=True)

    def close(self) -> None:
        self._close_container()
