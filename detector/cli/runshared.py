"""What `detector replay`, `detector run` and a box's cameras share at the command's edge: loading a
camera's config (its source overridden), stopping cleanly on a signal, the run's summary table."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from detector.config import CameraConfig
from detector.configcheck import load_checked_camera_config

if TYPE_CHECKING:
    from collections.abc import Callable

    from detector.pipeline import FrameResult, RunSummary
    from detector.telemetry.health import RunHealth


def load_run_config(config: Path, video: str | None) -> CameraConfig:
    cfg = load_checked_camera_config(config)
    if video:
        uri = video if "://" in video else str(Path(video).resolve())
        cfg = cfg.model_copy(update={"source": cfg.source.model_copy(update={"uri": uri})})
    return cfg


def stop_on_signals(stop: threading.Event, console: Console) -> None:
    """SIGINT (Ctrl-C) and SIGTERM (systemd, docker stop) end the loop cleanly: the frames taken are
    decided, the waiting bundles written and stored, the summary saved."""

    def handler(signum: int, _frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # a second signal: stop now
        console.print(f"stopping ({signal.Signals(signum).name}); finishing the frames taken")
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def plates_by_event(record: dict[str, object]) -> dict[str, str]:
    """Plate text of each written bundle, read back from its manifest, by event key."""
    plates: dict[str, str] = {}
    bundles = record.get("bundles")
    for bundle in bundles if isinstance(bundles, list) else []:
        try:
            m = json.loads((Path(str(bundle)) / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        plate = m.get("plate") or {}
        key = m.get("event_key")
        if key:
            flag = " (review)" if plate.get("needs_review") else ""
            plates[key] = f"{plate['text']}{flag}" if plate.get("text") else "no plate read"
    return plates


def summary_table(summary: RunSummary, out: Path, record: dict[str, object] | None = None) -> Table:
    t = summary.times
    table = Table(
        title=f"{summary.camera_id}: {summary.frames} frames, {summary.stream_seconds:.1f} s of video"
    )
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("tracks", str(summary.tracks))
    for cls, n in summary.tracks_by_class.items():
        table.add_row(f"  {cls}", str(n))
    table.add_row("violations", str(len(summary.violations)))
    plates = plates_by_event(record or {})
    for v in summary.violations:
        plate = plates.get(v.event_key)
        text = f"track {v.track_id} at {v.timestamp:.2f}s ({v.vehicle_class})" + (
            f" {plate}" if plate else ""
        )
        table.add_row(f"  {v.violation_type.value}", text)
    bundles = record.get("bundles") if record else None
    if isinstance(bundles, list):
        table.add_row("evidence bundles", f"{len(bundles)} signed")
    store = record.get("store") if record else None
    if isinstance(store, dict):
        table.add_row("stored", f"{store['accepted']} accepted, {len(store['rejected'])} rejected")
    for stage in ("decode", "detect", "track", "rules", "output"):
        if getattr(t, stage) > 0:
            table.add_row(f"{stage} fps", f"{t.fps(stage):.1f}")
    rt = summary.runtime
    schedule = rt.get("schedule")
    if isinstance(schedule, dict):
        table.add_row("frames detected / predicted", f"{schedule['detected']} / {schedule['predicted']}")
    for key, name in (("latency_ms", "latency from capture"), ("processing_ms", "processing")):
        figures = rt.get(key)
        if isinstance(figures, dict):
            table.add_row(f"{name} p50 / p95", f"{figures['p50']:.0f} / {figures['p95']:.0f} ms")
    if rt.get("steady_fps"):
        table.add_row("steady fps", f"{rt['steady_fps']:.1f}")
    if summary.dropped_frames:
        table.add_row("dropped frames", str(summary.dropped_frames))
    table.add_row("output", str(out))
    return table


def live_config(
    cfg: CameraConfig, queue_size: int | None, metrics_port: int | None, mqtt: str | None
) -> CameraConfig:
    """A live camera's config with the command line's queue size and telemetry overrides."""
    from detector.telemetry.health import telemetry_overrides

    if queue_size is not None:
        cfg = cfg.model_copy(update={"runtime": cfg.runtime.model_copy(update={"queue_size": queue_size})})
    return cfg.model_copy(update={"telemetry": telemetry_overrides(cfg.telemetry, metrics_port, mqtt)})


def violation_printer(health: RunHealth, console: Console, camera: str = "") -> Callable[[FrameResult], None]:
    """The live loop's own result hook: health figures, and a line per violation as it happens."""
    prefix = f"{camera}: " if camera else ""

    def on_result(result: FrameResult) -> None:
        health.observe(result)
        for v in result.violations:
            console.print(
                f"[red]violation[/red] {prefix}{v.violation_type.value} track {v.track_id} "
                f"({v.vehicle_class}) t={v.timestamp:.2f}s"
            )

    return on_result
