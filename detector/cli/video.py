"""`detector replay` (analysts: a recorded video) and `detector run` (a live camera)."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from detector.cli.hooks import (
    hooks,
    hotlist_option,
    hotlist_stage,
    live_stats,
    network_option,
    passage_stage,
)
from detector.cli.runshared import (
    live_config,
    load_run_config,
    stop_on_signals,
    summary_table,
    violation_printer,
)
from detector.errors import DetectorError

if TYPE_CHECKING:
    from collections.abc import Callable

    from detector.cli.box import BoxArgs
    from detector.pipeline import FrameResult, Pipeline

log = logging.getLogger(__name__)


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
@hotlist_option
@network_option
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
    network: Path | None,
    accept_gaps: bool,
) -> None:
    """Replay a recorded VIDEO through the camera's pipeline.

    Writes per-frame track records (JSON Lines), the violations found, an annotated preview and
    a summary to --out. Example:

      detector replay sample_videos/sample_scene.mp4 --config configs/sample_scene.yaml
    """
    from detector.runtime.loop import LoopOptions
    from detector.runtime.session import RunRequest, RunSession

    cfg = load_run_config(config, video)
    console = Console(stderr=True)
    progress = _replay_progress(console, as_json)
    opts = LoopOptions(live=False, max_frames=max_frames)
    stop_on_signals(opts.stop, console)
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
    hot = hotlist_stage(hotlist, cfg, out, session)
    passages = passage_stage(network, cfg, session)
    stats = live_stats(network, cfg, out, session, live=False)
    opts.on_result = hooks(on_result, hot, passages, stats)
    try:
        with progress:
            session.run()
    finally:
        if hot is not None:
            hot.close()
        if stats is not None:
            stats.close()
        session.close()
    record = session.write_results()
    if as_json:
        click.echo(json.dumps(record, indent=2))
    else:
        Console().print(summary_table(session.summary, out, record))
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
@network_option
@hotlist_option
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
    network: Path | None,
) -> None:
    """Watch a live camera: capture on its own thread, the same frame loop as replay, report as it goes.

    Violations are logged as they happen, written with their signed evidence to --out and stored in
    the embedded store; Ctrl-C or SIGTERM stops cleanly and writes the summary. `--out/status.json`
    is rewritten every few seconds (frames, fps, drops) for health checks; under systemd the run
    reports READY and pings the watchdog.
    """
    from detector.cli.box import BoxArgs, run_box

    args = BoxArgs(
        out,
        queue_size,
        duration,
        max_frames,
        preview,
        use_store,
        metrics_port,
        mqtt,
        hotlist,
        batch_wait_ms,
        network,
    )
    if len(configs) > 1:
        if source_uri:
            raise click.UsageError("--source overrides one camera's source: give it with one --config only")
        if network is not None:
            raise click.UsageError("--network (passages, live statistics) takes one --config for now")
        run_box(configs, args)
    else:
        _run_camera(configs[0], source_uri, args)


def _run_camera(config: Path, source_uri: str | None, args: BoxArgs) -> None:
    """`detector run` of one camera: its outputs directly under --out."""
    from detector.runtime.loop import LoopOptions
    from detector.runtime.notify import SystemdNotifier
    from detector.runtime.session import RunRequest, RunSession
    from detector.telemetry.health import RunHealth

    out, hotlist = args.out, args.hotlist
    cfg = live_config(load_run_config(config, source_uri), args.queue_size, args.metrics_port, args.mqtt)
    console = Console(stderr=True)
    health = RunHealth(cfg.telemetry)
    on_result = violation_printer(health, console)

    opts = LoopOptions(
        live=True,
        max_frames=args.max_frames,
        duration_s=args.duration,
        on_result=on_result,
        status_path=out / "status.json",
        notifier=SystemdNotifier(),
    )
    stop_on_signals(opts.stop, console)
    session = RunSession.open(
        RunRequest(cfg, config, out, live=True, preview=args.preview, store=args.use_store, loop=opts)
    )
    console.print(f"watching {cfg.camera_id} ({cfg.name}); Ctrl-C to stop")
    hot = hotlist_stage(hotlist, cfg, out, session)
    stats = live_stats(args.network, cfg, out, session, live=True)
    opts.on_result = hooks(on_result, hot, passage_stage(args.network, cfg, session), stats)
    try:
        health.start(session)
        session.run()
    finally:
        if hot is not None:
            hot.close()
        if stats is not None:
            stats.close()
        try:
            session.close()
        finally:
            health.close()
    record = session.write_results()
    Console().print(summary_table(session.summary, out, record))
    q = session.loop.queue.stats
    if q.dropped:
        print(f"dropped {q.dropped} of {q.put} frames (processing slower than the camera)", file=sys.stderr)
