"""`detector replay` (analysts: a recorded video) and `detector run` (a live camera)."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from detector.config import CameraConfig, load_camera_config
from detector.errors import DetectorError

if TYPE_CHECKING:
    from collections.abc import Callable

    from detector.cli.box import BoxArgs
    from detector.network.hotlist_stage import HotlistStage
    from detector.pipeline import FrameResult, Pipeline, RunSummary

log = logging.getLogger(__name__)


def _load(config: Path, video: str | None) -> CameraConfig:
    cfg = load_camera_config(config)
    if video:
        uri = video if "://" in video else str(Path(video).resolve())
        cfg = cfg.model_copy(update={"source": cfg.source.model_copy(update={"uri": uri})})
    return cfg


def _stop_on_signals(stop: threading.Event, console: Console) -> None:
    """SIGINT (Ctrl-C) and SIGTERM (systemd, docker stop) end the loop cleanly: the frames taken are
    decided, the waiting bundles written and stored, the summary saved."""

    def handler(signum: int, _frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # a second signal: stop now
        console.print(f"stopping ({signal.Signals(signum).name}); finishing the frames taken")
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def _plates_by_event(record: dict[str, object]) -> dict[str, str]:
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


def _summary_table(summary: RunSummary, out: Path, record: dict[str, object] | None = None) -> Table:
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
    plates = _plates_by_event(record or {})
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


def _both(
    a: Callable[[FrameResult], None], b: Callable[[FrameResult], None]
) -> Callable[[FrameResult], None]:
    def call(result: FrameResult) -> None:
        a(result)
        b(result)

    return call


def _hotlist_stage(path: Path | None, cfg: CameraConfig, out: Path, session: object) -> HotlistStage | None:
    """The hotlist stage on the loop's result hook (detector/network/hotlist_stage.py), or None."""
    if path is None:
        return None
    from datetime import UTC, datetime

    from detector.network.hotlist_stage import open_hotlist_stage

    start = cfg.source.start_time or datetime.now(
        UTC
    )  # a replay without a start time: now, as the run's start
    return open_hotlist_stage(path, cfg, out, getattr(session, "store", None), start)


def _replay_progress(console: Console, as_json: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[fps]:>6.1f} fps"),
        TextColumn("tracks {task.fields[tracks]}"),
        TextColumn("violations {task.fields[violations]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal and as_json,
    )


def _progress_hook(
    progress: Progress, camera_id: str, total: int | None, pipeline: Pipeline
) -> Callable[[FrameResult], None]:
    """The replay's result hook: violations printed as they happen, the bar advanced."""
    task = progress.add_task(camera_id, total=total, fps=0.0, tracks=0, violations=0)
    state = {"n": 0, "started": time.perf_counter()}

    def on_result(result: FrameResult) -> None:
        for v in result.violations:
            progress.console.print(
                f"[red]violation[/red] {v.violation_type.value} track {v.track_id} "
                f"({v.vehicle_class}) at {v.timestamp:.2f}s frame {v.frame_index}"
            )
        state["n"] += 1
        elapsed = time.perf_counter() - state["started"]
        progress.update(
            task,
            advance=1,
            fps=state["n"] / elapsed if elapsed else 0.0,
            tracks=pipeline.tracks_seen,
            violations=len(pipeline.summary.violations),
        )

    return on_result


@click.command()
@click.argument("video", required=False)
@click.option(
    "-c",
    "--config",
    "config",
    type=click.Path(path_type=Path),
    required=True,
    help="Camera config (YAML). Its source is used when VIDEO is not given.",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    default=Path("out/replay"),
    show_default=True,
    help="Folder for tracks.jsonl, violations.jsonl, preview.mp4, snapshots and summary.json.",
)
@click.option("--max-frames", type=click.IntRange(min=1), default=None, help="Stop after this many frames.")
@click.option("--no-preview", is_flag=True, help="Skip the annotated preview video and snapshots.")
@click.option(
    "--evidence/--no-evidence",
    default=True,
    show_default=True,
    help="Write a signed evidence bundle per violation (under --out/evidence unless the config says).",
)
@click.option(
    "--key",
    type=click.Path(path_type=Path),
    default=None,
    help="Private signing key (default: the config's evidence.key_path, else a development key in --out).",
)
@click.option(
    "--store/--no-store",
    "use_store",
    default=True,
    show_default=True,
    help="Ingest the bundles into the embedded SQLite store in --out/store (verified, as an edge box does).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout (progress on stderr)."
)
@click.option(
    "--hotlist",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Hotlist file (detector hotlist export): read passing vehicles' plates and raise alerts.",
)
@click.option(
    "--accept-gaps",
    is_flag=True,
    help="Exit 0 even when frames the video announces were lost (corrupt or truncated file).",
)
def replay(
    video: str | None,
    config: Path,
    out: Path,
    max_frames: int | None,
    no_preview: bool,
    evidence: bool,
    key: Path | None,
    use_store: bool,
    as_json: bool,
    hotlist: Path | None,
    accept_gaps: bool,
) -> None:
    """Replay a recorded VIDEO through the camera's pipeline.

    Writes per-frame track records (JSON Lines), the violations found, an annotated preview and
    a summary to --out. Example:

      detector replay sample_videos/sample_scene.mp4 --config configs/sample_scene.yaml
    """
    from detector.runtime.loop import LoopOptions
    from detector.runtime.session import RunRequest, RunSession

    cfg = _load(config, video)
    console = Console(stderr=True)
    progress = _replay_progress(console, as_json)
    opts = LoopOptions(live=False, max_frames=max_frames)
    _stop_on_signals(opts.stop, console)
    session = RunSession.open(
        RunRequest(
            cfg,
            config,
            out,
            live=False,
            preview=not no_preview,
            evidence=evidence,
            key=key,
            store=use_store,
            loop=opts,
        )
    )
    for note in session.notes:
        console.print(f"[yellow]{note}[/yellow]")
    pipeline = session.built.pipeline
    total = session.source.info.frame_count
    if max_frames:
        total = min(total, max_frames) if total else max_frames
    on_result = _progress_hook(progress, cfg.camera_id, total, pipeline)
    hot = _hotlist_stage(hotlist, cfg, out, session)
    opts.on_result = on_result if hot is None else _both(on_result, hot.submit)
    try:
        with progress:
            session.run()
    finally:
        if hot is not None:
            hot.close()
        session.close()
    record = session.write_results()
    if as_json:
        click.echo(json.dumps(record, indent=2))
    else:
        Console().print(_summary_table(session.summary, out, record))
    _check_decode(record, max_frames, accept_gaps)


def _check_decode(record: dict[str, object], max_frames: int | None, accept_gaps: bool) -> None:
    """A replay that lost frames the video announces fails (exit 1) unless --accept-gaps."""
    decode = record.get("decode")
    if not isinstance(decode, dict) or not decode.get("frames_lost") or max_frames or accept_gaps:
        return
    stretches = ", ".join(
        f"{x['start_s']:.2f}-{x['end_s']:.2f} s ({x['frames']} frames, {x['cause']})" for x in decode["lost"]
    )
    raise DetectorError(
        f"replay lost {decode['frames_lost']} of {decode['frames_announced']} frames "
        f"the video announces: {stretches}; results are incomplete (see summary.json; "
        "--accept-gaps to accept)"
    )


@click.command()
@click.option(
    "-c",
    "--config",
    "configs",
    type=click.Path(path_type=Path),
    required=True,
    multiple=True,
    help="Camera config (YAML) naming the live source. Repeat for several cameras on one box: one "
    "detector session, each camera's outputs under --out/<camera_id>.",
)
@click.option(
    "--source", "source_uri", default=None, help="Override the config's source (rtsp://..., file, folder)."
)
@click.option(
    "--batch-wait-ms",
    type=click.FloatRange(min=0, max=1000),
    default=0.0,
    show_default=True,
    help="Several cameras: wait up to this long for the other cameras' frames and run them through "
    "the detector as one batch (0: take turns, one frame per inference).",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    default=Path("out/live"),
    show_default=True,
    help="Folder for track records, violations and evidence.",
)
@click.option(
    "--queue-size",
    type=click.IntRange(min=1),
    default=None,
    help="Frames waiting between capture and processing (default: the config's runtime.queue_size); "
    "when full the oldest is dropped and counted.",
)
@click.option("--duration", type=click.FloatRange(min=0), default=None, help="Stop after this many seconds.")
@click.option("--max-frames", type=click.IntRange(min=1), default=None, help="Stop after this many frames.")
@click.option(
    "--preview/--no-preview", default=False, show_default=True, help="Also write an annotated preview."
)
@click.option(
    "--store/--no-store",
    "use_store",
    default=True,
    show_default=True,
    help="Ingest each bundle into the embedded SQLite store in --out/store (verified), as replay does.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve Prometheus metrics on this port (default: the config's telemetry.metrics_port).",
)
@click.option(
    "--mqtt",
    "mqtt",
    default=None,
    metavar="HOST[:PORT]",
    help="Publish the camera's status (last will: offline) and heartbeats to this broker "
    "(default: the config's telemetry section).",
)
@click.option(
    "--hotlist",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Hotlist file (detector hotlist export): read passing vehicles' plates and raise alerts.",
)
def run(
    configs: tuple[Path, ...],
    source_uri: str | None,
    batch_wait_ms: float,
    out: Path,
    queue_size: int | None,
    duration: float | None,
    max_frames: int | None,
    preview: bool,
    use_store: bool,
    metrics_port: int | None,
    mqtt: str | None,
    hotlist: Path | None,
) -> None:
    """Watch a live camera: capture on its own thread, the same frame loop as replay, report as it goes.

    Violations are logged as they happen, written with their signed evidence to --out and stored in
    the embedded store; Ctrl-C or SIGTERM stops cleanly and writes the summary. `--out/status.json`
    is rewritten every few seconds (frames, fps, drops) for health checks; under systemd the run
    reports READY and pings the watchdog.
    """
    from detector.cli.box import BoxArgs, run_box

    args = BoxArgs(
        out, queue_size, duration, max_frames, preview, use_store, metrics_port, mqtt, hotlist, batch_wait_ms
    )
    if len(configs) > 1:
        if source_uri:
            raise click.UsageError("--source overrides one camera's source: give it with one --config only")
        run_box(configs, args)
    else:
        _run_camera(configs[0], source_uri, args)


def _run_camera(config: Path, source_uri: str | None, args: BoxArgs) -> None:
    """`detector run` of one camera: its outputs directly under --out."""
    from detector.runtime.loop import LoopOptions
    from detector.runtime.notify import SystemdNotifier
    from detector.runtime.session import RunRequest, RunSession
    from detector.telemetry.health import RunHealth, telemetry_overrides

    out, hotlist = args.out, args.hotlist
    cfg = _load(config, source_uri)
    if args.queue_size is not None:
        cfg = cfg.model_copy(
            update={"runtime": cfg.runtime.model_copy(update={"queue_size": args.queue_size})}
        )
    cfg = cfg.model_copy(
        update={"telemetry": telemetry_overrides(cfg.telemetry, args.metrics_port, args.mqtt)}
    )
    console = Console(stderr=True)
    health = RunHealth(cfg.telemetry)

    def on_result(result: FrameResult) -> None:
        health.observe(result)
        for v in result.violations:
            console.print(
                f"[red]violation[/red] {v.violation_type.value} track {v.track_id} "
                f"({v.vehicle_class}) t={v.timestamp:.2f}s"
            )

    opts = LoopOptions(
        live=True,
        max_frames=args.max_frames,
        duration_s=args.duration,
        on_result=on_result,
        status_path=out / "status.json",
        notifier=SystemdNotifier(),
    )
    _stop_on_signals(opts.stop, console)
    session = RunSession.open(
        RunRequest(cfg, config, out, live=True, preview=args.preview, store=args.use_store, loop=opts)
    )
    console.print(f"watching {cfg.camera_id} ({cfg.name}); Ctrl-C to stop")
    hot = _hotlist_stage(hotlist, cfg, out, session)
    if hot is not None:
        opts.on_result = _both(on_result, hot.submit)
    try:
        health.start(session)
        session.run()
    finally:
        if hot is not None:
            hot.close()
        try:
            session.close()
        finally:
            health.close()
    record = session.write_results()
    Console().print(_summary_table(session.summary, out, record))
    q = session.loop.queue.stats
    if q.dropped:
        print(f"dropped {q.dropped} of {q.put} frames (processing slower than the camera)", file=sys.stderr)
