"""Several cameras on one edge box: one process, a frame loop per camera, one detector session.

    box = EdgeBox.open([RunRequest(cfg_a, ...), RunRequest(cfg_b, ...)], batch_wait_s=0.0)
    try:
        box.run()              # a thread per camera's frame loop; returns when every loop has ended
    finally:
        box.close()            # drains each camera's outputs and evidence worker, closes its store
    box.write_results()        # each camera's summary.json and violations.jsonl, and box.json

Each camera keeps everything a one-camera run has (runtime/session.py): its capture thread and
queue (a live camera drops its own oldest frames, counted), its tracker and rules, its evidence
chain signed with its own key (the config's `evidence.key_path`) under its own output folder, its
embedded store, its status file and heartbeats. They share the vehicle detector's onnxruntime
session (detector/detect/shared.py): one copy of the weights and one arena, and inferences that
take turns instead of N x threads fighting over the cores.

Under systemd the box reports READY once every camera has started, pings the watchdog only while
every running camera's loop is alive (one stalled camera stops the pings, and systemd restarts the
box), and STOPPING once every camera has stopped.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import replace
from pathlib import Path

from detector.detect.shared import SharedSessions
from detector.errors import ConfigError
from detector.runtime.notify import SystemdNotifier
from detector.runtime.session import RunRequest, RunSession

log = logging.getLogger(__name__)


class BoxNotifier:
    """Folds the cameras' notifications into the box's one systemd conversation."""

    def __init__(self, notifier: SystemdNotifier, cameras: list[str]) -> None:
        self.notifier = notifier
        self.cameras = cameras
        self._lock = threading.Lock()
        self._ready: set[int] = set()
        self._stopped: set[int] = set()
        self._pinged: set[int] = set()

    def for_camera(self, index: int) -> CameraNotifier:
        return CameraNotifier(self, index)

    def ready(self, index: int) -> bool:
        with self._lock:
            self._ready.add(index)
            if len(self._ready) < len(self.cameras):
                return False
        return self.notifier.ready(f"watching {len(self.cameras)} cameras: {', '.join(self.cameras)}")

    def status(self, index: int, text: str) -> bool:
        return self.notifier.status(f"{self.cameras[index]}: {text}")

    def watchdog(self, index: int) -> bool:
        with self._lock:
            self._pinged.add(index)
            running = set(range(len(self.cameras))) - self._stopped
            if not running <= self._pinged:
                return False  # a camera has not shown life since the last ping
        if self.notifier.watchdog():
            with self._lock:
                self._pinged.clear()
            return True
        return False

    def stopping(self, index: int) -> bool:
        with self._lock:
            self._stopped.add(index)
            if len(self._stopped) < len(self.cameras):
                return False
        return self.notifier.stopping()


class CameraNotifier(SystemdNotifier):
    """One camera's side of the box's notifier: what its frame loop calls."""

    def __init__(self, box: BoxNotifier, index: int) -> None:
        super().__init__(environ={})
        self.box = box
        self.index = index

    def ready(self, status: str | None = None) -> bool:
        return self.box.ready(self.index)

    def status(self, text: str) -> bool:
        return self.box.status(self.index, text)

    def stopping(self) -> bool:
        return self.box.stopping(self.index)

    def watchdog(self) -> bool:
        return self.box.watchdog(self.index)


def camera_out(out: Path, camera_id: str) -> Path:
    """A camera's output folder under the box's."""
    return out / camera_id


class EdgeBox:
    """The cameras' run sessions over shared detector sessions."""

    def __init__(self, sessions: list[RunSession], shared: SharedSessions, out: Path) -> None:
        self.sessions = sessions
        self.shared = shared
        self.out = out
        self.errors: dict[str, BaseException] = {}
        self.wall_s = 0.0
        self.cpu_s = 0.0

    @classmethod
    def open(
        cls,
        requests: list[RunRequest],
        out: Path,
        batch_wait_s: float = 0.0,
        notifier: SystemdNotifier | None = None,
    ) -> EdgeBox:
        """Open every camera (a bad config or key fails before any camera starts)."""
        ids = [r.cfg.camera_id for r in requests]
        dup = sorted({c for c in ids if ids.count(c) > 1})
        if dup:
            raise ConfigError(f"two camera configs of one box share the camera id {', '.join(dup)}")
        box_notifier = BoxNotifier(notifier or SystemdNotifier(environ={}), ids)
        shared = SharedSessions(batch_wait_s)
        sessions: list[RunSession] = []
        try:
            for i, req in enumerate(requests):
                loop = replace(req.loop, notifier=box_notifier.for_camera(i))
                det = shared.detector(req.cfg.detector)
                sessions.append(RunSession.open(replace(req, loop=loop, detector=det)))
        except BaseException:
            for s in sessions:
                s.close()
            raise
        return cls(sessions, shared, out)

    def run(self) -> None:
        """Every camera's loop on its own thread; a camera that fails is recorded, the others go on."""

        def one(session: RunSession) -> None:
            try:
                session.run()
            except BaseException as exc:
                log.error("camera %s stopped: %s", session.req.cfg.camera_id, exc)
                self.errors[session.req.cfg.camera_id] = exc

        wall0, cpu0 = time.perf_counter(), time.process_time()
        threads = [
            threading.Thread(target=one, args=(s,), name=f"camera-{s.req.cfg.camera_id}", daemon=True)
            for s in self.sessions
        ]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():  # joined in slices: the main thread still takes SIGINT/SIGTERM
                t.join(0.5)
        self.wall_s = time.perf_counter() - wall0
        self.cpu_s = time.process_time() - cpu0  # the whole process: every camera's threads

    def close(self) -> None:
        first: BaseException | None = None
        for s in self.sessions:
            try:
                s.close()
            except BaseException as exc:
                first = first or exc
        if first is not None:
            raise first

    def record(self) -> dict[str, object]:
        """box.json: per camera its frames, violations and loop CPU; the box's process CPU per frame."""
        frames = sum(s.summary.frames for s in self.sessions)
        cameras = {}
        for s in self.sessions:
            cpu = s.summary.runtime.get("cpu_s", {})
            cameras[s.req.cfg.camera_id] = {
                "out": str(s.req.out),
                "frames": s.summary.frames,
                "violations": len(s.summary.violations),
                "dropped": s.summary.dropped_frames,
                "loop_cpu_s": cpu.get("loop") if isinstance(cpu, dict) else None,
                "error": str(self.errors[s.req.cfg.camera_id])
                if s.req.cfg.camera_id in self.errors
                else None,
            }
        return {
            "cameras": cameras,
            "frames": frames,
            "wall_s": round(self.wall_s, 2),
            "process_cpu_s": round(self.cpu_s, 2),
            "process_cpu_ms_per_frame": round(self.cpu_s * 1000 / frames, 2) if frames else None,
            "detector_sessions": self.shared.stats(),
        }

    def write_results(self) -> dict[str, object]:
        for s in self.sessions:
            s.write_results()
        record = self.record()
        self.out.mkdir(parents=True, exist_ok=True)
        tmp = self.out / ".box.json.tmp"  # written whole, then renamed: a reader never sees half
        tmp.write_text(json.dumps(record, indent=2), encoding="utf-8")
        os.replace(tmp, self.out / "box.json")
        return record
