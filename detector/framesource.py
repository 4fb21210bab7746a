"""What every frame source shares, whichever library decodes it (OpenCV in `sources`, PyAV in
`av_sources`): the source protocol and its info, the stream clock made from container timestamps,
the decode report of a file, and credentials hidden from logged URLs."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from detector.types import Frame

log = logging.getLogger(__name__)

DEFAULT_FPS = 25.0


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What is known about a source before reading it."""

    source_id: str
    kind: str  # "file" | "stream" | "images"
    fps: float
    frame_count: int | None
    width: int
    height: int


class FrameSource(Protocol):
    """`packets` (optional attribute): a PacketRing of the compressed stream, for evidence."""

    info: SourceInfo

    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


def is_stream(uri: str) -> bool:
    return uri.split("://", 1)[0].lower() in {"rtsp", "rtsps", "http", "https", "rtmp", "udp", "tcp"}


class TimestampClock:
    """Turns container PTS into a monotonic stream time, falling back to index / fps.

    OpenCV reports CAP_PROP_POS_MSEC as 0 for some containers and repeats values on others; a
    timestamp that does not advance is replaced by the previous one plus one frame period.
    """

    def __init__(self, fps: float, offset: float = 0.0) -> None:
        self.period = 1.0 / fps
        self.offset = offset
        self.last: float | None = None
        self.fallbacks = 0

    def next(self, pos_msec: float, index: int) -> tuple[float, str]:
        ts = pos_msec / 1000.0 + self.offset
        source = "pts"
        if (
            not math.isfinite(ts)
            or (index > 0 and pos_msec <= 0)
            or (self.last is not None and ts <= self.last)
        ):
            ts = (self.last + self.period) if self.last is not None else index * self.period + self.offset
            source = "fps"
            self.fallbacks += 1
        self.last = ts
        return ts, source


@dataclass(frozen=True, slots=True)
class LostStretch:
    """Frames the container announced (or its timestamps imply) that were never decoded."""

    after_frame: int  # index of the last frame decoded before the stretch (-1: at the start)
    start_s: float  # stream time just after that frame
    end_s: float  # stream time of the next decoded frame, or the announced end of the video
    frames: int  # frames lost in the stretch (from the frame period)
    cause: str  # "timestamp_gap" or "stopped_early"


@dataclass(frozen=True, slots=True)
class DecodeReport:
    """What a file replay actually decoded against what the container announced."""

    frames_announced: int | None
    frames_decoded: int
    frames_lost: int
    lost: tuple[LostStretch, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "frames_announced": self.frames_announced,
            "frames_decoded": self.frames_decoded,
            "frames_lost": self.frames_lost,
            "lost": [
                {
                    "after_frame": x.after_frame,
                    "start_s": round(x.start_s, 3),
                    "end_s": round(x.end_s, 3),
                    "frames": x.frames,
                    "cause": x.cause,
                }
                for x in self.lost
            ],
        }


class DecodeTracker:
    """Counts what a file source decodes against what its container announces: a PTS jump of more than
    1.5 frame periods between decoded frames is a lost stretch, and so is the tail a truncated or
    corrupt file never delivers. Both file sources (PyAV and OpenCV) report through it."""

    def __init__(self, fps: float, announced: int | None, path: Path) -> None:
        self.period = 1.0 / fps
        self.announced = announced
        self.path = path
        self.report: DecodeReport | None = None
        self._gaps: list[LostStretch] = []
        self._last_ts: float | None = None

    def note(self, index: int, ts: float, source: str) -> None:
        if source == "pts" and self._last_ts is not None and ts - self._last_ts > 1.5 * self.period:
            lost = round((ts - self._last_ts) / self.period) - 1
            if lost > 0:
                self._gaps.append(
                    LostStretch(index - 1, self._last_ts + self.period, ts, lost, "timestamp_gap")
                )
        self._last_ts = ts

    def finish(self, decoded: int) -> DecodeReport:
        lost = list(self._gaps)
        gap_frames = sum(x.frames for x in lost)
        if self.announced and decoded + gap_frames < self.announced:
            start = (self._last_ts + self.period) if self._last_ts is not None else 0.0
            missing = self.announced - decoded - gap_frames
            lost.append(
                LostStretch(decoded - 1, start, start + missing * self.period, missing, "stopped_early")
            )
        self.report = DecodeReport(self.announced, decoded, sum(x.frames for x in lost), tuple(lost))
        if self.report.frames_lost:
            log.warning(
                "%s: decoded %d of %d frames; %d lost in %d stretch(es) (truncated or corrupt?)",
                self.path,
                decoded,
                self.announced or decoded,
                self.report.frames_lost,
                len(lost),
            )
        return self.report


def redact(uri: str) -> str:
    """Hide credentials in rtsp://user:pass@host URLs before logging them."""
    if "@" in uri and "://" in uri:
        scheme, rest = uri.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return uri
