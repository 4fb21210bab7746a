"""Traffic statistics as the edge runs: each interval's rows stored once it is over.

`LiveTrafficStats.submit(result)` runs on the frame loop's result hook and only copies each frame's
tracked boxes as track records (the fields `tracks.jsonl` has, rounded the same way). Once the
stream time passes the end of interval k by `settle_s` (the spot-speed window and the point after a
crossing have arrived), a worker thread at low priority computes interval k with the same function
as the batch command (`stats.traffic_stats`) over the records still held (interval k and `lookback_s`
before it), keeps the rows of interval k and hands them to `sink` (the store's
`TrafficStatsService.save`, which replaces an interval's rows). `close()` computes the last,
partial interval. Records older than the lookback are dropped, so memory stays bounded on a
camera that runs for months.

Because a track counts once, at its first crossing, a track's records are kept while it is seen
(up to `max_track_s`), so a vehicle that crossed before the window is not counted again.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from detector.network.stats import StatsGeometry, TrafficStat, TrafficStatsConfig, traffic_stats
from detector.types import COCO_ROAD_USERS

if TYPE_CHECKING:
    from detector.pipeline import FrameResult

log = logging.getLogger(__name__)
Record = dict[str, object]


@dataclass
class LiveStatsFigures:
    intervals: list[int] = field(default_factory=list)  # intervals stored, in order
    handed: list[tuple[int, float]] = field(default_factory=list)  # (interval, stream time handed over)
    rows: int = 0
    failures: int = 0
    cpu_s: float = 0.0  # the worker's CPU time (time.thread_time)


class LiveTrafficStats:
    def __init__(
        self,
        camera_id: str,
        geometry: StatsGeometry,
        cfg: TrafficStatsConfig,
        sink: Callable[[Sequence[TrafficStat]], object],
        *,
        start: datetime | None = None,
        lookback_s: float = 30.0,
        max_track_s: float = 300.0,
    ) -> None:
        self.camera_id = camera_id
        self.geometry = geometry
        self.cfg = cfg
        self.sink = sink
        self.start = start.astimezone(UTC) if start is not None else None
        self.settle_s = cfg.speed_window_s + 1.0
        self.lookback_s = lookback_s
        self.max_track_s = max_track_s
        self.figures = LiveStatsFigures()
        self._records: list[Record] = []
        self._last_seen: dict[int, float] = {}
        self._next = 0  # the next interval to compute
        self._last_t = 0.0
        self._jobs: queue.Queue[tuple[int, list[Record], float | None] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="live-stats", daemon=True)
        self._worker.start()

    def submit(self, result: FrameResult) -> None:
        f, d = result.frame, result.detections
        if self.start is None:  # a live camera: stream time 0 at the first frame's wall time
            wall = f.wall_time if f.wall_time is not None else None
            self.start = (
                datetime.fromtimestamp(wall, UTC) - timedelta(seconds=f.timestamp)
                if wall is not None
                else datetime(1970, 1, 1, tzinfo=UTC)
            )
        t = round(f.timestamp, 4)
        self._last_t = t
        if d.tracker_id is not None:
            for i in range(len(d)):
                tid = int(d.tracker_id[i])
                cid = int(d.class_id[i])
                self._records.append(
                    {
                        "t": t,
                        "track_id": tid,
                        "class": COCO_ROAD_USERS.get(cid, str(cid)),
                        "box": [round(float(v), 1) for v in d.xyxy[i]],
                    }
                )
                self._last_seen[tid] = t
        interval = self.cfg.interval_s
        while t >= (self._next + 1) * interval + self.settle_s:
            self._hand_over(self._next, None)
            self._next += 1

    def _hand_over(self, k: int, duration_s: float | None) -> None:
        self.figures.handed.append((k, self._last_t))
        self._jobs.put((k, list(self._records), duration_s))
        self._forget(k)

    def _forget(self, done: int) -> None:
        """Drop records no later interval needs: before the lookback of interval `done + 1`, unless
        their track is still seen (bounded by max_track_s)."""
        keep_from = (done + 1) * self.cfg.interval_s - self.lookback_s
        now = self._last_t
        alive = {tid for tid, seen in self._last_seen.items() if seen >= keep_from}
        self._records = [
            r
            for r in self._records
            if float(r["t"]) >= keep_from  # type: ignore[arg-type]
            or (r["track_id"] in alive and float(r["t"]) >= now - self.max_track_s)  # type: ignore[arg-type]
        ]
        for tid in [tid for tid in self._last_seen if tid not in alive]:
            del self._last_seen[tid]

    def _work(self) -> None:
        import os
        import time

        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except (OSError, AttributeError):  # not Linux: the worker runs at normal priority
            log.debug("cannot lower the live statistics worker's priority")
        while (job := self._jobs.get()) is not None:
            k, records, duration = job
            cpu0 = time.thread_time()
            try:
                rows = self._interval(k, records, duration)
                self.sink(rows)
                self.figures.intervals.append(k)
                self.figures.rows += len(rows)
            except Exception:  # noqa: BLE001 - statistics must never stop the camera
                self.figures.failures += 1
                log.exception("%s: traffic statistics of interval %d failed", self.camera_id, k)
            finally:
                self.figures.cpu_s += time.thread_time() - cpu0

    def _interval(self, k: int, records: list[Record], duration_s: float | None) -> list[TrafficStat]:
        assert self.start is not None
        start_k = self.start + timedelta(seconds=k * self.cfg.interval_s)
        rows = traffic_stats(records, self.geometry, self.cfg, self.camera_id, self.start, duration_s)
        return [r for r in rows if r.interval_start == start_k]

    def close(self) -> None:
        """Compute the intervals still open (the last one partial, as the batch command does), then
        stop the worker."""
        if self._records:
            end = self._last_t
            times = sorted({float(r["t"]) for r in self._records})  # type: ignore[arg-type]
            dt = times[-1] - times[-2] if len(times) > 1 else 0.0
            last = max(self._next, math.ceil((end + dt) / self.cfg.interval_s) - 1)
            for k in range(self._next, last + 1):
                self._jobs.put((k, list(self._records), None))
            self._next = last + 1
        self._jobs.put(None)
        self._worker.join()


class JsonlStatsSink:
    """Rows as JSON lines (a run without a store)."""

    def __init__(self, path: object) -> None:
        from pathlib import Path

        self.path = Path(str(path))

    def __call__(self, rows: Sequence[TrafficStat]) -> None:
        import json
        from dataclasses import asdict

        with self.path.open("a", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(asdict(r), default=str, ensure_ascii=False) + "\n")


def open_live_stats(
    network_path: object, cfg: object, sink: Callable[[Sequence[TrafficStat]], object], start: datetime | None
) -> LiveTrafficStats | None:
    """The stage for a camera run from the network file's `statistics` entry, or None."""
    from pathlib import Path

    from detector.config import load_network_config
    from detector.errors import ConfigError
    from detector.geometry import Scene
    from detector.network.stats import geometry_from_scene

    net = load_network_config(Path(str(network_path)))
    entry = next((s for s in net.statistics if s.camera_id == cfg.camera_id), None)  # type: ignore[attr-defined]
    if entry is None:
        return None
    rules = getattr(cfg, "rules", None)
    if rules is None or rules.calibration is None:
        raise ConfigError(f"{cfg.camera_id}: live statistics need rules (lanes) and rules.calibration")  # type: ignore[attr-defined]
    geometry = geometry_from_scene(Scene.from_config(rules))
    return LiveTrafficStats(cfg.camera_id, geometry, entry.stats, sink, start=start)  # type: ignore[attr-defined]
