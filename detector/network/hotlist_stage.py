"""The edge's hotlist stage: reads the plates of passing vehicles (not only violators') and hands
each reading to the `HotlistWatcher`, which raises an alert at once on a wanted plate.

`submit(result)` runs on the frame loop's thread (it is the loop's `on_result` hook) and only
decides and copies: a confirmed, detected (not predicted) vehicle whose box is tall enough and
clear of the frame's edges, at most `max_reads` times per track and `min_gap_frames` apart, has its
box region copied into a bounded queue (full: the newest is dropped and counted). One worker thread
reads the plate (platedet on the vehicle box, the text-line detector where it finds none: the same
path as a violator's plate) and calls the watcher. The hotlist file is re-read when it changes.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from detector.config import CameraConfig
from detector.fsutil import atomic_write_bytes
from detector.network.hotlist import AlertSink, HotlistFile, HotlistHit, HotlistWatcher
from detector.network.plate_match import Reading, match_wanted

if TYPE_CHECKING:
    from detector.pipeline import FrameResult
    from detector.stages import TrackPlateLookup
    from detector.store.services import StoreServices

log = logging.getLogger(__name__)
VEHICLES = frozenset({2, 3, 5, 7})  # COCO car, motorcycle, bus, truck


class JsonlAlertSink:
    """Alerts as JSON lines (an edge run without a store)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def raise_alert(self, hit: HotlistHit) -> None:
        rec = {
            "alert_key": hit.alert_key,
            "camera_id": hit.camera_id,
            "track_id": hit.track_id,
            "seen_at": hit.seen_at.isoformat(),
            "plate_read": hit.plate_read,
            "wanted": hit.wanted.plate_text,
            "reason": hit.wanted.reason,
            "match_kind": hit.match.kind,
            "match_detail": hit.match.detail,
            "picture": hit.picture,
        }
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


@dataclass
class HotlistStageStats:
    submitted: int = 0
    dropped: int = 0
    reads: int = 0
    alerts: int = 0
    latency_s: list[float] = field(default_factory=list)  # frame handed over -> alert raised (wall)


@dataclass(frozen=True, slots=True)
class _Job:
    track_id: int
    frame_index: int
    seen_at: datetime
    image: np.ndarray  # the vehicle's region (with a margin)
    box: tuple[float, float, float, float]  # the vehicle box in `image` coordinates
    handed_at: float


class HotlistStage:
    def __init__(
        self,
        watcher: HotlistWatcher,
        lookup: TrackPlateLookup,
        start: datetime,
        pictures: Path,
        *,
        min_height_px: float = 60.0,
        max_reads: int = 3,
        min_gap_frames: int = 3,
        queue_size: int = 8,
        refresh_every_frames: int = 150,
    ) -> None:
        self.watcher = watcher
        self.lookup = lookup
        self.start = start.astimezone(UTC)
        self.pictures = pictures
        self.min_height_px = min_height_px
        self.max_reads = max_reads
        self.min_gap_frames = min_gap_frames
        self.refresh_every_frames = refresh_every_frames
        self.stats = HotlistStageStats()
        self._reads: dict[int, tuple[int, int]] = {}  # track -> (reads, last frame)
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=queue_size)
        self._worker = threading.Thread(target=self._work, name="hotlist", daemon=True)
        self._worker.start()

    def submit(self, result: FrameResult) -> None:
        f, d = result.frame, result.detections
        if f.index % self.refresh_every_frames == 0:
            self.watcher.hotlist.refresh()
        if d.tracker_id is None or not self.watcher.hotlist.entries:
            return
        h, w = f.image.shape[:2]
        predicted = d.predicted
        seen_at = (
            datetime.fromtimestamp(f.wall_time, UTC)
            if f.wall_time is not None
            else self.start + timedelta(seconds=f.timestamp)
        )
        for i in range(len(d)):
            tid = int(d.tracker_id[i])
            x1, y1, x2, y2 = (float(v) for v in d.xyxy[i])
            if tid < 0 or predicted[i] or int(d.class_id[i]) not in VEHICLES or y2 - y1 < self.min_height_px:
                continue
            if x1 < 2 or y1 < 2 or x2 > w - 2 or y2 > h - 2:
                continue
            reads, last = self._reads.get(tid, (0, -(10**9)))
            if reads >= self.max_reads or f.index - last < self.min_gap_frames:
                continue
            self._reads[tid] = (reads + 1, f.index)
            mx, my = 0.05 * (x2 - x1), 0.05 * (y2 - y1)
            ix1, iy1 = max(0, int(x1 - mx)), max(0, int(y1 - my))
            ix2, iy2 = min(w, int(np.ceil(x2 + mx))), min(h, int(np.ceil(y2 + my)))
            job = _Job(
                tid,
                f.index,
                seen_at,
                np.ascontiguousarray(f.image[iy1:iy2, ix1:ix2]),
                (x1 - ix1, y1 - iy1, x2 - ix1, y2 - iy1),
                time.monotonic(),
            )
            self.stats.submitted += 1
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                self.stats.dropped += 1
        if len(self._reads) > 10_000:
            for tid in list(self._reads)[:5_000]:
                del self._reads[tid]

    def _work(self) -> None:
        from detector.types import Frame

        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                seen = self.lookup._observe(  # the violator path's plate read (detector, then text lines)
                    Frame(
                        image=job.image,
                        index=job.frame_index,
                        timestamp=0.0,
                        source_id=self.watcher.camera_id,
                    ),
                    job.box,
                )
                self.stats.reads += 1
                if seen is None:
                    continue
                obs, crop = seen
                reading = Reading.of([(obs.text, obs.confidence)])
                picture = None
                if match_wanted(reading, [w.plate for w in self.watcher.hotlist.entries]):
                    picture = self._picture(job, crop)
                hits = self.watcher.observe(job.track_id, job.seen_at, reading, picture)
                if hits:
                    self.stats.alerts += len(hits)
                    self.stats.latency_s.append(time.monotonic() - job.handed_at)
            except Exception:  # noqa: BLE001 - one bad read must not stop the alerts
                log.exception("hotlist read of track %d failed", job.track_id)

    def _picture(self, job: _Job, plate_crop: np.ndarray) -> str | None:
        import cv2

        ok, data = cv2.imencode(".jpg", job.image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            return None
        path = self.pictures / f"{self.watcher.camera_id}-t{job.track_id}-f{job.frame_index}.jpg"
        atomic_write_bytes(path, data.tobytes(), mode=0o644)
        return str(path)

    def close(self) -> None:
        """Finish the queued reads, stop the worker."""
        self._queue.put(None)
        self._worker.join()
        self.lookup.close()


def open_hotlist_stage(
    hotlist_path: Path, cfg: CameraConfig, out: Path, store: StoreServices | None, start: datetime
) -> HotlistStage:
    """The stage for one camera run: its own plate reader (the evidence worker keeps its own), alerts
    into the run's embedded store when there is one (hence MQTT through its outbox, SSE through its
    API), else into `out/hotlist_alerts.jsonl`; pictures of sightings in `out/hotlist/`."""
    from detector.plates.reader import PlateReader
    from detector.plates.textdet import TextLineDetector
    from detector.stages import TrackPlateLookup

    plates = cfg.plates
    sink: AlertSink = store.hotlists if store is not None else JsonlAlertSink(out / "hotlist_alerts.jsonl")
    watcher = HotlistWatcher(HotlistFile(hotlist_path), sink, cfg.camera_id)
    lookup = TrackPlateLookup(
        PlateReader.from_config(plates), fallback=TextLineDetector(threads=plates.threads)
    )
    return HotlistStage(watcher, lookup, start, out / "hotlist")
