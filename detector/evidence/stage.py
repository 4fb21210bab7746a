"""The evidence stage as the pipeline sees it: a FrameSink that buffers frames and writes bundles.

    sink = open_evidence_sink(cfg, root, config_sha256=config_sha256(path), models=[detector.model])
    pipeline = Pipeline(cfg, fps, sinks=[..., sink])
    ...                                   # every FrameResult: frame, detections, violations
    sink.add_violations(pipeline.finish())  # late violations decided at end of stream
    sink.close()                          # bundles still waiting for 'after' frames are written

The sink duck-types the pipeline's FrameResult (.frame, .detections, .violations) so this module
does not import the pipeline (lower stages never import higher ones). The plate of a violation is
asked for when its bundle is complete, through `plate_lookup(violation, frames, detections_by_frame)`,
so plate voting can use the frames after the moment too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from detector.config import CalibrationConfig, CameraConfig, EvidenceConfig
from detector.diskguard import DiskGuard
from detector.errors import ConfigError, DetectorError
from detector.evidence.images import Annotate
from detector.evidence.keys import Signer, load_private_key
from detector.evidence.manifest import CalibrationInfo, ModelInfo
from detector.evidence.packets import PacketRing
from detector.evidence.ring import EvidenceCollector, FrameCompressor, PendingBundle
from detector.evidence.writer import BundleWriter, camera_info_from_config
from detector.geometry import calibration_from_config
from detector.types import Detections, Frame, PlateRead, Violation

log = logging.getLogger(__name__)

PlateLookup = Callable[
    [Violation, Sequence[Frame], Mapping[int, Detections]], tuple[PlateRead | None, np.ndarray | None]
]


class _FrameResultLike(Protocol):
    @property
    def frame(self) -> Frame: ...

    @property
    def detections(self) -> Detections: ...

    @property
    def violations(self) -> Sequence[Violation]: ...


class EvidenceSink:
    """Buffers frames per camera and writes one signed bundle per violation once its clip is complete.

    A failed bundle is logged and counted in `failures` (the camera keeps running); `written` lists
    (event_key, bundle path) in order. With `background=True` bundles are encoded and written by one
    worker thread (order, hence sequence numbers, preserved) so a live camera does not stall for the
    clip encoding; at most `queue_size` complete bundles wait, then `write` blocks (evidence is never
    dropped; each waiting bundle holds its clip's frames). `plate_lookup` then runs on the worker thread.
    """

    def __init__(
        self,
        writer: BundleWriter,
        config: EvidenceConfig | None = None,
        *,
        plate_lookup: PlateLookup | None = None,
        annotate: Annotate | None = None,
        on_bundle: Callable[[Violation, Path], None] | None = None,
        background: bool = False,
        queue_size: int = 4,
    ) -> None:
        self.writer = writer
        self.config = config or writer.config
        quality = self.config.ring_jpeg_quality
        self.compressor = FrameCompressor(quality) if quality is not None else None
        self.collector = EvidenceCollector(
            self.config.pre_s,
            self.config.post_s,
            self.config.ring_max_frames,
            self.config.ring_seconds,
            compressor=self.compressor,
        )
        self.plate_lookup = plate_lookup
        self.annotate = annotate
        self.on_bundle = on_bundle
        self.written: list[tuple[str, Path]] = []
        self.worker_cpu_s = 0.0  # CPU time of the background worker (plates, images, clip, signing, store)
        self.failures: list[tuple[str, str]] = []
        self._queue: queue.Queue[PendingBundle | None] | None = None
        self._worker: threading.Thread | None = None
        if background:
            self._queue = queue.Queue(maxsize=queue_size)
            self._worker = threading.Thread(target=self._drain, name="evidence-writer", daemon=True)
            self._worker.start()

    def use_packets(self, ring: PacketRing, slack_s: float = 6.0) -> None:
        """Take frames' images from the source's packets: no decoded frame is buffered or compressed,
        the clip is a stream copy. Call before the first frame. The packet ring is made to outlast
        the frame ring by `slack_s` (frames waiting in the capture queue, a group of pictures)."""
        ring.max_seconds = max(ring.max_seconds, self.config.ring_seconds + slack_s)
        self.collector.packets = ring
        if self.compressor is not None:
            self.compressor.close()
            self.compressor = None
            self.collector.compressor = None

    def write(self, result: _FrameResultLike) -> None:
        done = self.collector.push(result.frame, result.detections)
        for v in result.violations:
            p = self.collector.request(v)
            if p.complete:
                done.append(p)
        for p in done:
            self._submit(p)

    def add_violations(self, violations: Iterable[Violation]) -> None:
        """Violations decided after their frames were pushed (e.g. at end of stream)."""
        for v in violations:
            p = self.collector.request(v)
            if p.complete:
                self._submit(p)

    def close(self) -> None:
        """Write the bundles still waiting (with the frames they have) and stop the worker."""
        for p in self.collector.flush():
            self._submit(p)
        if self._queue is not None and self._worker is not None:
            self._queue.put(None)
            self._worker.join()
            self._queue, self._worker = None, None
        if self.compressor is not None:
            self.compressor.close()
            self.compressor = None

    def _submit(self, p: PendingBundle) -> None:
        if self._queue is not None:
            self._queue.put(p)
        else:
            self._write(p)

    def _drain(self) -> None:
        assert self._queue is not None
        q = self._queue
        _lower_priority(self.worker_nice)
        while (p := q.get()) is not None:
            cpu0 = time.thread_time()
            try:
                self._write(p)
            except Exception as exc:  # noqa: BLE001 - a dead worker would block the camera forever
                log.exception("%s: evidence worker failed", p.violation.event_key)
                self.failures.append((p.violation.event_key, f"{type(exc).__name__}: {exc}"))
            finally:
                self.worker_cpu_s += time.thread_time() - cpu0

    def _wanted_frames(self, p: PendingBundle) -> set[int]:
        """Frames a bundle will look at, decoded in one pass: the evidence frames and the frames
        where the violator's detected box is largest (where the plate reader looks first)."""
        ev = p.violation.evidence_frames
        held = sorted(p.items)
        wanted = (
            {min(held, key=lambda i: (abs(i - idx), i)) for idx in (ev.before, ev.at, ev.after)}
            if held
            else set()
        )
        sizes: list[tuple[float, int]] = []
        for i, dets in p.detections_by_frame.items():
            if dets.tracker_id is None:
                continue
            rows = np.flatnonzero((dets.tracker_id == p.violation.track_id) & ~dets.predicted)
            if rows.size:
                x1, y1, x2, y2 = dets.xyxy[int(rows[0])]
                sizes.append((float((x2 - x1) * (y2 - y1)), i))
        top = getattr(self.plate_lookup, "max_frames", 10)
        wanted.update(i for _, i in sorted(sizes, reverse=True)[:top])
        return wanted

    @property
    def pending(self) -> int:
        return self.collector.pending

    worker_nice = 10  # the worker yields the CPU to capture and the frame loop

    def _write(self, p: PendingBundle) -> None:
        key = p.violation.event_key
        try:
            plate, crop = (None, None)
            if p.decoder is not None:
                p.decoder.prefetch(self._wanted_frames(p))
            if self.plate_lookup is not None:
                plate, crop = self.plate_lookup(p.violation, p.frames, p.detections_by_frame)
            path = self.writer.write_pending(p, plate=plate, plate_crop=crop, annotate=self.annotate)
        except (DetectorError, OSError) as exc:
            log.error("%s: evidence bundle NOT written: %s", key, exc)
            self.failures.append((key, str(exc)))
            return
        finally:
            if p.decoder is not None:  # an open 1080p decoder holds tens of MB: not past its bundle
                p.decoder.close()
        self.written.append((key, path))
        if self.on_bundle is not None:
            self.on_bundle(p.violation, path)


def _lower_priority(nice: int) -> None:
    """Lower the calling thread's CPU priority (Linux schedules threads, so `setpriority` on the
    thread id affects this thread only). The hot path then gets the cores first when a bundle's
    plates, images and clip compete with it; the worker catches up in the gaps."""
    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except (OSError, AttributeError):  # not Linux, or not allowed: the worker runs at normal priority
        log.debug("cannot lower the evidence worker's priority", exc_info=True)


def calibration_info(cal: CalibrationConfig | None) -> CalibrationInfo | None:
    """Manifest calibration from rules.calibration, with the fitted homography."""
    if cal is None:
        return None
    homo = calibration_from_config(cal)
    dump = cal.model_dump(mode="json")
    return CalibrationInfo(
        method="homography",
        homography=tuple((float(row[0]), float(row[1]), float(row[2])) for row in homo.H),
        image_points=tuple((float(x), float(y)) for x, y in cal.image_points),
        world_points=tuple((float(x), float(y)) for x, y in cal.world_points),
        reprojection_error_px=homo.rms_error_px,
        reprojection_error_m=homo.rms_error_m,
        sha256=hashlib.sha256(json.dumps(dump, sort_keys=True).encode()).hexdigest(),
        description=cal.note,
    )


def open_evidence_sink(
    cfg: CameraConfig,
    root: Path | str | None,
    *,
    config_sha256: str,
    models: Sequence[ModelInfo] = (),
    signer: Signer | None = None,
    plate_lookup: PlateLookup | None = None,
    annotate: Annotate | None = None,
    on_bundle: Callable[[Violation, Path], None] | None = None,
    background: bool = False,
    guard: DiskGuard | None = None,
) -> EvidenceSink:
    """Build the evidence sink of a camera from its CameraConfig (`guard`: no bundle below the disk floor).

    `root` overrides `cfg.evidence.root`; the signing key is `signer`, else `cfg.evidence.key_path`.
    Raises ConfigError when neither gives a root or a key.
    """
    ev = cfg.evidence
    root = root if root is not None else ev.root
    if root is None:
        raise ConfigError(f"{cfg.camera_id}: evidence.root is not set and no evidence folder was given")
    if signer is None:
        if ev.key_path is None:
            raise ConfigError(
                f"{cfg.camera_id}: evidence.key_path is not set; create a key with `detector keys new --out DIR`"
            )
        signer = load_private_key(Path(ev.key_path))
    writer = BundleWriter(
        root,
        signer,
        camera_info_from_config(cfg),
        models,
        config_sha256,
        config=ev,
        calibration=calibration_info(cfg.rules.calibration),
        guard=guard,
    )
    return EvidenceSink(
        writer, ev, plate_lookup=plate_lookup, annotate=annotate, on_bundle=on_bundle, background=background
    )
