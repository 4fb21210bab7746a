"""The camera's own compressed packets: a bounded ring, slices for a bundle, decode and stream copy.

A source that demuxes a compressed stream (a video file, an RTSP camera) keeps the last seconds of
its packets here instead of every decoded frame: a 1080p H.264 camera sends about 0.5 MB a second,
so a 10 s ring is a few MB and costs no CPU, where holding JPEGs of every frame cost a sixth of a core.

    ring = PacketRing(max_seconds=12)
    ring.start_segment(stream)                  # on every (re)connection: the codec parameters
    ring.add_packet(packet)                     # every demuxed packet (capture thread)
    ring.note_frame(index, pts)                 # every decoded frame: its index and its PTS
    piece = ring.slice(first_index, last_index) # a bundle's frames: from the keyframe before them
    frames = SliceDecoder(piece)                # decodes only what a bundle asks for
    remux_clip(piece, path)                     # the evidence clip: the camera's packets, no re-encode

A slice is self-contained bytes (a NUT stream of its packets, with the codec parameters), so it
can cross a process boundary. Eviction drops whole groups of pictures: a frame still inside the
horizon always keeps the keyframe it decodes from. A slice never spans a reconnection.
"""

from __future__ import annotations

import io
import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Generator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from detector.errors import DetectorError
from detector.fsutil import fsync_file

log = logging.getLogger(__name__)


class PacketError(DetectorError):
    """A packet slice could not be cut, decoded or copied."""


@dataclass(frozen=True, slots=True)
class _Packet:
    data: bytes
    pts: int | None
    dts: int | None
    key: bool
    segment: int
    t: float  # seconds on a clock continued across connections (eviction only)


@dataclass(slots=True)
class _Segment:
    """One connection's stream: its codec parameters (an input Stream kept as a template)."""

    holder: Any  # an unstarted output container that owns `template` (never written)
    template: Any  # a copy of the connection's stream parameters, independent of its container
    time_base: Fraction
    codec: str
    offset: float = 0.0  # this connection's start on the ring's continuous clock
    base_pts: int | None = None
    last_pts: int | None = None
    last_dts: int | None = None
    renamed: OrderedDict[int | None, deque[int]] = field(default_factory=OrderedDict)

    def stamps(self, pts: int | None, dts: int | None) -> tuple[int, int]:
        """Timestamps every packet has, DTS strictly rising: a camera's first packet often comes
        without any (RTSP before the first RTCP report), and a loaded camera can stamp two frames
        alike. A missing PTS takes the DTS, else one tick after the previous packet; a DTS that does
        not rise is moved one tick past the previous one, and the PTS with it when it fell behind."""
        given = pts
        if pts is None:
            pts = dts if dts is not None else (self.last_pts + 1 if self.last_pts is not None else 0)
        if dts is None:
            dts = pts
        if self.last_dts is not None and dts <= self.last_dts:
            dts = self.last_dts + 1
            pts = max(pts, dts)
        self.last_pts = pts if self.last_pts is None else max(self.last_pts, pts)
        self.last_dts = dts
        # the decoder will report `given` for this packet's frame: remember what it became
        self.renamed.setdefault(given, deque()).append(pts)
        while len(self.renamed) > 256:
            self.renamed.popitem(last=False)
        return pts, dts

    def frame_pts(self, pts: int | None) -> int | None:
        """The PTS the ring gave the packet of a decoded frame that reports `pts`."""
        moved = self.renamed.get(pts)
        if moved:
            new = moved.popleft()
            if not moved:
                del self.renamed[pts]
            return new
        return pts


def rescale(pts: int, src: Fraction, dst: Fraction) -> int:
    """`pts` from time base `src` to `dst`, rounded half up as FFmpeg does (AV_ROUND_NEAR_INF)."""
    num = pts * src.numerator * dst.denominator
    den = src.denominator * dst.numerator
    return (2 * num + den) // (2 * den)


@dataclass(frozen=True, slots=True)
class PacketSlice:
    """A bundle's packets as a NUT byte stream (it keeps the stream's time base exactly), and the
    PTS of each frame index."""

    data: bytes
    codec: str
    frame_pts: dict[int, int]  # frame index -> its PTS (in `time_base`, the stream's own clock)
    start_pts: int  # PTS of the slice's first packet (a keyframe)
    time_base: Fraction
    first_index: int
    last_index: int
    packets: int
    reconnect_cut: bool = False  # frames of another connection were left out

    @property
    def nbytes(self) -> int:
        return len(self.data)


@dataclass
class PacketRingStats:
    packets: int = 0
    evicted: int = 0
    bytes_held: int = 0
    segments: int = 0
    slices: int = 0
    misses: int = 0  # frames asked for that were no longer (or never) held
    over_bytes: int = 0  # groups of pictures dropped for the byte bound while still needed

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class PacketRing:
    """The newest packets of a stream, bounded by stream seconds and bytes (thread-safe)."""

    max_seconds: float = 12.0
    max_bytes: int = 64 * 1024 * 1024
    stats: PacketRingStats = field(default_factory=PacketRingStats)

    def __post_init__(self) -> None:
        self._need: int | None = None  # oldest frame index a consumer still needs (None: no consumer)
        self._lock = threading.Lock()
        self._packets: deque[_Packet] = deque()
        self._frames: deque[tuple[int, int, int]] = deque()  # (index, pts, segment)
        self._segments: dict[int, _Segment] = {}
        self._segment = -1

    def start_segment(self, stream: Any) -> None:
        """A new connection (or file): packets from here on decode with `stream`'s parameters.

        Call on the thread that demuxes `stream`, before its first packet: its parameters are copied
        here, so the connection's container may be closed while its packets are still held."""
        import av

        holder = av.open(io.BytesIO(), "w", format="nut")
        template = holder.add_stream_from_template(stream)
        with self._lock:
            self._segment += 1
            offset = self._packets[-1].t + 0.04 if self._packets else 0.0
            self._segments[self._segment] = _Segment(
                holder, template, Fraction(stream.time_base), stream.codec_context.name, offset
            )
            self.stats.segments += 1

    def add_packet(self, packet: Any) -> None:
        if packet.size == 0 or self._segment < 0:
            return
        with self._lock:
            seg = self._segments[self._segment]
            pts, dts = seg.stamps(packet.pts, packet.dts)
            if seg.base_pts is None:
                seg.base_pts = pts
            t = seg.offset + float((pts - seg.base_pts) * seg.time_base)
            item = _Packet(bytes(packet), pts, dts, bool(packet.is_keyframe), self._segment, t)
            self._packets.append(item)
            self.stats.packets += 1
            self.stats.bytes_held += len(item.data)
            self._evict()

    def note_frame(self, index: int, pts: int | None) -> None:
        with self._lock:
            if self._segment < 0:
                return
            pts = self._segments[self._segment].frame_pts(pts)
            if pts is not None:
                self._frames.append((index, pts, self._segment))

    def release_before(self, index: int) -> None:
        """The consumer (the evidence collector) needs no frame before `index` any more. From the
        first call on, packets are kept until released (or over `max_bytes`), not by seconds: the
        frames waiting in the capture queue keep their packets however long the queue is."""
        with self._lock:
            self._need = index
            if self._packets:
                self._evict()

    def _needed_pts(self) -> tuple[int, int] | None:
        """(segment, pts) of the oldest needed frame, if it has been decoded."""
        for idx, pts, seg in self._frames:
            if idx >= self._need:  # type: ignore[operator]
                return seg, pts
        return None

    def _gop_unneeded(self, nxt: _Packet, newest: _Packet) -> bool:
        if self._need is None:
            return newest.t - nxt.t >= self.max_seconds
        need = self._needed_pts()
        if need is None:  # every held frame is older than the oldest needed one
            return True
        seg, pts = need
        return nxt.segment < seg or (nxt.segment == seg and nxt.pts is not None and nxt.pts <= pts)

    def _evict(self) -> None:
        """Drop the oldest group of pictures while the next one alone still covers what is needed."""
        newest = self._packets[-1]
        while len(self._packets) > 1:
            first_seg = self._packets[0].segment
            nxt = next(
                (i for i, p in enumerate(self._packets) if i > 0 and (p.key or p.segment != first_seg)), None
            )
            if nxt is None:
                break
            over_bytes = self.stats.bytes_held > self.max_bytes
            if not over_bytes and not self._gop_unneeded(self._packets[nxt], newest):
                break
            if over_bytes:
                self.stats.over_bytes += 1
            for _ in range(nxt):
                gone = self._packets.popleft()
                self.stats.bytes_held -= len(gone.data)
                self.stats.evicted += 1
        first = self._packets[0]
        while self._frames and (
            self._frames[0][2] < first.segment
            or (
                self._frames[0][2] == first.segment
                and first.pts is not None
                and self._frames[0][1] < first.pts
            )
        ):
            self._frames.popleft()
        for seg in [s for s in self._segments if s < first.segment]:
            del self._segments[seg]

    def slice(self, first_index: int, last_index: int, anchor_index: int | None = None) -> PacketSlice | None:
        """The packets that decode frames `first_index`..`last_index`, from the keyframe before them.

        Only the connection of `anchor_index` (default: the last frame) is used. None when none of
        those frames are held any more."""
        with self._lock:
            frames = [f for f in self._frames if first_index <= f[0] <= last_index]
            if not frames:
                self.stats.misses += 1
                return None
            anchor = anchor_index if anchor_index is not None else last_index
            seg = next((f[2] for f in frames if f[0] >= anchor), frames[-1][2])
            cut = any(f[2] != seg for f in frames)
            frames = [f for f in frames if f[2] == seg]
            packets = [p for p in self._packets if p.segment == seg]
            segment = self._segments.get(seg)
            if segment is None or not packets:
                self.stats.misses += 1
                return None
        return self._cut(segment, packets, frames, cut)

    def _cut(
        self, segment: _Segment, packets: list[_Packet], frames: list[tuple[int, int, int]], cut: bool
    ) -> PacketSlice | None:
        lo, hi = min(f[1] for f in frames), max(f[1] for f in frames)
        start = max(
            (i for i, p in enumerate(packets) if p.key and p.pts is not None and p.pts <= lo), default=None
        )
        if start is None:
            self.stats.misses += 1
            return None
        chosen: list[_Packet] = []
        for p in packets[start:]:
            if p.dts is not None and p.dts > hi and chosen:
                break
            chosen.append(p)
        base = chosen[0].pts or 0
        tb = segment.time_base
        frame_pts = {idx: pts for idx, pts, _ in frames if pts >= base}
        self.stats.slices += 1
        return PacketSlice(
            data=_to_container(segment, chosen),
            codec=segment.codec,
            frame_pts=frame_pts,
            start_pts=base,
            time_base=tb,
            first_index=min(frame_pts, default=frames[0][0]),
            last_index=max(frame_pts, default=frames[-1][0]),
            packets=len(chosen),
            reconnect_cut=cut,
        )


def _to_container(segment: _Segment, packets: list[_Packet]) -> bytes:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="nut") as out:
        stream = out.add_stream_from_template(segment.template)
        for p in packets:
            pkt = av.Packet(p.data)
            pkt.pts, pkt.dts, pkt.time_base = p.pts, p.dts, segment.time_base
            pkt.is_keyframe = p.key
            pkt.stream = stream
            out.mux(pkt)
    return buf.getvalue()


def _open_slice(piece: PacketSlice) -> Any:
    import av

    try:
        return av.open(io.BytesIO(piece.data), "r", format="nut")
    except av.FFmpegError as exc:
        raise PacketError(f"packet slice of frames {piece.first_index}-{piece.last_index}: {exc}") from exc


class SliceDecoder:
    """Decodes a slice's frames on demand, keeping at most `cache` of them (6 MB each at 1080p).

    The decoder stays open where it stopped: frames asked for in order (an encoded clip's frames, one
    by one) decode the slice once, front to back. `prefetch(indices)` decodes up to the last of them
    and keeps just those; a frame before the decoder's position that is not cached is decoded again
    from the slice's start. `close()` (or the last reference going) closes the decoder."""

    def __init__(self, piece: PacketSlice, cache: int = 16) -> None:
        self.piece = piece
        self.cache = cache
        self._images: OrderedDict[int, np.ndarray] = OrderedDict()
        self._index_of: dict[int, int] | None = None  # container PTS -> frame index
        self._frames: Generator[tuple[int, Any], None, None] | None = None  # the open decoder, from `_pos` on
        self._pos = -1  # the index of the last frame decoded
        self.decoded = 0
        self._lock = threading.Lock()

    def _from_start(self) -> Generator[tuple[int, Any], None, None]:
        """(frame index, decoded frame) of the slice in order, from its keyframe."""
        with _open_slice(self.piece) as container:
            stream = container.streams.video[0]
            if self._index_of is None:
                tb = Fraction(stream.time_base)
                self._index_of = {
                    rescale(p, self.piece.time_base, tb): i for i, p in self.piece.frame_pts.items()
                }
            index_of = self._index_of
            for frame in container.decode(stream):
                self.decoded += 1
                idx = index_of.get(frame.pts) if frame.pts is not None else None
                if idx is not None:
                    yield idx, frame

    def _decode(self, wanted: set[int]) -> None:
        if not wanted:
            return
        if self._frames is None or min(wanted) <= self._pos:  # behind the decoder: from the start
            self.close()
            self._frames = self._from_start()
        stop = max(wanted)
        for idx, frame in self._frames:
            self._pos = idx
            if idx in wanted:
                self._keep(idx, frame.to_ndarray(format="bgr24"))
            if idx >= stop:
                return
        self.close()  # the slice ended

    @property
    def is_open(self) -> bool:
        """Whether a decoder (and its container) is open, waiting where it stopped."""
        return self._frames is not None

    def close(self) -> None:
        """Close the open decoder (its container), if any."""
        if self._frames is not None:
            frames, self._frames, self._pos = self._frames, None, -1
            frames.close()

    def _keep(self, idx: int, image: np.ndarray) -> None:
        self._images[idx] = image
        self._images.move_to_end(idx)
        while len(self._images) > self.cache:
            self._images.popitem(last=False)

    def prefetch(self, indices: set[int]) -> None:
        with self._lock:
            want = {i for i in indices if i in self.piece.frame_pts and i not in self._images}
            if want:
                self._decode(set(list(sorted(want))[: self.cache]))

    def image(self, index: int) -> np.ndarray:
        with self._lock:
            if index not in self._images:
                if index not in self.piece.frame_pts:
                    raise PacketError(f"frame {index} is not in the packet slice")
                self._decode({index})
            if index not in self._images:
                raise PacketError(f"frame {index} did not decode from its packet slice")
            self._images.move_to_end(index)
            return self._images[index]


@dataclass(frozen=True, slots=True)
class RemuxResult:
    path: Path
    codec: str
    fps: float
    frame_count: int
    width: int
    height: int
    start_s: float  # relative to the slice's first packet; the caller adds the stream time
    end_s: float


def remux_clip(piece: PacketSlice, path: Path) -> RemuxResult:
    """The slice's packets copied into an MP4 at `path` (no decoding, no encoding), fsynced."""
    import av

    try:
        with _open_slice(piece) as src, av.open(str(path), "w", format="mp4") as out:
            ist = src.streams.video[0]
            ost = out.add_stream_from_template(ist)
            packets = [pkt for pkt in src.demux(ist) if pkt.size > 0]
            stamps = [pkt.pts for pkt in packets if pkt.pts is not None]
            first = min(stamps, default=0)
            last = max(stamps, default=0)
            for pkt in packets:  # the clip starts at 0 (its first keyframe); the manifest says when
                if pkt.pts is not None:
                    pkt.pts -= first
                if pkt.dts is not None:
                    pkt.dts -= first
                pkt.stream = ost
                out.mux(pkt)
            n = len(packets)
            width, height, tb = ist.codec_context.width, ist.codec_context.height, ist.time_base
            rate = ist.average_rate or ist.guessed_rate
    except av.FFmpegError as exc:
        raise PacketError(f"{path}: stream copy failed: {exc}") from exc
    if n == 0 or not path.is_file() or path.stat().st_size == 0:
        raise PacketError(f"{path}: stream copy wrote nothing")
    fsync_file(path)
    span = float((last - first) * tb) if tb else 0.0
    fps = float(rate) if rate else ((n - 1) / span if span > 0 else 0.0)
    return RemuxResult(path, piece.codec, round(fps, 3) or 1.0, n, width, height, 0.0, span)
