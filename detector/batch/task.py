"""One video's replay, run inside a cluster worker: the same `RunSession` as `detector replay`.

Each attempt starts from an empty output folder (a killed attempt may have left half-written files;
the evidence writer's own temp folders included), signs with the batch's one key, and writes no
embedded store: the driver verifies and ingests the bundles into the central store once the task
has returned. The replay is deterministic, so a retried attempt writes the same event ids.

A finished video leaves `done.json` (its report); a batch run again over the same `--out` takes
the report from there instead of replaying the video (resume after an interrupted batch).

`attempts` in the output folder counts the attempts (the fault drill kills only the first).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from detector.batch.manifest import BatchJob
from detector.fsutil import atomic_write_text

log = logging.getLogger(__name__)

DONE_NAME = "done.json"
ATTEMPTS_NAME = "attempts"


@dataclass(frozen=True, slots=True)
class VideoReport:
    """What one video's task did (the driver adds the central store's answer)."""

    name: str
    camera_id: str
    video: str
    out: str
    frames: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    violations: int = 0
    bundles: tuple[str, ...] = ()
    attempts: int = 1
    worker_pid: int = 0
    error: str | None = None
    violation_types: tuple[str, ...] = field(default=())
    failures: tuple[str, ...] = ()  # bundles that could not be written ("event_key: reason")

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        d["fps"] = round(self.fps, 2)
        return d

    @classmethod
    def from_json(cls, d: dict[str, object]) -> VideoReport:
        d = {k: v for k, v in d.items() if k != "fps"}
        d["bundles"] = tuple(d.get("bundles") or ())  # type: ignore[arg-type]
        d["violation_types"] = tuple(d.get("violation_types") or ())  # type: ignore[arg-type]
        d["failures"] = tuple(d.get("failures") or ())  # type: ignore[arg-type]
        return cls(**d)  # type: ignore[arg-type]


def _next_attempt(out: Path) -> int:
    """Count this attempt in `out/attempts` (survives the folder's reset) and return its number."""
    path = out / ATTEMPTS_NAME
    try:
        n = int(path.read_text(encoding="utf-8").strip() or 0) + 1
    except (OSError, ValueError):
        n = 1
    for child in out.iterdir() if out.exists() else ():
        if child.name != ATTEMPTS_NAME:
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, str(n))
    return n


def replay_video(job: BatchJob) -> VideoReport:
    """Replay `job`'s video into `job.out` (or return the report a finished earlier run left)."""
    done = job.out / DONE_NAME
    if done.is_file():
        return VideoReport.from_json(json.loads(done.read_text(encoding="utf-8")))
    attempt = _next_attempt(job.out)
    from detector.config import load_camera_config
    from detector.runtime.loop import LoopOptions
    from detector.runtime.session import RunRequest, RunSession

    cfg = load_camera_config(job.config)
    updates: dict[str, object] = {"detector": cfg.detector.model_copy(update={"threads": job.cpus})}
    if job.video:
        uri = job.video if "://" in job.video else str(Path(job.video).resolve())
        updates["source"] = cfg.source.model_copy(update={"uri": uri})
    if job.camera_id:
        updates["camera_id"] = job.camera_id
    cfg = cfg.model_copy(update=updates)
    drill = job.drill_kill_after if attempt == 1 else None

    def on_result(result: object) -> None:
        state["n"] += 1
        if drill is not None and state["n"] >= drill:
            log.warning("fault drill: killing worker %d at frame %d of %s", os.getpid(), state["n"], job.name)
            os.kill(os.getpid(), signal.SIGKILL)

    state = {"n": 0}
    opts = LoopOptions(live=False, max_frames=job.max_frames, on_result=on_result)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    session = RunSession.open(
        RunRequest(
            cfg,
            job.config,
            job.out,
            live=False,
            preview=False,
            evidence=True,
            key=job.key,
            store=False,
            loop=opts,
        )
    )
    try:
        session.run()
    finally:
        session.close()
    record = session.write_results()
    summary = session.summary
    bundles = record.get("bundles")
    failures = record.get("bundle_failures")
    failures = failures if isinstance(failures, list) else []
    report = VideoReport(
        name=job.name,
        camera_id=cfg.camera_id,
        video=cfg.source.uri,
        out=str(job.out),
        frames=summary.frames,
        wall_s=time.perf_counter() - wall0,
        cpu_s=time.process_time() - cpu0,
        violations=len(summary.violations),
        bundles=tuple(str(b) for b in bundles) if isinstance(bundles, list) else (),
        attempts=attempt,
        worker_pid=os.getpid(),
        violation_types=tuple(v.violation_type.value for v in summary.violations),
        failures=tuple(f"{f['event_key']}: {f['reason']}" for f in failures if isinstance(f, dict)),
    )
    atomic_write_text(done, json.dumps(report.to_json(), indent=2))
    return report
