"""`detector run --config A --config B ...`: several cameras on one edge box (detector/runtime/box.py).

Each camera writes under `--out/<camera_id>/` what a one-camera run writes under `--out` (status.json,
summary.json, violations, evidence, store); `--out/box.json` holds the box's figures.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from detector.config import CameraConfig
from detector.errors import ConfigError, DetectorError

if TYPE_CHECKING:
    from detector.network.hotlist_stage import HotlistStage
    from detector.pipeline import FrameResult
    from detector.runtime.box import EdgeBox
    from detector.runtime.session import RunRequest
    from detector.telemetry.health import RunHealth


@dataclass(frozen=True)
class BoxArgs:
    """`detector run`'s options as they apply to every camera of the box."""

    out: Path
    queue_size: int | None
    duration: float | None
    max_frames: int | None
    preview: bool
    use_store: bool
    metrics_port: int | None
    mqtt: str | None
    hotlist: Path | None
    batch_wait_ms: float
    network: Path | None = None  # one camera only (passages, live statistics)


def _camera(
    path: Path, args: BoxArgs, stop: threading.Event, console: Console
) -> tuple[RunRequest, RunHealth]:
    from detector.cli.runshared import live_config, load_run_config, violation_printer
    from detector.runtime.box import camera_out
    from detector.runtime.loop import LoopOptions
    from detector.runtime.session import RunRequest
    from detector.telemetry.health import RunHealth

    cfg: CameraConfig = load_run_config(path, None)
    cfg = live_config(cfg, args.queue_size, None, args.mqtt)
    health = RunHealth(cfg.telemetry)
    out = camera_out(args.out, cfg.camera_id)
    on_result = violation_printer(health, console, cfg.camera_id)

    opts = LoopOptions(
        live=True,
        max_frames=args.max_frames,
        duration_s=args.duration,
        on_result=on_result,
        status_path=out / "status.json",
        stop=stop,
    )
    req = RunRequest(cfg, path, out, live=True, preview=args.preview, store=args.use_store, loop=opts)
    return req, health


def _hotlist_hooks(box: EdgeBox, hotlist: Path | None) -> list[HotlistStage]:
    """A hotlist stage per camera on its loop's result hook."""
    from detector.cli.hooks import both, hotlist_stage

    stages = []
    for session in box.sessions:
        hot = hotlist_stage(hotlist, session.req.cfg, session.req.out, session)
        if hot is not None:
            hook: Callable[[FrameResult], None] | None = session.loop.opts.on_result
            session.loop.opts.on_result = hot.submit if hook is None else both(hook, hot.submit)
            stages.append(hot)
    return stages


def run_box(configs: tuple[Path, ...], args: BoxArgs) -> None:
    """Open every camera, run them together until each stops, then write each one's results."""
    from detector.cli.runshared import stop_on_signals, summary_table
    from detector.runtime.box import EdgeBox
    from detector.runtime.notify import SystemdNotifier

    if args.metrics_port is not None:
        raise ConfigError(
            "--metrics-port serves one camera: with several --config, set telemetry.metrics_port "
            "in each camera's config"
        )
    console = Console(stderr=True)
    stop = threading.Event()
    cameras = [_camera(p, args, stop, console) for p in configs]
    stop_on_signals(stop, console)
    box = EdgeBox.open(
        [req for req, _ in cameras],
        args.out,
        batch_wait_s=args.batch_wait_ms / 1000,
        notifier=SystemdNotifier(),
    )
    healths = [h for _, h in cameras]
    hot = _hotlist_hooks(box, args.hotlist)
    console.print(f"watching {len(configs)} cameras: {', '.join(s.req.cfg.camera_id for s in box.sessions)}")
    try:
        for health, session in zip(healths, box.sessions, strict=True):
            health.start(session)
        box.run()
    finally:
        for stage in hot:
            stage.close()
        try:
            box.close()
        finally:
            for health in healths:
                health.close()
    box.write_results()
    for session in box.sessions:
        Console().print(summary_table(session.summary, session.req.out, session.record()))
    if box.errors:
        failed = "; ".join(f"{cam}: {exc}" for cam, exc in box.errors.items())
        raise DetectorError(f"{len(box.errors)} of {len(configs)} cameras failed: {failed}")
